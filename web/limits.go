package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
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
// MessageBird retries, rather than queueing on the database pool.
const (
	defaultWebhookConcurrency = 64
	webhookSlotWait           = 100 * time.Millisecond
)

var (
	errBusy = &Error{Status: http.StatusServiceUnavailable, Code: "busy",
		Message: "BirdCar is handling too many webhooks at once. Try again in a second."}
	errEncoded = &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_encoding",
		Message: "Send the body uncompressed: Content-Encoding is not accepted."}
	errNotUTF8 = &Error{Status: http.StatusBadRequest, Code: "invalid_encoding",
		Message: "The body is not valid UTF-8."}
)

// tooLarge reports a body over limit bytes.
func tooLarge(limit int) *Error {
	size := fmt.Sprintf("%d KiB", limit>>10)
	if limit%(1<<20) == 0 {
		size = fmt.Sprintf("%d MiB", limit>>20)
	}
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large",
		Message: "The request body is larger than " + size + ", the most this address accepts."}
}

// limitBody refuses a body over its kind of request's limit, and any
// compressed body: Fiber would inflate it without bound on first read, and
// neither MessageBird nor a browser compresses what it sends.
func (s *Server) limitBody(c *fiber.Ctx) error {
	if enc := c.Get(fiber.HeaderContentEncoding); enc != "" && !strings.EqualFold(enc, "identity") {
		return errEncoded
	}
	if limit := bodyLimit(c); len(c.Request().Body()) > limit {
		return tooLarge(limit)
	}
	return c.Next()
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
		return &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
			Message: "This address takes only " + allow + "."}
	}
}

// plainText reports whether v is valid UTF-8 without control characters
// (NUL among them, which Postgres refuses in text): what a name or an
// address may hold.
func plainText(v string) bool {
	return utf8.ValidString(v) && !strings.ContainsFunc(v, unicode.IsControl)
}

// fiberError gives an error Fiber or fasthttp raised (a malformed request,
// oversized headers or body, often before any handler ran) a message of
// our own: theirs can quote parser internals and the request's bytes.
func fiberError(c *fiber.Ctx, fe *fiber.Error) *Error {
	msg := http.StatusText(fe.Code) + "."
	switch fe.Code {
	case http.StatusRequestEntityTooLarge:
		return tooLarge(bodyLimit(c))
	case http.StatusNotFound:
		return errNotFound
	case http.StatusBadRequest:
		msg = "The request is not valid HTTP."
	case http.StatusRequestHeaderFieldsTooLarge:
		msg = "The request's headers are too large."
	case http.StatusMethodNotAllowed:
		msg = "This address does not take this method."
	case http.StatusRequestTimeout:
		msg = "The request took too long to arrive."
	}
	return &Error{Status: fe.Code, Code: codeForStatus(fe.Code), Message: msg}
}
