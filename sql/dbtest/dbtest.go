// Package dbtest gives tests a migrated PostgreSQL database: on the server
// TEST_DATABASE_URL names, or else on a throwaway cluster started once per
// test binary. Every package that uses it calls Main from its TestMain.
package dbtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// envURL names an existing server to use instead of a throwaway cluster.
// Its role needs CREATEDB; its database serves as the maintenance database.
const envURL = "TEST_DATABASE_URL"

var (
	// inMain guards against a package without TestMain: nothing would
	// stop the cluster or drop the databases.
	inMain atomic.Bool

	mu       sync.Mutex
	shared   *server // set up on first use
	setupErr error   // kept, so every test reports why and none retries
)

// Main runs the tests, then stops the cluster this process started, or drops
// the databases it created on TEST_DATABASE_URL's server, and exits. Call it
// from TestMain:
//
//	func TestMain(m *testing.M) { dbtest.Main(m) }
func Main(m *testing.M) {
	inMain.Store(true)
	code := m.Run()
	mu.Lock()
	if shared != nil {
		if err := shared.close(); err != nil {
			fmt.Fprintf(os.Stderr, "dbtest: clean up: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
		shared = nil
	}
	mu.Unlock()
	os.Exit(code)
}

// Pool returns a pool on this test binary's migrated database. Every test
// shares it: commit nothing there that another test could trip over; use Tx,
// or FreshDB for tests that must commit.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return get(t).pool
}

// Tx begins a transaction on Pool and rolls it back when the test ends: the
// default isolation for a test.
func Tx(t testing.TB) pgx.Tx {
	t.Helper()
	tx, err := Pool(t).Begin(t.Context())
	if err != nil {
		t.Fatalf("dbtest: begin: %v", err)
	}
	t.Cleanup(func() {
		// ErrTxClosed: the test ended the transaction itself.
		if err := tx.Rollback(context.Background()); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
			t.Errorf("dbtest: roll back: %v", err)
		}
	})
	return tx
}

// FreshDB creates a migrated database of the test's own, copied from a
// template so it takes milliseconds, and drops it when the test ends. It is
// for tests that commit: a started River client, several connections. It
// returns a pool on the database and its URL.
func FreshDB(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	s := get(t)
	name := newName("fresh")
	if err := s.createDatabase(t.Context(), name, s.template); err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	var pool *pgxpool.Pool
	t.Cleanup(func() {
		// FORCE alone would end the pool's sessions under it.
		if pool != nil {
			pool.Close()
		}
		if err := s.dropDatabase(context.Background(), name); err != nil {
			t.Errorf("dbtest: %v", err)
		}
	})
	url, err := withDatabase(s.adminURL, name)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	if pool, err = pgxpool.New(context.Background(), url); err != nil {
		t.Fatalf("dbtest: pool on %s: %v", name, err)
	}
	return pool, url
}

// AdminURL returns the URL of the server's maintenance database, for tests
// that create and drop databases themselves (and drop them again).
func AdminURL(t testing.TB) string {
	t.Helper()
	return get(t).adminURL
}

// get sets the shared server up on first use; tests wait for it together.
func get(t testing.TB) *server {
	t.Helper()
	if !inMain.Load() {
		t.Fatal("dbtest: call dbtest.Main(m) from TestMain, so the database is cleaned up after the tests")
	}
	mu.Lock()
	if shared == nil && setupErr == nil {
		shared, setupErr = setup()
	}
	s, err := shared, setupErr
	mu.Unlock()
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	return s
}
