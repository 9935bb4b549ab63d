package jobs_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"

	"birdcar/jobs"
	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

// TestTidyWorker_CompletesForgottenRides runs the periodic tidy job as
// River would: the ride the platform forgot to end is completed with its
// grace period, the one still under way is left alone.
func TestTidyWorker_CompletesForgottenRides(t *testing.T) {
	t.Parallel()
	tx := dbtest.Tx(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := now // rides are entered at their pickup, which lies in the past only later
	rides := &ride.Service{DB: tx, Jobs: noJobs{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		DefaultCountry: "NL", GracePeriod: 24 * time.Hour, AutoEndAfter: 12 * time.Hour, Clock: func() time.Time { return clock }}
	ctx := t.Context()
	mk := func(customer, driver string, pickup time.Time) ride.Ride {
		c, err := rides.CreatePerson(ctx, ride.RoleCustomer, ride.PersonInput{Name: "C", Phone: customer})
		if err != nil {
			t.Fatal(err)
		}
		d, err := rides.CreatePerson(ctx, ride.RoleDriver, ride.PersonInput{Name: "D", Phone: driver})
		if err != nil {
			t.Fatal(err)
		}
		clock = pickup
		r, err := rides.CreateRide(ctx, ride.NewRide{CustomerID: c.ID, DriverID: d.ID, Start: "A", Destination: "B", PickupAt: pickup})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if _, err := rides.AddNumber(ctx, ride.NumberInput{Number: proxyNumber}); err != nil {
		t.Fatal(err)
	}
	forgotten := mk("+31611111111", "+31622222222", now.Add(-13*time.Hour))
	underway := mk("+31633333333", "+31644444444", now.Add(-11*time.Hour))
	clock = now

	worker := rivertest.NewWorker(t, riverpgxv5.New(nil), &river.Config{}, &jobs.TidyWorker{Rides: rides})
	res, err := worker.Work(ctx, t, tx, jobs.TidyArgs{}, nil)
	if err != nil || res.EventKind != river.EventKindJobCompleted {
		t.Fatalf("tidy job: %+v, %v; want it completed", res, err)
	}
	got, err := rides.Ride(ctx, forgotten.ID)
	if err != nil || got.Status != ride.RideCompleted || !got.ExpiresAt.Equal(now.Add(24*time.Hour)) {
		t.Errorf("forgotten ride after tidy: %+v, %v; want completed, routing 24 h more", got, err)
	}
	if got, err := rides.Ride(ctx, underway.ID); err != nil || got.Status != ride.RideActive {
		t.Errorf("ride under way after tidy: %+v, %v; want active", got, err)
	}
}
