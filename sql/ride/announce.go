package ride

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Announcer tells every process's console feed of the changes the hot
// paths made quietly (see migration 014: a notifying transaction commits
// alone, holding PostgreSQL's notification lock through its WAL flush).
// It gathers changes and notifies them from a transaction of its own, at
// most once per announceEvery: many changes, one notifying commit.
//
// An announcement follows its change's commit by up to announceEvery and
// is lost if this process dies in between; a feed that loses its
// connection reads everything again anyway. The console is a view: the
// data it shows is committed before it is announced, never after.
type Announcer struct {
	rides *Service

	mu      sync.Mutex
	pending map[Change]struct{}
	wake    chan struct{}
}

const (
	announceEvery = 100 * time.Millisecond
	// announceMax distinct changes are announced one by one; past it, as
	// ChangeAll (a notice's payload is bounded, and a console would read
	// everything anyway).
	announceMax = 200
)

// NewAnnouncer makes the announcer of s; Run sends its notices.
func NewAnnouncer(s *Service) *Announcer {
	return &Announcer{rides: s, pending: map[Change]struct{}{}, wake: make(chan struct{}, 1)}
}

// add queues c for the next announcement.
func (a *Announcer) add(c Change) {
	a.mu.Lock()
	if len(a.pending) < announceMax {
		a.pending[c] = struct{}{}
	} else {
		clear(a.pending)
		a.pending[Change{Kind: ChangeAll}] = struct{}{}
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Run announces what add queued until ctx ends: a change at once when
// nothing was announced for announceEvery, else with the others gathered
// until then.
func (a *Announcer) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		}
		a.flush(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(announceEvery):
		}
	}
}

func (a *Announcer) flush(ctx context.Context) {
	a.mu.Lock()
	payloads := make([]string, 0, len(a.pending))
	for c := range a.pending {
		payloads = append(payloads, c.payload())
	}
	clear(a.pending)
	a.mu.Unlock()
	if len(payloads) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// Its commit need not wait for the WAL flush (nothing it says is
	// lost with it), so the notification lock is held for a moment.
	_, err := a.rides.DB.Exec(ctx, `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, p)
		FROM unnest($2::text[]) p`, consoleChannel, payloads)
	if err != nil && ctx.Err() == nil {
		// Feeds read everything again when the database is back.
		a.rides.logger().Warn("console announcements lost", "changes", len(payloads), "err", err)
	}
}

// payload is c as console_notify() (migration 013) writes it.
func (c Change) payload() string {
	if c.RideID == 0 {
		return c.Kind + ":"
	}
	return c.Kind + ":" + strconv.FormatInt(c.RideID, 10)
}

// quiet makes the transaction tx's changes to messages and calls
// notify no one (migration 014): the caller announces them once
// committed. Without an announcer the triggers notify as usual.
func (s *Service) quiet(ctx context.Context, tx pgx.Tx) error {
	if s.Announce == nil {
		return nil
	}
	_, err := tx.Exec(ctx, quietSQL)
	return err
}

// quietSQL makes its transaction quiet (migration 014).
const quietSQL = `SELECT set_config('birdcar.console', 'quiet', true)`

// orZero is a ride id, 0 (unmatched) for none.
func orZero(rideID *int64) int64 {
	if rideID == nil {
		return 0
	}
	return *rideID
}

// announce tells the consoles of changes a quiet transaction committed
// (ride id 0: unmatched).
func (s *Service) announce(kind string, rideIDs ...int64) {
	if s.Announce == nil {
		return
	}
	for _, id := range rideIDs {
		s.Announce.add(Change{Kind: kind, RideID: id})
	}
}
