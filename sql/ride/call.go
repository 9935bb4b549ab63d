package ride

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

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

// RouteCall answers a call: the party of a ride whose route connects the
// caller through the number gets the other party's phone (E.164), anyone
// else "". The call is recorded either way, off the caller's path when a
// CallLog is set.
func (s *Service) RouteCall(ctx context.Context, in InboundCall) (transferTo string, err error) {
	call := db.CallCreateManyParams{CallID: in.CallID, Source: in.Source, Destination: in.Destination,
		Outcome: string(CallRejected), CreatedAt: s.Now()}
	if in.Caller != "" && in.Proxy != "" {
		route, err := s.queries().RouteFind(ctx, db.RouteFindParams{ProxyNumber: in.Proxy, CallerPhone: in.Caller, Now: call.CreatedAt})
		switch {
		case err == nil:
			call.RideID, call.TransferredTo, call.Outcome = &route.RideID, &route.CalleePhone, string(CallTransferred)
			transferTo = route.CalleePhone
		case !errors.Is(err, pgx.ErrNoRows):
			return "", fmt.Errorf("find route for call: %w", err)
		}
	}
	if s.CallLog != nil {
		s.CallLog.Record(ctx, call)
	} else {
		writeCalls(s.queries(), s.logger(), []db.CallCreateManyParams{call})
	}
	return transferTo, nil
}

func toCall(k db.Call) Call {
	return Call{ID: k.ID, RideID: k.RideID, CallID: k.CallID, Source: k.Source, Destination: k.Destination,
		TransferredTo: k.TransferredTo, Outcome: CallOutcome(k.Outcome), CreatedAt: k.CreatedAt}
}

// CallLog writes answered calls in batches with COPY, off the voice
// webhook's path, so recording a call costs the caller no database round
// trip.
type CallLog struct {
	q      *db.Queries
	logger *slog.Logger
	ch     chan db.CallCreateManyParams
	done   chan struct{}
	once   sync.Once
}

// callLogBatch is the most calls one COPY writes.
const callLogBatch = 1000

// NewCallLog starts a writer on conn (a pool: it writes from its own
// goroutine).
func NewCallLog(conn db.DBTX, logger *slog.Logger) *CallLog {
	l := &CallLog{q: db.New(conn), logger: logger, ch: make(chan db.CallCreateManyParams, 10_000), done: make(chan struct{})}
	go l.run()
	return l
}

// Record queues a call. When the queue is full it waits, slowing the
// webhook rather than losing the record.
func (l *CallLog) Record(ctx context.Context, c db.CallCreateManyParams) {
	select {
	case l.ch <- c:
	case <-ctx.Done():
		l.logger.Warn("call not recorded: request ended", "call_id", c.CallID)
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
	batch := make([]db.CallCreateManyParams, 0, callLogBatch)
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
		writeCalls(l.q, l.logger, batch)
	}
}

// writeCalls stores calls; a failure is logged, since the caller was
// answered.
func writeCalls(q *db.Queries, logger *slog.Logger, calls []db.CallCreateManyParams) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := q.CallCreateMany(ctx, calls); err != nil {
		logger.Error("record calls", "calls", len(calls), "err", err)
	}
}
