// Package web is BirdCar's HTTP surface: the admin dashboard, the JSON API
// and MessageBird's webhooks, served by one Fiber app.
package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"

	"birdcar/jobs/messagebird"
	"birdcar/sql/admin"
	"birdcar/sql/ride"
	"birdcar/web/obs"
)

// Server holds the dependencies every handler shares.
type Server struct {
	// Rides applies BirdCar's rules: every handler asks it.
	Rides *ride.Service
	// Admin checks the console's credentials and keeps its sessions.
	Admin   *admin.Service
	Logger  *slog.Logger
	Sandbox bool // no MessageBird key: messages are recorded, not sent
	// APITokens are the bearer tokens the JSON API accepts; none turns it off.
	APITokens []string
	// SigningKey is MessageBird's webhook signing key; "" accepts unsigned
	// webhooks.
	SigningKey string
	// PublicURL is where MessageBird reaches this server (scheme and host):
	// signatures cover it.
	PublicURL string
	// SecureCookies marks the session cookie Secure (PUBLIC_URL is https).
	SecureCookies bool
	// RiverUI serves River's own UI under /riverui; nil leaves it out.
	RiverUI http.Handler
	// Metrics is the process's registry, fed by the webhooks and by
	// database gauges counted at scrape time; nil measures nothing.
	Metrics *prometheus.Registry
	// MetricsToken guards /metrics here (Bearer); "" leaves /metrics out of
	// this app, for obs.Handler on a private listener.
	MetricsToken string
	// WorkersRunning reports whether this process's River workers run, for
	// /readyz; nil (a web-only process) leaves the check out.
	WorkersRunning func() bool
	// WebhookConcurrency caps the webhooks handled at once; more wait
	// briefly, then get a 503 (MessageBird retries). 0 means 256.
	WebhookConcurrency int
	// TrustedProxies are the addresses (IPs or CIDRs) of the proxies whose
	// X-Forwarded-For names the client; none: the peer is the client.
	TrustedProxies []string
	// MaxConnsPerIP caps the open connections of one client address; 0
	// leaves them uncapped (behind a proxy every client is the proxy).
	MaxConnsPerIP int
	// UnsignedWebhooks says live webhooks are accepted unsigned on purpose
	// (ALLOW_UNSIGNED_WEBHOOKS): the console warns about it.
	UnsignedWebhooks bool
	// Feed tells the console's live pages what changed (/events/stream);
	// nil: the pages do not update by themselves.
	Feed *ride.Feed

	// StreamHeartbeat is how often a quiet event stream sends a comment
	// (so that proxies keep it and a gone client is noticed) and checks
	// that its session still stands; 0 means 15 s.
	StreamHeartbeat time.Duration

	app *fiber.App
	// base is cancelled at shutdown; request contexts derive from it.
	base context.Context
	// verifier checks webhook signatures; nil when there is no key.
	verifier *messagebird.Verifier
	// inbound reads MessageBird's webhooks.
	inbound messagebird.Reader
	// webhookSlots is the semaphore behind WebhookConcurrency.
	webhookSlots chan struct{}
	// proxies are TrustedProxies, parsed.
	proxies []netip.Prefix
	// closing is closed when Shutdown starts: event streams end then.
	closing      chan struct{}
	closeStreams sync.Once
	// streams counts each operator's open event streams.
	streamsMu sync.Mutex
	streams   map[int64]int
}

// NewServer builds the Fiber app and its routes. ctx bounds every request's
// work: cancelling it aborts in-flight database calls at shutdown.
func NewServer(ctx context.Context, s *Server) *Server {
	s.base = ctx
	s.closing = make(chan struct{})
	s.inbound = messagebird.Reader{DefaultCountry: s.Rides.DefaultCountry}
	s.useSigningKey(s.SigningKey)
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	proxies, bad := parseProxies(s.TrustedProxies)
	if len(bad) > 0 {
		s.Logger.Error("trusted proxies ignored: neither an address nor a CIDR block", "entries", bad)
	}
	s.proxies = proxies
	s.app = fiber.New(fiber.Config{
		ErrorHandler:          s.handleError,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		BodyLimit:             consoleBodyLimit, // limitBody sets each route's own
		// Forwarded headers count only from a trusted proxy: without the
		// check Fiber believes X-Forwarded-* from anyone. clientAddr reads
		// X-Forwarded-For itself; c.IP() takes its leftmost entry, which
		// the client writes.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          proxyList(proxies),
		ProxyHeader:             fiber.HeaderXForwardedFor,
		EnableIPValidation:      true,
	})
	s.app.Use(s.securityHeaders, recover.New(), s.withUserContext, s.requestID)
	s.app.Use(s.limitBody)
	s.registerStaticRoutes()
	s.registerHealthRoutes()
	s.registerMetricsRoutes()
	s.registerWebhookRoutes()
	s.registerAPIRoutes()
	// Everything registered after requireLogin is the operators' console:
	// Fiber runs handlers in registration order, so the routes above answer
	// before the login check is reached.
	s.registerAuthRoutes()
	s.app.Use(s.requireLogin, s.checkCSRF, s.requireRole)
	s.registerOverviewRoutes()
	s.registerRideRoutes()
	s.registerPeopleRoutes()
	s.registerNumberRoutes()
	s.registerSendRoutes()
	s.registerLiveRoutes()
	s.registerSimulatorRoutes()
	s.registerOperatorRoutes()
	s.registerRiverUIRoutes()
	s.app.Use(func(c *fiber.Ctx) error { return errNotFound })
	return s
}

// App exposes the Fiber app, for tests (app.Test) and the listener.
func (s *Server) App() *fiber.App { return s.app }

// Serve answers requests on ln until Shutdown, each client address
// holding at most MaxConnsPerIP connections open when that is set.
func (s *Server) Serve(ln net.Listener) error {
	if s.MaxConnsPerIP > 0 {
		// Not fasthttp's own cap: see connCapListener.
		ln = newConnCapListener(ln, s.MaxConnsPerIP)
	}
	return s.app.Listener(ln)
}

// Shutdown stops accepting connections and waits for in-flight requests.
func (s *Server) Shutdown(timeout time.Duration) error {
	s.stopStreams()
	return s.app.ShutdownWithTimeout(timeout)
}

// withUserContext gives every handler a context that ends at shutdown. It
// is the server's own, not a per-request child with a deadline: deriving
// one per request costs a timer and a lock on the shared parent, which
// measured as a third of the voice webhook's throughput.
func (s *Server) withUserContext(c *fiber.Ctx) error {
	c.SetUserContext(s.base)
	return c.Next()
}

// httpHandler serves a net/http handler on the server's context instead of
// fasthttp's request context: a context derived from that one reads the
// server's shutdown channel without a lock, a data race with Shutdown
// (seen under -race in River's UI, which derives a timeout per request).
func (s *Server) httpHandler(h http.Handler) fiber.Handler {
	return adaptor.HTTPHandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(s.base))
	})
}

// requestIDHeader carries the request id both ways, so a proxy's or a
// client's id ties their logs to ours.
const requestIDHeader = "X-Request-Id"

// requestID takes X-Request-Id or makes one, returns it, and puts it in
// the request's context for every log line. It must run after
// withUserContext, which replaces the context.
func (s *Server) requestID(c *fiber.Ctx) error {
	id := c.Get(requestIDHeader)
	if obs.ValidRequestID(id) {
		// Fiber's strings point into a buffer reused after the request;
		// the context may outlive it.
		id = strings.Clone(id)
	} else {
		id = obs.NewRequestID()
	}
	c.Set(requestIDHeader, id)
	c.SetUserContext(obs.WithRequestID(c.UserContext(), id))
	return c.Next()
}

// useSigningKey turns webhook signature checks on (a non-empty key) or off.
func (s *Server) useSigningKey(key string) {
	s.SigningKey, s.verifier = key, nil
	if key != "" {
		s.verifier = messagebird.NewVerifier(key)
	}
}
