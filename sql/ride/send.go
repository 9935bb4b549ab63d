package ride

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"birdcar/sql/db"
)

// OutboundSMS is what a Sender hands the provider.
type OutboundSMS struct {
	Reference  string // our message id, echoed back in delivery reports
	Originator string // proxy number, E.164 (+31...)
	Recipient  string // E.164
	Body       string // up to 1,600 characters, any Unicode
}

// SendResult is the provider's receipt for an accepted message.
type SendResult struct {
	ProviderID string // the provider's message id, matched against delivery reports
	Status     string // e.g. "sent", or MessageBird's recipient status
}

// Sender hands an SMS to a provider. Its failures are *SendError, so that a
// permanent one is not retried.
type Sender interface {
	Send(ctx context.Context, m OutboundSMS) (SendResult, error)
}

// SendFailure names what went wrong with a send, from a fixed set (metrics
// label their series with it).
type SendFailure string

// The failures of a send. Only FailureRejected is permanent: retrying
// cannot help when the provider refused the message or our key.
const (
	FailureRejected SendFailure = "permanent"
	FailureServer   SendFailure = "server_error"
	FailureTimeout  SendFailure = "timeout"
	FailureNetwork  SendFailure = "network"
	FailureOther    SendFailure = "other" // a garbled answer, a cancellation
)

// SendError is a failed send.
type SendError struct {
	Failure SendFailure
	Reason  string // short, safe to show an operator: never holds a secret
	Err     error
}

func (e *SendError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *SendError) Unwrap() error { return e.Err }

// Permanent reports whether retrying cannot help.
func (e *SendError) Permanent() bool { return e.Failure == FailureRejected }

// IsPermanent reports whether err is, or wraps, a permanent *SendError.
func IsPermanent(err error) bool {
	se, ok := errors.AsType[*SendError](err)
	return ok && se.Permanent()
}

// FailureOf is what went wrong with a send: FailureOther when err is not
// a *SendError.
func FailureOf(err error) SendFailure {
	if se, ok := errors.AsType[*SendError](err); ok && se.Failure != "" {
		return se.Failure
	}
	return FailureOther
}

// Delivery is what one send attempt did.
type Delivery string

// The outcomes of a send attempt.
const (
	DeliverySent    Delivery = "sent"    // the provider accepted it
	DeliveryRetry   Delivery = "retry"   // failed; it will be tried again
	DeliveryFailed  Delivery = "failed"  // failed for good: permanent, or the last attempt
	DeliverySkipped Delivery = "skipped" // nothing to send: finished, or the provider has it
)

// Deliver makes attempt (of maxAttempts) to send a queued message through
// sender and records the outcome on the message, which is what operators
// and the API see. It never sends a message twice: a message the provider
// has accepted is skipped. Unless the message was sent or skipped, the
// error says why (a *SendError for the provider's part).
func (s *Service) Deliver(ctx context.Context, sender Sender, id int64, attempt, maxAttempts int) (Delivery, error) {
	q := s.queries()
	msg, err := q.MessageToSend(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return DeliverySkipped, nil // finished, or MessageBird already accepted it
	}
	if err != nil {
		return "", fmt.Errorf("claim message %d: %w", id, err)
	}
	res, err := sender.Send(ctx, OutboundSMS{
		Reference:  strconv.FormatInt(msg.ID, 10),
		Originator: msg.Originator,
		Recipient:  msg.Recipient,
		Body:       msg.Body,
	})
	if err == nil {
		// Stored before anything else, so a retry after this sees it and skips.
		if err := s.markSent(ctx, msg, res.ProviderID); err != nil {
			return DeliverySent, fmt.Errorf("record acceptance of message %d: %w", msg.ID, err)
		}
		return DeliverySent, nil
	}
	reason := "unexpected error while sending"
	if se, ok := errors.AsType[*SendError](err); ok {
		reason = se.Reason
	}
	outcome := DeliveryRetry
	switch {
	case IsPermanent(err):
		outcome = DeliveryFailed
	case attempt >= maxAttempts:
		outcome = DeliveryFailed
		reason = fmt.Sprintf("gave up after %d attempts: %s", attempt, reason)
	}
	var dbErr error
	if outcome == DeliveryFailed {
		dbErr = s.markFailed(ctx, msg, reason, FailureOf(err))
	} else {
		dbErr = q.MessageMarkRetrying(ctx, db.MessageMarkRetryingParams{ID: msg.ID, LastError: &reason})
	}
	if dbErr != nil {
		return outcome, fmt.Errorf("record %s of message %d: %w", outcome, msg.ID, dbErr)
	}
	return outcome, err
}

// markSent records MessageBird's id for a message it has accepted, and
// for a forward the message.forwarded event. Until that is stored a retry
// would send the message again, so a database that is briefly away (a
// restart, a fail-over) is waited for, up to the caller's deadline.
func (s *Service) markSent(ctx context.Context, msg db.Message, providerID string) error {
	mark := func(q *db.Queries) error {
		return q.MessageMarkSent(ctx, db.MessageMarkSentParams{ID: msg.ID, ProviderID: &providerID})
	}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		var err error
		if s.Events && MessageKind(msg.Kind) == KindForward {
			err = s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
				if err := mark(q); err != nil {
					return err
				}
				return s.emit(ctx, tx, EventMessageForwarded, messageEvent{MessageID: msg.ID, RideID: msg.RideID, Kind: msg.Kind})
			})
		} else {
			err = mark(s.queries()) // one statement: no transaction to pay for on the send path
		}
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

// markFailed gives up on a message: reason for operators, failure (a
// category, never a phone number) for the message.failed event.
func (s *Service) markFailed(ctx context.Context, msg db.Message, reason string, failure SendFailure) error {
	return s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		if err := q.MessageMarkFailed(ctx, db.MessageMarkFailedParams{ID: msg.ID, LastError: &reason, Attempted: 1}); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventMessageFailed, messageEvent{MessageID: msg.ID, RideID: msg.RideID, Kind: msg.Kind, Reason: string(failure)})
	})
}

// Send is an outbound message that needs an operator's eye, with River's
// view of its job.
type Send struct {
	Message     Message
	JobState    string     // "" when the job is gone
	MaxAttempts int        // of the job
	NextAttempt *time.Time // when River tries again, if it will
}

// TroubledSends lists the outbound messages that failed or wait for a
// retry, newest first.
func (s *Service) TroubledSends(ctx context.Context) ([]Send, error) {
	var out []Send
	err := s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		rows, err := q.MessageListTrouble(ctx)
		if err != nil {
			return fmt.Errorf("list sends: %w", err)
		}
		ids := make([]int64, len(rows))
		for i, m := range rows {
			ids[i] = m.ID
		}
		jobs, err := s.sendJobs(ctx, tx, ids)
		if err != nil {
			return err
		}
		out = make([]Send, len(rows))
		for i, m := range rows {
			out[i] = Send{Message: toMessage(m)}
			if j := jobs[m.ID]; j != nil {
				out[i].JobState, out[i].MaxAttempts = string(j.State), j.MaxAttempts
				if j.State == rivertype.JobStateRetryable || j.State == rivertype.JobStateScheduled {
					out[i].NextAttempt = &j.ScheduledAt
				}
			}
		}
		return nil
	})
	return out, err
}

// sendJobs finds the newest send job of each message, keyed by message id.
func (s *Service) sendJobs(ctx context.Context, tx pgx.Tx, ids []int64) (map[int64]*rivertype.JobRow, error) {
	out := map[int64]*rivertype.JobRow{}
	if len(ids) == 0 {
		return out, nil
	}
	res, err := s.Jobs.JobListTx(ctx, tx, river.NewJobListParams().Kinds(SendArgs{}.Kind()).
		Where("(args->>'message_id')::bigint = any(@ids)", river.NamedArgs{"ids": ids}).First(1000))
	if err != nil {
		return nil, fmt.Errorf("list send jobs: %w", err)
	}
	for _, j := range res.Jobs {
		var args SendArgs
		if err := json.Unmarshal(j.EncodedArgs, &args); err != nil {
			return nil, fmt.Errorf("decode job %d args: %w", j.ID, err)
		}
		if cur, ok := out[args.MessageID]; !ok || j.ID > cur.ID {
			out[args.MessageID] = j
		}
	}
	return out, nil
}

// Retry is what RetrySend did.
type Retry int

// The ways a send is retried.
const (
	RetriedNow Retry = iota // a waiting job runs now
	Requeued                // a failed message is queued again with a new job
)

// RetrySend makes River try a waiting send now, or queues a failed one
// again, its history kept.
func (s *Service) RetrySend(ctx context.Context, id int64) (Retry, error) {
	var out Retry
	err := s.sendAction(ctx, id, func(tx pgx.Tx, q *db.Queries, m db.Message, job *rivertype.JobRow) error {
		if err := s.auditSend(ctx, q, AuditSendRetry, m); err != nil {
			return err
		}
		if MessageStatus(m.Status) != StatusFailed && job != nil {
			out = RetriedNow
			if _, err := s.Jobs.JobRetryTx(ctx, tx, job.ID); err != nil {
				return fmt.Errorf("retry job: %w", err)
			}
			return nil
		}
		out = Requeued
		if _, err := q.MessageRequeue(ctx, m.ID); errors.Is(err, pgx.ErrNoRows) {
			return Errorf(CodeNotRetryable, "This message is no longer waiting or failed.")
		} else if err != nil {
			return err
		}
		if _, err := s.Jobs.InsertTx(ctx, tx, SendArgs{MessageID: m.ID}, nil); err != nil {
			return fmt.Errorf("enqueue send: %w", err)
		}
		return nil
	})
	return out, err
}

// CancelSend stops retrying a send and marks it failed.
func (s *Service) CancelSend(ctx context.Context, id int64) error {
	return s.sendAction(ctx, id, func(tx pgx.Tx, q *db.Queries, m db.Message, job *rivertype.JobRow) error {
		if err := s.auditSend(ctx, q, AuditSendCancel, m); err != nil {
			return err
		}
		if job != nil {
			if _, err := s.Jobs.JobCancelTx(ctx, tx, job.ID); err != nil {
				return fmt.Errorf("cancel job: %w", err)
			}
		}
		reason := "cancelled by an operator"
		if m.LastError != nil {
			reason += " (last error: " + *m.LastError + ")"
		}
		if err := q.MessageMarkFailed(ctx, db.MessageMarkFailedParams{ID: m.ID, LastError: &reason}); err != nil || m.ProviderID != nil {
			return err // a message MessageBird took stays as it is
		}
		return s.emit(ctx, tx, EventMessageFailed, messageEvent{MessageID: m.ID, RideID: m.RideID, Kind: m.Kind, Reason: "cancelled"})
	})
}

// sendAction loads an outbound message and its job and applies act, in
// one transaction.
func (s *Service) sendAction(ctx context.Context, id int64, act func(pgx.Tx, *db.Queries, db.Message, *rivertype.JobRow) error) error {
	return s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		m, err := outbound(ctx, q, id)
		if err != nil {
			return err
		}
		jobs, err := s.sendJobs(ctx, tx, []int64{id})
		if err != nil {
			return err
		}
		return act(tx, q, m, jobs[id])
	})
}

// auditSend records an operator's action on an outbound message: its
// ride and number, never its recipient.
func (s *Service) auditSend(ctx context.Context, q *db.Queries, action string, m db.Message) error {
	return s.audit(ctx, q, AuditEntry{Action: action, RideID: m.RideID, Number: m.Originator,
		Detail: fmt.Sprintf("message #%d (%s)", m.ID, m.Kind)})
}
