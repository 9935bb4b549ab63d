package web

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"birdcar/sql/ride"
)

// Body limits by kind of request. fasthttp reads a whole body, up to the
// app's BodyLimit (consoleBodyLimit), before any handler runs; these bound
// what each kind of request may make a handler parse or store.
const (
	consoleBodyLimit = 1 << 20  // the numbers page's bulk paste
	defaultBodyLimit = 64 << 10 // webhooks (an SMS is far smaller), the JSON API, the rest
	loginBodyLimit   = 8 << 10
)

// Webhook concurrency: a flood is answered with quick 503s, which
// MessageBird retries, rather than queueing without bound. A text waits for
// its group commit (ride.Batcher) without holding a database connection,
// and the more texts wait together the more each commit carries: at 64,
// saturated texts were acknowledged at 0.20-0.24x the database's
// one-INSERT-per-commit rate, at 256 at 0.29-0.36x (BENCHMARKS.md).
const (
	defaultWebhookConcurrency = 256
	webhookSlotWait           = 100 * time.Millisecond
)

var (
	errBusy = &ride.Error{Code: ride.CodeBusy,
		Message: "BirdCar is handling too many webhooks at once. Try again in a second."}
	errEncoded = &ride.Error{Code: ride.CodeUnsupportedEncoding,
		Message: "Send the body uncompressed: Content-Encoding is not accepted."}
)

// tooLarge reports a body over limit bytes.
func tooLarge(limit int) *ride.Error {
	size := fmt.Sprintf("%d KiB", limit>>10)
	if limit%(1<<20) == 0 {
		size = fmt.Sprintf("%d MiB", limit>>20)
	}
	return &ride.Error{Code: ride.CodeTooLarge,
		Message: "The request body is larger than " + size + ", the most this address accepts."}
}

// limitBody refuses a body over its kind of request's limit, and any
// compressed body: neither MessageBird nor a browser compresses what it
// sends, and inflating one is how a few kilobytes become gigabytes.
// Handlers read the raw body (c.Request().Body()), never c.Body(), which
// inflates by the Content-Encoding it finds without bound; refusing every
// encoding here also keeps fasthttp's multipart reader from gunzipping.
func (s *Server) limitBody(c *fiber.Ctx) error {
	if contentEncoded(c) {
		return errEncoded
	}
	if limit := bodyLimit(c); len(c.Request().Body()) > limit {
		return tooLarge(limit)
	}
	return c.Next()
}

// contentEncoded reports whether the request names any content coding but
// identity, on any Content-Encoding line and in any item of a
// comma-separated list: Fiber's c.Get reads the first line, c.Body()
// decodes by the last, and fasthttp's multipart reader by the first, so
// only refusing them all leaves no reader an encoded body. Empty list
// items are allowed, as RFC 9110 says to ignore them.
func contentEncoded(c *fiber.Ctx) bool {
	encoded := false
	c.Request().Header.VisitAll(func(key, value []byte) {
		if encoded || !bytes.EqualFold(bytes.TrimSpace(key), []byte(fiber.HeaderContentEncoding)) {
			return
		}
		for item := range bytes.SplitSeq(value, []byte(",")) {
			if item = bytes.Trim(item, " \t"); len(item) > 0 && !bytes.EqualFold(item, []byte("identity")) {
				encoded = true
				return
			}
		}
	})
	return encoded
}

// bodyLimit is the largest body a request may carry. Only a request with a
// session cookie gets the console's allowance: whether the session is
// valid is requireLogin's to say, and a stranger's console request is
// refused there anyway. Paths compare as Fiber routes them, ignoring case
// and a trailing slash.
func bodyLimit(c *fiber.Ctx) int {
	path := strings.ToLower(c.Path())
	switch {
	case strings.HasPrefix(path, "/webhook"), strings.HasPrefix(path, "/api/"):
		return defaultBodyLimit
	case strings.TrimRight(path, "/") == "/login":
		return loginBodyLimit
	case c.Cookies(sessionCookie) != "":
		return consoleBodyLimit
	}
	return defaultBodyLimit
}

// limitWebhooks admits at most WebhookConcurrency webhooks at once. A
// request waits briefly for a slot, then gets a 503 that MessageBird
// retries.
func (s *Server) limitWebhooks(c *fiber.Ctx) error {
	select {
	case s.webhookSlots <- struct{}{}:
	default:
		// The timer only on the slow path: the common case costs no allocation.
		wait := time.NewTimer(webhookSlotWait)
		select {
		case s.webhookSlots <- struct{}{}:
			wait.Stop()
		case <-wait.C:
			c.Set(fiber.HeaderRetryAfter, "1")
			return errBusy
		}
	}
	defer func() { <-s.webhookSlots }()
	return c.Next()
}

// onlyMethods answers a path's other methods with 405 and the Allow
// header, instead of letting them fall through to the console's login.
func onlyMethods(methods ...string) fiber.Handler {
	allow := strings.Join(methods, ", ")
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderAllow, allow)
		return &ride.Error{Code: ride.CodeMethodNotAllowed, Message: "This address takes only " + allow + "."}
	}
}
