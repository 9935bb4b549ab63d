package localpg

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestFindBinaries_NoneFound(t *testing.T) {
	t.Setenv("PATH", "")
	setBinRoot(t, t.TempDir())

	_, err := FindBinaries()
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("FindBinaries() error = %v, want ErrNoBinaries", err)
	}
}

func TestFindBinaries_NewestCompleteVersion(t *testing.T) {
	t.Setenv("PATH", "")
	root := t.TempDir()
	setBinRoot(t, root)
	fakeBinaries(t, filepath.Join(root, "9.6", "bin"), serverBinaries...)
	fakeBinaries(t, filepath.Join(root, "13", "bin"), serverBinaries...)
	fakeBinaries(t, filepath.Join(root, "16", "bin"), "pg_ctl", "initdb") // no postgres: skipped

	dir, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "13", "bin"); dir != want {
		t.Errorf("FindBinaries() = %s, want %s", dir, want)
	}
}

func TestFindBinaries_PathFirst(t *testing.T) {
	onPath := t.TempDir()
	fakeBinaries(t, onPath, serverBinaries...)
	t.Setenv("PATH", onPath)
	root := t.TempDir()
	setBinRoot(t, root)
	fakeBinaries(t, filepath.Join(root, "99", "bin"), serverBinaries...)

	dir, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	if dir != onPath {
		t.Errorf("FindBinaries() = %s, want %s from PATH", dir, onPath)
	}
}

func TestStart_ReusesDataAndLeavesNoProcess(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)

	c := start(t, dir)
	mustExec(t, c, "SELECT 1")
	mustExec(t, c, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)")
	pidFile := filepath.Join(dir, pgdataName, "postmaster.pid")
	stale := readPIDFile(t, dir)
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(pidFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("postmaster.pid after Stop: %v, want it gone", err)
	}
	requireExited(t, postmasterPID(t, stale))
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	// Another process may take the probed port before the server binds it:
	// Start retries on this error and no other.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if err := c.srv.start(t.Context(), taken.Addr().(*net.TCPAddr).Port, true); !errors.Is(err, errPortTaken) {
		t.Fatalf("start on a taken port: error = %v, want errPortTaken", err)
	}

	// Restarted on its old port, the cluster keeps its URL.
	firstURL := c.URL()
	c = startWith(t, Options{DataDir: dir, Fast: true, Port: c.port})
	if c.URL() != firstURL {
		t.Errorf("URL after a restart on port %d = %s, want %s", c.port, c.URL(), firstURL)
	}
	var n int
	if err := connect(t, c).QueryRow(t.Context(), "SELECT count(*) FROM kept").Scan(&n); err != nil {
		t.Fatalf("table from the first run: %v", err)
	}
	if n != 1 {
		t.Errorf("rows in kept = %d, want 1", n)
	}
}

// A crash or power cut leaves postmaster.pid behind; by the next start its
// pid is dead, or reused by some other process of the same user.
func TestStart_StalePIDFile(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	c := start(t, dir)
	stale := readPIDFile(t, dir)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, pgdataName, "postmaster.pid")
	writeStale := func(t *testing.T, pid int) {
		_, rest, _ := strings.Cut(string(stale), "\n")
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(pid)+"\n"+rest), 0o600); err != nil {
			t.Fatal(err)
		}
		sameOwner(t, pidFile, filepath.Dir(pidFile))
	}

	t.Run("dead pid", func(t *testing.T) {
		writeStale(t, postmasterPID(t, stale))
		mustExec(t, start(t, dir), "SELECT 1")
	})

	t.Run("reused pid", func(t *testing.T) {
		cred, err := serverCredential()
		if err != nil {
			t.Fatal(err)
		}
		other := osexec.Command("sleep", "60")
		other.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if err := other.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			other.Process.Kill()
			other.Wait()
		})
		writeStale(t, other.Process.Pid)

		mustExec(t, start(t, dir), "SELECT 1")
		if err := other.Process.Signal(syscall.Signal(0)); err != nil {
			t.Errorf("the process that reused the pid: %v, want it untouched", err)
		}
	})
}

func TestStart_SameDirTwice(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	first := start(t, dir)
	firstPID := postmasterPID(t, readPIDFile(t, dir))

	t.Run("while its owner lives", func(t *testing.T) {
		_, err := Start(t.Context(), Options{DataDir: dir, Fast: true})
		if !errors.Is(err, ErrInUse) {
			t.Fatalf("second Start error = %v, want ErrInUse", err)
		}
		mustExec(t, first, "SELECT 1")
	})

	t.Run("after its owner died", func(t *testing.T) {
		unlockDataDir(first.lock) // what the kernel does when the owner crashes
		second := start(t, dir)
		requireExited(t, firstPID)
		mustExec(t, second, "SELECT 1")

		_, err := Start(t.Context(), Options{DataDir: dir, Fast: true})
		if !errors.Is(err, ErrInUse) {
			t.Fatalf("Start beside the new owner: error = %v, want ErrInUse", err)
		}
	})
}

func TestRemove(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	c := start(t, dir)
	pid := postmasterPID(t, readPIDFile(t, dir))

	if err := Remove(t.Context(), dir); !errors.Is(err, ErrInUse) {
		t.Fatalf("Remove of a live cluster: error = %v, want ErrInUse", err)
	}
	unlockDataDir(c.lock) // its owner crashed
	if err := Remove(t.Context(), dir); err != nil {
		t.Fatalf("Remove of an orphan: %v", err)
	}
	requireExited(t, pid)
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("data dir after Remove: %v, want it gone", err)
	}
	if err := Remove(t.Context(), dir); err != nil {
		t.Errorf("Remove of a missing dir: %v", err)
	}
}

func TestStart_UnreachableParent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the server to another user")
	}
	t.Parallel()
	parent := dataDir(t)
	if err := os.Mkdir(parent, 0o700); err != nil { // owned by root
		t.Fatal(err)
	}

	_, err := Start(t.Context(), Options{DataDir: filepath.Join(parent, "data")})
	if err == nil || !strings.Contains(err.Error(), "cannot enter "+parent) {
		t.Fatalf("Start error = %v, want one naming %s", err, parent)
	}
}

// sameOwner gives path the owner of like: the server user, when we are root.
func sameOwner(t *testing.T, path, like string) {
	t.Helper()
	fi, err := os.Stat(like)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Chown(path, int(st.Uid), int(st.Gid)); err != nil {
		t.Fatal(err)
	}
}

func setBinRoot(t *testing.T, dir string) {
	old := binRoot
	binRoot = dir
	t.Cleanup(func() { binRoot = old })
}

func fakeBinaries(t *testing.T, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// dataDir is a new path under os.TempDir, for Start to create: as root it
// hands the postgres user only a directory it creates, and t.TempDir's
// parent is private to root, which that user could not enter.
func dataDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "localpg-test-"+rand.Text())
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func start(t *testing.T, dir string) *Cluster {
	t.Helper()
	return startWith(t, Options{DataDir: dir, Fast: true})
}

func startWith(t *testing.T, opts Options) *Cluster {
	t.Helper()
	begin := time.Now()
	c, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("Start took %v", time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return c
}

func connect(t *testing.T, c *Cluster) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.URL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, c *Cluster, sql string) {
	t.Helper()
	if _, err := connect(t, c).Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func readPIDFile(t *testing.T, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, pgdataName, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// postmasterPID reads the first line of a postmaster.pid.
func postmasterPID(t *testing.T, pidFile []byte) int {
	t.Helper()
	line, _, _ := strings.Cut(string(pidFile), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	return pid
}

// requireExited waits for pid to end: the postmaster removes its pid file
// just before it exits, though a busy machine may take seconds to run that
// exit. Orphans are reparented to PID 1, which here may not reap them, so a
// zombie counts as exited.
func requireExited(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		// The state follows the parenthesised command name.
		_, after, _ := strings.Cut(string(stat), ") ")
		if strings.HasPrefix(after, "Z") || strings.HasPrefix(after, "X") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("postmaster %d still running 30 s on: %s", pid, stat)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
