package jobs

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"birdcar/sql/ride"
)

// EventSignatureHeader carries an event's signature: Stripe's scheme,
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
const EventSignatureHeader = "BirdCar-Signature"

// eventTimeout bounds one delivery: the platform should answer at once and
// do its work after.
const eventTimeout = 10 * time.Second

// eventRetryMax is the longest wait between two deliveries of an event.
const eventRetryMax = 2 * time.Hour

// SignEvent is the BirdCar-Signature of body sent at t.
func SignEvent(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// EventWorker posts each event to the platform's URL, signed; anything
// but a 2xx answer (redirects included) is a failure to retry.
type EventWorker struct {
	river.WorkerDefaults[ride.EventArgs]
	URL, Secret string
	Client      *http.Client
}

// NewEventWorker delivers to url with secret. Only a process with a url
// works the events queue (see queues).
func NewEventWorker(url, secret string) *EventWorker {
	return &EventWorker{URL: url, Secret: secret, Client: &http.Client{
		Timeout: eventTimeout,
		// The event goes to the configured address or nowhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Timeout bounds a delivery job a little past the HTTP timeout.
func (w *EventWorker) Timeout(*river.Job[ride.EventArgs]) time.Duration {
	return eventTimeout + 5*time.Second
}

// NextRetry spaces deliveries 1 s, 2 s, 4 s … up to two hours, ±10 %: a
// platform that blinked gets the event in seconds, one that is down for
// the night gets it within the ride.EventMaxAttempts, about a day.
func (w *EventWorker) NextRetry(job *river.Job[ride.EventArgs]) time.Time {
	failures := min(len(job.Errors)+1, 20)
	d := min(time.Second<<(failures-1), eventRetryMax)
	return time.Now().Add(d + time.Duration(rand.Int64N(int64(d/5))) - d/10)
}

// Work delivers one event.
func (w *EventWorker) Work(ctx context.Context, job *river.Job[ride.EventArgs]) error {
	if w.URL == "" {
		return errors.New("EVENTS_URL is not set in this process")
	}
	body, err := json.Marshal(job.Args)
	if err != nil {
		return river.JobCancel(fmt.Errorf("encode event: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return river.JobCancel(fmt.Errorf("event request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "BirdCar-Events/1")
	req.Header.Set(EventSignatureHeader, SignEvent(w.Secret, time.Now(), body))
	resp, err := w.Client.Do(req)
	if urlErr, ok := errors.AsType[*url.Error](err); ok {
		err = urlErr.Err // without the URL, which may hold a token: errors are logged and shown
	}
	if err != nil {
		return fmt.Errorf("deliver %s: %w", job.Args.Type, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("deliver %s: the platform answered %d", job.Args.Type, resp.StatusCode)
	}
	return nil
}
