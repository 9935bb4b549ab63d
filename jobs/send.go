package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"birdcar/sql/db"
)

// SendArgs asks a worker to send one outbound message row.
type SendArgs struct {
	MessageID int64 `json:"message_id"`
}

// Kind names the job in River's tables.
func (SendArgs) Kind() string { return "send_sms" }

// SendWorker hands queued messages to the Sender and records the outcome on
// the message row, which is what operators and the API see.
type SendWorker struct {
	river.WorkerDefaults[SendArgs]
	DB      db.DBTX
	Sender  Sender
	Metrics *Metrics // nil records nothing
}

// Work sends the message once. A transient failure returns the error so
// River retries with backoff; a permanent one cancels the job at once.
func (w *SendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	q := db.New(w.DB)
	msg, err := q.MessageStartSending(ctx, job.Args.MessageID)
	if errors.Is(err, pgx.ErrNoRows) {
		w.Metrics.skipped()
		return nil // finished, or MessageBird already accepted it: never send twice
	}
	if err != nil {
		return fmt.Errorf("claim message %d: %w", job.Args.MessageID, err)
	}
	res, err := w.Sender.Send(ctx, OutboundSMS{
		Reference:  strconv.FormatInt(msg.ID, 10),
		Originator: msg.Originator,
		Recipient:  msg.Recipient,
		Body:       msg.Body,
	})
	w.Metrics.sendDone(err, job.Attempt >= job.MaxAttempts)
	if err == nil {
		// Stored before anything else, so a retry after this sees it and skips.
		if err := markSent(ctx, q, msg.ID, res.ProviderID); err != nil {
			return fmt.Errorf("record acceptance of message %d: %w", msg.ID, err)
		}
		return nil
	}
	reason := failureReason(err)
	switch {
	case IsPermanent(err):
		if dbErr := q.MessageMarkFailed(ctx, db.MessageMarkFailedParams{ID: msg.ID, LastError: &reason}); dbErr != nil {
			return fmt.Errorf("record failure of message %d: %w", msg.ID, dbErr)
		}
		return river.JobCancel(err)
	case job.Attempt >= job.MaxAttempts:
		reason = fmt.Sprintf("gave up after %d attempts: %s", job.Attempt, reason)
		if dbErr := q.MessageMarkFailed(ctx, db.MessageMarkFailedParams{ID: msg.ID, LastError: &reason}); dbErr != nil {
			return fmt.Errorf("record failure of message %d: %w", msg.ID, dbErr)
		}
	default:
		if dbErr := q.MessageMarkRetrying(ctx, db.MessageMarkRetryingParams{ID: msg.ID, LastError: &reason}); dbErr != nil {
			return fmt.Errorf("record retry of message %d: %w", msg.ID, dbErr)
		}
	}
	return err
}

// failureReason is the part of a send error an operator may read.
func failureReason(err error) string {
	var se *SendError
	if errors.As(err, &se) {
		return se.Reason
	}
	return "unexpected error while sending"
}

// markSent records MessageBird's id for a message it has accepted. Until
// that is stored a retry would send the message again, so a database that
// is briefly away (a restart, a fail-over) is waited for, up to the job's
// deadline.
func markSent(ctx context.Context, q *db.Queries, id int64, providerID string) error {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		err := q.MessageMarkSent(ctx, db.MessageMarkSentParams{ID: id, ProviderID: &providerID})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}
