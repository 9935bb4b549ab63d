package web

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"birdcar/sql/db"
	"birdcar/sql/dbtest"
)

// createRide runs the ride creation the API uses, in a savepoint of the test.
func (b *testBundle) createRide(t testing.TB, c db.Customer, d db.Driver) (db.RideGetRow, error) {
	t.Helper()
	var ride db.RideGetRow
	err := pgx.BeginFunc(t.Context(), b.srv.DB, func(tx pgx.Tx) (err error) {
		ride, err = b.srv.createRide(t.Context(), tx, rideInput{CustomerID: c.ID, DriverID: d.ID, Start: "A", Destination: "B", PickupAt: b.clock.Now()})
		return err
	})
	return ride, err
}

func TestCreateRide_50ConcurrentFor10Numbers(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	b := setup(t, pool)
	ctx := t.Context()
	cust, _, _ := b.people(t, ctx, 10)
	var drivers []db.Driver
	for i := range 50 {
		d, err := b.q.DriverCreate(ctx, dbDriver(fmt.Sprintf("Driver %d", i), fmt.Sprintf("+316400000%02d", i)))
		if err != nil {
			t.Fatal(err)
		}
		drivers = append(drivers, d)
	}

	var wg sync.WaitGroup
	statuses := make([]int, len(drivers))
	codes := make([]string, len(drivers))
	start := make(chan struct{})
	for i, d := range drivers {
		wg.Go(func() {
			<-start
			body := mustJSON(t, map[string]any{"customer_id": cust.ID, "driver_id": d.ID, "start": "A", "destination": "B", "pickup_at": "2026-05-01T14:30:00Z"})
			req := httptest.NewRequest("POST", "/api/v1/rides", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := b.srv.App().Test(req, -1)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			statuses[i] = resp.StatusCode
			if resp.StatusCode != 201 {
				var p problemBody
				_ = decodeBody(resp, &p)
				codes[i] = p.Code
			}
		})
	}
	close(start)
	wg.Wait()

	created, exhausted := 0, 0
	for i, s := range statuses {
		switch {
		case s == 201:
			created++
		case s == 409 && codes[i] == "pool_exhausted":
			exhausted++
		default:
			t.Errorf("request %d: %d %s", i, s, codes[i])
		}
	}
	if created != 10 || exhausted != 40 {
		t.Errorf("created %d, pool_exhausted %d; want 10 and 40", created, exhausted)
	}
	var rides, distinct int
	err := pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT proxy_number_id) FROM rides WHERE customer_id = $1", cust.ID).Scan(&rides, &distinct)
	if err != nil || rides != 10 || distinct != 10 {
		t.Errorf("customer's rides %d on %d distinct numbers (%v); want 10 on 10", rides, distinct, err)
	}
	var msgs int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM messages").Scan(&msgs); err != nil || msgs != 20 {
		t.Errorf("notifications = %d (%v), want 2 per ride", msgs, err)
	}
}

func TestCreateRide_GracePeriod(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := t.Context()
	cust, drv, nums := b.people(t, ctx, 1)
	ride, err := b.createRide(t, cust, drv)
	if err != nil {
		t.Fatal(err)
	}
	if ride.ProxyNumberID != nums[0].ID {
		t.Fatalf("ride got number %d, want the only one %d", ride.ProxyNumberID, nums[0].ID)
	}
	if _, err := b.createRide(t, cust, drv); !errors.Is(err, errPoolExhausted) {
		t.Fatalf("second ride while the first is active: %v, want pool exhausted", err)
	}

	routes := func() (toDriver, toCustomer bool) {
		now := b.clock.Now()
		r1, err1 := b.q.RouteFind(ctx, db.RouteFindParams{ProxyNumber: nums[0].Number, CallerPhone: cust.Phone, Now: now})
		r2, err2 := b.q.RouteFind(ctx, db.RouteFindParams{ProxyNumber: nums[0].Number, CallerPhone: drv.Phone, Now: now})
		return err1 == nil && r1.CalleePhone == drv.Phone && r1.RideID == ride.ID,
			err2 == nil && r2.CalleePhone == cust.Phone && r2.RideID == ride.ID
	}
	if a, b := routes(); !a || !b {
		t.Fatalf("active ride routes: customer→driver %v, driver→customer %v", a, b)
	}

	b.clock.Advance(time.Hour)
	if _, err := b.srv.endRide(ctx, b.q, ride.ID, "completed"); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(23*time.Hour + 59*time.Minute) // one minute before the grace period ends
	if a, b := routes(); !a || !b {
		t.Errorf("during grace: customer→driver %v, driver→customer %v; want both routed", a, b)
	}
	if _, err := b.createRide(t, cust, drv); !errors.Is(err, errPoolExhausted) {
		t.Errorf("new ride for the same parties during grace: %v, want pool exhausted", err)
	}

	b.clock.Advance(2 * time.Minute)
	if a, b := routes(); a || b {
		t.Errorf("after grace: customer→driver %v, driver→customer %v; want neither", a, b)
	}
	again, err := b.createRide(t, cust, drv)
	if err != nil || again.ProxyNumberID != nums[0].ID {
		t.Errorf("after grace: ride on number %d, %v; want the freed number %d", again.ProxyNumberID, err, nums[0].ID)
	}
}

func TestCreateRide_SharesNumberAcrossParties(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := t.Context()
	cust, drv, nums := b.people(t, ctx, 1)
	other, err := b.q.CustomerCreate(ctx, db.CustomerCreateParams{Name: "Other", Phone: "+31633333333"})
	if err != nil {
		t.Fatal(err)
	}
	otherDrv, err := b.q.DriverCreate(ctx, dbDriver("Other driver", "+31644444444"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.createRide(t, cust, drv); err != nil {
		t.Fatal(err)
	}
	r, err := b.createRide(t, other, otherDrv)
	if err != nil || r.ProxyNumberID != nums[0].ID {
		t.Errorf("other parties: number %d, %v; want the same number %d", r.ProxyNumberID, err, nums[0].ID)
	}
	// One party in common is enough to need another number.
	if _, err := b.createRide(t, other, drv); !errors.Is(err, errPoolExhausted) {
		t.Errorf("driver already on the only number: %v, want pool exhausted", err)
	}
}

func TestCreateRide_PrefersCountryThenLeastRecentlyAssigned(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := t.Context()
	cust, drv, _ := b.people(t, ctx, 0) // Dutch customer
	mk := func(number, country string, assigned *time.Time) db.ProxyNumber {
		n, err := b.q.ProxyNumberCreate(ctx, db.ProxyNumberCreateParams{Number: number, Country: country})
		if err != nil {
			t.Fatal(err)
		}
		if assigned != nil {
			if err := b.q.ProxyNumberMarkAssigned(ctx, db.ProxyNumberMarkAssignedParams{ID: n.ID, LastAssignedAt: assigned}); err != nil {
				t.Fatal(err)
			}
		}
		return n
	}
	recent, old := b.clock.Now().Add(-time.Minute), b.clock.Now().Add(-time.Hour)
	mk("+447700900201", "GB", nil)
	mk("+3197000000001", "NL", &recent)
	nlOld := mk("+3197000000002", "NL", &old)

	ride, err := b.createRide(t, cust, drv)
	if err != nil || ride.ProxyNumberID != nlOld.ID {
		t.Errorf("picked number %s, %v; want the least recently assigned Dutch one %s", ride.ProxyNumber, err, nlOld.Number)
	}
}

func TestTidy_EndsStaleRides(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := t.Context()
	cust, drv, _ := b.people(t, ctx, 1)
	ride, err := b.createRide(t, cust, drv)
	if err != nil {
		t.Fatal(err)
	}
	now := b.clock.Now().Add(13 * time.Hour)
	ended, err := b.q.RideEndStale(ctx, db.RideEndStaleParams{Now: now, ExpiresAt: now.Add(24 * time.Hour), PickupBefore: now.Add(-12 * time.Hour)})
	if err != nil || len(ended) != 1 || ended[0] != ride.ID {
		t.Fatalf("ended %v, %v; want ride %d", ended, err, ride.ID)
	}
	got, err := b.q.RideGet(ctx, ride.ID)
	if err != nil || got.Status != "completed" || got.ExpiresAt == nil || !got.ExpiresAt.Equal(now.Add(24*time.Hour)) {
		t.Errorf("ride after tidy = %+v, %v", got, err)
	}
}
