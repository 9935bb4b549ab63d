package jobs

import (
	"context"

	"github.com/riverqueue/river"

	"birdcar/sql/ride"
)

// TidyArgs is the periodic clean-up: ride status, expired idempotency
// keys, retention.
type TidyArgs struct{}

// Kind names the job in River's tables.
func (TidyArgs) Kind() string { return "tidy_rides" }

// TidyWorker completes the rides the platform forgot to end and forgets
// the API's idempotency keys after ride.IdempotencyTTL.
type TidyWorker struct {
	river.WorkerDefaults[TidyArgs]
	Rides *ride.Service
}

// Work ends stale rides until none is left, forgets old keys and redacts
// what the retention period no longer allows to keep.
func (w *TidyWorker) Work(ctx context.Context, _ *river.Job[TidyArgs]) error {
	if _, err := w.Rides.EndStaleRides(ctx); err != nil {
		return err
	}
	if _, err := w.Rides.ForgetIdempotencyKeys(ctx); err != nil {
		return err
	}
	_, err := w.Rides.RedactExpired(ctx)
	return err
}
