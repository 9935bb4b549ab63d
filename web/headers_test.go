package web

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// wantSecurityHeaders checks the headers every answer carries.
func wantSecurityHeaders(t *testing.T, what string, r *http.Response, secure bool) {
	t.Helper()
	for k, want := range map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "frame-ancestors 'none'",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
		"Referrer-Policy":         "same-origin",
	} {
		if got := r.Header.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("%s: %s %q, want %q", what, k, got, want)
		}
	}
	want := []string(nil)
	if secure {
		want = []string{"max-age=31536000"}
	}
	if got := r.Header.Values("Strict-Transport-Security"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: Strict-Transport-Security %q, want %q", what, got, want)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprint("secure=", secure), func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil).withAdmin(t)
			b.srv.SecureCookies = secure
			f := b.activeRide(t)
			voice := "/webhook-voice?" + url.Values{"source": {digits(f.customer.Phone)}, "destination": {digits(f.ride.ProxyNumber)}, "callID": {"c"}}.Encode()
			api := func(path string) *http.Request {
				req := httptest.NewRequest("GET", path, nil)
				req.Header.Set("Authorization", "Bearer "+testToken)
				return req
			}
			for _, c := range []struct {
				name   string
				req    *http.Request
				status int
			}{
				{"console page", b.signIn(t, httptest.NewRequest("GET", "/rides", nil)), 200},
				{"console fragment", b.signIn(t, withHX(httptest.NewRequest("GET", "/rides/list", nil))), 200},
				{"login page", httptest.NewRequest("GET", "/login", nil), 200},
				{"redirect to the login", httptest.NewRequest("GET", "/people", nil), 303},
				{"API answer", api("/api/v1/rides/" + itoa(f.ride.ID)), 200},
				{"API error", api("/api/v1/rides/999999"), 404},
				{"webhook answer", httptest.NewRequest("GET", voice, nil), 200},
				{"webhook error", httptest.NewRequest("PUT", "/webhook", nil), 405},
				{"error page", b.signIn(t, httptest.NewRequest("GET", "/no/such/page", nil)), 404},
				{"health", httptest.NewRequest("GET", "/healthz", nil), 200},
			} {
				r := b.do(t, c.req)
				if r.StatusCode != c.status {
					t.Errorf("%s: status %d, want %d", c.name, r.StatusCode, c.status)
				}
				wantSecurityHeaders(t, c.name, r, secure)
			}
			// An error fasthttp raises before any handler runs: a broken chunk.
			r := b.rawHTTP(t, "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
				"Transfer-Encoding: chunked\r\n\r\nzz\r\nid=1\r\n0\r\n\r\n")
			if r.StatusCode != 400 {
				t.Errorf("broken chunk: status %d, want 400", r.StatusCode)
			}
			wantSecurityHeaders(t, "broken chunk", r, secure)

			// Static files keep their own caching, and the rest.
			r = b.do(t, httptest.NewRequest("GET", "/static/birdcar.css", nil))
			if got := r.Header.Get("Cache-Control"); r.StatusCode != 200 || got != "public, max-age=3600" {
				t.Errorf("static file: %d, Cache-Control %q", r.StatusCode, got)
			}
			if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("static file without the security headers: %v", r.Header)
			}
		})
	}
}

func withHX(req *http.Request) *http.Request {
	req.Header.Set("HX-Request", "true")
	return req
}

// TestSecurityHeaders_RiverUI: River UI answers under the same headers,
// whatever it sets itself, and the policy leaves its scripts alone.
func TestSecurityHeaders_RiverUI(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.srv = NewServer(t.Context(), &Server{
		Rides: b.Rides, Admin: b.srv.Admin, Logger: b.srv.Logger,
		RiverUI: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, `<!doctype html><script type="module" src="/riverui/assets/index.js"></script><div id="root"></div>`)
		}),
	})
	r := b.do(t, b.signIn(t, httptest.NewRequest("GET", "/riverui/jobs", nil)))
	if r.StatusCode != 200 {
		t.Fatalf("River UI: %d", r.StatusCode)
	}
	wantSecurityHeaders(t, "River UI", r, false)
	if csp := r.Header.Get("Content-Security-Policy"); strings.Contains(csp, "script-src") || strings.Contains(csp, "default-src") {
		t.Errorf("the policy %q restricts River UI's scripts", csp)
	}
}
