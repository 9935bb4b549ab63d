package ride_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

// BenchmarkCreateRide measures ride creation (number assignment, ride,
// routes, notifications and their jobs, committed) with 10,000 pool numbers
// and a history of ended rides, to show the cost does not grow with history.
//
//	go test ./sql/ride -run '^$' -bench CreateRide -benchtime 2000x
func BenchmarkCreateRide(b *testing.B) {
	for _, history := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("history=%d", history), func(b *testing.B) {
			pool, _ := dbtest.FreshDB(b)
			const customers, drivers = 20_000, 2_000
			dbtest.Fill(b, pool, dbtest.History{Customers: customers, Drivers: drivers, Numbers: 10_000, Rides: history,
				Base: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Spacing: time.Second, Routing: time.Second})
			svc := setup(b, pool).Rides
			svc.Clock = time.Now

			lat := make([]time.Duration, 0, b.N)
			i := 0
			for b.Loop() {
				i++
				in := ride.NewRide{CustomerID: int64(1 + i%customers), DriverID: int64(1 + (i/customers+i)%drivers),
					Start: "Dam 1", Destination: "Schiphol", PickupAt: time.Now()}
				start := time.Now()
				_, err := svc.CreateRide(b.Context(), in)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*50/100].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
