package web

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"birdcar/sql/db"
	"birdcar/sql/dbtest"
)

// BenchmarkConsolePages measures each console list page, through Fiber,
// with 100,000 rides (200,000 messages, 50,000 calls) in the database.
//
//	go test ./web -run '^$' -bench ConsolePages -benchtime 200x
func BenchmarkConsolePages(b *testing.B) {
	pool, _ := dbtest.FreshDB(b)
	ctx := b.Context()
	base := time.Now().Add(-200 * 24 * time.Hour)
	for _, q := range []string{
		`INSERT INTO customers (name, phone) SELECT 'Customer ' || i, '+3161' || lpad(i::text, 7, '0') FROM generate_series(1, 5000) i`,
		`INSERT INTO drivers (name, phone) SELECT 'Driver ' || i, '+3162' || lpad(i::text, 7, '0') FROM generate_series(1, 500) i`,
		`INSERT INTO proxy_numbers (number, country) SELECT '+31970' || lpad(i::text, 8, '0'), 'NL' FROM generate_series(1, 500) i`,
		// Ended rides, each routing for a minute of its own two minutes.
		`INSERT INTO rides (customer_id, driver_id, proxy_number_id, start_address, destination, pickup_at, status, created_at, ended_at, expires_at)
			SELECT 1 + i % 5000, 1 + i % 500, 1 + i % 500, 'Start ' || i, 'Destination', t, 'completed', t, t, t + interval '1 minute'
			FROM generate_series(1, 100000) i, LATERAL (SELECT $1::timestamptz + i * interval '2 minutes' AS t) x`,
		`INSERT INTO routes (ride_id, proxy_number_id, caller_phone, callee_phone, valid)
			SELECT r.id, r.proxy_number_id, p.caller, p.callee, tstzrange(r.created_at, r.expires_at)
			FROM rides r JOIN customers c ON c.id = r.customer_id JOIN drivers d ON d.id = r.driver_id,
			LATERAL (VALUES (c.phone::text, d.phone::text), (d.phone::text, c.phone::text)) p(caller, callee)`,
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
			FROM rides r WHERE r.id % 2 = 0`,
		`ANALYZE`,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, base)
		}
		if _, err := pool.Exec(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	bundle := setup(b, pool).withAdmin(b)
	bundle.srv.Now = time.Now
	// A few hundred rides that are active now, assigned as production does.
	q := db.New(pool)
	for i := int64(1); i <= 300; i++ {
		c, err := q.CustomerGet(ctx, i)
		if err != nil {
			b.Fatal(err)
		}
		d, err := q.DriverGet(ctx, 1+i%500)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bundle.createRide(b, c, d); err != nil {
			b.Fatal(err)
		}
	}
	cookie := bundle.login(b)

	// Full pages, and the fragments htmx asks for when filtering.
	for _, pg := range []struct {
		path string
		htmx bool
	}{
		{"/", false}, {"/rides", false}, {"/rides/150", false}, {"/people", false}, {"/numbers", false},
		{"/sends", false}, {"/simulator", false}, {"/rides/list?status=active", true}, {"/rides/list?status=grace", true},
		{"/rides/list?status=ended&page=40", true}, {"/rides/list?q=Customer%2042", true}, {"/rides/list?q=0612", true},
	} {
		path := pg.path
		b.Run(path, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				req := httptest.NewRequest("GET", path, nil)
				req.Header.Set("Cookie", cookie)
				if pg.htmx {
					req.Header.Set(hxRequest, "true")
				}
				start := time.Now()
				resp, err := bundle.srv.App().Test(req, -1)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("GET %s: %d", path, resp.StatusCode)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
