package ride_test

import (
	"testing"
	"time"

	"birdcar/sql/ride"
)

// endedEvents counts the ride.ended events written for rideID, and those
// of them marked disconnected.
func (b *testBundle) endedEvents(t *testing.T, rideID int64) (all, disconnected int) {
	t.Helper()
	err := b.DB.QueryRow(t.Context(), `SELECT count(*), count(*) FILTER (WHERE (args->'data'->>'disconnected')::bool)
		FROM river_job WHERE kind = 'event' AND args->>'type' = 'ride.ended' AND (args->'data'->>'ride_id')::bigint = $1`, rideID).
		Scan(&all, &disconnected)
	if err != nil {
		t.Fatal(err)
	}
	return all, disconnected
}

func TestDisconnectRide_Active(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.Rides.Events = true
	cust, drv, nums := b.People(t, 1)
	r := b.mustRide(t, cust, drv)
	if b.call(t, cust.Phone, nums[0].Number) != drv.Phone {
		t.Fatal("the active ride does not route")
	}
	b.Clock.Advance(time.Minute)
	got, err := b.Rides.DisconnectRide(t.Context(), r.ID, ride.RideCancelled)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != ride.RideCancelled || got.ExpiresAt == nil || !got.ExpiresAt.Equal(b.Clock.Now()) || got.InGrace(b.Clock.Now()) {
		t.Errorf("disconnected ride = %+v; want cancelled, expiring now, not in grace", got)
	}
	if to, back := b.call(t, cust.Phone, nums[0].Number), b.call(t, drv.Phone, nums[0].Number); to != "" || back != "" {
		t.Errorf("calls after disconnecting put through to %q and %q; want neither", to, back)
	}
	if all, disc := b.endedEvents(t, r.ID); all != 1 || disc != 1 {
		t.Errorf("ride.ended events = %d (%d disconnected), want 1 disconnected", all, disc)
	}
	// The number is free for the same two at once: no grace holds it.
	if again := b.mustRide(t, cust, drv); again.ProxyNumber != nums[0].Number {
		t.Errorf("new ride on %s, want the freed %s", again.ProxyNumber, nums[0].Number)
	}
}

func TestDisconnectRide_CutsGraceShort(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.Rides.Events = true
	cust, drv, nums := b.People(t, 1)
	r := b.mustRide(t, cust, drv)
	if _, err := b.Rides.EndRide(t.Context(), r.ID, ride.RideCompleted); err != nil {
		t.Fatal(err)
	}
	b.Clock.Advance(time.Hour)
	if b.call(t, drv.Phone, nums[0].Number) != cust.Phone {
		t.Fatal("the ended ride does not route in its grace period")
	}
	// The status asked for does not change an ended ride's own.
	got, err := b.Rides.DisconnectRide(t.Context(), r.ID, ride.RideCancelled)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != ride.RideCompleted || got.ExpiresAt == nil || !got.ExpiresAt.Equal(b.Clock.Now()) {
		t.Errorf("disconnected ride = %+v; want still completed, expiring now", got)
	}
	if to := b.call(t, drv.Phone, nums[0].Number); to != "" {
		t.Errorf("call after cutting the grace short put through to %q", to)
	}
	if all, disc := b.endedEvents(t, r.ID); all != 2 || disc != 1 {
		t.Errorf("ride.ended events = %d (%d disconnected), want the ending and the disconnection", all, disc)
	}

	t.Run("again changes nothing", func(t *testing.T) {
		b.Clock.Advance(time.Minute)
		again, err := b.Rides.DisconnectRide(t.Context(), r.ID, ride.RideCompleted)
		if err != nil || !again.ExpiresAt.Equal(*got.ExpiresAt) {
			t.Errorf("second disconnect = %+v, %v; want the first expiry kept", again, err)
		}
		if all, _ := b.endedEvents(t, r.ID); all != 2 {
			t.Errorf("ride.ended events = %d, want no new one", all)
		}
	})
	t.Run("refused for a bad status or an unknown ride", func(t *testing.T) {
		_, err := b.Rides.DisconnectRide(t.Context(), r.ID, "active")
		wantCode(t, err, ride.CodeInvalid, "status")
		_, err = b.Rides.DisconnectRide(t.Context(), 999999, ride.RideCancelled)
		wantCode(t, err, ride.CodeRideNotFound, "")
	})
}

// A form shows every field at fault after one submit: the domain reports
// them all in one Error.
func TestValidation_EveryField(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	want := func(t *testing.T, err error, fields ...string) {
		t.Helper()
		e := ride.AsError(err)
		if e == nil {
			t.Fatalf("error = %v, want field errors", err)
		}
		got := e.FieldErrors()
		for _, f := range fields {
			if got[f] == "" {
				t.Errorf("no error for %s in %v", f, got)
			}
		}
		if len(got) != len(fields) {
			t.Errorf("errors %v, want exactly %v", got, fields)
		}
		if e.Field != fields[0] {
			t.Errorf("first field %q, want %q (the API's invalid_<field>)", e.Field, fields[0])
		}
	}
	t.Run("person", func(t *testing.T) {
		_, err := b.Rides.CreatePerson(t.Context(), ride.RoleCustomer, ride.PersonInput{Name: " ", Phone: "12"})
		want(t, err, "name", "phone")
	})
	t.Run("number", func(t *testing.T) {
		_, err := b.Rides.AddNumber(t.Context(), ride.NumberInput{Number: "abc", Country: "Nether"})
		want(t, err, "number", "country")
	})
	t.Run("ride", func(t *testing.T) {
		_, err := b.Rides.CreateRide(t.Context(), ride.NewRide{CustomerID: 999, DriverID: 998, PickupAt: b.Clock.Now().Add(time.Hour)})
		want(t, err, "customer_id", "driver_id", "start", "destination")
	})
	t.Run("ride check without the database", func(t *testing.T) {
		in := ride.NewRide{Start: "  Damrak 1 ", Destination: ""}
		want(t, in.Check(), "destination")
		if in.Start != "Damrak 1" {
			t.Errorf("start = %q, want it trimmed", in.Start)
		}
	})
}
