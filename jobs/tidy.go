package jobs

import (
	"context"

	"github.com/riverqueue/river"

	"birdcar/sql/ride"
)

// TidyArgs is the periodic clean-up of ride status.
type TidyArgs struct{}

// Kind names the job in River's tables.
func (TidyArgs) Kind() string { return "tidy_rides" }

// TidyWorker completes the rides the platform forgot to end.
type TidyWorker struct {
	river.WorkerDefaults[TidyArgs]
	Rides *ride.Service
}

// Work ends stale rides until none is left.
func (w *TidyWorker) Work(ctx context.Context, _ *river.Job[TidyArgs]) error {
	_, err := w.Rides.EndStaleRides(ctx)
	return err
}
