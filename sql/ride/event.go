package ride

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"birdcar/sql/db"
)

// EventType names what happened, for the platform's event callbacks.
type EventType string

// The events BirdCar reports. Their data names people by id, never by
// phone: the proxy number is the only number in them.
const (
	EventRideCreated      EventType = "ride.created"
	EventRideEnded        EventType = "ride.ended"
	EventMessageForwarded EventType = "message.forwarded" // MessageBird accepted a forward
	EventMessageFailed    EventType = "message.failed"    // a send gave up
	EventMessageUnmatched EventType = "message.unmatched"
	EventCallTransferred  EventType = "call.transferred"
	EventCallUnmatched    EventType = "call.unmatched"
	EventPoolLow          EventType = "pool.low" // at most once per poolLowEvery
)

// Why a text or call matched no ride.
const (
	ReasonSessionEnded  = "session_ended"  // a past party of a ride on the number
	ReasonUnknownSender = "unknown_sender" // anyone else
)

// poolLowEvery is how often pool.low may go out while the pool stays low.
const poolLowEvery = time.Hour

// EventMaxAttempts is how often an event is offered: retries wait 1 s,
// 2 s, 4 s … up to two hours, so 25 attempts span about a day.
const EventMaxAttempts = 25

// EventQueue is the River queue events wait in, apart from the sends: a
// slow platform never holds up a forward.
const EventQueue = "events"

// EventArgs is an event on its way to the platform: a River job written in
// the transaction of the change it reports, so neither exists without the
// other. Marshalled as it is, it is the callback's body; its ID stays the
// same across retries, so the platform can drop repeats.
type EventArgs struct {
	ID        string          `json:"id"`
	Type      EventType       `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// Kind names the job in River's tables.
func (EventArgs) Kind() string { return "event" }

// InsertOpts puts events in their queue with their own attempts.
func (EventArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: EventQueue, MaxAttempts: EventMaxAttempts}
}

// rideEvent is the data of ride.created and ride.ended.
type rideEvent struct {
	RideID      int64  `json:"ride_id"`
	Status      string `json:"status"`
	ProxyNumber string `json:"proxy_number"`
	CustomerID  int64  `json:"customer_id"`
	DriverID    int64  `json:"driver_id"`
	// Disconnected is true when the ride stopped routing at once, with no
	// grace period (or the rest of it cut short).
	Disconnected bool `json:"disconnected,omitempty"`
}

func rideEventOf(r Ride) rideEvent {
	return rideEvent{RideID: r.ID, Status: string(r.Status), ProxyNumber: r.ProxyNumber, CustomerID: r.CustomerID, DriverID: r.DriverID}
}

// messageEvent is the data of message.forwarded and message.failed.
type messageEvent struct {
	MessageID int64  `json:"message_id"`
	RideID    *int64 `json:"ride_id"`
	Kind      string `json:"kind"`
	Reason    string `json:"reason,omitempty"`
}

// callEvent is the data of call.transferred.
type callEvent struct {
	CallID      string `json:"call_id"`
	ProxyNumber string `json:"proxy_number"`
	RideID      *int64 `json:"ride_id"`
}

// unmatchedEvent is the data of message.unmatched and call.unmatched: who
// wrote or called, by role and id, when they were a party of a ride.
type unmatchedEvent struct {
	MessageID   int64   `json:"message_id,omitempty"`
	CallID      string  `json:"call_id,omitempty"`
	ProxyNumber string  `json:"proxy_number"`
	Reason      string  `json:"reason"`
	RideID      *int64  `json:"ride_id"`
	Role        *string `json:"role"`
	PersonID    *int64  `json:"person_id"`
}

// pastParty fills the who of an unmatched event from a past ride.
func (e *unmatchedEvent) pastParty(p *db.RoutePastPartyRow) {
	e.Reason = ReasonUnknownSender
	if p == nil {
		return
	}
	role, id := RoleDriver, p.DriverID
	if p.IsCustomer {
		role, id = RoleCustomer, p.CustomerID
	}
	name := string(role)
	e.Reason, e.RideID, e.Role, e.PersonID = ReasonSessionEnded, &p.RideID, &name, &id
}

// event builds an event of type t with data, when the platform wants
// events; nil otherwise.
func (s *Service) event(t EventType, data any) (*EventArgs, error) {
	if !s.Events {
		return nil, nil
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", t, err)
	}
	return &EventArgs{ID: "evt_" + randomHex(12), Type: t, CreatedAt: s.Now().UTC(), Data: raw}, nil
}

// emit enqueues an event in tx, the change's transaction.
func (s *Service) emit(ctx context.Context, tx pgx.Tx, t EventType, data any) error {
	ev, err := s.event(t, data)
	if err != nil || ev == nil {
		return err
	}
	if _, err := s.Jobs.InsertTx(ctx, tx, *ev, nil); err != nil {
		return fmt.Errorf("enqueue event %s: %w", t, err)
	}
	return nil
}

// emitPoolLow reports a pool under its watermark, at most once per
// poolLowEvery, in tx: the transaction that took a number.
func (s *Service) emitPoolLow(ctx context.Context, tx pgx.Tx, now time.Time) error {
	if !s.Events || s.PoolLowWatermark <= 0 {
		return nil
	}
	q := db.New(tx)
	free, err := q.ProxyNumberCountFree(ctx, now)
	if err != nil || int(free) >= s.PoolLowWatermark {
		return err
	}
	// Read first: while the pool stays low, rides need not queue on the mark's row.
	if last, err := q.EventMarkGet(ctx, string(EventPoolLow)); err == nil && last.After(now.Add(-poolLowEvery)) {
		return nil
	}
	due, err := q.EventMarkDue(ctx, db.EventMarkDueParams{Name: string(EventPoolLow), Now: now, Since: now.Add(-poolLowEvery)})
	if err != nil || !due {
		return ignoreNoRows(err)
	}
	return s.emit(ctx, tx, EventPoolLow, map[string]int{"free": int(free), "watermark": s.PoolLowWatermark})
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// ignoreNoRows treats "no row" as "nothing to do".
func ignoreNoRows(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	return err
}

// EventJob is an event the platform has not taken yet, as River holds it.
type EventJob struct {
	JobID       int64
	Event       EventArgs
	State       string // retryable, discarded (gave up) or cancelled
	Attempts    int
	MaxAttempts int
	LastError   string
	NextAttempt *time.Time
}

// troubledEventLimit bounds the list operators see.
const troubledEventLimit = 100

// TroubledEvents lists the newest events whose delivery failed: waiting
// for a retry, or given up.
func (s *Service) TroubledEvents(ctx context.Context) ([]EventJob, error) {
	var out []EventJob
	err := s.inTx(ctx, func(tx pgx.Tx, _ *db.Queries) error {
		res, err := s.Jobs.JobListTx(ctx, tx, river.NewJobListParams().Kinds(EventArgs{}.Kind()).
			States(rivertype.JobStateRetryable, rivertype.JobStateDiscarded, rivertype.JobStateCancelled).
			OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(troubledEventLimit))
		if err != nil {
			return fmt.Errorf("list event jobs: %w", err)
		}
		for _, j := range res.Jobs {
			ev := EventJob{JobID: j.ID, State: string(j.State), Attempts: j.Attempt, MaxAttempts: j.MaxAttempts}
			if err := json.Unmarshal(j.EncodedArgs, &ev.Event); err != nil {
				return fmt.Errorf("decode event job %d: %w", j.ID, err)
			}
			if n := len(j.Errors); n > 0 {
				ev.LastError = j.Errors[n-1].Error
			}
			if j.State == rivertype.JobStateRetryable {
				ev.NextAttempt = &j.ScheduledAt
			}
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}

// RetryEvent offers an event whose delivery failed again, now.
func (s *Service) RetryEvent(ctx context.Context, jobID int64) error {
	return s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		res, err := s.Jobs.JobListTx(ctx, tx, river.NewJobListParams().Kinds(EventArgs{}.Kind()).IDs(jobID))
		if err != nil {
			return fmt.Errorf("find event job: %w", err)
		}
		if len(res.Jobs) == 0 {
			return ErrEventNotFound
		}
		if _, err := s.Jobs.JobRetryTx(ctx, tx, jobID); err != nil {
			return fmt.Errorf("retry event: %w", err)
		}
		return s.audit(ctx, q, AuditEntry{Action: AuditEventRetry, Detail: fmt.Sprintf("event job #%d", jobID)})
	})
}
