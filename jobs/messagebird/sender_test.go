package messagebird_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"birdcar/jobs/messagebird"
	"birdcar/jobs/messagebird/fakebird"
	"birdcar/sql/ride"
)

const fakeKey = "test_gshuPaZoeEG6ovbc8M79w0QyM"

type senderBundle struct {
	fake   *fakebird.Server
	sender *messagebird.Sender
}

// setupSender starts a fake with opts (Key defaults to fakeKey) and a sender
// pointed at it; cfg.APIKey defaults to fakeKey and cfg.BaseURL to the fake.
func setupSender(t *testing.T, opts fakebird.Options, cfg messagebird.Config) senderBundle {
	t.Helper()
	if opts.Key == "" {
		opts.Key = fakeKey
	}
	fake, err := fakebird.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	if cfg.APIKey == "" {
		cfg.APIKey = fakeKey
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = fake.URL
	}
	sender, err := messagebird.NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return senderBundle{fake: fake, sender: sender}
}

func sampleSMS(body string) ride.OutboundSMS {
	return ride.OutboundSMS{
		Reference:  "msg-0001",
		Originator: "+3197010203040",
		Recipient:  "+31612345678",
		Body:       body,
	}
}

func TestSender_Send(t *testing.T) {
	t.Parallel()

	long := strings.Repeat("Zürich → 東京 🚕 é!", 100) // 1,600 characters, many outside the BMP
	if n := len([]rune(long)); n != 1600 {
		t.Fatalf("test body has %d characters, want 1600", n)
	}
	tests := []struct {
		name string
		body string
	}{
		{"ascii", "Your driver Sam arrives in 3 minutes."},
		{"unicode", "Ihr Fahrer ist da – 🚗 «Öffnen» ça marche"},
		{"1600 characters", long},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const reportURL = "https://birdcar.example/webhook-status"
			b := setupSender(t, fakebird.Options{}, messagebird.Config{ReportURL: reportURL})

			res, err := b.sender.Send(t.Context(), sampleSMS(tt.body))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := b.fake.Accepted()
			if len(got) != 1 {
				t.Fatalf("fake accepted %d messages, want 1", len(got))
			}
			a := got[0]
			if res.ProviderID != a.ID || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(res.ProviderID) {
				t.Errorf("ProviderID = %q, fake's id %q", res.ProviderID, a.ID)
			}
			if res.Status != "sent" {
				t.Errorf("Status = %q, want sent", res.Status)
			}
			want := fakebird.Accepted{
				ID: a.ID, Reference: "msg-0001", Originator: "3197010203040", Recipients: []string{"31612345678"},
				Body: tt.body, ReportURL: reportURL, DataCoding: "auto", ReceivedAt: a.ReceivedAt,
			}
			if !reflect.DeepEqual(a, want) {
				t.Errorf("fake recorded\n%+v\nwant\n%+v", a, want)
			}
		})
	}
}

func TestSender_Errors(t *testing.T) {
	t.Parallel()

	// A port nobody listens on, for the network failure.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + ln.Addr().String()
	ln.Close()

	tests := []struct {
		name         string
		opts         fakebird.Options
		cfg          messagebird.Config
		prepare      func(*fakebird.Server)
		msg          ride.OutboundSMS
		wantFailure  ride.SendFailure
		wantReason   string
		wantRequests int // requests the fake saw, by any outcome
	}{
		{
			name:         "server error",
			prepare:      func(f *fakebird.Server) { f.FailNext(1) },
			msg:          sampleSMS("hi"),
			wantFailure:  ride.FailureServer,
			wantReason:   "MessageBird unavailable (server error)",
			wantRequests: 1,
		},
		{
			name:         "recipient rejected",
			opts:         fakebird.Options{RejectRecipients: []string{"+31612345678"}},
			msg:          sampleSMS("hi"),
			wantFailure:  ride.FailureRejected,
			wantReason:   "MessageBird rejected the message: no (correct) recipients found",
			wantRequests: 1,
		},
		{
			name:         "wrong key",
			cfg:          messagebird.Config{APIKey: "live_wrongwrongwrong"},
			msg:          sampleSMS("hi"),
			wantFailure:  ride.FailureRejected,
			wantReason:   "MessageBird rejected the message: Request not allowed (incorrect access_key)",
			wantRequests: 1,
		},
		{
			name:         "timeout",
			opts:         fakebird.Options{TimeoutRate: 1},
			cfg:          messagebird.Config{Timeout: 200 * time.Millisecond},
			msg:          sampleSMS("hi"),
			wantFailure:  ride.FailureTimeout,
			wantReason:   "MessageBird timed out",
			wantRequests: 1,
		},
		{
			name:        "network",
			cfg:         messagebird.Config{BaseURL: deadURL},
			msg:         sampleSMS("hi"),
			wantFailure: ride.FailureNetwork,
			wantReason:  "network error reaching MessageBird",
		},
		{
			name:        "recipient not E.164",
			msg:         ride.OutboundSMS{Originator: "+3197010203040", Recipient: "0612345678", Body: "hi"},
			wantFailure: ride.FailureRejected,
			wantReason:  "invalid recipient number 0612345678",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupSender(t, tt.opts, tt.cfg)
			if tt.prepare != nil {
				tt.prepare(b.fake)
			}

			_, err := b.sender.Send(t.Context(), tt.msg)
			var se *ride.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send error = %v (%T), want *ride.SendError", err, err)
			}
			// Only a rejection is permanent, however deeply it is wrapped.
			wantPermanent := tt.wantFailure == ride.FailureRejected
			if se.Failure != tt.wantFailure || ride.FailureOf(fmt.Errorf("job: %w", err)) != tt.wantFailure {
				t.Errorf("Failure = %q, want %q", se.Failure, tt.wantFailure)
			}
			if se.Permanent() != wantPermanent || ride.IsPermanent(fmt.Errorf("job: %w", err)) != wantPermanent {
				t.Errorf("Permanent() = %v, want %v", se.Permanent(), wantPermanent)
			}
			if se.Reason != tt.wantReason {
				t.Errorf("Reason = %q, want %q", se.Reason, tt.wantReason)
			}
			if strings.Contains(err.Error(), fakeKey) || strings.Contains(err.Error(), "live_wrong") {
				t.Errorf("error leaks the access key: %v", err)
			}
			// A request the client gave up on may be counted by the fake
			// only after Send returned: wait for the count.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				c := b.fake.Counts()
				n := c.Accepted + c.Unauthorized + c.Rejected + c.Failed + c.TimedOut
				if n == tt.wantRequests {
					break
				}
				if n > tt.wantRequests || time.Now().After(deadline) {
					t.Fatalf("fake saw %d requests (%+v), want %d", n, c, tt.wantRequests)
				}
			}
		})
	}
}

// Answers the fake does not give: statuses the SDK hides behind the same
// error types, which must not be taken for a refusal of the message.
func TestSender_OtherAnswersAreTransient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      int
		body        string
		wantFailure ride.SendFailure
		wantReason  string
	}{
		{"MessageBird internal error code", http.StatusServiceUnavailable,
			`{"errors":[{"code":99,"description":"Internal error","parameter":null}]}`, ride.FailureServer, "MessageBird unavailable (server error)"},
		{"error list without errors", http.StatusTooManyRequests, `{"errors":[]}`, ride.FailureServer, "MessageBird unavailable (server error)"},
		{"proxy error page", http.StatusBadGateway, "<html>502 Bad Gateway</html>", ride.FailureOther, "unreadable answer from MessageBird"},
		{"garbled success", http.StatusCreated, `{"id":`, ride.FailureOther, "unreadable answer from MessageBird"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			sender, err := messagebird.NewSender(messagebird.Config{APIKey: fakeKey, BaseURL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}

			_, err = sender.Send(t.Context(), sampleSMS("hi"))
			var se *ride.SendError
			if !errors.As(err, &se) || se.Permanent() || se.Failure != tt.wantFailure || se.Reason != tt.wantReason {
				t.Errorf("Send error = %#v, want transient %s %q", err, tt.wantFailure, tt.wantReason)
			}
		})
	}
}

func TestSender_CancelledContextEndsSend(t *testing.T) {
	t.Parallel()
	b := setupSender(t, fakebird.Options{TimeoutRate: 1}, messagebird.Config{Timeout: time.Minute})

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.sender.Send(ctx, sampleSMS("hi"))
	if time.Since(start) > 5*time.Second {
		t.Errorf("Send took %v after its context ended", time.Since(start))
	}
	if err == nil || ride.IsPermanent(err) || ride.FailureOf(err) != ride.FailureTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send error = %v, want a timeout wrapping context.DeadlineExceeded", err)
	}

	cancelled, cancelNow := context.WithCancel(t.Context())
	cancelNow()
	_, err = b.sender.Send(cancelled, sampleSMS("hi"))
	var se *ride.SendError
	if !errors.As(err, &se) || se.Permanent() || se.Failure != ride.FailureOther || se.Reason != "send cancelled" {
		t.Errorf("Send error = %v, want transient \"send cancelled\"", err)
	}
}

func TestSender_RetryAfterServerErrorSucceeds(t *testing.T) {
	t.Parallel()
	b := setupSender(t, fakebird.Options{}, messagebird.Config{})
	b.fake.FailNext(2)

	for i := range 2 {
		if _, err := b.sender.Send(t.Context(), sampleSMS("hi")); err == nil || ride.IsPermanent(err) {
			t.Fatalf("attempt %d: error = %v, want transient", i+1, err)
		}
	}
	if _, err := b.sender.Send(t.Context(), sampleSMS("hi")); err != nil {
		t.Fatalf("attempt 3: %v", err)
	}
	if c := b.fake.Counts(); c.Failed != 2 || c.Accepted != 1 {
		t.Errorf("counts = %+v, want 2 failed and 1 accepted", c)
	}
}

func TestSender_BaseURLRewritesEveryRequest(t *testing.T) {
	t.Parallel()
	fake, err := fakebird.Start(fakebird.Options{Key: fakeKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	// A trailing slash is tolerated: only scheme and host are taken.
	sender, err := messagebird.NewSender(messagebird.Config{APIKey: fakeKey, BaseURL: fake.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}

	for i := range 3 {
		if _, err := sender.Send(t.Context(), sampleSMS(fmt.Sprint("message ", i))); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	if got := len(fake.Accepted()); got != 3 {
		t.Errorf("fake accepted %d messages, want 3", got)
	}
}

func TestNewSender_Config(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     messagebird.Config
		wantErr bool
	}{
		{"defaults", messagebird.Config{APIKey: "k"}, false},
		{"no key", messagebird.Config{}, true},
		{"base URL with path", messagebird.Config{APIKey: "k", BaseURL: "http://127.0.0.1:9999/v1"}, true},
		{"base URL without scheme", messagebird.Config{APIKey: "k", BaseURL: "127.0.0.1:9999"}, true},
		{"relative report URL", messagebird.Config{APIKey: "k", ReportURL: "/webhook-status"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := messagebird.NewSender(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}
