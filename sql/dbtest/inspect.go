package dbtest

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// tables are the tables Rows may count.
var tables = []string{"customers", "drivers", "proxy_numbers", "rides", "routes", "messages", "calls",
	"api_idempotency", "admin_sessions", "admin_credentials", "river_job", "operators", "api_tokens", "audit_log"}

// Rows counts the rows of a table, for tests that check what a request
// stored or left alone without a query of their own.
func Rows(t testing.TB, conn interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, table string) int64 {
	t.Helper()
	if !slices.Contains(tables, table) {
		t.Fatalf("dbtest: no table %q to count", table)
	}
	var n int64
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("dbtest: count %s: %v", table, err)
	}
	return n
}

// ForgetMigration makes the database look as if version had never been
// applied (its schema stays): what an older database shows a newer build.
func ForgetMigration(t testing.TB, conn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}, version int) {
	t.Helper()
	if _, err := conn.Exec(t.Context(), "DELETE FROM birdcar_migrations WHERE version = $1", version); err != nil {
		t.Fatalf("dbtest: forget migration %d: %v", version, err)
	}
}
