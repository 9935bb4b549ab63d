package jobs

import (
	"context"

	"github.com/riverqueue/river"

	"birdcar/sql/ride"
)

// SendWorker sends the outbound message a ride.SendArgs names, through
// the domain, which records the outcome on the message.
type SendWorker struct {
	river.WorkerDefaults[ride.SendArgs]
	Rides   *ride.Service
	Sender  ride.Sender
	Metrics *Metrics // nil records nothing
}

// Work makes one attempt. A transient failure returns the error so River
// retries with backoff; a permanent one cancels the job at once.
func (w *SendWorker) Work(ctx context.Context, job *river.Job[ride.SendArgs]) error {
	outcome, err := w.Rides.Deliver(ctx, w.Sender, job.Args.MessageID, job.Attempt, job.MaxAttempts)
	w.Metrics.delivered(outcome, err)
	if outcome == ride.DeliveryFailed && ride.IsPermanent(err) {
		return river.JobCancel(err)
	}
	return err
}
