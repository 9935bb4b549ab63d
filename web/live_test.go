package web

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"birdcar/components"
	"birdcar/jobs/messagebird"
	"birdcar/sql/admin"
	"birdcar/sql/ride"
)

// liveStream serves BirdCar on a real listener and opens an event stream
// at path as a signed-in operator; its lines arrive on the channel, which
// is closed when the stream ends.
func liveStream(t *testing.T, path string, configure ...func(*Server)) (*Server, string, <-chan string) {
	t.Helper()
	srv := &Server{Admin: &admin.Service{User: testAdminUser}}
	for _, f := range configure {
		f(srv)
	}
	base := serveLive(t, messagebird.Sandbox{}, &ride.Service{DefaultCountry: "NL", GracePeriod: time.Hour}, srv)
	op, err := srv.Admin.EnsureFirstAdmin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	token, err := srv.Admin.StartSession(t.Context(), op)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cookie", sessionCookie+"="+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return srv, base, lines
}

// waitLine waits for a line that starts with prefix, up to d.
func waitLine(t *testing.T, lines <-chan string, prefix string, d time.Duration) string {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended before a line %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line %q within %s", prefix, d)
		}
	}
}

func TestLive_InsertedMessageReachesStream(t *testing.T) {
	t.Parallel()
	srv, base, lines := liveStream(t, "/events/stream?kinds=message")
	waitLine(t, lines, ": live", 5*time.Second)
	for deadline := time.Now().Add(10 * time.Second); !srv.Feed.Live(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the feed did not go live")
		}
	}

	// A stranger's text: recorded (unmatched), which notifies.
	form := url.Values{"id": {"live-1"}, "originator": {"31612345678"}, "recipient": {"3197000000001"}, "payload": {"hello"}}
	resp, err := http.PostForm(base+"/webhook", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
	// An unmatched text's change (with "*" perhaps: the feed went live
	// after the stream opened).
	for {
		if l := waitLine(t, lines, "data: ", 5*time.Second); strings.Contains(" "+l[len("data: "):]+" ", " message:0 ") {
			break
		}
	}
}

func TestLive_StreamFiltersByRide(t *testing.T) {
	t.Parallel()
	f := streamFilter{ride: 7, kinds: []string{ride.ChangeMessage}}
	for _, c := range []struct {
		change ride.Change
		want   bool
	}{
		{ride.Change{Kind: ride.ChangeMessage, RideID: 7}, true},
		{ride.Change{Kind: ride.ChangeMessage, RideID: 8}, false},
		{ride.Change{Kind: ride.ChangeCall, RideID: 7}, false},
		{ride.Change{Kind: ride.ChangeAll}, true},
	} {
		if got := f.match(c.change); got != c.want {
			t.Errorf("match(%+v) = %v, want %v", c.change, got, c.want)
		}
	}
}

func TestLive_ShutdownEndsOpenStreams(t *testing.T) {
	t.Parallel()
	srv, _, lines := liveStream(t, "/events/stream")
	waitLine(t, lines, ": live", 5*time.Second)
	start := time.Now()
	if err := srv.Shutdown(10 * time.Second); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("shutdown with an open stream took %s", took)
	}
	select {
	case _, ok := <-lines:
		for ok {
			_, ok = <-lines
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream stayed open after shutdown")
	}
}

// TestLive_StreamEndsWithItsSession: a stream opened by an operator who
// is then disabled ends at its next heartbeat.
func TestLive_StreamEndsWithItsSession(t *testing.T) {
	t.Parallel()
	srv, _, lines := liveStream(t, "/events/stream", func(s *Server) { s.StreamHeartbeat = 50 * time.Millisecond })
	waitLine(t, lines, ": ping", 5*time.Second)
	if _, err := srv.Admin.DB.Exec(t.Context(), `UPDATE operators SET disabled = true WHERE username = $1`, testAdminUser); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-lines:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the stream still runs 5 s after its operator was disabled")
		}
	}
}

func TestLive_StreamNeedsLogin(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	resp := b.do(t, httptest.NewRequest("GET", "/events/stream", nil))
	if resp.StatusCode == 200 {
		t.Fatalf("an anonymous stream: %d", resp.StatusCode)
	}
}

func TestSends_TroubleFirstAndFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	f := b.activeRide(t)
	notes := b.rideMessages(t, f.ride, func(m ride.Message) bool { return m.Kind == ride.KindNotification })
	if len(notes) != 2 {
		t.Fatalf("notifications: %d", len(notes))
	}
	ctx := t.Context()
	down := failingSender{&ride.SendError{Failure: ride.FailureServer, Reason: "MessageBird unavailable (server error)"}}
	refused := failingSender{&ride.SendError{Failure: ride.FailureRejected, Reason: "MessageBird rejected the message: invalid recipient"}}
	retrying, bad := notes[0], notes[1]
	if _, err := b.Rides.Deliver(ctx, down, retrying.ID, 1, 5); err == nil {
		t.Fatal("want a failure")
	}
	if _, err := b.Rides.Deliver(ctx, refused, bad.ID, 1, 5); err == nil {
		t.Fatal("want a failure")
	}

	_, doc := page(t, b, "/", false)
	if got := doc.Find(sel("trouble-retrying")+" a").AttrOr("href", ""); got != "/sends?status=retrying" {
		t.Errorf("retrying links to %q", got)
	}
	if got := doc.Find(sel("trouble-last-error")).Text(); !strings.Contains(got, "MessageBird") {
		t.Errorf("last error %q", got)
	}
	if got := doc.Find(sel("trouble-failed")+" a").AttrOr("href", ""); got != "/sends?status=failed" {
		t.Errorf("failed links to %q", got)
	}
	if doc.Find(sel("trouble-unnotified")).Length() != 1 || doc.Find(sel("trouble-capacity")).Length() != 1 {
		t.Error("the overview should list the ride not notified and the pool")
	}
	if doc.Find("[sse-connect]").AttrOr("sse-connect", "") != "/events/stream" || doc.Find(`[hx-trigger~="every"]`).Length() != 0 {
		t.Error("the overview should update by its event stream, not by polling")
	}

	_, doc = page(t, b, "/sends?status=retrying", false)
	rows := doc.Find(sel("send-row"))
	if rows.Length() != 1 || rows.AttrOr("data-status", "") != "retrying" {
		t.Fatalf("retrying filter: %d rows", rows.Length())
	}
	// Its job was never worked here, so River runs it at once (the browser
	// test sees "next try at" on a job River backs off).
	if got := rows.Find(sel("send-status")).Text(); !strings.Contains(got, "retrying now") {
		t.Errorf("retrying send reads %q", got)
	}
	if got := rows.Find(sel("send-job")).AttrOr("href", ""); !strings.HasPrefix(got, "/riverui/jobs/") {
		t.Errorf("job link %q", got)
	}

	_, doc = page(t, b, "/sends?status=failed", false)
	rows = doc.Find(sel("send-row"))
	if rows.Length() != 1 || rows.Find(sel("send-retry")).Length() != 0 {
		t.Fatalf("failed filter: %d rows; a refused send offers no retry", rows.Length())
	}
	if got := rows.Find(sel("send-edit-recipient")).AttrOr("href", ""); !strings.HasSuffix(got, "/edit") || !strings.HasPrefix(got, "/people/") {
		t.Errorf("a refused send should link to its recipient's edit page, got %q", got)
	}
	if doc.Find(sel("retry-all")).Length() != 0 {
		t.Error("nothing for retry all failed: the only failure is permanent")
	}

	req := b.signIn(t, httptest.NewRequest("GET", "/sends?status=bogus", nil))
	if r := b.do(t, req); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad filter: %d", r.StatusCode)
	}
}

func TestSends_RetryAllFailed(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	f := b.activeRide(t)
	ctx := t.Context()
	down := failingSender{&ride.SendError{Failure: ride.FailureServer, Reason: "MessageBird unavailable (server error)"}}
	for _, m := range b.rideMessages(t, f.ride, nil) {
		if _, err := b.Rides.Deliver(ctx, down, m.ID, 5, 5); err == nil { // the last attempt: failed
			t.Fatal("want a failure")
		}
	}
	_, doc := page(t, b, "/sends", false)
	form := doc.Find(sel("retry-all")).Closest("form")
	if form.AttrOr("hx-confirm", "") == "" || form.Find(`input[name="`+components.CSRFFieldName+`"]`).Length() != 1 {
		t.Error("retry all failed should ask first and carry the CSRF token")
	}
	req := b.signIn(t, httptest.NewRequest("POST", "/sends/retry-failed", nil))
	req.Header.Set("HX-Request", "true")
	r := b.do(t, req)
	doc = parseHTML(t, r)
	if r.StatusCode != 200 || !strings.Contains(doc.Find(sel("sends-message")).Text(), "2 failed messages are queued again") {
		t.Errorf("retry all: %d %q", r.StatusCode, doc.Find(sel("sends-message")).Text())
	}
	if doc.Find(`[data-status="failed"]`).Length() != 0 {
		t.Error("failed sends left after retry all")
	}
}
