package ride

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"birdcar/sql/db"
)

// Overview is the state of the service at a glance.
type Overview struct {
	Now            time.Time
	ActiveRides    int64
	Pool           PoolHealth
	MessagesToday  int64 // since midnight in Location
	FailuresToday  int64
	PerHour        []HourCount // the last 24 hours, oldest first, empty hours included
	Rides          []Ride      // the latest
	UnmatchedTexts []Message   // the latest texts no route matched
	UnmatchedCalls []Call      // the latest calls no route matched
	// Sends sums up the sends that need an operator: retrying, failed,
	// and the rides whose notifications did not go out.
	Sends SendTrouble
	// EventsFailing is how many events the platform has not taken (up to
	// the events page's list).
	EventsFailing int
}

// NeedsAttention reports whether anything on the overview needs an
// operator now.
func (o Overview) NeedsAttention() bool {
	return o.Sends.Retrying > 0 || o.Sends.Failed > 0 || o.EventsFailing > 0 || o.Pool.Low ||
		len(o.UnmatchedTexts) > 0 || len(o.UnmatchedCalls) > 0
}

// HourCount is the messages created in the hour that starts at Hour.
type HourCount struct {
	Hour time.Time
	N    int64
}

// Overview gathers the overview, with up to rows latest rides and
// unmatched texts and calls.
func (s *Service) Overview(ctx context.Context, rows int) (Overview, error) {
	now := s.Now()
	o := Overview{Now: now}
	var err error
	if o.ActiveRides, err = s.CountActiveRides(ctx); err != nil {
		return o, err
	}
	if o.Pool, err = s.PoolHealth(ctx); err != nil {
		return o, err
	}
	sends, err := s.TroubledSends(ctx)
	if err != nil {
		return o, err
	}
	o.Sends = Summarize(sends)
	events, err := s.TroubledEvents(ctx)
	if err != nil {
		return o, err
	}
	o.EventsFailing = len(events)
	q := s.queries()
	local := now.In(s.Location())
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, s.Location())
	counts, err := q.MessageCountsSince(ctx, midnight)
	if err != nil {
		return o, fmt.Errorf("count messages: %w", err)
	}
	o.MessagesToday, o.FailuresToday = counts.Total, counts.Failed
	first := now.Truncate(time.Hour).Add(-23 * time.Hour)
	perHour, err := q.MessagePerHour(ctx, first)
	if err != nil {
		return o, fmt.Errorf("messages per hour: %w", err)
	}
	o.PerHour = hourly(first, perHour)
	if o.Rides, err = s.ListRides(ctx, RideFilter{Limit: rows}); err != nil {
		return o, err
	}
	texts, err := q.MessageListUnmatched(ctx, int32(rows))
	if err != nil {
		return o, fmt.Errorf("list unmatched texts: %w", err)
	}
	o.UnmatchedTexts = toMessages(texts)
	calls, err := q.CallListUnmatched(ctx, int32(rows))
	if err != nil {
		return o, fmt.Errorf("list unmatched calls: %w", err)
	}
	for _, k := range calls {
		o.UnmatchedCalls = append(o.UnmatchedCalls, toCall(k))
	}
	return o, nil
}

// hourly spreads the database's counts over 24 hours from first, zeros included.
func hourly(first time.Time, rows []db.MessagePerHourRow) []HourCount {
	out := make([]HourCount, 24)
	for i := range out {
		out[i].Hour = first.Add(time.Duration(i) * time.Hour)
	}
	for _, r := range rows {
		if i := int(r.Hour.Sub(first) / time.Hour); i >= 0 && i < len(out) {
			out[i].N = r.N
		}
	}
	return out
}

// MessagesByStatus counts every message by status, for monitoring.
func (s *Service) MessagesByStatus(ctx context.Context) (map[MessageStatus]int64, error) {
	rows, err := s.queries().MessageCountByStatus(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[MessageStatus]int64, len(rows))
	for _, r := range rows {
		out[MessageStatus(r.Status)] = r.N
	}
	return out, nil
}

// UnfinishedJobStates are the states of River jobs not yet finished, as
// UnfinishedJobs counts them: a backlog or a stuck worker shows there.
var UnfinishedJobStates = []string{"available", "scheduled", "retryable", "running"}

// unfinishedJobsSQL is plain SQL (River's tables are not in sqlc's schema)
// with the states written out: passed as a parameter, they keep the planner
// off River's index on state, and it scans every finished job too.
const unfinishedJobsSQL = `SELECT state::text, count(*) FROM river_job
WHERE state IN ('available', 'scheduled', 'retryable', 'running') GROUP BY state`

// UnfinishedJobs counts River's unfinished jobs by state.
func (s *Service) UnfinishedJobs(ctx context.Context) (map[string]int64, error) {
	return s.countBy(ctx, unfinishedJobsSQL)
}

// countBy runs a query of (name, count) rows into a map.
func (s *Service) countBy(ctx context.Context, query string, args ...any) (map[string]int64, error) {
	rows, err := s.DB.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	var name string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&name, &n}, func() error {
		counts[name] = n
		return nil
	})
	return counts, err
}

// unfinishedSendsSQL counts the send jobs River has not finished.
const unfinishedSendsSQL = `SELECT count(*) FROM river_job
WHERE kind = 'send_sms' AND state NOT IN ('completed', 'cancelled', 'discarded')`

// UnfinishedSends counts the send jobs River has not finished: a drained
// queue has none.
func (s *Service) UnfinishedSends(ctx context.Context) (int64, error) {
	var n int64
	err := s.DB.QueryRow(ctx, unfinishedSendsSQL).Scan(&n)
	return n, err
}

// forwardStatesSQL follows each inbound id to its forward and the forward's
// send jobs.
const forwardStatesSQL = `
SELECT coalesce(f.status, 'no forward') || ' / ' || coalesce(j.state::text, 'no job'), count(*)
FROM unnest($1::text[]) AS r(id)
LEFT JOIN messages i ON i.received_id = r.id
LEFT JOIN messages f ON f.forward_of = i.id
LEFT JOIN river_job j ON j.kind = 'send_sms' AND (j.args->>'message_id')::bigint = f.id
GROUP BY 1`

// ForwardStates says where the forwards of inbound texts, named by
// MessageBird's ids, stand: how many are at each "<message status> / <job
// state>", "no forward" and "no job" standing for what is missing. A load
// run asks it about the texts it lost.
func (s *Service) ForwardStates(ctx context.Context, receivedIDs []string) (map[string]int64, error) {
	return s.countBy(ctx, forwardStatesSQL, receivedIDs)
}
