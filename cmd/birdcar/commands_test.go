package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"birdcar/sql/dbtest"
	"birdcar/web/obs"
)

func TestRun_Version(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(t.Context(), []string{"version"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	// Tests build without VCS stamps: "(devel)" or a version, then Go's.
	want := regexp.MustCompile(`^birdcar \S+( \([^)]*\))? ` + regexp.QuoteMeta(runtime.Version()) + "\n$")
	if !want.MatchString(out.String()) {
		t.Errorf("version printed %q, want %v", out.String(), want)
	}
}

func TestRun_Help(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"serve", "--help"}} {
		var out bytes.Buffer
		if err := run(t.Context(), args, nil, &out); err != nil {
			t.Errorf("%q: %v, want the usage and no error", args, err)
		}
		if !strings.HasPrefix(out.String(), "usage: birdcar") || !strings.Contains(out.String(), "health") {
			t.Errorf("%q printed %q, want the usage", args, out.String())
		}
	}
	// As a process: exit status 0.
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "BIRDCAR_TEST_MAIN=1", "BIRDCAR_TEST_ARGS=--help")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "usage: birdcar") {
		t.Errorf("birdcar --help: %v, output %q; want the usage and exit status 0", err, out)
	}
}

func TestRun_Health(t *testing.T) {
	t.Parallel()
	status := 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	// By default it asks PORT on this machine.
	var out bytes.Buffer
	if err := run(t.Context(), []string{"health"}, []string{fmt.Sprintf("PORT=%d", port)}, &out); err != nil {
		t.Errorf("health on a healthy server: %v", err)
	}
	if err := run(t.Context(), []string{"health", "--url", srv.URL + "/healthz"}, nil, io.Discard); err != nil {
		t.Errorf("health --url: %v", err)
	}
	status = 503
	err := run(t.Context(), []string{"health"}, []string{fmt.Sprintf("PORT=%d", port)}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("health on a server answering 503: %v, want an error naming the status", err)
	}
	srv.Close()
	err = run(t.Context(), []string{"health", "--url", srv.URL + "/healthz"}, nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), srv.URL) || strings.Contains(err.Error(), "\n") {
		t.Errorf("health on no server: %v, want one line naming %s", err, srv.URL)
	}
	if err := run(t.Context(), []string{"health", "--url", "ftp://x"}, nil, io.Discard); err == nil {
		t.Error("health --url ftp://x: no error")
	}

	// As a process: exit status 1 and one line.
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "BIRDCAR_TEST_MAIN=1", "BIRDCAR_TEST_ARGS=health --url "+srv.URL+"/healthz")
	stderr, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || strings.Count(strings.TrimSpace(string(stderr)), "\n") != 0 {
		t.Errorf("birdcar health on no server: %v, output %q; want exit status 1 and one line", err, stderr)
	}
}

// TestRun_UnsignedLive starts a live web process that is allowed to take
// unsigned webhooks: it serves, and warns.
func TestRun_UnsignedLive(t *testing.T) {
	t.Parallel()
	_, dbURL := dbtest.FreshDB(t)
	port := freePort(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out syncBuffer
	env := []string{"DATABASE_URL=" + dbURL, fmt.Sprintf("PORT=%d", port), "ADMIN_PASSWORD=unsigned-test-password",
		"MESSAGEBIRD_API_KEY=live_key", "ALLOW_UNSIGNED_WEBHOOKS=1", "LOG_FORMAT=json"}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--role=web"}, env, &out) }()
	waitServing(t, fmt.Sprintf("http://127.0.0.1:%d", port), done)
	if !strings.Contains(out.String(), `"level":"WARN","msg":"ALLOW_UNSIGNED_WEBHOOKS=1`) {
		t.Errorf("no warning about unsigned webhooks:\n%s", out.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

// TestRun_GeneratedPasswordToFile: with no terminal to show it on, the
// generated console password goes to a file only this user can read, and
// the log says where, not what.
func TestRun_GeneratedPasswordToFile(t *testing.T) {
	t.Parallel()
	_, dbURL := dbtest.FreshDB(t)
	port := freePort(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out syncBuffer
	env := []string{"DATABASE_URL=" + dbURL, fmt.Sprintf("PORT=%d", port), "BIRDCAR_DATA_DIR=" + dataDir}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--role=web"}, env, &out) }()
	waitServing(t, fmt.Sprintf("http://127.0.0.1:%d", port), done)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}

	path := filepath.Join(dataDir, "console-password")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the generated password: %v\noutput:\n%s", err, out.String())
	}
	password := strings.TrimSpace(string(b))
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, want mode 0600", path, fi.Mode())
	}
	if len(password) < 16 || strings.Contains(out.String(), password) {
		t.Errorf("password %q: want 16+ characters, not in the output:\n%s", password, out.String())
	}
	if !strings.Contains(out.String(), path) {
		t.Errorf("the output does not say where the password is:\n%s", out.String())
	}
}

// TestShowConsolePassword_Terminal: on a terminal the password is shown,
// and no file is written.
func TestShowConsolePassword_Terminal(t *testing.T) {
	t.Parallel()
	master, tty := openPTY(t)
	if !obs.IsTerminal(tty) {
		t.Fatal("a pty is not a terminal")
	}
	read := make(chan string, 1)
	go func() {
		b := make([]byte, 4096)
		n, _ := master.Read(b)
		read <- string(b[:n])
	}()
	cfg := config{AdminUser: "admin", DataDir: filepath.Join(t.TempDir(), "data")}
	if err := showConsolePassword(cfg, "generated-password-123", tty, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-read:
		if !strings.Contains(got, `Console password for "admin": generated-password-123`) {
			t.Errorf("terminal shows %q, want the password", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("nothing on the terminal within 30 s")
	}
	if _, err := os.Stat(cfg.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data directory: %v, want none written", err)
	}
}

// openPTY opens a pseudo-terminal: what is written to tty is read from
// master.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	var n, unlock uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Skipf("unlock pty: %v", e)
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Skipf("pty number: %v", e)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pty: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return master, tty
}

// waitServing waits for /healthz to answer 200, or run to end.
func waitServing(t *testing.T, base string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("run ended before serving: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("not serving within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
