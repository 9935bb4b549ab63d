package jobs_test

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

	"birdcar/jobs"
	"birdcar/jobs/fakebird"
)

const fakeKey = "test_gshuPaZoeEG6ovbc8M79w0QyM"

type messageBirdBundle struct {
	fake   *fakebird.Server
	sender *jobs.MessageBirdSender
}

// setupMessageBird starts a fake with opts (Key defaults to fakeKey) and a sender
// pointed at it; cfg.APIKey defaults to fakeKey and cfg.BaseURL to the fake.
func setupMessageBird(t *testing.T, opts fakebird.Options, cfg jobs.MessageBirdConfig) messageBirdBundle {
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
	sender, err := jobs.NewMessageBirdSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return messageBirdBundle{fake: fake, sender: sender}
}

func sampleSMS(body string) jobs.OutboundSMS {
	return jobs.OutboundSMS{
		Reference:  "msg-0001",
		Originator: "+3197010203040",
		Recipient:  "+31612345678",
		Body:       body,
	}
}

func TestMessageBirdSender_Send(t *testing.T) {
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
			b := setupMessageBird(t, fakebird.Options{}, jobs.MessageBirdConfig{ReportURL: reportURL})

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

func TestMessageBirdSender_Errors(t *testing.T) {
	t.Parallel()

	// A port nobody listens on, for the network failure.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + ln.Addr().String()
	ln.Close()

	tests := []struct {
		name          string
		opts          fakebird.Options
		cfg           jobs.MessageBirdConfig
		prepare       func(*fakebird.Server)
		msg           jobs.OutboundSMS
		wantPermanent bool
		wantReason    string
		wantRequests  int // requests the fake saw, by any outcome
	}{
		{
			name:         "server error",
			prepare:      func(f *fakebird.Server) { f.FailNext(1) },
			msg:          sampleSMS("hi"),
			wantReason:   "MessageBird unavailable (server error)",
			wantRequests: 1,
		},
		{
			name:          "recipient rejected",
			opts:          fakebird.Options{RejectRecipients: []string{"+31612345678"}},
			msg:           sampleSMS("hi"),
			wantPermanent: true,
			wantReason:    "MessageBird rejected the message: no (correct) recipients found",
			wantRequests:  1,
		},
		{
			name:          "wrong key",
			cfg:           jobs.MessageBirdConfig{APIKey: "live_wrongwrongwrong"},
			msg:           sampleSMS("hi"),
			wantPermanent: true,
			wantReason:    "MessageBird rejected the message: Request not allowed (incorrect access_key)",
			wantRequests:  1,
		},
		{
			name:         "timeout",
			opts:         fakebird.Options{TimeoutRate: 1},
			cfg:          jobs.MessageBirdConfig{Timeout: 200 * time.Millisecond},
			msg:          sampleSMS("hi"),
			wantReason:   "MessageBird timed out",
			wantRequests: 1,
		},
		{
			name:       "network",
			cfg:        jobs.MessageBirdConfig{BaseURL: deadURL},
			msg:        sampleSMS("hi"),
			wantReason: "network error reaching MessageBird",
		},
		{
			name:          "recipient not E.164",
			msg:           jobs.OutboundSMS{Originator: "+3197010203040", Recipient: "0612345678", Body: "hi"},
			wantPermanent: true,
			wantReason:    "invalid recipient number 0612345678",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupMessageBird(t, tt.opts, tt.cfg)
			if tt.prepare != nil {
				tt.prepare(b.fake)
			}

			_, err := b.sender.Send(t.Context(), tt.msg)
			var se *jobs.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send error = %v (%T), want *jobs.SendError", err, err)
			}
			if se.Permanent != tt.wantPermanent || jobs.IsPermanent(fmt.Errorf("job: %w", err)) != tt.wantPermanent {
				t.Errorf("Permanent = %v, want %v", se.Permanent, tt.wantPermanent)
			}
			if se.Reason != tt.wantReason {
				t.Errorf("Reason = %q, want %q", se.Reason, tt.wantReason)
			}
			if strings.Contains(err.Error(), fakeKey) || strings.Contains(err.Error(), "live_wrong") {
				t.Errorf("error leaks the access key: %v", err)
			}
			c := b.fake.Counts()
			if n := c.Accepted + c.Unauthorized + c.Rejected + c.Failed + c.TimedOut; n != tt.wantRequests {
				t.Errorf("fake saw %d requests (%+v), want %d", n, c, tt.wantRequests)
			}
		})
	}
}

// Answers the fake does not give: statuses the SDK hides behind the same
// error types, which must not be taken for a refusal of the message.
func TestMessageBirdSender_OtherAnswersAreTransient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		body       string
		wantReason string
	}{
		{"MessageBird internal error code", http.StatusServiceUnavailable,
			`{"errors":[{"code":99,"description":"Internal error","parameter":null}]}`, "MessageBird unavailable (server error)"},
		{"error list without errors", http.StatusTooManyRequests, `{"errors":[]}`, "MessageBird unavailable (server error)"},
		{"proxy error page", http.StatusBadGateway, "<html>502 Bad Gateway</html>", "unreadable answer from MessageBird"},
		{"garbled success", http.StatusCreated, `{"id":`, "unreadable answer from MessageBird"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			sender, err := jobs.NewMessageBirdSender(jobs.MessageBirdConfig{APIKey: fakeKey, BaseURL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}

			_, err = sender.Send(t.Context(), sampleSMS("hi"))
			var se *jobs.SendError
			if !errors.As(err, &se) || se.Permanent || se.Reason != tt.wantReason {
				t.Errorf("Send error = %#v, want transient %q", err, tt.wantReason)
			}
		})
	}
}

func TestMessageBirdSender_CancelledContextEndsSend(t *testing.T) {
	t.Parallel()
	b := setupMessageBird(t, fakebird.Options{TimeoutRate: 1}, jobs.MessageBirdConfig{Timeout: time.Minute})

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.sender.Send(ctx, sampleSMS("hi"))
	if time.Since(start) > 5*time.Second {
		t.Errorf("Send took %v after its context ended", time.Since(start))
	}
	if err == nil || jobs.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send error = %v, want a transient error wrapping context.DeadlineExceeded", err)
	}

	cancelled, cancelNow := context.WithCancel(t.Context())
	cancelNow()
	_, err = b.sender.Send(cancelled, sampleSMS("hi"))
	var se *jobs.SendError
	if !errors.As(err, &se) || se.Permanent || se.Reason != "send cancelled" {
		t.Errorf("Send error = %v, want transient \"send cancelled\"", err)
	}
}

func TestMessageBirdSender_RetryAfterServerErrorSucceeds(t *testing.T) {
	t.Parallel()
	b := setupMessageBird(t, fakebird.Options{}, jobs.MessageBirdConfig{})
	b.fake.FailNext(2)

	for i := range 2 {
		if _, err := b.sender.Send(t.Context(), sampleSMS("hi")); err == nil || jobs.IsPermanent(err) {
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

func TestMessageBirdSender_BaseURLRewritesEveryRequest(t *testing.T) {
	t.Parallel()
	fake, err := fakebird.Start(fakebird.Options{Key: fakeKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	// A trailing slash is tolerated: only scheme and host are taken.
	sender, err := jobs.NewMessageBirdSender(jobs.MessageBirdConfig{APIKey: fakeKey, BaseURL: fake.URL + "/"})
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

func TestNewMessageBirdSender_Config(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     jobs.MessageBirdConfig
		wantErr bool
	}{
		{"defaults", jobs.MessageBirdConfig{APIKey: "k"}, false},
		{"no key", jobs.MessageBirdConfig{}, true},
		{"base URL with path", jobs.MessageBirdConfig{APIKey: "k", BaseURL: "http://127.0.0.1:9999/v1"}, true},
		{"base URL without scheme", jobs.MessageBirdConfig{APIKey: "k", BaseURL: "127.0.0.1:9999"}, true},
		{"relative report URL", jobs.MessageBirdConfig{APIKey: "k", ReportURL: "/webhook-status"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := jobs.NewMessageBirdSender(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}
