package obs

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
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
	logger.InfoContext(WithRequestID(t.Context(), "req-1"), "in a request")
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
	line := logOne(t, func(l *slog.Logger) { l.InfoContext(WithRequestID(t.Context(), "31612345678"), "m") })
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
	if IsTerminal(file) || !IsTerminal(tty) {
		t.Errorf("IsTerminal(file) = %v, IsTerminal(%s) = %v; want false, true", IsTerminal(file), os.DevNull, IsTerminal(tty))
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
