package web

import (
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

// BenchmarkConsolePages measures each console list page, through Fiber,
// with 100,000 rides (200,000 messages, 50,000 calls) in the database.
//
//	go test ./web -run '^$' -bench ConsolePages -benchtime 200x
func BenchmarkConsolePages(b *testing.B) {
	pool, _ := dbtest.FreshDB(b)
	dbtest.Fill(b, pool, dbtest.History{Customers: 5000, Drivers: 500, Numbers: 500, Rides: 100_000,
		Base: time.Now().Add(-200 * 24 * time.Hour), Spacing: 2 * time.Minute, Routing: time.Minute, Traffic: true})
	bundle := setup(b, pool).withAdmin(b)
	bundle.Rides.Clock = time.Now
	// A few hundred rides that are active now, assigned as production does.
	for i := int64(1); i <= 300; i++ {
		c, err := bundle.Rides.Person(b.Context(), ride.RoleCustomer, i)
		if err != nil {
			b.Fatal(err)
		}
		d, err := bundle.Rides.Person(b.Context(), ride.RoleDriver, 1+i%500)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bundle.CreateRide(b, c, d); err != nil {
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
