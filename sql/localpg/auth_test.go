package localpg

import (
	"errors"
	"net/url"
	"os"
	osexec "os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// withoutPassword is c's URL as anyone on the machine could write it.
func withoutPassword(t *testing.T, c *Cluster) string {
	t.Helper()
	u, err := url.Parse(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

// requireRefused fails unless connecting to rawURL is refused for want of
// the right password.
func requireRefused(t *testing.T, rawURL string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), rawURL)
	if err == nil {
		conn.Close(t.Context())
		t.Fatal("connected without the password")
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" { // invalid_password
		t.Fatalf("connect without the password: %v, want SQLSTATE 28P01", err)
	}
}

func TestStart_PasswordRequired(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	c := start(t, dir)
	mustExec(t, c, "SELECT 1")
	requireRefused(t, withoutPassword(t, c))

	fi, err := os.Lstat(filepath.Join(dir, passwordFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Geteuid()) {
		t.Errorf("%s: mode %v, uid %d; want -rw------- and ours (%d)", passwordFile, fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid, os.Geteuid())
	}

	// A restart keeps the password.
	first := c.URL()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	c = startWith(t, Options{DataDir: dir, Fast: true, Port: c.port})
	if c.URL() != first {
		t.Errorf("URL after a restart = %s, want %s", c.URL(), first)
	}
	mustExec(t, c, "SELECT 1")
}

// TestStart_OtherUserCannotConnect is the audit's attack: an unprivileged
// local user (nobody) connects to the private cluster with psql.
func TestStart_OtherUserCannotConnect(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root can act as another user")
	}
	psql, err := osexec.LookPath("psql")
	if err != nil {
		t.Skip("no psql")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip(err)
	}
	t.Parallel()
	dir := dataDir(t)
	c := start(t, dir)
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	as := func(name string, args ...string) (string, error) {
		cmd := osexec.CommandContext(t.Context(), name, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := as(psql, "-w", withoutPassword(t, c), "-c", "SELECT 1")
	if err == nil || !strings.Contains(out, "password") {
		t.Errorf("psql as nobody: %v, output %q; want it refused for want of a password", err, out)
	}
	if out, err := as("cat", filepath.Join(dir, passwordFile)); err == nil {
		t.Errorf("nobody read the password file: %q", out)
	}
}

// TestStart_UpgradesTrustCluster starts a cluster as BirdCar made them
// before passwords (initdb --auth=trust), with data in it, then starts it
// with Start: the data stays, and the password is now required.
func TestStart_UpgradesTrustCluster(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	srv, err := prepare(dir)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := srv.run(t.Context(), "initdb", "-D", srv.pgdata(), "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C", "-N"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.start(t.Context(), port, true); err != nil {
		t.Fatal(err)
	}
	old := &Cluster{srv: srv, port: port}
	oldURL := old.url("postgres")
	conn, err := pgx.Connect(t.Context(), oldURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), "CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(t.Context())
	if err := srv.stop(t.Context(), "fast"); err != nil {
		t.Fatal(err)
	}

	c := startWith(t, Options{DataDir: dir, Fast: true, Port: port})
	var n int
	u, _ := url.Parse(c.URL())
	u.Path = "/postgres"
	pg, err := pgx.Connect(t.Context(), u.String())
	if err != nil {
		t.Fatalf("connect with the password: %v", err)
	}
	defer pg.Close(t.Context())
	if err := pg.QueryRow(t.Context(), "SELECT count(*) FROM kept").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the old cluster's table: %d rows, %v; want 1", n, err)
	}
	requireRefused(t, withoutPassword(t, c))
	requireRefused(t, oldURL)
	hba, err := os.ReadFile(filepath.Join(dir, pgdataName, "pg_hba.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if trusting(hba) {
		t.Errorf("pg_hba.conf still trusts:\n%s", hba)
	}
}

// TestStart_TerseLog: a unique violation's DETAIL names the duplicate
// value, a phone number here; postgres.log must not keep it.
func TestStart_TerseLog(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	c := start(t, dir)
	conn := connect(t, c)
	const phone = "+31612345678"
	if _, err := conn.Exec(t.Context(), "CREATE TABLE people (phone text UNIQUE)"); err != nil {
		t.Fatal(err)
	}
	var err error
	for range 2 {
		_, err = conn.Exec(t.Context(), "INSERT INTO people VALUES ($1)", phone)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("second insert: %v, want a unique violation", err)
	}
	log, err := os.ReadFile(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	// The server logs before it answers: the line is there by now.
	if !strings.Contains(string(log), "duplicate key value") {
		t.Fatalf("postgres.log lacks the error:\n%s", log)
	}
	if strings.Contains(string(log), "612345678") {
		t.Errorf("postgres.log holds the phone number:\n%s", log)
	}
}
