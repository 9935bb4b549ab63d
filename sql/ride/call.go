package ride

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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
	var dbErr error // the database could not be asked: the call is still answered and recorded
	if in.Caller != "" && in.Proxy != "" {
		route, found, err := s.findRoute(ctx, in.Proxy, in.Caller, call.CreatedAt)
		if found {
			call.RideID, call.TransferredTo, call.Outcome = &route.rideID, &route.callee, string(CallTransferred)
			answer.TransferTo = route.callee
		}
		dbErr = err
	}
	rec := callRecord{Call: call}
	var err error
	if answer.TransferTo != "" {
		rec.Event, err = s.event(EventCallTransferred, callEvent{CallID: in.CallID, ProxyNumber: in.Proxy, RideID: call.RideID})
	} else {
		var past *db.RoutePastPartyRow
		if dbErr == nil {
			past, dbErr = s.pastParty(ctx, s.queries(), in.Caller, in.Proxy, call.CreatedAt)
		}
		if past != nil {
			answer.Say = s.OutOfSessionReply
		}
		ev := unmatchedEvent{CallID: in.CallID, ProxyNumber: in.Proxy}
		ev.pastParty(past)
		rec.Event, err = s.event(EventCallUnmatched, ev)
	}
	if err != nil {
		return answer, err
	}
	if dbErr != nil {
		s.logger().WarnContext(ctx, "call answered without the database", "call_id", in.CallID, "outcome", call.Outcome, "err", dbErr)
	}
	if s.CallLog != nil {
		s.CallLog.Record(rec)
		return answer, nil
	}
	return answer, s.writeCalls(ctx, []callRecord{rec})
}

// callRecord is a call to write and the event it raises, if any.
type callRecord struct {
	Call  db.CallCreateManyParams
	Event *EventArgs
}

func toCall(k db.Call) Call {
	return Call{ID: k.ID, RideID: k.RideID, CallID: k.CallID, Source: k.Source, Destination: k.Destination,
		TransferredTo: k.TransferredTo, Outcome: CallOutcome(k.Outcome), CreatedAt: k.CreatedAt}
}

// CallLog writes answered calls and their events in batches, off the
// voice webhook's path, so recording a call costs the caller no database
// round trip. While the database is away it keeps them (up to
// callLogLimit) and writes them when it is back; calls it still holds
// when the process stops go to its Spool, and come back from it at start.
type CallLog struct {
	rides *Service
	spool CallSpool
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	mu      sync.Mutex
	pending []callRecord
	// spare is the array of the batch last written, emptied: the calls
	// that come meanwhile go there next, so a busy log does not grow a
	// new array from nothing after every COPY.
	spare   []callRecord
	dropped int
	// late: the calls waiting were held back (the database was away, or
	// they come from the spool), so their ride may have been redacted
	// meanwhile.
	late bool
}

// CallSpool keeps the calls a CallLog could not write before its process
// stopped: Save replaces what it holds, Take returns it and forgets it
// (nil when empty).
type CallSpool interface {
	Save(data []byte) error
	Take() ([]byte, error)
}

const (
	callLogBatch = 1000    // the most calls one COPY writes
	callLogLimit = 100_000 // calls kept while the database is away (≈ 40 MB)
	// callLogKeep is the largest array of calls kept for reuse after a
	// COPY (≈ 2 MB): one grown by an outage's backlog goes.
	callLogKeep = 16 * callLogBatch
	// callLogLinger is how long the writer waits after a batch that was
	// not full: a call is on record within that (plus a COPY) of its answer.
	callLogLinger = 10 * time.Millisecond
	// callLogCloseBudget is how long Close goes on trying to write
	// before it spools what is left.
	callLogCloseBudget = 5 * time.Second
)

// NewCallLog starts a writer for rides, whose DB must be a pool: it writes
// from its own goroutine. spool may be nil (calls left at Close are then
// lost, and logged as such).
func NewCallLog(rides *Service, spool CallSpool) *CallLog {
	l := &CallLog{rides: rides, spool: spool, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	l.unspool()
	go l.run()
	return l
}

// Record queues a call; it never waits. Past callLogLimit calls waiting
// for the database, the call is dropped and counted.
func (l *CallLog) Record(c callRecord) {
	l.mu.Lock()
	if len(l.pending) < callLogLimit {
		l.pending = append(l.pending, c)
	} else {
		l.dropped++
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Close writes what is queued, trying for callLogCloseBudget, spools the
// rest and stops the writer. Record must not be called after Close.
func (l *CallLog) Close() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
}

func (l *CallLog) run() {
	defer close(l.done)
	// Cancelled callLogCloseBudget after Close: a write that hangs on an
	// unanswering server gives way to the spool before a supervisor's
	// kill (35 s in deploy/).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := l.stop
	closing := func() {
		stop = nil
		time.AfterFunc(callLogCloseBudget, cancel)
	}
	for wait := 100 * time.Millisecond; ; {
		batch := l.next()
		if len(batch) == 0 {
			if stop == nil { // closing, and all is written
				return
			}
			select {
			case <-l.wake:
			case <-stop:
				closing()
			}
			continue
		}
		err := l.rides.writeCalls(ctx, batch)
		if err != nil && !Unreachable(err) && len(batch) > 1 {
			// Refused, not for want of a database: one bad row fails a
			// COPY, so the rows go one by one and only bad ones are lost
			// (writeCalls logs them), rather than stalling every call after.
			// Should the database go away meanwhile, the rows not yet
			// written stay queued for the retry below.
			done := 0
			for ; done < len(batch); done++ {
				if err = l.rides.writeCalls(ctx, batch[done:done+1]); err != nil && Unreachable(err) {
					break
				}
			}
			if done < len(batch) {
				l.taken(done)
			} else {
				err = nil
			}
		}
		if err == nil && l.isLate() {
			l.rides.redactLate(ctx, batch)
		}
		if err == nil || !Unreachable(err) {
			l.taken(len(batch))
			wait = 100 * time.Millisecond
			if len(batch) < callLogBatch && stop != nil {
				// Let calls gather: a COPY of a hundred rows costs the
				// database little more than a COPY of one, and each commits.
				time.Sleep(callLogLinger)
			}
			continue
		}
		// The database is away: keep the calls and try again.
		l.mu.Lock()
		l.late = true
		l.mu.Unlock()
		select {
		case <-time.After(wait):
			wait = min(2*wait, 5*time.Second)
		case <-stop:
			closing()
		case <-ctx.Done():
			l.save()
			return
		}
	}
}

// next is the oldest calls waiting, up to a batch; they stay queued until
// taken.
func (l *CallLog) next() []callRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped > 0 {
		l.rides.logger().Error("calls not recorded: too many waiting for the database", "calls", l.dropped)
		l.dropped = 0
	}
	return l.pending[:min(len(l.pending), callLogBatch):min(len(l.pending), callLogBatch)]
}

// taken removes the n oldest calls, written.
func (l *CallLog) taken(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending)-n > callLogKeep {
		// A backlog the database's absence left: drop what was written in
		// place, rather than copying the rest after every batch.
		clear(l.pending[:n])
		l.pending = l.pending[n:]
		return
	}
	rest := append(l.spare[:0], l.pending[n:]...)
	l.spare = nil
	if cap(l.pending) <= callLogKeep {
		clear(l.pending) // the strings can go
		l.spare = l.pending[:0]
	}
	l.pending = rest
	if len(l.pending) == 0 {
		l.late = false
	}
}

func (l *CallLog) isLate() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.late
}

// save hands the calls still waiting to the spool.
func (l *CallLog) save() {
	l.mu.Lock()
	defer l.mu.Unlock()
	log := l.rides.logger()
	if len(l.pending) == 0 {
		return
	}
	if l.spool == nil {
		log.Error("calls not recorded: the database is away and there is no spool", "calls", len(l.pending))
		return
	}
	data, err := json.Marshal(l.pending)
	if err == nil {
		err = l.spool.Save(data)
	}
	if err != nil {
		log.Error("calls not recorded: cannot spool them", "calls", len(l.pending), "err", err)
		return
	}
	log.Warn("the database is away: calls spooled, to be written at the next start", "calls", len(l.pending))
}

// unspool queues the calls an earlier process spooled.
func (l *CallLog) unspool() {
	if l.spool == nil {
		return
	}
	log := l.rides.logger()
	data, err := l.spool.Take()
	if err != nil {
		log.Error("spooled calls: some unreadable, left in place", "err", err)
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &l.pending); err != nil {
			log.Error("spooled calls unreadable", "err", err)
		}
	}
	if len(l.pending) > 0 {
		l.late = true
		log.Info("writing calls spooled by an earlier process", "calls", len(l.pending))
	}
}

// redactLate blanks the phones of calls written after their ride was
// redacted; a failure is logged, and retention's next pass does not
// return to a redacted ride, so it is an error.
func (s *Service) redactLate(ctx context.Context, recs []callRecord) {
	ids := make([]string, len(recs))
	var rides []int64
	for i, r := range recs {
		ids[i] = r.Call.CallID
		if r.Call.RideID != nil && !slices.Contains(rides, *r.Call.RideID) {
			rides = append(rides, *r.Call.RideID)
		}
	}
	if err := s.queries().CallRedactLate(ctx, db.CallRedactLateParams{RideIds: rides, CallIds: ids}); err != nil {
		s.logger().Error("calls written late: their redaction failed", "calls", len(ids), "err", err)
	}
}

// writeCalls stores calls and enqueues their events in one transaction.
func (s *Service) writeCalls(ctx context.Context, recs []callRecord) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	calls := make([]db.CallCreateManyParams, len(recs))
	var events []river.InsertManyParams
	for i, r := range recs {
		calls[i] = r.Call
		if r.Event != nil {
			events = append(events, river.InsertManyParams{Args: *r.Event})
		}
	}
	// One COPY, quiet: the consoles hear of the batch once (migration 014).
	err := s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		if err := s.quiet(ctx, tx); err != nil {
			return err
		}
		if _, err := q.CallCreateMany(ctx, calls); err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		_, err := s.Jobs.InsertManyTx(ctx, tx, events)
		return err
	})
	switch {
	case Unreachable(err):
		s.logger().Warn("record calls: the database is away, will try again", "calls", len(calls), "err", err)
	case err != nil:
		s.logger().Error("calls not recorded", "calls", len(calls), "err", err)
	}
	if err != nil {
		return fmt.Errorf("record %d calls: %w", len(calls), err)
	}
	for _, c := range calls {
		s.announce(ChangeCall, orZero(c.RideID))
	}
	return nil
}
