package ride_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"

	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

func TestCreateRide_Rules(t *testing.T) {
	t.Parallel()
	t.Run("assigns a free number and routes both ways", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		cust, drv, nums := b.People(t, 1)
		r := b.mustRide(t, cust, drv)
		if r.ProxyNumber != nums[0].Number || r.Status != ride.RideActive || r.ExpiresAt != nil {
			t.Fatalf("ride = %+v, want active on %s", r, nums[0].Number)
		}
		if got := b.call(t, cust.Phone, r.ProxyNumber); got != drv.Phone {
			t.Errorf("customer's call goes to %q, want the driver", got)
		}
		if got := b.call(t, drv.Phone, r.ProxyNumber); got != cust.Phone {
			t.Errorf("driver's call goes to %q, want the customer", got)
		}
	})
	t.Run("a party on every number exhausts the pool", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		cust, drv, _ := b.People(t, 1)
		b.mustRide(t, cust, drv)
		other := b.Person(t, ride.RoleCustomer, "Other", "+31633333333")
		_, err := b.CreateRide(t, other, drv) // one party in common is enough
		if !errors.Is(err, ride.ErrPoolExhausted) {
			t.Fatalf("driver already on the only number: %v, want pool exhausted", err)
		}
	})
	t.Run("unrelated parties share a number", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		cust, drv, nums := b.People(t, 1)
		b.mustRide(t, cust, drv)
		other := b.Person(t, ride.RoleCustomer, "Other", "+31633333333")
		otherDrv := b.Person(t, ride.RoleDriver, "Other driver", "+31644444444")
		if r := b.mustRide(t, other, otherDrv); r.ProxyNumber != nums[0].Number {
			t.Errorf("other parties got %s, want the same number %s", r.ProxyNumber, nums[0].Number)
		}
	})
	t.Run("prefers the customer's country, then the least recently assigned", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		cust, drv, _ := b.People(t, 0) // Dutch customer
		b.Number(t, "+447700900201", "GB")
		recent := b.Number(t, "+3197000000001", "NL")
		old := b.Number(t, "+3197000000002", "NL")
		// Assign each once, the "old" one first.
		for _, n := range []ride.Number{old, recent} {
			other := b.Person(t, ride.RoleCustomer, "Earlier "+n.Number, "+3163"+n.Number[len(n.Number)-7:])
			otherDrv := b.Person(t, ride.RoleDriver, "Earlier "+n.Number, "+3164"+n.Number[len(n.Number)-7:])
			for _, m := range []ride.Number{recent, old} {
				if _, err := b.Rides.SetNumberEnabled(t.Context(), m.ID, m.ID == n.ID); err != nil {
					t.Fatal(err)
				}
			}
			b.mustRide(t, other, otherDrv)
			b.Clock.Advance(time.Minute)
		}
		for _, m := range []ride.Number{recent, old} {
			if _, err := b.Rides.SetNumberEnabled(t.Context(), m.ID, true); err != nil {
				t.Fatal(err)
			}
		}
		if r := b.mustRide(t, cust, drv); r.ProxyNumber != old.Number {
			t.Errorf("picked %s, want the least recently assigned Dutch number %s", r.ProxyNumber, old.Number)
		}
	})
	t.Run("notifies both parties and enqueues their sends", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		cust, drv, _ := b.People(t, 1)
		r, err := b.Rides.CreateRide(t.Context(), ride.NewRide{CustomerID: cust.ID, DriverID: drv.ID,
			Start: "Dam 1", Destination: "Schiphol", PickupAt: time.Date(2026, 5, 1, 14, 30, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		events, err := b.Rides.Timeline(t.Context(), r)
		if err != nil || len(events) != 3 || events[0].Audit == nil || events[0].Audit.Action != ride.AuditRideCreate {
			t.Fatalf("timeline %v, %v; want the creation and the two notifications", events, err)
		}
		events = events[1:]
		want := map[string]string{
			cust.Phone: "Dave will pick you up at 14:30 on Fri 1 May. Reply to this message or call this number to contact the driver.",
			drv.Phone:  "You will pick up Caitlin at 14:30 on Fri 1 May from Dam 1. Reply to this message or call this number to contact the customer.",
		}
		var queued []int64
		for _, ev := range events {
			m := ev.Message
			if m == nil || m.Kind != ride.KindNotification || m.Status != ride.StatusQueued || m.Originator != r.ProxyNumber || m.Body != want[m.Recipient] {
				t.Errorf("notification = %+v, want the text %q from %s", m, want[m.Recipient], r.ProxyNumber)
				continue
			}
			queued = append(queued, m.ID)
		}
		if got := sendJobs(t, b); fmt.Sprint(got) != fmt.Sprint(queued) {
			t.Errorf("send jobs for messages %v, want %v", got, queued)
		}
	})
	t.Run("checks its input", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		cust, drv, _ := b.People(t, 1)
		twin := b.Person(t, ride.RoleDriver, "Twin", cust.Phone)
		for _, tt := range []struct {
			name  string
			in    ride.NewRide
			field string
		}{
			{"start is required", ride.NewRide{CustomerID: cust.ID, DriverID: drv.ID, Start: " ", Destination: "B"}, "start"},
			{"destination is at most 200 characters", ride.NewRide{CustomerID: cust.ID, DriverID: drv.ID, Start: "A", Destination: strings.Repeat("é", 201)}, "destination"},
			{"addresses are plain text", ride.NewRide{CustomerID: cust.ID, DriverID: drv.ID, Start: "A\x00", Destination: "B"}, "start"},
			{"the customer exists", ride.NewRide{CustomerID: 999999, DriverID: drv.ID, Start: "A", Destination: "B"}, "customer_id"},
			{"the driver exists", ride.NewRide{CustomerID: cust.ID, DriverID: 999999, Start: "A", Destination: "B"}, "driver_id"},
			{"a phone cannot call itself", ride.NewRide{CustomerID: cust.ID, DriverID: twin.ID, Start: "A", Destination: "B"}, "driver_id"},
			{"a pickup in 2020 is refused", ride.NewRide{CustomerID: cust.ID, DriverID: drv.ID, Start: "A", Destination: "B", PickupAt: time.Date(2020, 5, 1, 12, 0, 0, 0, time.UTC)}, "pickup_at"},
			{"so is one past the tolerance", ride.NewRide{CustomerID: cust.ID, DriverID: drv.ID, Start: "A", Destination: "B", PickupAt: b.Clock.Now().Add(-ride.PickupTolerance - time.Second)}, "pickup_at"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := b.Rides.CreateRide(t.Context(), tt.in)
				wantCode(t, err, ride.CodeInvalid, tt.field)
				if name := ride.AsError(err).Name(); name != "invalid_"+tt.field {
					t.Errorf("code name = %q, want invalid_%s", name, tt.field)
				}
			})
		}
		if n := dbtest.Rows(t, b.DB, "rides"); n != 0 {
			t.Errorf("%d rides stored by refused creations", n)
		}
	})
}

// sendJobs lists the messages whose send jobs the test's transaction
// inserted, in insertion order.
func sendJobs(t *testing.T, b *testBundle) []int64 {
	t.Helper()
	tx, ok := b.DB.(pgx.Tx)
	if !ok {
		t.Fatal("sendJobs reads the test's own transaction")
	}
	n := dbtest.Rows(t, tx, "river_job")
	expect := make([]rivertest.ExpectedJob, n)
	for i := range expect {
		expect[i] = rivertest.ExpectedJob{Args: ride.SendArgs{}}
	}
	var ids []int64
	for _, j := range rivertest.RequireManyInsertedTx[*riverpgxv5.Driver](t.Context(), t, tx, expect) {
		var args ride.SendArgs
		if err := json.Unmarshal(j.EncodedArgs, &args); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, args.MessageID)
	}
	return ids
}

// TestCreateRide_50ConcurrentFor10Numbers races 50 creations for one
// customer over 10 numbers: the routing constraint lets exactly 10 through,
// each on a number of its own, and the rest hear the pool is exhausted.
func TestCreateRide_50ConcurrentFor10Numbers(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	b := setup(t, pool)
	cust, _, _ := b.People(t, 10)
	var drivers []ride.Person
	for i := range 50 {
		drivers = append(drivers, b.Person(t, ride.RoleDriver, fmt.Sprintf("Driver %d", i), fmt.Sprintf("+316400000%02d", i)))
	}
	errs := make([]error, len(drivers))
	rides := make([]ride.Ride, len(drivers))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, d := range drivers {
		wg.Go(func() {
			<-start
			rides[i], errs[i] = b.CreateRide(t, cust, d)
		})
	}
	close(start)
	wg.Wait()

	numbers := map[string]bool{}
	exhausted := 0
	for i, err := range errs {
		switch {
		case err == nil:
			numbers[rides[i].ProxyNumber] = true
		case errors.Is(err, ride.ErrPoolExhausted):
			exhausted++
		default:
			t.Errorf("creation %d: %v", i, err)
		}
	}
	if len(numbers) != 10 || exhausted != 40 {
		t.Errorf("created on %d distinct numbers, %d pool exhausted; want 10 and 40", len(numbers), exhausted)
	}
	if n := dbtest.Rows(t, pool, "messages"); n != 20 {
		t.Errorf("notifications = %d, want 2 per ride", n)
	}
}

func TestRide_GracePeriod(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	cust, drv, nums := b.People(t, 1)
	r := b.mustRide(t, cust, drv)
	routed := func() (toDriver, toCustomer bool) {
		return b.call(t, cust.Phone, nums[0].Number) == drv.Phone, b.call(t, drv.Phone, nums[0].Number) == cust.Phone
	}

	b.Clock.Advance(time.Hour)
	ended, err := b.Rides.EndRide(t.Context(), r.ID, ride.RideCompleted)
	if err != nil || ended.Status != ride.RideCompleted || !ended.ExpiresAt.Equal(b.Clock.Now().Add(24*time.Hour)) {
		t.Fatalf("ended = %+v, %v; want completed, routing 24 h more", ended, err)
	}
	t.Run("the number keeps connecting them during the grace period", func(t *testing.T) {
		b.Clock.Advance(23*time.Hour + 59*time.Minute)
		if a, c := routed(); !a || !c {
			t.Errorf("customer→driver %v, driver→customer %v; want both", a, c)
		}
		if _, err := b.CreateRide(t, cust, drv); !errors.Is(err, ride.ErrPoolExhausted) {
			t.Errorf("new ride for the same parties: %v, want pool exhausted", err)
		}
	})
	t.Run("after it the number is free for them again", func(t *testing.T) {
		b.Clock.Advance(2 * time.Minute)
		if a, c := routed(); a || c {
			t.Errorf("customer→driver %v, driver→customer %v; want neither", a, c)
		}
		if again := b.mustRide(t, cust, drv); again.ProxyNumber != nums[0].Number {
			t.Errorf("new ride on %s, want the freed %s", again.ProxyNumber, nums[0].Number)
		}
	})
}

func TestEndRide(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	cust, drv, _ := b.People(t, 1)
	r := b.mustRide(t, cust, drv)
	t.Run("only completed or cancelled", func(t *testing.T) {
		_, err := b.Rides.EndRide(t.Context(), r.ID, "active")
		wantCode(t, err, ride.CodeInvalid, "status")
	})
	t.Run("an unknown ride is not found", func(t *testing.T) {
		_, err := b.Rides.EndRide(t.Context(), 999999, ride.RideCancelled)
		wantCode(t, err, ride.CodeRideNotFound, "")
	})
	t.Run("ending twice keeps the first ending", func(t *testing.T) {
		first, err := b.Rides.EndRide(t.Context(), r.ID, ride.RideCancelled)
		if err != nil {
			t.Fatal(err)
		}
		b.Clock.Advance(time.Hour)
		second, err := b.Rides.EndRide(t.Context(), r.ID, ride.RideCompleted)
		if err != nil || second.Status != ride.RideCancelled || !second.ExpiresAt.Equal(*first.ExpiresAt) {
			t.Errorf("second end = %+v, %v; want the first (cancelled, same expiry)", second, err)
		}
	})
}

func TestExtendGrace(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	cust, drv, _ := b.People(t, 1)
	r := b.mustRide(t, cust, drv)
	t.Run("an active ride has no grace to extend", func(t *testing.T) {
		_, err := b.Rides.ExtendGrace(t.Context(), r.ID, 24)
		wantCode(t, err, ride.CodeRideActive, "")
	})
	for _, hours := range []int{0, 721} {
		t.Run(fmt.Sprintf("%d hours is out of range", hours), func(t *testing.T) {
			_, err := b.Rides.ExtendGrace(t.Context(), r.ID, hours)
			wantCode(t, err, ride.CodeInvalid, "hours")
		})
	}
	if _, err := b.Rides.EndRide(t.Context(), r.ID, ride.RideCompleted); err != nil {
		t.Fatal(err)
	}
	t.Run("from the end of the grace period while it lasts", func(t *testing.T) {
		got, err := b.Rides.ExtendGrace(t.Context(), r.ID, 2)
		if want := b.Clock.Now().Add(26 * time.Hour); err != nil || !got.ExpiresAt.Equal(want) {
			t.Errorf("expires %v, %v; want %v", got.ExpiresAt, err, want)
		}
	})
	t.Run("from now once it is over", func(t *testing.T) {
		b.Clock.Advance(30 * time.Hour)
		got, err := b.Rides.ExtendGrace(t.Context(), r.ID, 1)
		if want := b.Clock.Now().Add(time.Hour); err != nil || !got.ExpiresAt.Equal(want) {
			t.Errorf("expires %v, %v; want %v", got.ExpiresAt, err, want)
		}
		if to := b.call(t, cust.Phone, r.ProxyNumber); to != drv.Phone {
			t.Errorf("call during the extension goes to %q, want the driver", to)
		}
	})
	t.Run("refused once the number serves one of them again", func(t *testing.T) {
		b.Clock.Advance(2 * time.Hour)
		b.mustRide(t, cust, drv) // the same number, free again
		_, err := b.Rides.ExtendGrace(t.Context(), r.ID, 1)
		wantCode(t, err, ride.CodeNumberReused, "")
	})
}

func TestListRides(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	cust, drv, _ := b.People(t, 3)
	other := b.Person(t, ride.RoleCustomer, "Olga", "+31633333333")
	otherDrv := b.Person(t, ride.RoleDriver, "Piet", "+31644444444")
	graceRide := b.mustRide(t, other, otherDrv)
	if _, err := b.Rides.EndRide(t.Context(), graceRide.ID, ride.RideCompleted); err != nil {
		t.Fatal(err)
	}
	oldRide := b.mustRide(t, other, drv)
	if _, err := b.Rides.EndRide(t.Context(), oldRide.ID, ride.RideCancelled); err != nil {
		t.Fatal(err)
	}
	b.Clock.Advance(time.Hour)
	// Ended 25 hours ago by now: past its grace.
	activeRide := b.mustRide(t, cust, otherDrv)
	b.Clock.Advance(24*time.Hour + time.Minute)
	if _, err := b.Rides.ExtendGrace(t.Context(), graceRide.ID, 24); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name string
		f    ride.RideFilter
		want []int64
	}{
		{"all, newest first", ride.RideFilter{}, []int64{activeRide.ID, oldRide.ID, graceRide.ID}},
		{"active", ride.RideFilter{State: "active"}, []int64{activeRide.ID}},
		{"in grace", ride.RideFilter{State: "grace"}, []int64{graceRide.ID}},
		{"routable is active or in grace", ride.RideFilter{State: "routable"}, []int64{activeRide.ID, graceRide.ID}},
		{"ended", ride.RideFilter{State: "ended"}, []int64{oldRide.ID}},
		{"by a party's name", ride.RideFilter{Query: "olg"}, []int64{oldRide.ID, graceRide.ID}},
		{"by a phone typed nationally", ride.RideFilter{Query: "06 4444"}, []int64{activeRide.ID, graceRide.ID}},
		{"by a phone's last digits", ride.RideFilter{Query: "2222"}, []int64{oldRide.ID}},
		{"a page", ride.RideFilter{Limit: 1, Offset: 1}, []int64{oldRide.ID}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.f.Limit == 0 {
				tt.f.Limit = 10
			}
			rides, err := b.Rides.ListRides(t.Context(), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, r := range rides {
				got = append(got, r.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("rides %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEndStaleRides(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	cust, drv, _ := b.People(t, 2)
	stale := b.mustRide(t, cust, drv) // pickup now
	b.Clock.Advance(13 * time.Hour)
	other := b.Person(t, ride.RoleCustomer, "Olga", "+31633333333")
	fresh := b.mustRide(t, other, drv) // pickup 13 hours after the stale one

	n, err := b.Rides.EndStaleRides(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("ended %d, %v; want the one ride 13 h past pickup", n, err)
	}
	got, err := b.Rides.Ride(t.Context(), stale.ID)
	if err != nil || got.Status != ride.RideCompleted || !got.ExpiresAt.Equal(b.Clock.Now().Add(24*time.Hour)) {
		t.Errorf("stale ride after tidy = %+v, %v; want completed with a grace period", got, err)
	}
	if got, err := b.Rides.Ride(t.Context(), fresh.ID); err != nil || got.Status != ride.RideActive {
		t.Errorf("fresh ride after tidy = %+v, %v; want still active", got, err)
	}
	if n, err := b.Rides.EndStaleRides(t.Context()); err != nil || n != 0 {
		t.Errorf("second tidy ended %d, %v; want none", n, err)
	}
}

func TestCreateRide_PickupJustPastIsAccepted(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	cust, drv, _ := b.People(t, 1)
	// The car may already be at the door when the ride is entered.
	if _, err := b.Rides.CreateRide(t.Context(), ride.NewRide{CustomerID: cust.ID, DriverID: drv.ID,
		Start: "A", Destination: "B", PickupAt: b.Clock.Now().Add(-ride.PickupTolerance + time.Minute)}); err != nil {
		t.Errorf("pickup within the tolerance: %v", err)
	}
}
