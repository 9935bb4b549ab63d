package ride_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

// TestListRides_Search finds rides by whatever an operator is told: a
// party's phone in any form, the masked number, a name, the ride's id.
// The service reads national forms in NL (DEFAULT_COUNTRY); Gwen's phone
// is British.
func TestListRides_Search(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	caitlin, dave, _ := b.People(t, 2) // +31611111111, +31622222222, two NL numbers
	gwen := b.Person(t, ride.RoleCustomer, "Gwen", "+447700900003")
	harry := b.Person(t, ride.RoleCustomer, "Harry 100%", "+447700900004")
	piet := b.Person(t, ride.RoleDriver, "Piet", "+31644444444")
	gb := b.Number(t, "+447700900202", "GB")

	older := b.mustRide(t, caitlin, dave) // on an NL number
	b.Clock.Advance(time.Hour)
	gwens := b.mustRide(t, gwen, dave) // British customer: the GB number
	b.Clock.Advance(time.Hour)
	harrys := b.mustRide(t, harry, piet) // another pair on the same GB number
	if gwens.ProxyNumber != gb.Number || harrys.ProxyNumber != gb.Number {
		t.Fatalf("rides on %s and %s, want both on %s", gwens.ProxyNumber, harrys.ProxyNumber, gb.Number)
	}
	id := func(r ride.Ride) string { return strconv.FormatInt(r.ID, 10) }

	for _, tt := range []struct {
		name, q string
		want    []ride.Ride
	}{
		{"a national form, read in the party's own country", "07700 900003", []ride.Ride{gwens}},
		{"the same in E.164 with spaces", "+44 7700 900003", []ride.Ride{gwens}},
		{"MessageBird's digits", "447700900003", []ride.Ride{gwens}},
		{"with 00", "0044 7700 900003", []ride.Ride{gwens}},
		{"a national form in DEFAULT_COUNTRY", "06 1111 1111", []ride.Ride{older}},
		{"the start of a national form", "06 2222", []ride.Ride{gwens, older}},
		{"the proxy number: every ride that used it, newest first", "+44 7700 900202", []ride.Ride{harrys, gwens}},
		{"the proxy number's last digits", "900202", []ride.Ride{harrys, gwens}},
		{"the proxy number as MessageBird writes it", "447700900202", []ride.Ride{harrys, gwens}},
		{"the proxy number in national form", "07700 900202", []ride.Ride{harrys, gwens}},
		{"a party's name, any case", "gWEN", []ride.Ride{gwens}},
		{"a name's wildcards are plain text", "100%", []ride.Ride{harrys}},
		{"a wildcard alone matches only itself", "_", nil},
		{"the ride's id", id(older), []ride.Ride{older}},
		{"the ride's id with #", "#" + id(gwens), []ride.Ride{gwens}},
		{"a number no one has", "+44 7700 900999", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rides, err := b.Rides.ListRides(t.Context(), ride.RideFilter{Query: tt.q, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := rideIDs(rides), rideIDs(tt.want); got != want {
				t.Errorf("%q found %s, want %s", tt.q, got, want)
			}
		})
	}

	t.Run("filters combine with a search", func(t *testing.T) {
		if _, err := b.Rides.EndRide(t.Context(), harrys.ID, ride.RideCompleted); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name string
			f    ride.RideFilter
			want []ride.Ride
		}{
			{"by state", ride.RideFilter{Query: "900202", State: "active"}, []ride.Ride{gwens}},
			{"by state, in grace", ride.RideFilter{Query: "900202", State: "grace"}, []ride.Ride{harrys}},
			{"pickup from, inclusive", ride.RideFilter{Query: "900202", PickupFrom: harrys.PickupAt}, []ride.Ride{harrys}},
			{"pickup to, exclusive", ride.RideFilter{Query: "900202", PickupTo: harrys.PickupAt}, []ride.Ride{gwens}},
			{"a pickup range without a search", ride.RideFilter{PickupFrom: older.PickupAt, PickupTo: harrys.PickupAt}, []ride.Ride{gwens, older}},
			{"a page of a search", ride.RideFilter{Query: "900202", Offset: 1}, []ride.Ride{gwens}},
		} {
			if tt.f.Limit == 0 {
				tt.f.Limit = 10
			}
			rides, err := b.Rides.ListRides(t.Context(), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := rideIDs(rides), rideIDs(tt.want); got != want {
				t.Errorf("%s: found %s, want %s", tt.name, got, want)
			}
		}
	})
}

func rideIDs(rides []ride.Ride) string {
	ids := make([]int64, len(rides))
	for i, r := range rides {
		ids[i] = r.ID
	}
	return fmt.Sprint(ids)
}

// explainingDB runs EXPLAIN before each ride search it passes on, and
// keeps the plan.
type explainingDB struct {
	ride.DB
	plan string
}

func (e *explainingDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if strings.Contains(sql, "WITH m AS") {
		rows, err := e.DB.Query(ctx, "EXPLAIN "+sql, args...)
		if err != nil {
			return nil, err
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		e.plan = strings.Join(lines, "\n")
	}
	return e.DB.Query(ctx, sql, args...)
}

// TestListRides_SearchIsIndexed: on a few thousand rides, a search by a
// number or an id finds people through indexes (migration 012) and their
// rides through the foreign keys' indexes.
func TestListRides_SearchIsIndexed(t *testing.T) {
	t.Parallel()
	tx := dbtest.Tx(t)
	if _, err := tx.Exec(t.Context(), `
INSERT INTO customers (name, phone) SELECT 'Customer ' || i, '+316' || lpad(i::text, 8, '0') FROM generate_series(1, 3000) i;
INSERT INTO drivers (name, phone) SELECT 'Driver ' || i, '+447700' || lpad(i::text, 6, '0') FROM generate_series(1, 1000) i;
INSERT INTO proxy_numbers (number, country) SELECT '+3197' || lpad(i::text, 8, '0'), 'NL' FROM generate_series(1, 200) i;
INSERT INTO rides (customer_id, driver_id, proxy_number_id, start_address, destination, pickup_at, created_at)
SELECT c.a[1 + i % 3000], d.a[1 + i % 1000], p.a[1 + i % 200], 'A', 'B', now(), now() - i * interval '1 minute'
FROM generate_series(1, 5000) i, (SELECT array_agg(id ORDER BY id) a FROM customers) c,
     (SELECT array_agg(id ORDER BY id) a FROM drivers) d, (SELECT array_agg(id ORDER BY id) a FROM proxy_numbers) p;
ANALYZE customers; ANALYZE drivers; ANALYZE proxy_numbers; ANALYZE rides;`); err != nil {
		t.Fatal(err)
	}
	var first int64
	if err := tx.QueryRow(t.Context(), "SELECT min(id) FROM rides").Scan(&first); err != nil {
		t.Fatal(err)
	}
	e := &explainingDB{DB: tx}
	b := setup(t, e)
	for _, q := range []string{"+31 6 0000 0042", "06 0000 0042", "07700 000042", "000042", "+31 97 0000 0042", "#" + strconv.FormatInt(first, 10)} {
		rides, err := b.Rides.ListRides(t.Context(), ride.RideFilter{Query: q, Limit: 25})
		if err != nil || len(rides) == 0 {
			t.Fatalf("%q: %d rides, %v", q, len(rides), err)
		}
		// The parties are matched through indexes (the final join of a
		// page's 25 rows may read these small tables whole, as the planner
		// likes), and their rides through the foreign keys' indexes.
		for _, table := range []string{"customers", "drivers"} {
			if strings.Contains(e.plan, "Seq Scan on "+table+"  (") {
				t.Errorf("%q reads every row of %s to match:\n%s", q, table, e.plan)
			}
		}
		if strings.Contains(e.plan, "Seq Scan on rides  (") || strings.Contains(e.plan, "Seq Scan on rides rides_1 ") {
			t.Errorf("%q reads every ride to find the parties' rides:\n%s", q, e.plan)
		}
	}
}
