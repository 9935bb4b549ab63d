package dbtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// History is a database's past, for benchmarks: people and numbers named
// by their index ("Customer 42", +3161 0000042; "Driver 7", +3162 0000007;
// +31970 00000001…, all NL), and ended rides, the i-th created at
// Base + i×Spacing and routing for Routing (keep Routing ≤ Spacing, so the
// history satisfies the routing constraint by construction).
type History struct {
	Customers, Drivers, Numbers, Rides int
	Base                               time.Time
	Spacing, Routing                   time.Duration
	// Traffic adds two notifications per ride (delivered; one ride in a
	// thousand failed) and a call for every second ride (one in ten of
	// them refused).
	Traffic bool
}

// Fill writes h into the database behind pool and analyses it.
func Fill(tb testing.TB, pool *pgxpool.Pool, h History) {
	tb.Helper()
	interval := func(d time.Duration) string { return fmt.Sprintf("interval '%d milliseconds'", d.Milliseconds()) }
	queries := []string{
		fmt.Sprintf(`INSERT INTO customers (name, phone) SELECT 'Customer ' || i, '+3161' || lpad(i::text, 7, '0') FROM generate_series(1, %d) i`, h.Customers),
		fmt.Sprintf(`INSERT INTO drivers (name, phone) SELECT 'Driver ' || i, '+3162' || lpad(i::text, 7, '0') FROM generate_series(1, %d) i`, h.Drivers),
		fmt.Sprintf(`INSERT INTO proxy_numbers (number, country) SELECT '+31970' || lpad(i::text, 8, '0'), 'NL' FROM generate_series(1, %d) i`, h.Numbers),
		fmt.Sprintf(`INSERT INTO rides (customer_id, driver_id, proxy_number_id, start_address, destination, pickup_at, status, created_at, ended_at, expires_at)
			SELECT 1 + i %% %d, 1 + i %% %d, 1 + i %% %d, 'Start ' || i, 'Destination', t, 'completed', t, t, t + %s
			FROM generate_series(1, %d) i, LATERAL (SELECT $1::timestamptz + i * %s AS t) x`,
			h.Customers, h.Drivers, h.Numbers, interval(h.Routing), h.Rides, interval(h.Spacing)),
		`INSERT INTO routes (ride_id, proxy_number_id, caller_phone, callee_phone, valid)
			SELECT r.id, r.proxy_number_id, p.caller, p.callee, tstzrange(r.created_at, r.expires_at)
			FROM rides r JOIN customers c ON c.id = r.customer_id JOIN drivers d ON d.id = r.driver_id,
			LATERAL (VALUES (c.phone::text, d.phone::text), (d.phone::text, c.phone::text)) p(caller, callee)`,
		`UPDATE proxy_numbers SET last_assigned_at = $1::timestamptz + id * interval '1 second'`,
	}
	if h.Traffic {
		queries = append(queries,
			`INSERT INTO messages (ride_id, direction, kind, originator, recipient, body, status, provider_id, last_error, attempts, created_at)
			SELECT r.id, 'outbound', 'notification', '+3197000000001', '+31610000001', 'Your driver is on the way',
			       CASE WHEN r.id % 1000 = 0 THEN 'failed' ELSE 'delivered' END,
			       CASE WHEN r.id % 1000 = 0 THEN NULL ELSE 'mb' || r.id || '-' || k END,
			       CASE WHEN r.id % 1000 = 0 THEN 'MessageBird rejected the message' END, 1, r.created_at
			FROM rides r, generate_series(1, 2) k`,
			`INSERT INTO calls (ride_id, call_id, source, destination, transferred_to, outcome, created_at)
			SELECT CASE WHEN r.id % 10 = 0 THEN NULL ELSE r.id END, 'call' || r.id, '31610000001', '3197000000001',
			       CASE WHEN r.id % 10 = 0 THEN NULL ELSE '+31620000001' END,
			       CASE WHEN r.id % 10 = 0 THEN 'rejected' ELSE 'transferred' END, r.created_at
			FROM rides r WHERE r.id % 2 = 0`)
	}
	queries = append(queries, `ANALYZE`)
	for _, q := range queries {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, h.Base)
		}
		if _, err := pool.Exec(tb.Context(), q, args...); err != nil {
			tb.Fatalf("dbtest: fill history: %v", err)
		}
	}
}
