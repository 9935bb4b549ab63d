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
	// FailureCancelled is an operator's cancellation, as a message
	// records it: never a sender's failure.
	FailureCancelled SendFailure = "cancelled"
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
		failure := string(FailureOf(err))
		dbErr = q.MessageMarkRetrying(ctx, db.MessageMarkRetryingParams{ID: msg.ID, LastError: &reason, Failure: &failure})
	}
	if dbErr != nil {
		return outcome, fmt.Errorf("record %s of message %d: %w", outcome, msg.ID, dbErr)
	}
	return outcome, err
}

// markSent records MessageBird's id for a message it has accepted (in a
// group with others accepted at the same moment, by s.Batch), and for a
// forward the message.forwarded event. Until that is stored a retry would
// send the message again, so a database that is briefly away (a restart,
// a fail-over) is waited for, up to the caller's deadline.
func (s *Service) markSent(ctx context.Context, msg db.Message, providerID string) error {
	sent := acceptedSend{msg: msg, providerID: providerID}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		_, err := s.batch().sent.do(ctx, sent)
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

// acceptedSend is a message MessageBird accepted, with its id there.
type acceptedSend struct {
	msg        db.Message
	providerID string
}

// commitSent records sends MessageBird accepted, in one quiet transaction.
func (s *Service) commitSent(ctx context.Context, sent []acceptedSend) ([]struct{}, error) {
	// In the order of the messages, as delivery reports update them.
	params := db.MessageMarkSentParams{Ids: make([]int64, 0, len(sent)), ProviderIds: make([]string, 0, len(sent))}
	for _, i := range sortedBy(sent, func(a acceptedSend) int64 { return a.msg.ID }) {
		params.Ids, params.ProviderIds = append(params.Ids, sent[i].msg.ID), append(params.ProviderIds, sent[i].providerID)
	}
	err := s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		if err := s.quiet(ctx, tx); err != nil {
			return err
		}
		if err := q.MessageMarkSent(ctx, params); err != nil {
			return err
		}
		for _, a := range sent {
			if s.Events && MessageKind(a.msg.Kind) == KindForward {
				ev := messageEvent{MessageID: a.msg.ID, RideID: a.msg.RideID, Kind: a.msg.Kind}
				if err := s.emit(ctx, tx, EventMessageForwarded, ev); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, a := range sent {
		s.announce(ChangeMessage, orZero(a.msg.RideID))
	}
	return make([]struct{}, len(sent)), nil
}

// markFailed gives up on a message: reason for operators, failure (a
// category, never a phone number) for the message.failed event.
func (s *Service) markFailed(ctx context.Context, msg db.Message, reason string, failure SendFailure) error {
	return s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		kind := string(failure)
		if err := q.MessageMarkFailed(ctx, db.MessageMarkFailedParams{ID: msg.ID, LastError: &reason, Failure: &kind, Attempted: 1}); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventMessageFailed, messageEvent{MessageID: msg.ID, RideID: msg.RideID, Kind: msg.Kind, Reason: string(failure)})
	})
}

// Send is an outbound message that needs an operator's eye, with River's
// view of its job.
type Send struct {
	Message     Message
	Failure     SendFailure // what kind of failure last_error reports; "" when unknown
	JobID       int64       // River's job (its UI shows it); 0 when the job is gone
	JobState    string      // "" when the job is gone
	MaxAttempts int         // of the job
	NextAttempt *time.Time  // when River tries again, if it will
	// Recipient is the party the message is for, when it is one of its
	// ride's parties today (its Phone the message's recipient): a
	// permanent failure is fixed on their page.
	Recipient *Person
}

// Retrying reports whether the send waits for another attempt.
func (s Send) Retrying() bool { return s.Message.Status != StatusFailed }

// Permanent reports whether the provider refused the message for good
// (a bad recipient, a bad key): retrying it cannot help.
func (s Send) Permanent() bool { return s.Failure == FailureRejected }

// Requeueable reports whether RetryAllFailed would queue the send again:
// failed, not refused for good, not cancelled by an operator.
func (s Send) Requeueable() bool {
	return !s.Retrying() && !s.Permanent() && s.Failure != FailureCancelled
}

// SendFilter picks troubled sends: SendRetrying, SendFailed, or "" for all.
type SendFilter string

// The filters of troubled sends.
const (
	SendRetrying SendFilter = "retrying"
	SendFailed   SendFilter = "failed"
)

// Match reports whether the filter keeps send.
func (f SendFilter) Match(send Send) bool {
	switch f {
	case SendRetrying:
		return send.Retrying()
	case SendFailed:
		return !send.Retrying()
	}
	return true
}

// SendTrouble sums up the troubled sends, for the overview.
type SendTrouble struct {
	Retrying, Failed int
	Permanent        int    // of Failed: refused for good
	More             bool   // the list was cut: there are more
	LastError        string // the newest send's, safe to show
	LastErrorAt      time.Time
	Unnotified       []int64 // rides whose notifications did not go out, newest first
}

// Summarize sums sends (TroubledSends' list) up.
func Summarize(sends []Send) SendTrouble {
	var t SendTrouble
	t.More = len(sends) >= troubleListed
	seen := map[int64]bool{}
	for _, send := range sends {
		m := send.Message
		if send.Retrying() {
			t.Retrying++
		} else {
			t.Failed++
			if send.Permanent() {
				t.Permanent++
			}
		}
		if t.LastError == "" && m.LastError != nil {
			t.LastError, t.LastErrorAt = *m.LastError, m.UpdatedAt
		}
		if m.Kind == KindNotification && m.RideID != nil && !seen[*m.RideID] {
			seen[*m.RideID] = true
			t.Unnotified = append(t.Unnotified, *m.RideID)
		}
	}
	return t
}

// troubleListed is how many troubled sends MessageListTrouble returns.
const troubleListed = 100

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
		rides := map[int64]Ride{}
		for i, m := range rows {
			out[i] = Send{Message: toMessage(m)}
			if m.Failure != nil {
				out[i].Failure = SendFailure(*m.Failure)
			}
			if out[i].Permanent() && m.RideID != nil {
				if out[i].Recipient, err = s.recipientOf(ctx, q, rides, *m.RideID, m.Recipient); err != nil {
					return err
				}
			}
			if j := jobs[m.ID]; j != nil {
				out[i].JobID, out[i].JobState, out[i].MaxAttempts = j.ID, string(j.State), j.MaxAttempts
				if j.State == rivertype.JobStateRetryable || j.State == rivertype.JobStateScheduled {
					out[i].NextAttempt = &j.ScheduledAt
				}
			}
		}
		return nil
	})
	return out, err
}

// recipientOf is the party of a ride (read once into rides) whose phone
// is recipient, or nil: the ride is gone, or the party's phone changed.
func (s *Service) recipientOf(ctx context.Context, q *db.Queries, rides map[int64]Ride, rideID int64, recipient string) (*Person, error) {
	r, ok := rides[rideID]
	if !ok {
		var err error
		r, err = s.ride(ctx, q, rideID)
		if errors.Is(err, ErrRideNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		rides[rideID] = r
	}
	switch recipient {
	case r.CustomerPhone:
		return &Person{ID: r.CustomerID, Role: RoleCustomer, Name: r.CustomerName, Phone: r.CustomerPhone}, nil
	case r.DriverPhone:
		return &Person{ID: r.DriverID, Role: RoleDriver, Name: r.DriverName, Phone: r.DriverPhone}, nil
	}
	return nil, nil
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

// RetryAllFailed queues every failed send again that retrying may help
// (not those MessageBird refused for good, nor those an operator
// cancelled), each with a new job, and says how many.
func (s *Service) RetryAllFailed(ctx context.Context) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		ids, err := q.MessageRequeueFailed(ctx, retryAllBatch)
		if err != nil {
			return fmt.Errorf("requeue failed sends: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		params := make([]river.InsertManyParams, len(ids))
		for i, id := range ids {
			params[i] = river.InsertManyParams{Args: SendArgs{MessageID: id}}
		}
		if _, err := s.Jobs.InsertManyTx(ctx, tx, params); err != nil {
			return fmt.Errorf("enqueue sends: %w", err)
		}
		n = len(ids)
		return s.audit(ctx, q, AuditEntry{Action: AuditSendRetryAll, Detail: strconv.Itoa(n) + " queued again"})
	})
	return n, err
}

// retryAllBatch bounds one RetryAllFailed: an operator may press it again.
const retryAllBatch = 1000

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
		cancelled := string(FailureCancelled)
		if err := q.MessageMarkFailed(ctx, db.MessageMarkFailedParams{ID: m.ID, LastError: &reason, Failure: &cancelled}); err != nil || m.ProviderID != nil {
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
