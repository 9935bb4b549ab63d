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

	"birdcar/jobs/messagebird"
	"birdcar/sql/admin"
	"birdcar/sql/ride"
)

// liveStream serves BirdCar on a real listener and opens an event stream
// at path as a signed-in operator; its lines arrive on the channel, which
// is closed when the stream ends.
func liveStream(t *testing.T, path string) (*Server, string, <-chan string) {
	t.Helper()
	srv := &Server{Admin: &admin.Service{User: testAdminUser}}
	base := serveLive(t, messagebird.Sandbox{}, &ride.Service{DefaultCountry: "NL", GracePeriod: time.Hour}, srv)
	token, err := srv.Admin.StartSession(t.Context())
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
	_, base, lines := liveStream(t, "/events/stream?kinds=message")
	waitLine(t, lines, ": live", 5*time.Second)

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
	// The feed may first say "*" (it went live after the stream opened).
	waitLine(t, lines, "data: message:0", 5*time.Second) // an unmatched text's
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

func TestLive_StreamNeedsLogin(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	resp := b.do(t, httptest.NewRequest("GET", "/events/stream", nil))
	if resp.StatusCode == 200 {
		t.Fatalf("an anonymous stream: %d", resp.StatusCode)
	}
}
