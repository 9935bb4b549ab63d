// Package ridetest builds a ride.Service for tests, as River's rivertest
// does for its client: on a test database, with an insert-only River
// client and a clock the test moves, and helpers that add the people,
// numbers and rides a test starts from.
package ridetest

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

// Clock is a time source the test moves.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Bundle is a Service under test and what it runs on.
type Bundle struct {
	Rides *ride.Service
	Clock *Clock  // the Service's, starting at 1 May 2026 12:00 UTC
	DB    ride.DB // the Service's database
}

// New builds a Service on conn (nil: a transaction of the test, rolled
// back at its end) for the Netherlands, in UTC, with a grace period of
// 24 h, rides ended 12 h after pickup, a pool low under 3 numbers and
// forwards' send jobs written by the domain, as jobs.NewClient sets it.
func New(t testing.TB, conn ride.DB) *Bundle {
	t.Helper()
	if conn == nil {
		conn = dbtest.Tx(t)
	}
	jobs, err := river.NewClient(riverpgxv5.New(nil), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	clk := &Clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	svc := &ride.Service{DB: conn, Jobs: jobs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		DefaultCountry: "NL", GracePeriod: 24 * time.Hour, AutoEndAfter: 12 * time.Hour, PoolLowWatermark: 3,
		Clock: clk.Now, Zone: time.UTC, SendAttempts: river.MaxAttemptsDefault}
	return &Bundle{Rides: svc, Clock: clk, DB: conn}
}

// Person adds a customer or a driver.
func (b *Bundle) Person(t testing.TB, role ride.Role, name, phone string) ride.Person {
	t.Helper()
	p, err := b.Rides.CreatePerson(t.Context(), role, ride.PersonInput{Name: name, Phone: phone})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Number adds a pool number.
func (b *Bundle) Number(t testing.TB, number, country string) ride.Number {
	t.Helper()
	n, err := b.Rides.AddNumber(t.Context(), ride.NumberInput{Number: number, Country: country})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// People adds a customer (Caitlin, +31611111111), a driver (Dave,
// +31622222222) and n Dutch pool numbers (+319700000000, …01, …).
func (b *Bundle) People(t testing.TB, n int) (customer, driver ride.Person, numbers []ride.Number) {
	t.Helper()
	customer = b.Person(t, ride.RoleCustomer, "Caitlin", "+31611111111")
	driver = b.Person(t, ride.RoleDriver, "Dave", "+31622222222")
	for i := range n {
		numbers = append(numbers, b.Number(t, fmt.Sprintf("+3197000000%02d", i), "NL"))
	}
	return customer, driver, numbers
}

// CreateRide creates a ride of c with d from A to B, picked up now.
func (b *Bundle) CreateRide(t testing.TB, c, d ride.Person) (ride.Ride, error) {
	t.Helper()
	return b.Rides.CreateRide(t.Context(), ride.NewRide{CustomerID: c.ID, DriverID: d.ID,
		Start: "A", Destination: "B", PickupAt: b.Clock.Now()})
}
