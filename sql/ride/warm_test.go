package ride_test

import (
	"testing"

	"birdcar/sql/database"
	"birdcar/sql/dbtest"
)

// TestWarmUp runs the warm-up on every connection of a pool holding a
// ride: it fails nowhere and writes nothing.
func TestWarmUp(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	f := activeRide(t, pool)
	before := map[string]int64{}
	for _, table := range []string{"messages", "river_job", "calls", "routes"} {
		before[table] = dbtest.Rows(t, pool, table)
	}
	conn, err := pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	err = f.Rides.WarmUp(t.Context(), conn.Conn())
	conn.Release()
	if err != nil {
		t.Fatal(err)
	}
	database.Warm(t.Context(), pool, f.Rides.WarmUp)
	if n := pool.Stat().TotalConns(); n != pool.Config().MaxConns {
		t.Errorf("%d connections open after Warm, want all %d", n, pool.Config().MaxConns)
	}
	for table, n := range before {
		if got := dbtest.Rows(t, pool, table); got != n {
			t.Errorf("%s: %d rows after the warm-up, %d before", table, got, n)
		}
	}
}
