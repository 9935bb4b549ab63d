package dbtest_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"birdcar/sql/dbtest"
	"birdcar/sql/migrations"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestPool_Migrated(t *testing.T) {
	t.Parallel()
	requireMigrated(t, dbtest.Pool(t))
}

func TestTx_RolledBackAtCleanup(t *testing.T) {
	t.Parallel()
	const phone = "+31612340001"

	t.Run("insert", func(t *testing.T) {
		tx := dbtest.Tx(t)
		if _, err := tx.Exec(t.Context(), "INSERT INTO customers (name, phone) VALUES ('Ada', $1)", phone); err != nil {
			t.Fatal(err)
		}
		if n := countCustomers(t, tx, phone); n != 1 {
			t.Fatalf("customers inside the Tx = %d, want 1", n)
		}
	})

	if n := countCustomers(t, dbtest.Pool(t), phone); n != 0 {
		t.Errorf("customers after the Tx's test ended = %d, want 0", n)
	}
}

func TestFreshDB_MigratedAndDropped(t *testing.T) {
	t.Parallel()
	const phone = "+31612340002"
	var name string

	t.Run("use", func(t *testing.T) {
		pool, dbURL := dbtest.FreshDB(t)
		requireMigrated(t, pool)
		if err := pool.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if u, err := url.Parse(dbURL); err != nil || u.Path != "/"+name {
			t.Errorf("URL %q does not name database %s", dbURL, name)
		}
		if _, err := pool.Exec(t.Context(), "INSERT INTO customers (name, phone) VALUES ('Ada', $1)", phone); err != nil {
			t.Fatal(err)
		}
		if n := countCustomers(t, dbtest.Pool(t), phone); n != 0 {
			t.Errorf("committed row seen in the shared database: %d rows", n)
		}
	})

	var exists bool
	err := connect(t, dbtest.AdminURL(t)).QueryRow(t.Context(),
		"SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

// Parallel tests share the set-up and each get their own database.
func TestFreshDB_Parallel(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]bool{}
	for _, name := range []string{"a", "b", "c", "d"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pool, _ := dbtest.FreshDB(t)
			var db string
			if err := pool.QueryRow(t.Context(), "SELECT current_database()").Scan(&db); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[db] {
				t.Errorf("database %s handed out twice", db)
			}
			seen[db] = true
		})
	}
}

func TestApply_Twice(t *testing.T) {
	t.Parallel()
	pool := emptyDB(t)
	for range 2 {
		if err := migrations.Apply(t.Context(), pool); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	requireMigrated(t, pool)
}

// Two processes starting at once on a new database both migrate it.
func TestApply_Concurrent(t *testing.T) {
	t.Parallel()
	first := emptyDB(t)
	second, err := pgxpool.NewWithConfig(t.Context(), first.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Close)

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, pool := range []*pgxpool.Pool{first, second} {
		wg.Go(func() { errs[i] = migrations.Apply(t.Context(), pool) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Apply %d: %v", i+1, err)
		}
	}
	requireMigrated(t, first)
}

func requireMigrated(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	v, err := migrations.Current(t.Context(), pool)
	if err != nil {
		t.Fatalf("migrations.Current: %v", err)
	}
	if v != migrations.Latest() {
		t.Errorf("migrations.Current = %d, want %d", v, migrations.Latest())
	}
	var customers bool
	if err := pool.QueryRow(t.Context(), "SELECT to_regclass('customers') IS NOT NULL").Scan(&customers); err != nil {
		t.Fatal(err)
	}
	if !customers {
		t.Error("table customers missing")
	}
}

func countCustomers(t *testing.T, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, phone string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(t.Context(), "SELECT count(*) FROM customers WHERE phone = $1", phone).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// emptyDB creates a database with no schema at all through AdminURL and
// returns a pool on it; both go when the test ends.
func emptyDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	raw := "birdcar_test_empty_" + hex.EncodeToString(b)
	name := pgx.Identifier{raw}.Sanitize()
	admin := connect(t, dbtest.AdminURL(t))
	// template0: template1 may hold objects on a shared server.
	if _, err := admin.Exec(t.Context(), "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(dbtest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Database = raw
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		if _, err := admin.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	return pool
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
