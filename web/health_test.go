package web

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"birdcar/sql/database"
	"birdcar/sql/dbtest"
	"birdcar/sql/localpg"
	"birdcar/sql/migrations"
	"birdcar/sql/ride"
)

// readyz asks /readyz and decodes its answer.
func (b *testBundle) readyz(t *testing.T) (int, readiness) {
	t.Helper()
	resp := b.do(t, httptest.NewRequest("GET", "/readyz", nil))
	var r readiness
	if err := decodeBody(resp, &r); err != nil {
		t.Fatalf("/readyz %d: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, r
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		workers func() bool // nil: a web-only process
		status  int
		checks  map[string]string
	}{
		{"web only", nil, http.StatusOK, map[string]string{"database": "ok", "migrations": "ok"}},
		{"workers running", func() bool { return true }, http.StatusOK,
			map[string]string{"database": "ok", "migrations": "ok", "workers": "ok"}},
		{"workers stopped", func() bool { return false }, http.StatusServiceUnavailable,
			map[string]string{"database": "ok", "migrations": "ok", "workers": "not running"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			b.srv.WorkersRunning = tt.workers
			status, r := b.readyz(t)
			if status != tt.status || mustJSON(t, r.Checks) != mustJSON(t, tt.checks) {
				t.Errorf("/readyz = %d %v, want %d %v", status, r.Checks, tt.status, tt.checks)
			}
			if want := map[bool]string{true: "ready", false: "not ready"}[tt.status == http.StatusOK]; r.Status != want {
				t.Errorf("status = %q, want %q", r.Status, want)
			}
		})
	}
}

func TestReadyz_MigrationsBehind(t *testing.T) {
	t.Parallel()
	all, err := migrations.All()
	if err != nil || len(all) < 2 {
		t.Fatalf("migrations %v, %v: too few to be behind", all, err)
	}
	behind := all[len(all)-2].Version // where the database stands without the newest
	tx := dbtest.Tx(t)
	dbtest.ForgetMigration(t, tx, migrations.Latest())
	status, r := setup(t, tx).readyz(t)
	if status != http.StatusServiceUnavailable || r.Checks["database"] != "ok" || !strings.HasPrefix(r.Checks["migrations"], "behind:") {
		t.Errorf("/readyz = %d %v, want 503 with migrations behind", status, r.Checks)
	}
	if want := fmt.Sprintf("version %d, this build needs %d", behind, migrations.Latest()); !strings.Contains(r.Checks["migrations"], want) {
		t.Errorf("migrations check = %q, want it to say %q", r.Checks["migrations"], want)
	}
}

// TestReadyz_DatabaseRestart stops the database under a running server and
// starts it again: /readyz must notice both without a restart of its own.
func TestReadyz_DatabaseRestart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := ownCluster(t)
	pool, port := c.pool, c.port
	b := &testBundle{srv: NewServer(ctx, &Server{Rides: &ride.Service{DB: pool}, Logger: slog.New(slog.DiscardHandler)})}

	// waitReady polls until /readyz answers wantStatus with a database
	// check starting with want: on a busy machine one answer may be a
	// timeout rather than what the test is after.
	waitReady := func(wantStatus int, want string) readiness {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			status, r := b.readyz(t)
			if status == wantStatus && strings.HasPrefix(r.Checks["database"], want) {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz = %d %v, want %d with the database %q…", status, r.Checks, wantStatus, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitReady(http.StatusOK, "ok")

	c.stop(t)
	r := waitReady(http.StatusServiceUnavailable, "unreachable: ")
	// Safe to show: nothing of the URL.
	for _, v := range r.Checks {
		if strings.Contains(v, strconv.Itoa(port)) || strings.Contains(v, "birdcar") {
			t.Errorf("check %q shows connection details", v)
		}
	}

	c.start(t)
	waitReady(http.StatusOK, "ok")
}

// ownedCluster is a PostgreSQL of a test's own, migrated, with a pool on
// it, which the test stops and starts again (on the same port, so the pool
// finds it).
type ownedCluster struct {
	dir     string
	port    int
	cluster *localpg.Cluster
	pool    *pgxpool.Pool
}

func ownCluster(t *testing.T) *ownedCluster {
	t.Helper()
	// dbtest's prefix: should this test die with the cluster running, the
	// next test binary reaps it. A new path: as root, localpg hands the
	// postgres user only a directory it creates.
	c := &ownedCluster{dir: filepath.Join(os.TempDir(), "birdcar-dbtest-own-"+rand.Text())}
	t.Cleanup(func() { os.RemoveAll(c.dir) })
	c.start(t)
	u, err := url.Parse(c.cluster.URL())
	if err == nil {
		c.port, err = strconv.Atoi(u.Port())
	}
	if err != nil {
		t.Fatal(err)
	}
	if c.pool, err = database.Open(t.Context(), c.cluster.URL()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.pool.Close)
	if err := migrations.Apply(t.Context(), c.pool); err != nil {
		t.Fatal(err)
	}
	return c
}

// start starts the cluster (on its port, once it has one), stopped at the
// test's end.
func (c *ownedCluster) start(t *testing.T) {
	t.Helper()
	cluster, err := localpg.Start(t.Context(), localpg.Options{DataDir: c.dir, Fast: true, Port: c.port})
	if errors.Is(err, localpg.ErrNoBinaries) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	c.cluster = cluster
	t.Cleanup(func() {
		if err := cluster.Stop(); err != nil {
			t.Errorf("stop PostgreSQL: %v", err)
		}
	})
}

func (c *ownedCluster) stop(t *testing.T) {
	t.Helper()
	if err := c.cluster.Stop(); err != nil {
		t.Fatal(err)
	}
}
