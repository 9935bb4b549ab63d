package ride_test

import (
	"testing"
	"time"

	"birdcar/sql/ride"
)

func TestOverview(t *testing.T) {
	t.Parallel()
	f := activeRide(t, nil)
	ctx := t.Context()
	// Texts are stamped by the test's clock (1 May 2026), three hours ago;
	// the notifications by the database's, later: since midnight, but not
	// in the last 24 hours' chart.
	f.Clock.Advance(-3 * time.Hour)
	for _, id := range []string{"a", "b"} {
		if _, err := f.Rides.ReceiveSMS(ctx, ride.InboundSMS{ID: id, Originator: "+31699999999", Recipient: f.proxy, Text: "?"}); err != nil {
			t.Fatal(err)
		}
	}
	f.Clock.Advance(3 * time.Hour)
	o, err := f.Rides.Overview(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if o.ActiveRides != 1 || o.Pool.Free != 0 || !o.Pool.Low || len(o.Rides) != 1 || o.Rides[0].ID != f.ride.ID {
		t.Errorf("overview %+v; want one active ride, the pool empty", o)
	}
	if o.MessagesToday != 4 || o.FailuresToday != 0 || len(o.UnmatchedTexts) != 1 || len(o.UnmatchedCalls) != 0 {
		t.Errorf("today %d messages, %d failed, unmatched %d texts %d calls; want 4, 0, 1 (the limit), 0",
			o.MessagesToday, o.FailuresToday, len(o.UnmatchedTexts), len(o.UnmatchedCalls))
	}
	if len(o.PerHour) != 24 || o.PerHour[23].Hour != f.Clock.Now().Truncate(time.Hour) || o.PerHour[20].N != 2 {
		t.Errorf("per hour %+v; want 24 hours ending now, 2 texts three hours ago", o.PerHour)
	}
}

func TestForwardStatesAndUnfinishedSends(t *testing.T) {
	t.Parallel()
	f := activeRide(t, nil)
	ctx := t.Context()
	if _, err := f.Rides.ReceiveSMS(ctx, ride.InboundSMS{ID: "in-1", Originator: f.customer.Phone, Recipient: f.proxy, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if n, err := f.Rides.UnfinishedSends(ctx); err != nil || n != 3 {
		t.Errorf("unfinished sends %d, %v; want the two notifications and the forward", n, err)
	}
	got, err := f.Rides.ForwardStates(ctx, []string{"in-1", "never-received"})
	if err != nil || len(got) != 2 || got["queued / available"] != 1 || got["no forward / no job"] != 1 {
		t.Errorf("forward states %v, %v", got, err)
	}
}
