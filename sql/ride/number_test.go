package ride_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"birdcar/sql/ride"
)

func TestAddNumber(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, tt := range []struct {
		name          string
		in            ride.NumberInput
		number, cc    string
		code          ride.Code
		field, inText string
	}{
		{name: "the country defaults to the number's own", in: ride.NumberInput{Number: "+44 7700 900201"}, number: "+447700900201", cc: "GB"},
		{name: "a country given wins, upper-cased", in: ride.NumberInput{Number: "0970 0000 0001", Country: " nl "}, number: "+3197000000001", cc: "NL"},
		{name: "a number typed twice is a duplicate", in: ride.NumberInput{Number: "+447700900201"}, code: ride.CodeDuplicateNumber, field: "number", inText: "+44 7700 900201 is already in the pool."},
		{name: "an impossible number is refused", in: ride.NumberInput{Number: "12"}, code: ride.CodeInvalidPhone, field: "number", inText: "Number: "},
		{name: "a national form is read in the country given", in: ride.NumberInput{Number: "020 7946 0000", Country: "GB"}, number: "+442079460000", cc: "GB"},
		{name: "so is one in the default country's form", in: ride.NumberInput{Number: "0161 496 0000", Country: "gb"}, number: "+441614960000", cc: "GB"},
		{name: "a number of another country is refused", in: ride.NumberInput{Number: "+31 6 1234 5678", Country: "GB"}, code: ride.CodeInvalid, field: "country", inText: "+31 6 12345678 is a number of NL, not of GB"},
		{name: "a country must exist", in: ride.NumberInput{Number: "+447700900202", Country: "XX"}, code: ride.CodeInvalid, field: "country", inText: "two-letter ISO code"},
		{name: "a country is two letters", in: ride.NumberInput{Number: "+447700900202", Country: "GBR"}, code: ride.CodeInvalid, field: "country", inText: "two-letter ISO code"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, err := b.Rides.AddNumber(t.Context(), tt.in)
			if tt.number != "" {
				if err != nil || n.Number != tt.number || n.Country != tt.cc || !n.Enabled || n.LastAssignedAt != nil {
					t.Errorf("added %+v, %v; want %s in %s, enabled, never assigned", n, err, tt.number, tt.cc)
				}
				return
			}
			wantCode(t, err, tt.code, tt.field)
			if msg := ride.AsError(err).Message; !strings.Contains(msg, tt.inText) {
				t.Errorf("message %q, want it to say %q", msg, tt.inText)
			}
		})
	}
}

func TestAddNumbers_KeepsTheValidOnes(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.Number(t, "+447700900201", "GB")
	added, rejected, err := b.Rides.AddNumbers(t.Context(), []ride.NumberInput{
		{Number: "+447700900202"}, {Number: "nonsense"}, {Number: "+447700900201"}, {Number: "+447700900203", Country: "GB"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 2 || added[0].Number != "+447700900202" || added[1].Number != "+447700900203" {
		t.Errorf("added %+v, want the two new valid numbers", added)
	}
	if len(rejected) != 2 || rejected[0].Index != 1 || rejected[0].Err.Code != ride.CodeInvalidPhone ||
		rejected[1].Index != 2 || rejected[1].Err.Code != ride.CodeDuplicateNumber {
		t.Errorf("rejected %+v, want input 1 (invalid) and 2 (duplicate)", rejected)
	}
	if nums, err := b.Rides.Numbers(t.Context()); err != nil || len(nums) != 3 {
		t.Errorf("pool has %d numbers (%v), want 3", len(nums), err)
	}
}

func TestPool_LoadEnablingAndHealth(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	cust, drv, nums := b.People(t, 3)
	r := b.mustRide(t, cust, drv)
	health := func() ride.PoolHealth {
		t.Helper()
		h, err := b.Rides.PoolHealth(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if h := health(); h.Free != 2 || !h.Low || h.Watermark != 3 {
		t.Errorf("health %+v, want 2 free, under the watermark of 3", h)
	}
	loaded, err := b.Rides.NumbersWithLoad(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range loaded {
		want := int64(0)
		if n.Number == r.ProxyNumber {
			want = 1
		}
		if n.RidesNow != want || (n.Number == r.ProxyNumber) != (n.LastAssignedAt != nil) {
			t.Errorf("%s: %d rides now, assigned %v; want %d", n.Number, n.RidesNow, n.LastAssignedAt, want)
		}
	}
	t.Run("a disabled number takes no new ride", func(t *testing.T) {
		for _, n := range nums {
			got, err := b.Rides.SetNumberEnabled(t.Context(), n.ID, false)
			if err != nil || got.Enabled {
				t.Fatalf("disable %s: %+v, %v", n.Number, got, err)
			}
		}
		if h := health(); h.Free != 0 {
			t.Errorf("free after disabling all: %d", h.Free)
		}
		other := b.Person(t, ride.RoleCustomer, "Olga", "+31633333333")
		otherDrv := b.Person(t, ride.RoleDriver, "Piet", "+31644444444")
		if _, err := b.CreateRide(t, other, otherDrv); !errors.Is(err, ride.ErrPoolExhausted) {
			t.Errorf("ride with every number disabled: %v, want pool exhausted", err)
		}
	})
	t.Run("a disabled number's rides keep routing", func(t *testing.T) {
		if to := b.call(t, cust.Phone, r.ProxyNumber); to != drv.Phone {
			t.Errorf("call on the disabled number goes to %q, want the driver", to)
		}
	})
	t.Run("setting twice is no toggle", func(t *testing.T) {
		for range 2 {
			got, err := b.Rides.SetNumberEnabled(t.Context(), nums[0].ID, true)
			if err != nil || !got.Enabled {
				t.Errorf("enable: %+v, %v", got, err)
			}
		}
	})
	t.Run("an unknown number is not found", func(t *testing.T) {
		_, err := b.Rides.SetNumberEnabled(t.Context(), 999999, true)
		wantCode(t, err, ride.CodeNumberNotFound, "")
	})
}

// TestPoolHealth_CapacityForANewPair: a number held by one ride still
// takes rides for other people, so capacity is counted by the rule
// assignment follows, not by the numbers no ride holds.
func TestPoolHealth_CapacityForANewPair(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, drv, _ := b.People(t, 3)
	health := func() ride.PoolHealth {
		t.Helper()
		h, err := b.Rides.PoolHealth(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if h := health(); h.NewPair != 3 || h.Busiest != 3 || h.Free != 3 || h.Low {
		t.Errorf("empty pool: %+v, want 3 rides for anyone, not low", h)
	}
	// One driver takes every number, with three customers in turn.
	for i := range 3 {
		c := b.Person(t, ride.RoleCustomer, "C", fmt.Sprintf("+3163333333%d", i))
		b.mustRide(t, c, drv)
	}
	h := health()
	if h.NewPair != 3 || h.Busiest != 0 || h.Free != 0 || !h.Low || h.Watermark != 3 {
		t.Errorf("driver on every number: %+v, want 3 for a new pair, none left for the driver, low", h)
	}
	// Which is what creation does: the driver is refused, a new pair is not.
	other := b.Person(t, ride.RoleCustomer, "Olga", "+31644444444")
	if _, err := b.CreateRide(t, other, drv); !errors.Is(err, ride.ErrPoolExhausted) {
		t.Errorf("a fourth ride for the driver: %v, want the pool exhausted", err)
	}
	newDrv := b.Person(t, ride.RoleDriver, "Piet", "+31655555555")
	if _, err := b.CreateRide(t, other, newDrv); err != nil {
		t.Errorf("a ride for a new pair with no free number: %v, want it created", err)
	}
	if h := health(); h.NewPair != 3 || h.Busiest != 0 || h.Free != 0 {
		t.Errorf("after the new pair's ride: %+v", h)
	}
	// A disabled number counts for no one, held or not.
	nums, err := b.Rides.Numbers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Rides.SetNumberEnabled(t.Context(), nums[0].ID, false); err != nil {
		t.Fatal(err)
	}
	if h := health(); h.NewPair != 2 || h.Busiest != 0 {
		t.Errorf("one number disabled: %+v, want 2 for a new pair, none for the driver", h)
	}
}
