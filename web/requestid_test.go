package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"birdcar/web/obs"
)

// TestRequestID_Header: a request keeps a safe X-Request-Id it brings, and
// gets a generated one otherwise, on every answer.
func TestRequestID_Header(t *testing.T) {
	t.Parallel()
	generated := regexp.MustCompile(`^[0-9a-f]{16}$`)
	tests := []struct {
		name, sent, want string // want "" means a generated id
	}{
		{"honoured", "edge-7f3a.proxy_1", "edge-7f3a.proxy_1"},
		{"absent", "", ""},
		{"too long", strings.Repeat("a", obs.MaxRequestIDLen+1), ""},
		{"longest kept", strings.Repeat("a", obs.MaxRequestIDLen), strings.Repeat("a", obs.MaxRequestIDLen)},
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
	b.srv.Logger = slog.New(obs.NewLogHandler(&buf, "json", slog.LevelInfo))

	// A delivery report for no message of ours is logged and acknowledged.
	req := httptest.NewRequest("GET", "/webhook-status?reference=nope&status=delivered", nil)
	req.Header.Set("X-Request-Id", "trace-42")
	if resp := b.do(t, req); resp.StatusCode != 200 {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	var line map[string]any
	if n := strings.Count(buf.String(), "\n"); n != 1 || json.Unmarshal(buf.Bytes(), &line) != nil {
		t.Fatalf("logged %d lines, want one JSON line:\n%s", n, buf.String())
	}
	if got := line["request_id"]; got != "trace-42" {
		t.Errorf("request_id = %v, want trace-42", got)
	}
}
