package ride

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"birdcar/sql/db"
)

// CallOutcome is how a call to a pool number was answered.
type CallOutcome string

// The outcomes of a call.
const (
	CallTransferred CallOutcome = "transferred" // put through to the other party
	CallRejected    CallOutcome = "rejected"    // no route: the caller heard an apology
)

// Call is a call to a pool number and how it was answered.
type Call struct {
	ID            int64
	RideID        *int64 // nil when no route matched
	CallID        string // MessageBird's
	Source        string // as MessageBird sent it: digits, "Restricted" or empty
	Destination   string // as MessageBird sent it
	TransferredTo *string
	Outcome       CallOutcome
	CreatedAt     time.Time
}

// InboundCall is a call MessageBird asks how to answer.
type InboundCall struct {
	CallID, Source, Destination string // as sent, made safe to store
	// Caller and Proxy are Source and Destination in E.164, or "" when
	// they are not phone numbers (a withheld caller).
	Caller, Proxy string
}

// CallAnswer is how a call is answered: put through to TransferTo, or
// told Say (out of session), or, with both empty, an apology.
type CallAnswer struct {
	TransferTo string // the other party's phone (E.164)
	Say        string
}

// RouteCall answers a call: the party of a ride whose route connects the
// caller through the number is put through to the other party; a past
// party (within OutOfSessionWindow) is told the ride is over; anyone else
// hears an apology. The call and its event are recorded either way, off
// the caller's path when a CallLog is set.
func (s *Service) RouteCall(ctx context.Context, in InboundCall) (CallAnswer, error) {
	var answer CallAnswer
	call := db.CallCreateManyParams{CallID: in.CallID, Source: in.Source, Destination: in.Destination,
		Outcome: string(CallRejected), CreatedAt: s.Now()}
	if in.Caller != "" && in.Proxy != "" {
		route, err := s.queries().RouteFind(ctx, db.RouteFindParams{ProxyNumber: in.Proxy, CallerPhone: in.Caller, Now: call.CreatedAt})
		switch {
		case err == nil:
			call.RideID, call.TransferredTo, call.Outcome = &route.RideID, &route.CalleePhone, string(CallTransferred)
			answer.TransferTo = route.CalleePhone
		case !errors.Is(err, pgx.ErrNoRows):
			return answer, fmt.Errorf("find route for call: %w", err)
		}
	}
	rec := callRecord{call: call}
	var err error
	if answer.TransferTo != "" {
		rec.event, err = s.event(EventCallTransferred, map[string]any{"call_id": in.CallID, "ride_id": call.RideID, "proxy_number": in.Proxy})
	} else {
		past, perr := s.pastParty(ctx, s.queries(), in.Caller, in.Proxy, call.CreatedAt)
		if perr != nil {
			return answer, perr
		}
		if past != nil {
			answer.Say = s.OutOfSessionReply
		}
		ev := unmatchedEvent{CallID: in.CallID, ProxyNumber: in.Proxy}
		ev.pastParty(past)
		rec.event, err = s.event(EventCallUnmatched, ev)
	}
	if err != nil {
		return answer, err
	}
	if s.CallLog != nil {
		s.CallLog.Record(ctx, rec)
	} else {
		s.writeCalls([]callRecord{rec})
	}
	return answer, nil
}

// callRecord is a call to write and the event it raises, if any.
type callRecord struct {
	call  db.CallCreateManyParams
	event *EventArgs
}

func toCall(k db.Call) Call {
	return Call{ID: k.ID, RideID: k.RideID, CallID: k.CallID, Source: k.Source, Destination: k.Destination,
		TransferredTo: k.TransferredTo, Outcome: CallOutcome(k.Outcome), CreatedAt: k.CreatedAt}
}

// CallLog writes answered calls and their events in batches, off the
// voice webhook's path, so recording a call costs the caller no database
// round trip.
type CallLog struct {
	rides *Service
	ch    chan callRecord
	done  chan struct{}
	once  sync.Once
}

// callLogBatch is the most calls one COPY writes.
const callLogBatch = 1000

// NewCallLog starts a writer for rides, whose DB must be a pool: it writes
// from its own goroutine.
func NewCallLog(rides *Service) *CallLog {
	l := &CallLog{rides: rides, ch: make(chan callRecord, 10_000), done: make(chan struct{})}
	go l.run()
	return l
}

// Record queues a call. When the queue is full it waits, slowing the
// webhook rather than losing the record.
func (l *CallLog) Record(ctx context.Context, c callRecord) {
	select {
	case l.ch <- c:
	case <-ctx.Done():
		l.rides.logger().Warn("call not recorded: request ended", "call_id", c.call.CallID)
	}
}

// Close writes what is queued and stops the writer. Record must not be
// called after Close.
func (l *CallLog) Close() {
	l.once.Do(func() { close(l.ch) })
	<-l.done
}

func (l *CallLog) run() {
	defer close(l.done)
	batch := make([]callRecord, 0, callLogBatch)
	for c := range l.ch {
		batch = append(batch[:0], c)
		// Take whatever else is already waiting, up to a batch.
	fill:
		for len(batch) < callLogBatch {
			select {
			case c, ok := <-l.ch:
				if !ok {
					break fill
				}
				batch = append(batch, c)
			default:
				break fill
			}
		}
		l.rides.writeCalls(batch)
	}
}

// writeCalls stores calls and enqueues their events in one transaction;
// a failure is logged, since the callers were answered.
func (s *Service) writeCalls(recs []callRecord) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	calls := make([]db.CallCreateManyParams, len(recs))
	var events []river.InsertManyParams
	for i, r := range recs {
		calls[i] = r.call
		if r.event != nil {
			events = append(events, river.InsertManyParams{Args: *r.event})
		}
	}
	var err error
	if len(events) == 0 {
		_, err = s.queries().CallCreateMany(ctx, calls) // one COPY: no transaction to pay for
	} else {
		err = s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
			if _, err := q.CallCreateMany(ctx, calls); err != nil {
				return err
			}
			_, err := s.Jobs.InsertManyTx(ctx, tx, events)
			return err
		})
	}
	if err != nil {
		s.logger().Error("record calls", "calls", len(calls), "err", err)
	}
}
