package web

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLoginLimiter_GrowingWaits(t *testing.T) {
	t.Parallel()
	l := newLoginLimiter()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range loginFreeFailures {
		if w := l.attempt(now, "a"); w != 0 {
			t.Fatalf("free failure %d: wait %v", i+1, w)
		}
	}
	// Each failure past the free ones doubles the wait, up to the cap; an
	// attempt during a wait is refused and changes nothing.
	want := loginFirstDelay
	var waits []string
	for range 14 {
		if w := l.attempt(now, "a"); w != 0 {
			t.Fatalf("attempt after the wait refused: %v", w)
		}
		w := l.attempt(now, "a")
		if w != want {
			t.Fatalf("wait %v, want %v (waits so far %v)", w, want, waits)
		}
		if w := l.attempt(now.Add(w-time.Millisecond), "a"); w != time.Millisecond {
			t.Fatalf("just before the wait ends: %v to go, want 1ms", w)
		}
		waits = append(waits, w.String())
		now = now.Add(w)
		want = min(want*2, loginMaxDelay)
	}
	if got := strings.Join(waits, " "); got != "1s 2s 4s 8s 16s 32s 1m4s 2m8s 4m16s 8m32s 15m0s 15m0s 15m0s 15m0s" {
		t.Errorf("waits %s", got)
	}
	// An address that has not failed is never held back.
	if w := l.attempt(now, "b"); w != 0 {
		t.Errorf("another address waits %v", w)
	}
	// A success forgets the failures; so does a quiet spell past the wait.
	l.attempt(now, "a")
	l.forget("a")
	for i := range loginFreeFailures + 1 {
		if w := l.attempt(now, "a"); w != 0 {
			t.Fatalf("after a success, failure %d: wait %v", i+1, w)
		}
	}
	now = now.Add(loginFirstDelay + loginForgetAfter)
	for i := range loginFreeFailures + 1 {
		if w := l.attempt(now, "a"); w != 0 {
			t.Fatalf("after a quiet spell, failure %d: wait %v", i+1, w)
		}
	}
}

func TestLoginLimiter_StaysBounded(t *testing.T) {
	t.Parallel()
	l := newLoginLimiter()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range loginMaxEntries + 500 {
		l.attempt(now, strconv.Itoa(i))
	}
	if n := len(l.entries); n > loginMaxEntries {
		t.Errorf("%d entries, want at most %d", n, loginMaxEntries)
	}
}

func TestLoginKeyAndWaitText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.7":               "192.0.2.7/32",
		"2001:db8:1:2:3:4:5:6":    "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1234": "2001:db8:1:2::/64",
	} {
		if got := loginKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("loginKey(%s) = %s, want %s", in, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		time.Second: "1 second", 1500 * time.Millisecond: "2 seconds", 59 * time.Second: "59 seconds",
		59*time.Second + time.Millisecond: "1 minute", 4*time.Minute + 16*time.Second: "5 minutes", loginMaxDelay: "15 minutes",
	} {
		if got := waitText(d); got != want {
			t.Errorf("waitText(%v) = %q, want %q", d, got, want)
		}
	}
}

// serveTCP serves srv on a loopback listener until the test ends and
// returns its address.
func serveTCP(t *testing.T, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(5 * time.Second) })
	return ln.Addr().String()
}

// clientFrom is an HTTP client whose connections come from the loopback
// address ip (all of 127.0.0.0/8 is this machine's), following no
// redirects.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// TestLogin_LockOutIsPerClientAddress logs in over real connections from
// several loopback addresses, one of them the trusted proxy 127.0.0.1.
func TestLogin_LockOutIsPerClientAddress(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	srv := NewServer(t.Context(), &Server{Rides: b.Rides, Admin: b.srv.Admin, Logger: b.srv.Logger,
		TrustedProxies: []string{"127.0.0.1"}})
	addr := serveTCP(t, srv)
	clients := map[string]*http.Client{}
	for _, ip := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		clients[ip] = clientFrom(t, ip)
	}
	login := func(from, forwardedFor, password string) *http.Response {
		t.Helper()
		form := url.Values{"user": {testAdminUser}, "password": {password}, "next": {"/"}}
		req, err := http.NewRequestWithContext(t.Context(), "POST", "http://"+addr+"/login", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if forwardedFor != "" {
			req.Header.Set("X-Forwarded-For", forwardedFor)
		}
		resp, err := clients[from].Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	status := func(what string, r *http.Response, want int) {
		t.Helper()
		if r.StatusCode != want {
			t.Errorf("%s: %d, want %d", what, r.StatusCode, want)
		}
		if signedIn := len(r.Cookies()) > 0; signedIn != (want == http.StatusSeeOther) {
			t.Errorf("%s: signed in %v", what, signedIn)
		}
	}

	for i := range 6 {
		status("wrong password "+strconv.Itoa(i+1)+" from 127.0.0.2", login("127.0.0.2", "", "guess"), http.StatusUnauthorized)
	}
	// The offending address waits, and is told how long; even the right
	// password is refused, or the answer would tell a guess right from wrong.
	r := login("127.0.0.2", "", testAdminPassword)
	status("right password from 127.0.0.2", r, http.StatusTooManyRequests)
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
	if got := parseHTML(t, r).Find(`[data-testid="login-error"]`).Text(); got != "Too many failed attempts from your address. Try again in 1 second." {
		t.Errorf("error %q", got)
	}
	// Another address logs in as the same user at once.
	status("right password from 127.0.0.3", login("127.0.0.3", "", testAdminPassword), http.StatusSeeOther)
	// An untrusted peer's X-Forwarded-For is ignored either way.
	status("127.0.0.2 forging X-Forwarded-For", login("127.0.0.2", "127.0.0.3", testAdminPassword), http.StatusTooManyRequests)
	status("127.0.0.4 forging X-Forwarded-For: 127.0.0.2", login("127.0.0.4", "127.0.0.2", testAdminPassword), http.StatusSeeOther)
	// Through the trusted proxy the client is the last address it did not
	// add itself: what is left of that the client wrote.
	for _, c := range []struct {
		forwardedFor string
		want         int
	}{
		{"127.0.0.2", http.StatusTooManyRequests},
		{"127.0.0.9, 127.0.0.2", http.StatusTooManyRequests},
		{"127.0.0.2, 127.0.0.1", http.StatusTooManyRequests},
		{"127.0.0.2:51234", http.StatusTooManyRequests},
		{"127.0.0.2, 127.0.0.5", http.StatusSeeOther},
		{"127.0.0.5", http.StatusSeeOther},
	} {
		status("through the proxy for "+c.forwardedFor, login("127.0.0.1", c.forwardedFor, testAdminPassword), c.want)
	}
	b.Clock.Advance(time.Second)
	status("127.0.0.2 after its wait", login("127.0.0.2", "", testAdminPassword), http.StatusSeeOther)
}
