package web

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"birdcar/sql/db"
)

// callRecord is one answered call, waiting to be written.
type callRecord struct {
	RideID        int64 // 0: no ride matched
	CallID        string
	Source        string
	Destination   string
	TransferredTo string // "" unless transferred
	At            time.Time
}

// CallLog writes answered calls in batches, off the voice webhook's path,
// so recording a call costs the caller no database round trip.
type CallLog struct {
	q      *db.Queries
	logger *slog.Logger
	ch     chan callRecord
	done   chan struct{}
	once   sync.Once
}

// callLogBatch is the most calls one insert writes.
const callLogBatch = 500

// NewCallLog starts a writer on conn (a pool: it writes from its own goroutine).
func NewCallLog(conn db.DBTX, logger *slog.Logger) *CallLog {
	l := &CallLog{q: db.New(conn), logger: logger, ch: make(chan callRecord, 10_000), done: make(chan struct{})}
	go l.run()
	return l
}

// Record queues a call. When the queue is full it waits, slowing the
// webhook rather than losing the record.
func (l *CallLog) Record(ctx context.Context, c callRecord) {
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
		l.write(batch)
	}
}

func (l *CallLog) write(batch []callRecord) {
	p := db.CallCreateBatchParams{}
	for _, c := range batch {
		outcome := "rejected"
		if c.TransferredTo != "" {
			outcome = "transferred"
		}
		p.RideIds = append(p.RideIds, c.RideID)
		p.CallIds = append(p.CallIds, c.CallID)
		p.Sources = append(p.Sources, c.Source)
		p.Destinations = append(p.Destinations, c.Destination)
		p.TransferredTo = append(p.TransferredTo, c.TransferredTo)
		p.Outcomes = append(p.Outcomes, outcome)
		p.CreatedAt = append(p.CreatedAt, c.At)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.q.CallCreateBatch(ctx, p); err != nil {
		l.logger.Error("record calls", "calls", len(batch), "err", err)
	}
}

// recordCall hands a call to the CallLog, or writes it at once when the
// server has none (tests on a single transaction).
func (s *Server) recordCall(ctx context.Context, c callRecord) {
	if s.CallLog != nil {
		s.CallLog.Record(ctx, c)
		return
	}
	tmp := &CallLog{q: s.queries, logger: s.Logger}
	tmp.write([]callRecord{c})
}
