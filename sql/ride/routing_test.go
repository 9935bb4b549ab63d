package ride_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

// webProcess is a Service with a route table of its own, on a pool of its
// own: to PostgreSQL, one web process.
type webProcess struct {
	rides *ride.Service
	pool  *pgxpool.Pool
}

// twoWebProcesses builds two web processes on one fresh database, sharing
// b's clock, both live, with grace (how long an ended ride routes).
func twoWebProcesses(t *testing.T, grace time.Duration) (*testBundle, [2]webProcess) {
	t.Helper()
	pool, url := dbtest.FreshDB(t)
	b := setup(t, pool)
	b.Rides.GracePeriod = grace
	var procs [2]webProcess
	for i := range procs {
		p, err := pgxpool.New(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		svc := *b.Rides
		svc.DB = p
		svc.Routes = ride.NewRouteTable(&svc, p)
		done := make(chan struct{})
		go func() { defer close(done); svc.Routes.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done; p.Close() })
		procs[i] = webProcess{rides: &svc, pool: p}
	}
	for _, p := range procs {
		waitFor(t, "route table live", p.rides.Routes.Live)
	}
	return b, procs
}

// waitFor waits until cond holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// inSync waits until the table holds exactly the database's routes.
func inSync(t *testing.T, table *ride.RouteTable) {
	t.Helper()
	var diff string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if diff, err = ride.RouteTableDiff(t.Context(), table); err != nil {
			t.Fatal(err)
		}
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("route table never matched the database:\n%s", diff)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func answer(t *testing.T, s *ride.Service, caller, proxy string) string {
	t.Helper()
	a, err := s.RouteCall(t.Context(), ride.InboundCall{CallID: "c", Source: caller[1:], Destination: proxy[1:], Caller: caller, Proxy: proxy})
	if err != nil {
		t.Error(err)
	}
	return a.TransferTo
}

// TestRouteTable_TwoProcesses creates and ends rides from several
// goroutines in two web processes, each with its route table, while both
// answer calls: a ride's calls are put through by either process as soon
// as its creation returns; once it is ended, the process that ended it
// refuses them at once and the other within the notification's delay (the
// grace period is 0 here: no margin); calls of rides that stay are always
// put through; and both tables end up holding exactly the database's
// routes.
func TestRouteTable_TwoProcesses(t *testing.T) {
	t.Parallel()
	b, procs := twoWebProcesses(t, 0)
	for i := range 4 {
		b.Number(t, fmt.Sprintf("+3197000000%02d", i), "NL")
	}
	var phones atomic.Int64
	party := func(role ride.Role) ride.Person {
		return b.Person(t, role, "P", fmt.Sprintf("+316%08d", 10_000_000+phones.Add(1)))
	}
	newRide := func(p webProcess) (ride.Ride, ride.Person, ride.Person) {
		c, d := party(ride.RoleCustomer), party(ride.RoleDriver)
		r, err := p.rides.CreateRide(t.Context(), ride.NewRide{CustomerID: c.ID, DriverID: d.ID, Start: "A", Destination: "B", PickupAt: b.Clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return r, c, d
	}

	// Rides that stay, called throughout from both processes.
	type stayer struct {
		ride ride.Ride
		c, d ride.Person
	}
	var stayers []stayer
	for i := range 3 {
		r, c, d := newRide(procs[i%2])
		stayers = append(stayers, stayer{r, c, d})
	}
	stop := make(chan struct{})
	var callers sync.WaitGroup
	var stayerCalls atomic.Int64
	for _, p := range procs {
		callers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := stayers[rand.IntN(len(stayers))]
				if got := answer(t, p.rides, s.c.Phone, s.ride.ProxyNumber); got != s.d.Phone {
					t.Errorf("ride %d: customer's call put through to %q, want %s", s.ride.ID, got, s.d.Phone)
				}
				stayerCalls.Add(1)
			}
		})
	}

	var worst atomic.Int64 // the longest wait for the other process to stop routing an ended ride
	var workers sync.WaitGroup
	for w := range 4 {
		workers.Go(func() {
			for i := range 10 {
				mine, other := procs[(w+i)%2], procs[(w+i+1)%2]
				r, c, d := newRide(mine)
				// Never hidden: both put the call through at once.
				for _, p := range procs {
					if got := answer(t, p.rides, c.Phone, r.ProxyNumber); got != d.Phone {
						t.Errorf("new ride %d: customer's call put through to %q, want %s", r.ID, got, d.Phone)
					}
					if got := answer(t, p.rides, d.Phone, r.ProxyNumber); got != c.Phone {
						t.Errorf("new ride %d: driver's call put through to %q, want %s", r.ID, got, c.Phone)
					}
				}
				ender := procs[rand.IntN(2)]
				if ender == other {
					mine, other = other, mine
				}
				if _, err := ender.rides.EndRide(t.Context(), r.ID, ride.RideCancelled); err != nil {
					t.Error(err)
					return
				}
				ended := time.Now()
				if got := answer(t, mine.rides, c.Phone, r.ProxyNumber); got != "" {
					t.Errorf("ended ride %d: the process that ended it put a call through to %s", r.ID, got)
				}
				for answer(t, other.rides, c.Phone, r.ProxyNumber) != "" {
					if time.Since(ended) > 5*time.Second {
						t.Errorf("ended ride %d: the other process still routes it after 5 s", r.ID)
						return
					}
					time.Sleep(time.Millisecond)
				}
				if d := time.Since(ended); d > time.Duration(worst.Load()) {
					worst.Store(int64(d))
				}
			}
		})
	}
	workers.Wait()
	close(stop)
	callers.Wait()
	for _, p := range procs {
		inSync(t, p.rides.Routes)
	}
	t.Logf("40 rides created and ended across two processes; %d calls to staying rides; the other process stopped routing an ended ride within %v at worst",
		stayerCalls.Load(), time.Duration(worst.Load()))
}

// TestRouteTable_Reconnects cuts a table's connection: calls still go
// through meanwhile, and once it is back the table has caught up with what
// changed while it was away.
func TestRouteTable_Reconnects(t *testing.T) {
	t.Parallel()
	b, procs := twoWebProcesses(t, time.Hour)
	cust, drv, _ := b.People(t, 2)
	r := b.mustRide(t, cust, drv)
	p := procs[0]
	inSync(t, p.rides.Routes)

	if _, err := b.DB.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'birdcar route table'`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the tables to notice", func() bool { return !procs[0].rides.Routes.Live() && !procs[1].rides.Routes.Live() })
	// Changed while nobody listens.
	other := b.Person(t, ride.RoleCustomer, "Olga", "+31633333333")
	r2 := b.mustRide(t, other, drv)
	if _, err := b.Rides.EndRide(t.Context(), r.ID, ride.RideCompleted); err != nil {
		t.Fatal(err)
	}
	if got := answer(t, p.rides, other.Phone, r2.ProxyNumber); got != drv.Phone {
		t.Errorf("while reconnecting: call put through to %q, want %s", got, drv.Phone)
	}
	waitFor(t, "the table to be live again", p.rides.Routes.Live)
	inSync(t, p.rides.Routes)
	if got := answer(t, p.rides, cust.Phone, r.ProxyNumber); got != drv.Phone {
		t.Errorf("ride in its grace period: call put through to %q, want %s", got, drv.Phone)
	}
}
