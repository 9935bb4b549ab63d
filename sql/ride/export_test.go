package ride

import (
	"context"
	"fmt"
	"slices"
	"time"

	"birdcar/sql/db"
)

// RouteTableDiff compares the table's memory with the database's routes
// valid at the Service's now: "" when they agree.
func RouteTableDiff(ctx context.Context, t *RouteTable) (string, error) {
	rows, err := db.New(t.pool).RoutesOpen(ctx, t.rides.Now())
	if err != nil {
		return "", err
	}
	var want, got []string
	for _, r := range rows {
		want = append(want, r.ProxyNumber+" "+memString(toMemRoute(r)))
	}
	t.mu.RLock()
	for number, routes := range t.byNumber {
		for _, r := range routes {
			got = append(got, number+" "+memString(r))
		}
	}
	t.mu.RUnlock()
	slices.Sort(want)
	slices.Sort(got)
	if slices.Equal(want, got) {
		return "", nil
	}
	return fmt.Sprintf("memory %v\ndatabase %v", got, want), nil
}

func memString(r memRoute) string {
	until := r.until.UTC().String()
	if r.open {
		until = "∞"
	}
	return fmt.Sprintf("%s→%s ride %d [%s, %s)", r.caller, r.callee, r.rideID, r.from.UTC(), until)
}

// RecordBadCall queues a call the database refuses (an outcome its check
// does not know).
func RecordBadCall(l *CallLog) {
	l.Record(callRecord{Call: db.CallCreateManyParams{CallID: "bad", Outcome: "bogus", CreatedAt: time.Now()}})
}

// ForwardGroup commits texts as one group, as the Batcher does, and says
// for each whether a route took it and whether its forward was queued.
func ForwardGroup(ctx context.Context, s *Service, texts []InboundSMS) (routed, queued []bool, err error) {
	group := make([]forwardText, len(texts))
	for i, in := range texts {
		group[i] = forwardText{in: in, now: s.Now()}
	}
	if group, err = s.commitForwards(ctx, group); err != nil {
		return nil, nil, err
	}
	for _, t := range group {
		routed, queued = append(routed, t.rideID != nil), append(queued, t.queued)
	}
	return routed, queued, nil
}
