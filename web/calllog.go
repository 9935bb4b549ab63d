package web

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"birdcar/sql/db"
)

// CallLog writes answered calls in batches with COPY, off the voice
// webhook's path, so recording a call costs the caller no database round trip.
type CallLog struct {
	q      *db.Queries
	logger *slog.Logger
	ch     chan db.CallCreateManyParams
	done   chan struct{}
	once   sync.Once
}

// callLogBatch is the most calls one COPY writes.
const callLogBatch = 1000

// NewCallLog starts a writer on conn (a pool: it writes from its own goroutine).
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
		write(l.q, l.logger, batch)
	}
}

// write stores calls; a failure is logged, since the caller was answered.
func write(q *db.Queries, logger *slog.Logger, calls []db.CallCreateManyParams) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := q.CallCreateMany(ctx, calls); err != nil {
		logger.Error("record calls", "calls", len(calls), "err", err)
	}
}

// recordCall hands a call to the CallLog, or writes it at once when the
// server has none (tests on a single transaction).
func (s *Server) recordCall(ctx context.Context, c db.CallCreateManyParams) {
	if s.CallLog != nil {
		s.CallLog.Record(ctx, c)
		return
	}
	write(s.queries, s.Logger, []db.CallCreateManyParams{c})
}
