package ride

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Change is what the console feed reports: rows of a kind changed, for a
// ride. The console reads the pages it shows again on a change; the
// change itself carries nothing to show.
type Change struct {
	Kind   string // ChangeMessage, ChangeCall, ChangeRide, or ChangeAll
	RideID int64  // 0 for an unmatched text or call, and for ChangeAll
}

// The kinds of Change.
const (
	ChangeMessage = "message" // a text or a send: received, queued, retried, failed, delivered
	ChangeCall    = "call"
	ChangeRide    = "ride" // created, ended, extended
	// ChangeAll says changes may have been missed (the feed lost its
	// connection, or a subscriber fell behind): read everything again.
	ChangeAll = "*"
)

// consoleChannel is the channel console_notify() (migration 013) notifies
// on, with '<kind>:<ride id>'.
const consoleChannel = "birdcar_console"

// Feed tells the console's open pages what changed, from the database's
// notices: one listening connection per process, fanned out to any number
// of subscribers (up to a bound). Every change notifies from its own
// transaction, whichever process made it, so every process's feed sees it.
type Feed struct {
	pool  *pgxpool.Pool
	rides *Service
	max   int

	mu   sync.Mutex
	subs map[*Subscription]struct{}
	live bool
}

// subscriptionBacklog is how many changes a subscriber may have waiting:
// beyond it they are replaced by one ChangeAll.
const subscriptionBacklog = 64

// NewFeed makes the console feed of s, on a connection of its own from
// pool, for at most max subscribers at once; Run keeps it fed.
func NewFeed(s *Service, pool *pgxpool.Pool, max int) *Feed {
	return &Feed{pool: pool, rides: s, max: max, subs: map[*Subscription]struct{}{}}
}

// Run listens until ctx ends, after a lost connection again.
func (f *Feed) Run(ctx context.Context) {
	l := &listener{
		pool: f.pool, rides: f.rides, name: "birdcar console feed", channel: consoleChannel, heartbeat: routesHeartbeat,
		ready: func(context.Context, *pgx.Conn) error {
			f.setLive(true)
			f.publish(Change{Kind: ChangeAll}) // whatever happened while it was away
			return nil
		},
		notice: func(_ context.Context, _ *pgx.Conn, payload string) error {
			if c, ok := parseChange(payload); ok {
				f.publish(c)
			}
			return nil
		},
		lost: func(err error) {
			f.setLive(false)
			if ctx.Err() == nil {
				f.rides.logger().Warn("console feed: lost the database, pages update again when it is back", "err", err)
			}
		},
	}
	l.run(ctx)
}

// parseChange reads a notice's '<kind>:<ride id>'.
func parseChange(payload string) (Change, bool) {
	kind, id, ok := strings.Cut(payload, ":")
	if !ok || kind == "" {
		return Change{}, false
	}
	c := Change{Kind: kind}
	if id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return Change{}, false
		}
		c.RideID = n
	}
	return c, true
}

// Live reports whether the feed follows the database now.
func (f *Feed) Live() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live
}

func (f *Feed) setLive(live bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live = live
}

// ErrFeedFull is Subscribe's answer when the feed has all the subscribers
// it takes.
var ErrFeedFull = Errorf(CodeBusy, "Too many live pages are open. Please try again in a moment.")

// Subscribe starts receiving changes; Close the subscription when done.
func (f *Feed) Subscribe() (*Subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.subs) >= f.max {
		return nil, ErrFeedFull
	}
	s := &Subscription{feed: f, ready: make(chan struct{}, 1)}
	f.subs[s] = struct{}{}
	return s, nil
}

// publish hands c to every subscriber, never waiting for one.
func (f *Feed) publish(c Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		s.add(c)
	}
}

// Subscription receives a Feed's changes: wait on Ready, then Take them.
// A subscriber that falls behind gets ChangeAll in place of its backlog.
type Subscription struct {
	feed  *Feed
	ready chan struct{}

	mu      sync.Mutex
	pending []Change
}

// Ready is signalled when changes wait to be taken.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Take returns the changes waiting, oldest first, and forgets them.
func (s *Subscription) Take() []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.pending
	s.pending = nil
	return out
}

func (s *Subscription) add(c Change) {
	s.mu.Lock()
	if len(s.pending) >= subscriptionBacklog {
		s.pending = append(s.pending[:0], Change{Kind: ChangeAll})
	} else {
		s.pending = append(s.pending, c)
	}
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default: // already signalled
	}
}

// Close stops the subscription.
func (s *Subscription) Close() {
	f := s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, s)
}
