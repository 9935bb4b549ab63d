package ride_test

import (
	"context"
	"testing"
	"time"

	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

func TestFeed_ToldOfCommittedChanges(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	b := setup(t, pool)
	feed := ride.NewFeed(b.Rides, pool, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); feed.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	sub, err := feed.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := feed.Subscribe(); err != ride.ErrFeedFull {
		t.Errorf("a subscriber beyond the bound: %v, want ErrFeedFull", err)
	}
	waitFor(t, "feed live", feed.Live)

	// wait collects changes until want arrives (or had), failing after 5 s.
	seen := map[ride.Change]bool{}
	wait := func(want ride.Change) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for !seen[want] {
			select {
			case <-sub.Ready():
				for _, c := range sub.Take() {
					seen[c] = true
				}
			case <-deadline:
				t.Fatalf("no change %+v within 5 s", want)
			}
		}
		delete(seen, want)
	}
	f := activeRide(t, pool)
	wait(ride.Change{Kind: ride.ChangeRide, RideID: f.ride.ID})
	wait(ride.Change{Kind: ride.ChangeMessage, RideID: f.ride.ID}) // its notifications
	if _, err := pool.Exec(t.Context(), `UPDATE messages SET attempts = attempts WHERE ride_id = $1`, f.ride.ID); err != nil {
		t.Fatal(err)
	}
	wait(ride.Change{Kind: ride.ChangeMessage, RideID: f.ride.ID}) // a send's state

	// A rolled-back change says nothing.
	tx, err := pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.WithoutCancel(t.Context())) //nolint:errcheck // rolled back below; this is for a failure
	if _, err := tx.Exec(t.Context(), `UPDATE rides SET start_address = start_address WHERE id = $1`, f.ride.ID); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub.Ready():
		if got := sub.Take(); len(got) > 0 {
			t.Errorf("after a rollback: %+v", got)
		}
	case <-time.After(300 * time.Millisecond):
	}
}
