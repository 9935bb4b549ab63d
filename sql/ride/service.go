// Package ride holds BirdCar's rules, implemented on PostgreSQL: the pool
// of proxy numbers, rides and the routes that connect their parties,
// customers and drivers, the messages and calls that cross a number, and
// what happens to them. It knows nothing of HTTP, templates or MessageBird:
// adapters (web, jobs, the MessageBird package) translate to and from its
// values and its errors, which are Errors with a Code from one table.
package ride

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"birdcar/sql/db"
)

// DB is the database the Service works on: both *pgxpool.Pool and pgx.Tx
// satisfy it, so a test can hand the Service a transaction.
type DB interface {
	db.DBTX
	Begin(ctx context.Context) (pgx.Tx, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Jobs is the River client as the rules use it: a change enqueues the
// sends it implies in its own transaction, and operators inspect, retry
// and cancel them. *river.Client[pgx.Tx] satisfies it.
type Jobs interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	JobListTx(ctx context.Context, tx pgx.Tx, params *river.JobListParams) (*river.JobListResult, error)
	JobRetryTx(ctx context.Context, tx pgx.Tx, id int64) (*rivertype.JobRow, error)
	JobCancelTx(ctx context.Context, tx pgx.Tx, id int64) (*rivertype.JobRow, error)
}

// Service applies BirdCar's rules. Its fields are set once, before use.
type Service struct {
	DB DB
	// Jobs enqueues sends in the transactions that write messages.
	Jobs Jobs
	// CallLog records answered calls off the caller's path; nil writes
	// each call at once (tests on a single transaction).
	CallLog *CallLog
	// Routes answers calls from memory (web processes); nil asks the
	// database each time.
	Routes *RouteTable
	// Batch commits the hot paths' writes (texts forwarded, sends
	// accepted, delivery reports) in groups; nil commits each alone.
	Batch *Batcher
	// Announce tells the consoles of the hot paths' changes, whose
	// transactions stay quiet (migration 014); nil leaves them to notify
	// from their own transactions.
	Announce *Announcer
	Logger   *slog.Logger
	// DefaultCountry (ISO code) reads national numbers and breaks ties in
	// number assignment.
	DefaultCountry string
	// GracePeriod is how long an ended ride's number keeps connecting its
	// parties (lost items, a last call).
	GracePeriod time.Duration
	// AutoEndAfter completes an active ride this long past its pickup.
	AutoEndAfter time.Duration
	// Events enqueues an event job with each change the platform hears of
	// (see EventArgs); off, none are written.
	Events bool
	// OutOfSessionWindow is how long after a ride's number stopped
	// connecting them its parties are told so when they text or call it;
	// OutOfSessionReply is what they are told (empty: nothing is sent).
	OutOfSessionWindow time.Duration
	OutOfSessionReply  string
	// Retention is how long after a ride stops routing its texts and calls
	// keep their bodies and phone numbers; 0 keeps them for ever.
	Retention time.Duration
	// PoolLowWatermark: fewer free numbers than this is a warning.
	PoolLowWatermark int
	// SendAttempts, when set (jobs.NewClient sets it to River's
	// MaxAttempts), lets the domain write a forward's send job itself, with
	// this many attempts, in the one statement that records the text
	// (River's insert would cost four more round trips); 0 queues every
	// send through Jobs.
	SendAttempts int
	// Zone is the time zone of texts and sentences; nil means time.Local.
	Zone *time.Location
	// Clock tells the time (tests control it); nil means time.Now.
	Clock func() time.Time
}

// Now is the time by the Service's clock.
func (s *Service) Now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

// Location is the time zone of the Service's texts and sentences.
func (s *Service) Location() *time.Location {
	if s.Zone != nil {
		return s.Zone
	}
	return time.Local
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// queries runs outside a transaction of its own.
func (s *Service) queries() *db.Queries { return db.New(s.DB) }

// inTx runs fn in a transaction (a savepoint when DB is one), committed
// when fn returns nil.
func (s *Service) inTx(ctx context.Context, fn func(pgx.Tx, *db.Queries) error) error {
	return pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error { return fn(tx, db.New(tx)) })
}

// Format writes a moment the way a sentence shown to an operator reads it.
func (s *Service) Format(t time.Time) string { return t.In(s.Location()).Format("2 Jan 15:04") }
