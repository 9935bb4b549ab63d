package ride

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"birdcar/sql/db"
)

// RouteTable keeps, in a web process's memory, every route valid now or
// later, so that a call is answered without a database round trip, and
// while the database is away.
//
// Why its answers are right:
//
//   - Every change to a route notifies (a trigger on routes, migration
//     010) from its own transaction, naming the number; PostgreSQL
//     delivers the notice when, and only if, that transaction commits.
//     The table reads that number's routes again on receipt.
//   - It listens before it loads: a change committed before the full load
//     is in the load, one committed after it is notified. After a lost
//     connection it listens and loads everything again, and until then
//     it is not live and lookups ask the database.
//   - A miss is never trusted: the caller asks the database, so a route
//     created a moment ago, in any process, is never hidden (a stranger's
//     call costs a round trip, as its out-of-session check does anyway).
//   - So memory can be wrong only by answering with a route that was
//     just ended or cut, for as long as the notice takes to arrive
//     (milliseconds: the staleness bound is the notification's delivery
//     plus one indexed read), or, should the listening connection die
//     without a word, until the heartbeat notices (15 s at most); a
//     connection that fails outright makes the table not live at once. An ended ride routes for its grace period
//     anyway, and the process that ends a ride cuts its routes in memory
//     at once (Cut), so only other processes see the old route, for that
//     delay.
//   - While the database is down nothing can change a route, so memory,
//     checked against the clock, is exactly the routing of that moment:
//     calls between parties of a ride routing then are still put through.
type RouteTable struct {
	pool  *pgxpool.Pool
	rides *Service // its clock and logger

	mu       sync.RWMutex
	live     bool
	byNumber map[string][]memRoute // proxy number (E.164) → its routes
	numberOf map[int64]string      // proxy number id → number
	// cuts are the Cuts no reload has read yet: a reload whose read began
	// before a Cut (and so before the end committed) applies them again
	// to what it installs, else it would bring the ended route back.
	cuts   []routeCut
	cutSeq uint64 // counts Cuts, so a reload knows which came after its read began
}

// routeCut is one Cut, numbered.
type routeCut struct {
	proxy  string
	rideID int64
	until  time.Time
	seq    uint64
}

// memRoute is a route as the table keeps it.
type memRoute struct {
	rideID         int64
	caller, callee string
	from, until    time.Time
	open           bool // valid for ever: until is meaningless
}

func (r memRoute) validAt(t time.Time) bool {
	return !t.Before(r.from) && (r.open || t.Before(r.until))
}

// routesHeartbeat is how long the table waits for a notice before it
// checks its connection (answering within half of it): a connection that
// died silently is noticed within 1.5 times this, the longest the table
// can miss a change.
const routesHeartbeat = 10 * time.Second

// routesChannel is the channel routes_notify() notifies on: a proxy
// number's id, or "*" after a TRUNCATE.
const routesChannel = "birdcar_routes"

// NewRouteTable makes the route table of s, on a connection of its own
// from pool; Run keeps it up to date. Set it as s.Routes.
func NewRouteTable(s *Service, pool *pgxpool.Pool) *RouteTable {
	return &RouteTable{pool: pool, rides: s}
}

// Live reports whether the table follows the database now.
func (t *RouteTable) Live() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.live
}

// find is the route in memory for caller through proxy at now; with
// liveOnly, none while the table does not follow the database.
func (t *RouteTable) find(proxy, caller string, now time.Time, liveOnly bool) (memRoute, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if liveOnly && !t.live {
		return memRoute{}, false
	}
	for _, r := range t.byNumber[proxy] {
		if r.caller == caller && r.validAt(now) {
			return r, true
		}
	}
	return memRoute{}, false
}

// Cut applies an ended ride's new end to its routes in memory, so the
// process that ended it stops routing at once; other processes follow
// when the notice arrives (and this one's notice, arriving before or
// after, reads the same end from the database).
func (t *RouteTable) Cut(proxy string, rideID int64, until time.Time) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cutSeq++
	c := routeCut{proxy: proxy, rideID: rideID, until: until, seq: t.cutSeq}
	t.cuts = append(t.cuts, c)
	t.apply(c)
}

// apply shortens c's ride's routes to c.until. The caller holds mu.
func (t *RouteTable) apply(c routeCut) {
	for i, r := range t.byNumber[c.proxy] {
		if r.rideID == c.rideID && (r.open || c.until.Before(r.until)) {
			t.byNumber[c.proxy][i].open, t.byNumber[c.proxy][i].until = false, c.until
		}
	}
}

// readBegins is the Cut count as a reload's read begins.
func (t *RouteTable) readBegins() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.cutSeq
}

// reapplyCuts applies the Cuts of number (every number for "") made after
// a reload's read began, which it may not have seen, and forgets those
// made before, which it read: a Cut comes after its end committed. The
// caller holds mu.
func (t *RouteTable) reapplyCuts(number string, began uint64) {
	kept := t.cuts[:0]
	for _, c := range t.cuts {
		switch {
		case c.seq > began:
			if number == "" || c.proxy == number {
				t.apply(c)
			}
			kept = append(kept, c)
		case number != "" && c.proxy != number:
			kept = append(kept, c)
		}
	}
	t.cuts = kept
}

// Run keeps the table up to date until ctx ends: it listens, loads, and
// applies each notice, and after a lost connection starts again.
func (t *RouteTable) Run(ctx context.Context) {
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-prune.C:
				t.prune()
			}
		}
	}()
	l := &listener{
		pool: t.pool, rides: t.rides, name: "birdcar route table", channel: routesChannel, heartbeat: routesHeartbeat,
		ready: func(ctx context.Context, conn *pgx.Conn) error {
			if err := t.loadAll(ctx, conn); err != nil {
				return err
			}
			t.setLive(true)
			t.rides.logger().Info("route table: live", "routes", t.Len())
			return nil
		},
		notice: func(ctx context.Context, conn *pgx.Conn, payload string) error {
			if payload == "*" {
				return t.loadAll(ctx, conn)
			}
			if id, err := strconv.ParseInt(payload, 10, 64); err == nil {
				return t.load(ctx, conn, id)
			}
			return nil
		},
		lost: func(err error) {
			t.setLive(false)
			if ctx.Err() == nil {
				t.rides.logger().Warn("route table: lost the database, calls use the routes as they were until it is back", "err", err)
			}
		},
	}
	l.run(ctx)
}

// loadAll replaces the table with the routes valid now or later.
func (t *RouteTable) loadAll(ctx context.Context, conn *pgx.Conn) error {
	began := t.readBegins()
	rows, err := db.New(conn).RoutesOpen(ctx, t.rides.Now())
	if err != nil {
		return fmt.Errorf("load routes: %w", err)
	}
	byNumber, numberOf := map[string][]memRoute{}, map[int64]string{}
	for _, r := range rows {
		byNumber[r.ProxyNumber] = append(byNumber[r.ProxyNumber], toMemRoute(r))
		numberOf[r.ProxyNumberID] = r.ProxyNumber
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byNumber, t.numberOf = byNumber, numberOf
	t.reapplyCuts("", began)
	return nil
}

// load reads one number's routes again.
func (t *RouteTable) load(ctx context.Context, conn *pgx.Conn, proxyID int64) error {
	began := t.readBegins()
	rows, err := db.New(conn).RoutesOpenOf(ctx, db.RoutesOpenOfParams{ProxyNumberID: proxyID, Now: t.rides.Now()})
	if err != nil {
		return fmt.Errorf("load routes of number %d: %w", proxyID, err)
	}
	routes := make([]memRoute, len(rows))
	for i, r := range rows {
		routes[i] = toMemRoute(db.RoutesOpenRow(r))
	}
	return t.install(proxyID, rows, routes, began)
}

// install puts a number's routes, read from the database since began, in
// the table.
func (t *RouteTable) install(proxyID int64, rows []db.RoutesOpenOfRow, routes []memRoute, began uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	number, known := t.numberOf[proxyID]
	if len(rows) > 0 {
		number, known = rows[0].ProxyNumber, true
		t.numberOf[proxyID] = number
	}
	if !known {
		return nil // a number whose routes the table never held, and none now
	}
	if len(routes) == 0 {
		delete(t.byNumber, number)
	} else {
		t.byNumber[number] = routes
	}
	t.reapplyCuts(number, began)
	return nil
}

// prune drops the routes that ended: the table holds those valid now or
// later, and nothing notifies when a grace period runs out.
func (t *RouteTable) prune() {
	now := t.rides.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for number, routes := range t.byNumber {
		kept := routes[:0]
		for _, r := range routes {
			if r.open || r.until.After(now) {
				kept = append(kept, r)
			}
		}
		if len(kept) == 0 {
			delete(t.byNumber, number)
		} else {
			t.byNumber[number] = kept
		}
	}
}

func (t *RouteTable) setLive(live bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.live = live
}

// Len is how many routes the table holds.
func (t *RouteTable) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := 0
	for _, routes := range t.byNumber {
		n += len(routes)
	}
	return n
}

func toMemRoute(r db.RoutesOpenRow) memRoute {
	return memRoute{rideID: r.RideID, caller: r.CallerPhone, callee: r.CalleePhone, from: r.ValidFrom, until: r.ValidUntil, open: r.Open}
}

// route is a route found for a caller: in memory or in the database.
type route struct {
	rideID int64
	callee string
}

// findRoute is the route connecting caller through proxy at now. Memory
// answers when it is live and holds one; otherwise the database does, and
// when the database cannot, memory as it was when the database went.
func (s *Service) findRoute(ctx context.Context, proxy, caller string, now time.Time) (route, bool, error) {
	t := s.Routes
	if t != nil {
		if r, ok := t.find(proxy, caller, now, true); ok {
			return route{r.rideID, r.callee}, true, nil
		}
	}
	r, err := s.queries().RouteFind(ctx, db.RouteFindParams{ProxyNumber: proxy, CallerPhone: caller, Now: now})
	switch {
	case err == nil:
		return route{r.RideID, r.CalleePhone}, true, nil
	case errors.Is(err, pgx.ErrNoRows):
		return route{}, false, nil
	}
	if t != nil && Unreachable(err) {
		if r, ok := t.find(proxy, caller, now, false); ok {
			return route{r.rideID, r.callee}, true, nil
		}
	}
	return route{}, false, fmt.Errorf("find route for call: %w", err)
}
