package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"birdcar/sql/db"
)

// TidyArgs is the periodic clean-up of ride status.
type TidyArgs struct{}

// Kind names the job in River's tables.
func (TidyArgs) Kind() string { return "tidy_rides" }

// TidyWorker completes rides the platform forgot to end. Routing never
// waits for it: validity is decided by time in the routing queries.
type TidyWorker struct {
	river.WorkerDefaults[TidyArgs]
	DB           db.DBTX
	GracePeriod  time.Duration
	AutoEndAfter time.Duration // after pickup
	Now          func() time.Time
}

// Work ends stale rides in batches until none is left.
func (w *TidyWorker) Work(ctx context.Context, _ *river.Job[TidyArgs]) error {
	q := db.New(w.DB)
	for {
		now := w.Now()
		ended, err := q.RideEndStale(ctx, db.RideEndStaleParams{
			Now:          now,
			ExpiresAt:    now.Add(w.GracePeriod),
			PickupBefore: now.Add(-w.AutoEndAfter),
		})
		if err != nil {
			return fmt.Errorf("end stale rides: %w", err)
		}
		if len(ended) == 0 {
			return nil
		}
	}
}
