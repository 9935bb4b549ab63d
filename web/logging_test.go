package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// logLines decodes the JSON lines written to buf.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for line := range strings.Lines(buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// logOne logs one record through a JSON NewLogHandler and returns it decoded.
func logOne(t *testing.T, log func(*slog.Logger)) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	log(slog.New(NewLogHandler(&buf, "json", slog.LevelDebug)))
	lines := logLines(t, &buf)
	if len(lines) != 1 {
		t.Fatalf("logged %d lines, want 1:\n%s", len(lines), buf.String())
	}
	return lines[0]
}

func TestLogHandler_RequestIDFromContext(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(NewLogHandler(&buf, "json", slog.LevelInfo))
	logger.InfoContext(withRequestID(t.Context(), "req-1"), "in a request")
	logger.InfoContext(t.Context(), "outside any request")

	lines := logLines(t, &buf)
	if len(lines) != 2 {
		t.Fatalf("logged %d lines, want 2", len(lines))
	}
	if got := lines[0]["request_id"]; got != "req-1" {
		t.Errorf("request_id = %v, want req-1", got)
	}
	if got, ok := lines[1]["request_id"]; ok {
		t.Errorf("request_id = %v outside a request, want none", got)
	}
}

func TestLogHandler_MasksPhonesAtInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  string
		with []any // added with Logger.With
		args []any
		key  string // dotted path into the JSON line
		sent string // the value logged, and kept at Debug
		info string // at Info
	}{
		{"E.164", "m", nil, []any{"from", "+31612345678"}, "from", "+31612345678", "*********678"},
		{"MessageBird digits", "m", nil, []any{"to", "31612345678"}, "to", "31612345678", "********678"},
		{"spaced", "m", nil, []any{"to", "call +31 6 1234 5678 now"}, "to", "call +31 6 1234 5678 now", "call ************678 now"},
		{"message", "forward to +31612345678", nil, nil, "msg", "forward to +31612345678", "forward to *********678"},
		{"in a group", "m", nil, []any{slog.Group("route", "caller", "+31612345678")}, "route.caller", "+31612345678", "*********678"},
		{"in an error", "m", nil, []any{"err", errors.New("no route for +31612345678")}, "err", "no route for +31612345678", "no route for *********678"},
		{"added with With", "m", []any{"caller", "+31612345678"}, nil, "caller", "+31612345678", "*********678"},
		{"too few digits", "m", nil, []any{"ride", "ride 1234567"}, "ride", "ride 1234567", "ride 1234567"},
		{"inside an id", "m", nil, []any{"id", "2ef4c1e301912345678ab"}, "id", "2ef4c1e301912345678ab", "2ef4c1e301912345678ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for level, want := range map[slog.Level]string{slog.LevelDebug: tt.sent, slog.LevelInfo: tt.info, slog.LevelError: tt.info} {
				line := logOne(t, func(l *slog.Logger) { l.With(tt.with...).Log(t.Context(), level, tt.msg, tt.args...) })
				if got := lookup(line, tt.key); got != want {
					t.Errorf("at %v %s = %v, want %q", level, tt.key, got, want)
				}
			}
		})
	}
}

func TestLogHandler_RequestIDNeverMasked(t *testing.T) {
	t.Parallel()
	line := logOne(t, func(l *slog.Logger) { l.InfoContext(withRequestID(t.Context(), "31612345678"), "m") })
	if got := line["request_id"]; got != "31612345678" {
		t.Errorf("request_id = %v, want it as sent", got)
	}
}

// Debug and Info records go through different handlers to one writer:
// under -race this proves they share its lock.
func TestLogHandler_ConcurrentLevels(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(NewLogHandler(&buf, "json", slog.LevelDebug))
	var wg sync.WaitGroup
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		wg.Go(func() {
			for range 100 {
				logger.Log(t.Context(), level, "m", "to", "+31612345678")
			}
		})
	}
	wg.Wait()
	if lines := logLines(t, &buf); len(lines) != 200 {
		t.Errorf("logged %d whole lines, want 200", len(lines))
	}
}

func TestLogHandler_RedactsSecrets(t *testing.T) {
	t.Parallel()
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelError} {
		line := logOne(t, func(l *slog.Logger) {
			l.With("api_token", "tok").Log(t.Context(), level, "m",
				"password", "hunter2", "Authorization", "Bearer abc", "SIGNING_KEY", "k",
				"session_cookie", "c", slog.Group("secret", "value", "s"),
				slog.Group("webhook", "client_secret", "s2", "path", "/webhook"))
		})
		for _, key := range []string{"api_token", "password", "Authorization", "SIGNING_KEY", "session_cookie", "secret.value", "webhook.client_secret"} {
			if got := lookup(line, key); got != redacted {
				t.Errorf("at %v %s = %v, want %q", level, key, got, redacted)
			}
		}
		if got := lookup(line, "webhook.path"); got != "/webhook" {
			t.Errorf("at %v webhook.path = %v, want it kept", level, got)
		}
	}
}

func TestNewLogHandler_Format(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	slog.New(NewLogHandler(&buf, "text", slog.LevelInfo)).Info("hello", "n", 1)
	if got := buf.String(); !strings.Contains(got, "level=INFO msg=hello n=1") {
		t.Errorf("text format wrote %q", got)
	}

	// A writer that is no terminal (a pipe, a file, a collector) gets JSON.
	buf.Reset()
	slog.New(NewLogHandler(&buf, "", slog.LevelInfo)).Info("hello")
	if lines := logLines(t, &buf); len(lines) != 1 || lines[0]["msg"] != "hello" {
		t.Errorf("default format to a buffer wrote %q, want a JSON line", buf.String())
	}

	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	tty, err := os.Open(os.DevNull) // a character device, as a terminal is
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	if isTerminal(file) || !isTerminal(tty) {
		t.Errorf("isTerminal(file) = %v, isTerminal(%s) = %v; want false, true", isTerminal(file), os.DevNull, isTerminal(tty))
	}
}

func TestRequestID_Header(t *testing.T) {
	t.Parallel()
	generated := regexp.MustCompile(`^[0-9a-f]{16}$`)
	tests := []struct {
		name, sent, want string // want "" means a generated id
	}{
		{"honoured", "edge-7f3a.proxy_1", "edge-7f3a.proxy_1"},
		{"absent", "", ""},
		{"too long", strings.Repeat("a", maxRequestIDLen+1), ""},
		{"longest kept", strings.Repeat("a", maxRequestIDLen), strings.Repeat("a", maxRequestIDLen)},
		{"unsafe characters", "abc\"def", ""},
		{"spaces", "abc def", ""},
	}
	b := setup(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/healthz", nil)
			if tt.sent != "" {
				req.Header.Set("X-Request-Id", tt.sent)
			}
			got := b.do(t, req).Header.Get("X-Request-Id")
			switch {
			case tt.want != "" && got != tt.want:
				t.Errorf("X-Request-Id = %q, want %q", got, tt.want)
			case tt.want == "" && !generated.MatchString(got):
				t.Errorf("X-Request-Id = %q, want 16 generated hex characters", got)
			}
		})
	}

	first := b.do(t, httptest.NewRequest("GET", "/healthz", nil)).Header.Get("X-Request-Id")
	second := b.do(t, httptest.NewRequest("GET", "/healthz", nil)).Header.Get("X-Request-Id")
	if first == second {
		t.Errorf("two requests were both given id %q", first)
	}
	// Errors answered by the error handler carry it too.
	if got := b.do(t, httptest.NewRequest("GET", "/api/v1/nothing", nil)).Header.Get("X-Request-Id"); !generated.MatchString(got) {
		t.Errorf("X-Request-Id on an error = %q, want a generated id", got)
	}
}

// TestRequestID_InLogs follows an id from the request header into a
// handler's log line.
func TestRequestID_InLogs(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var buf bytes.Buffer
	b.srv.Logger = slog.New(NewLogHandler(&buf, "json", slog.LevelInfo))

	// A delivery report for no message of ours is logged and acknowledged.
	req := httptest.NewRequest("GET", "/webhook-status?reference=nope&status=delivered", nil)
	req.Header.Set("X-Request-Id", "trace-42")
	if resp := b.do(t, req); resp.StatusCode != 200 {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	lines := logLines(t, &buf)
	if len(lines) != 1 {
		t.Fatalf("logged %d lines, want 1:\n%s", len(lines), buf.String())
	}
	if got := lines[0]["request_id"]; got != "trace-42" {
		t.Errorf("request_id = %v, want trace-42", got)
	}
}

// lookup follows a dotted key through nested JSON objects.
func lookup(m map[string]any, key string) any {
	var v any = m
	for part := range strings.SplitSeq(key, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[part]
	}
	return v
}
