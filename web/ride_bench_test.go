package web

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"birdcar/sql/dbtest"
)

// BenchmarkCreateRide measures ride creation (number assignment, ride,
// routes, notifications and their jobs, committed) with 10,000 pool numbers
// and a history of ended rides, to show the cost does not grow with history.
//
//	go test ./web -run '^$' -bench CreateRide -benchtime 2000x
func BenchmarkCreateRide(b *testing.B) {
	for _, history := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("history=%d", history), func(b *testing.B) {
			pool, _ := dbtest.FreshDB(b)
			ctx := b.Context()
			const customers, drivers, numbers = 20_000, 2_000, 10_000
			base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			// Each past ride routed for one second of its own, so the
			// history satisfies the routing constraint by construction.
			for _, q := range []string{
				fmt.Sprintf(`INSERT INTO customers (name, phone) SELECT 'Customer ' || i, '+3161' || lpad(i::text, 7, '0') FROM generate_series(1, %d) i`, customers),
				fmt.Sprintf(`INSERT INTO drivers (name, phone) SELECT 'Driver ' || i, '+3162' || lpad(i::text, 7, '0') FROM generate_series(1, %d) i`, drivers),
				fmt.Sprintf(`INSERT INTO proxy_numbers (number, country) SELECT '+31970' || lpad(i::text, 8, '0'), 'NL' FROM generate_series(1, %d) i`, numbers),
				fmt.Sprintf(`INSERT INTO rides (customer_id, driver_id, proxy_number_id, start_address, destination, pickup_at, status, created_at, ended_at, expires_at)
					SELECT 1 + i %% %d, 1 + i %% %d, 1 + i %% %d, 'Start', 'Destination', t, 'completed', t, t, t + interval '1 second'
					FROM generate_series(1, %d) i, LATERAL (SELECT $1::timestamptz + i * interval '1 second' AS t) x`, customers, drivers, numbers, history),
				`INSERT INTO routes (ride_id, proxy_number_id, caller_phone, callee_phone, valid)
					SELECT r.id, r.proxy_number_id, p.caller, p.callee, tstzrange(r.created_at, r.expires_at)
					FROM rides r JOIN customers c ON c.id = r.customer_id JOIN drivers d ON d.id = r.driver_id,
					LATERAL (VALUES (c.phone::text, d.phone::text), (d.phone::text, c.phone::text)) p(caller, callee)`,
				`UPDATE proxy_numbers SET last_assigned_at = $1::timestamptz + id * interval '1 second'`,
				`ANALYZE`,
			} {
				args := []any{}
				if strings.Contains(q, "$1") {
					args = append(args, base)
				}
				if _, err := pool.Exec(ctx, q, args...); err != nil {
					b.Fatal(err)
				}
			}
			srv := setup(b, pool).srv
			srv.Now = time.Now

			lat := make([]time.Duration, 0, b.N)
			i := 0
			b.ResetTimer()
			for b.Loop() {
				i++
				in := rideInput{CustomerID: int64(1 + i%customers), DriverID: int64(1 + (i/customers+i)%drivers),
					Start: "Dam 1", Destination: "Schiphol", PickupAt: time.Now()}
				start := time.Now()
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					_, err := srv.createRide(ctx, tx, in)
					return err
				})
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*50/100].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
