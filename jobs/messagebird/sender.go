// Package messagebird is everything BirdCar knows of MessageBird: sending
// SMS through its SDK (or the sandbox), reading its webhooks into the
// domain's values, checking their signatures and answering calls with its
// call-flow XML. It is the only package that imports the SDK.
package messagebird

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	mb "github.com/messagebird/go-rest-api/v9"
	"github.com/messagebird/go-rest-api/v9/sms"

	"birdcar/sql/ride"
)

// Config configures NewSender.
type Config struct {
	APIKey string
	// BaseURL, when set (scheme://host[:port], e.g. a fakebird server),
	// replaces MessageBird's REST endpoint for every request.
	BaseURL string
	// ReportURL receives delivery reports (PUBLIC_URL + "/webhook-status").
	// Empty leaves the account's default in place.
	ReportURL string
	// Timeout bounds one Send, connection set-up included. Default 10s.
	Timeout time.Duration
}

// Sender is the ride.Sender that goes through MessageBird's SMS API with
// the official SDK. Safe for concurrent use.
type Sender struct {
	key       string
	reportURL string
	timeout   time.Duration
	base      *url.URL          // nil: the SDK's own endpoint
	transport http.RoundTripper // shared by all sends, so connections are reused
}

const defaultMessageBirdTimeout = 10 * time.Second

// messageBirdInternalError is the error code MessageBird uses for a fault on
// its side: worth a retry, though it arrives as an error response.
const messageBirdInternalError = 99

// NewSender checks cfg and returns a sender ready for use.
func NewSender(cfg Config) (*Sender, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("messagebird: API key is required")
	}
	if cfg.ReportURL != "" {
		if u, err := url.Parse(cfg.ReportURL); err != nil || !u.IsAbs() || u.Host == "" {
			return nil, fmt.Errorf("messagebird: report URL %q is not an absolute URL", cfg.ReportURL)
		}
	}
	s := &Sender{key: cfg.APIKey, reportURL: cfg.ReportURL, timeout: cfg.Timeout}
	if s.timeout <= 0 {
		s.timeout = defaultMessageBirdTimeout
	}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			return nil, fmt.Errorf("messagebird: base URL %q must be scheme://host[:port]", cfg.BaseURL)
		}
		s.base = u
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Workers send concurrently to a single host; the default of 2 idle
	// connections per host would have most sends open a fresh TLS connection.
	t.MaxIdleConnsPerHost = 32
	s.transport = t
	return s, nil
}

// Send submits m to MessageBird. Errors are *ride.SendError: permanent when
// MessageBird answered with an error about the request or account, transient
// for server errors, timeouts, network failures and unreadable answers.
func (s *Sender) Send(ctx context.Context, m ride.OutboundSMS) (ride.SendResult, error) {
	originator, ok := messageBirdNumber(m.Originator)
	if !ok {
		return ride.SendResult{}, &ride.SendError{Failure: ride.FailureRejected, Reason: "invalid originator number " + m.Originator}
	}
	recipient, ok := messageBirdNumber(m.Recipient)
	if !ok {
		return ride.SendResult{}, &ride.SendError{Failure: ride.FailureRejected, Reason: "invalid recipient number " + m.Recipient}
	}
	if m.Body == "" {
		return ride.SendResult{}, &ride.SendError{Failure: ride.FailureRejected, Reason: "empty message body"}
	}

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	// sms.Create takes no context. A client per call, whose transport puts ctx
	// on every request, gives both the timeout and cancellation (shutdown,
	// job timeout) while the connection pool stays shared.
	client := &mb.DefaultClient{
		AccessKey:  s.key,
		HTTPClient: &http.Client{Transport: messageBirdTransport{ctx: ctx, base: s.base, next: s.transport}},
	}
	msg, err := sms.Create(client, originator, []string{recipient}, m.Body, &sms.Params{
		Reference: m.Reference,
		ReportURL: s.reportURL,
		// The default, "plain", restricts the body to the GSM 03.38 alphabet;
		// "auto" lets MessageBird switch to unicode when the body needs it.
		DataCoding: "auto",
	})
	if err != nil {
		return ride.SendResult{}, classify(err)
	}
	res := ride.SendResult{ProviderID: msg.ID, Status: "sent"}
	if items := msg.Recipients.Items; len(items) > 0 && items[0].Status != "" {
		res.Status = items[0].Status
	}
	return res, nil
}

// classify maps an SDK error onto a SendError. The SDK hides the HTTP
// status: an ErrorResponse is a decoded 4xx body, ErrUnexpectedResponse a
// 500, and anything else failed in transport or decoding.
func classify(err error) *ride.SendError {
	var apiErr mb.ErrorResponse
	var netErr net.Error
	switch {
	case errors.As(err, &apiErr):
		var descs []string
		permanent := len(apiErr.Errors) > 0
		for _, e := range apiErr.Errors {
			descs = append(descs, e.Description)
			if e.Code == messageBirdInternalError {
				permanent = false
			}
		}
		if !permanent {
			return &ride.SendError{Failure: ride.FailureServer, Reason: "MessageBird unavailable (server error)", Err: err}
		}
		return &ride.SendError{Failure: ride.FailureRejected, Reason: "MessageBird rejected the message: " + strings.Join(descs, "; "), Err: err}
	case errors.Is(err, mb.ErrUnexpectedResponse):
		return &ride.SendError{Failure: ride.FailureServer, Reason: "MessageBird unavailable (server error)", Err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return &ride.SendError{Failure: ride.FailureTimeout, Reason: "MessageBird timed out", Err: err}
	case errors.Is(err, context.Canceled):
		return &ride.SendError{Failure: ride.FailureOther, Reason: "send cancelled", Err: err}
	case errors.As(err, new(*url.Error)):
		return &ride.SendError{Failure: ride.FailureNetwork, Reason: "network error reaching MessageBird", Err: err}
	default:
		// Typically a 2xx or error body that is not the JSON we expect (a
		// proxy's HTML page): MessageBird may or may not have the message.
		return &ride.SendError{Failure: ride.FailureOther, Reason: "unreadable answer from MessageBird", Err: err}
	}
}

// messageBirdNumber turns an E.164 number into the digits-only form
// MessageBird uses.
func messageBirdNumber(e164 string) (string, bool) {
	d, ok := strings.CutPrefix(e164, "+")
	if !ok || d == "" || len(d) > 15 {
		return "", false
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return d, true
}

// messageBirdTransport carries one Send's context to the SDK's requests and,
// when a base URL is configured, redirects them there (the SDK's endpoint is
// a const).
type messageBirdTransport struct {
	ctx  context.Context
	base *url.URL
	next http.RoundTripper
}

func (t messageBirdTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(t.ctx) // a RoundTripper must not modify the caller's request
	if t.base != nil {
		req.URL.Scheme = t.base.Scheme
		req.URL.Host = t.base.Host
		req.Host = ""
	}
	return t.next.RoundTrip(req)
}
