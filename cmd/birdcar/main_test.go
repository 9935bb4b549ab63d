package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"birdcar/sql/dbtest"
)

func TestMain(m *testing.M) {
	// Re-executed by TestMainProcess as the real command.
	if os.Getenv("BIRDCAR_TEST_MAIN") == "1" {
		os.Args = append([]string{"birdcar"}, strings.Fields(os.Getenv("BIRDCAR_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	dbtest.Main(m)
}

func TestLoadConfig_Defaults(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(nil, filepath.Join(t.TempDir(), "missing.env"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 8080 || cfg.DefaultCountry != "NL" || cfg.GracePeriod != 24*time.Hour || cfg.SendMaxAttempts != 25 ||
		cfg.DataDir != ".birdcar" || cfg.MessageBirdURL != "https://rest.messagebird.com" || cfg.PublicURL != "http://localhost:8080" ||
		cfg.AdminUser != "admin" || len(cfg.APITokens) != 0 || cfg.MaxConnsPerIP != 512 || len(cfg.TrustedProxies) != 0 ||
		cfg.UnsignedWebhooks {
		t.Errorf("defaults = %+v", cfg)
	}
}

func TestLoadConfig_DotenvAndEnvironment(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".env")
	dotenv := "# comment\nPORT=9090\nexport DEFAULT_COUNTRY='gb'\nAPI_TOKENS=\"aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb\"\nRIDE_GRACE_PERIOD=2h\n"
	if err := os.WriteFile(path, []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig([]string{"PORT=7070"}, path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 7070 {
		t.Errorf("PORT = %d: the environment must win over .env", cfg.Port)
	}
	if cfg.DefaultCountry != "GB" || cfg.GracePeriod != 2*time.Hour || len(cfg.APITokens) != 2 || cfg.APITokens[1] != "bbbbbbbbbbbbbbbb" {
		t.Errorf("from .env: %+v", cfg)
	}
}

func TestLoadConfig_Malformed(t *testing.T) {
	t.Parallel()
	for _, kv := range []string{
		"PORT=abc", "PORT=0", "PORT=70000", "SEND_MAX_ATTEMPTS=none", "MESSAGEBIRD_BASE_URL=ftp://x",
		"PUBLIC_URL=localhost:8080", "API_TOKENS=short", "DEFAULT_COUNTRY=Netherlands", "RIDE_GRACE_PERIOD=1 day",
		"RIDE_GRACE_PERIOD=-1h", "RIDE_AUTO_END_AFTER=soon", "POOL_LOW_WATERMARK=few", "LOG_FORMAT=xml", "LOG_LEVEL=loud",
		"METRICS_ADDR=9090", "RIVER_WORKERS=0", "WEBHOOK_CONCURRENCY=-1", "METRICS_TOKEN=short",
		"TRUSTED_PROXIES=10.0.0.1,proxy.example.com", "TRUSTED_PROXIES=10.0.0.0/33", "TRUSTED_PROXIES=10.0.0.1;10.0.0.2",
		"MAX_CONNS_PER_IP=-1", "MAX_CONNS_PER_IP=many", "ALLOW_UNSIGNED_WEBHOOKS=maybe",
		"EVENTS_URL=ftp://platform.example", "RETENTION_PERIOD=forever", "OUT_OF_SESSION_WINDOW=-1d",
	} {
		_, err := loadConfig([]string{kv}, filepath.Join(t.TempDir(), "none"))
		name, _, _ := strings.Cut(kv, "=")
		var ce *configError
		if !errors.As(err, &ce) || ce.Name != name || !strings.HasPrefix(err.Error(), name+"=") {
			t.Errorf("%s: error %v, want one naming %s", kv, err, name)
		}
	}
	for _, secret := range []string{"", strings.Repeat("s", 31)} {
		_, err := loadConfig([]string{"EVENTS_URL=https://platform.example/birdcar", "EVENTS_SECRET=" + secret}, filepath.Join(t.TempDir(), "none"))
		if ce, ok := errors.AsType[*configError](err); !ok || ce.Name != "EVENTS_SECRET" || strings.Contains(err.Error(), secret+"\"") && secret != "" {
			t.Errorf("EVENTS_SECRET of %d characters: %v, want a refusal naming it, not showing it", len(secret), err)
		}
	}
	cfg, err := loadConfig([]string{"EVENTS_URL=https://platform.example/birdcar", "EVENTS_SECRET=" + strings.Repeat("s", 32), "RETENTION_PERIOD=30d"}, filepath.Join(t.TempDir(), "none"))
	if err != nil || cfg.EventsURL == "" || cfg.Retention != 30*24*time.Hour || cfg.OutOfSessionWindow != 7*24*time.Hour {
		t.Errorf("events config: %+v, %v", cfg, err)
	}
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte("PORT 8080\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfig(nil, path); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad .env line: %v", err)
	}
}

func TestLoadConfig_WebSettings(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig([]string{"TRUSTED_PROXIES= 10.0.0.1, 192.168.0.0/16 ,::1", "MAX_CONNS_PER_IP=0",
		"METRICS_TOKEN=metrics-token-0123456789"}, filepath.Join(t.TempDir(), "none"))
	if err != nil {
		t.Fatal(err)
	}
	srv := cfg.webServer()
	if strings.Join(srv.TrustedProxies, " ") != "10.0.0.1 192.168.0.0/16 ::1" || srv.MaxConnsPerIP != 0 ||
		srv.MetricsToken != "metrics-token-0123456789" || srv.UnsignedWebhooks {
		t.Errorf("web settings: proxies %q, max conns %d, metrics token %q, unsigned %v",
			srv.TrustedProxies, srv.MaxConnsPerIP, srv.MetricsToken, srv.UnsignedWebhooks)
	}
}

// TestLoadConfig_LiveNeedsSigningKey: live (a MessageBird key, or a public
// address) without a signing key lets anyone forge webhooks and unmask
// numbers, so BirdCar refuses to start unless told to accept that.
func TestLoadConfig_LiveNeedsSigningKey(t *testing.T) {
	t.Parallel()
	const key, signing, allow = "MESSAGEBIRD_API_KEY=live_key", "MESSAGEBIRD_SIGNING_KEY=signing-key", "ALLOW_UNSIGNED_WEBHOOKS=1"
	for _, tc := range []struct {
		env      []string
		refused  bool
		unsigned bool
	}{
		{env: nil},
		{env: []string{"PUBLIC_URL=http://127.0.0.1:8080"}},
		{env: []string{"PUBLIC_URL=http://[::1]:8080"}},
		{env: []string{"PUBLIC_URL=https://localhost"}},
		{env: []string{key}, refused: true},
		{env: []string{"PUBLIC_URL=https://birdcar.example.com"}, refused: true},
		{env: []string{"PUBLIC_URL=http://192.168.1.10:8080"}, refused: true},
		{env: []string{key, signing}},
		{env: []string{"PUBLIC_URL=https://birdcar.example.com", signing}},
		{env: []string{key, allow}, unsigned: true},
		{env: []string{"PUBLIC_URL=https://birdcar.example.com", "ALLOW_UNSIGNED_WEBHOOKS=true"}, unsigned: true},
		{env: []string{key, signing, allow}},
		{env: []string{allow}}, // not live: nothing to allow
	} {
		cfg, err := loadConfig(tc.env, filepath.Join(t.TempDir(), "none"))
		if tc.refused {
			if err == nil || !strings.Contains(err.Error(), "MESSAGEBIRD_SIGNING_KEY") || !strings.Contains(err.Error(), "ALLOW_UNSIGNED_WEBHOOKS=1") {
				t.Errorf("%v: %v, want a refusal naming MESSAGEBIRD_SIGNING_KEY and ALLOW_UNSIGNED_WEBHOOKS=1", tc.env, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.env, err)
			continue
		}
		if cfg.UnsignedWebhooks != tc.unsigned || cfg.webServer().UnsignedWebhooks != tc.unsigned {
			t.Errorf("%v: unsigned webhooks %v, want %v", tc.env, cfg.UnsignedWebhooks, tc.unsigned)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestRun_Errors(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	foreign := t.TempDir()
	if err := os.WriteFile(filepath.Join(foreign, "notes.txt"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"bad port", nil, []string{"PORT=abc"}, `PORT="abc" is not valid`},
		{"port in use", nil, []string{fmt.Sprintf("PORT=%d", busyPort)}, fmt.Sprintf("cannot listen on port %d", busyPort)},
		{"bad URL", nil, []string{fmt.Sprintf("PORT=%d", freePort(t)), "DATABASE_URL=not a url at all:::"}, "DATABASE_URL: not a valid PostgreSQL URL"},
		{"unreachable", nil, []string{fmt.Sprintf("PORT=%d", freePort(t)), "DATABASE_URL=postgres://u:secret@127.0.0.1:1/db"}, "DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:1"},
		{"unknown command", []string{"fly"}, nil, `unknown command "fly"`},
		{"live, unsigned", nil, []string{fmt.Sprintf("PORT=%d", freePort(t)), "MESSAGEBIRD_API_KEY=live_key"}, "MESSAGEBIRD_SIGNING_KEY is not set"},
		{"foreign data dir", nil, []string{fmt.Sprintf("PORT=%d", freePort(t)), "BIRDCAR_DATA_DIR=" + foreign}, "BIRDCAR_DATA_DIR: unsuitable data directory: " + foreign + " is not empty"},
	}
	for _, tc := range cases {
		err := run(t.Context(), tc.args, tc.env, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error shows the password: %v", tc.name, err)
		}
	}
}

// TestMainProcess runs the command as a process: a bad environment gives
// one clear line on stderr and exit status 1.
func TestMainProcess(t *testing.T) {
	t.Parallel()
	for _, env := range [][]string{{"PORT=abc"}, {"DATABASE_URL=postgres://u@127.0.0.1:1/db", fmt.Sprintf("PORT=%d", freePort(t))}} {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), append(env, "BIRDCAR_TEST_MAIN=1")...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("%v: %v, want exit status 1", env, err)
		}
		out := strings.TrimSpace(stderr.String())
		if !strings.HasPrefix(out, "birdcar: ") || strings.Count(out, "\n") != 0 || strings.Contains(out, "goroutine") {
			t.Errorf("%v: stderr %q, want one line", env, out)
		}
	}
}

// TestRun_ServesDashboardWithSampleData starts BirdCar against a fresh
// database, as go run does, logs in, sees the sample data, and stops it the
// way Ctrl-C does.
func TestRun_ServesDashboardWithSampleData(t *testing.T) {
	t.Parallel()
	_, dbURL := dbtest.FreshDB(t)
	port := freePort(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	var out syncBuffer
	env := []string{"DATABASE_URL=" + dbURL, fmt.Sprintf("PORT=%d", port), "ADMIN_PASSWORD=sample-test-password"}
	go func() { done <- run(ctx, nil, env, &out) }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("not serving within 20 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{
		"user": {"admin"}, "password": {"sample-test-password"}, "next": {"/people"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	people, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/people" {
		t.Fatalf("login: %d at %s, want the people page", resp.StatusCode, resp.Request.URL)
	}
	resp, err = client.Get(base + "/numbers")
	if err != nil {
		t.Fatal(err)
	}
	numbers, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"Caitlin Carter", "Dave Driver"} {
		if !bytes.Contains(people, []byte(want)) {
			t.Errorf("people page lacks sample %q", want)
		}
	}
	if !bytes.Contains(numbers, []byte("+44 7700 900201")) {
		t.Error("numbers page lacks the sample pool")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after Ctrl-C: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop within 30 s of the signal")
	}
	if !strings.Contains(out.String(), fmt.Sprintf("http://localhost:%d", port)) {
		t.Errorf("startup did not print the URL to open:\n%s", out.String())
	}
}

// syncBuffer is a buffer run may write to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestRun_SignalWhileConnecting stops serve while it waits for a database
// that accepted the connection but never answers: that is a clean stop, as
// a signal once running is. seed, interrupted, did not do its job: an error.
func TestRun_SignalWhileConnecting(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"serve", "--role=worker"}, {"seed"}} {
		t.Run(args[0], func(t *testing.T) {
			t.Parallel()
			hung, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer hung.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				if c, err := hung.Accept(); err == nil {
					accepted <- c
				}
			}()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			env := []string{fmt.Sprintf("DATABASE_URL=postgres://u:p@%s/db", hung.Addr())}
			done := make(chan error, 1)
			go func() { done <- run(ctx, args, env, io.Discard) }()
			select {
			case c := <-accepted:
				defer c.Close()
			case err := <-done:
				t.Fatalf("ended before connecting: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("no connection within 30 s")
			}
			cancel() // as SIGTERM would
			select {
			case err := <-done:
				if wantErr := args[0] == "seed"; (err != nil) != wantErr {
					t.Errorf("after a signal while connecting: %v, want an error: %v", err, wantErr)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no return within 30 s of the signal")
			}
		})
	}
}
