// Package web is BirdCar's HTTP surface: the admin dashboard, the JSON API
// and MessageBird's webhooks, served by one Fiber app.
package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/jackc/pgx/v5"
	"github.com/messagebird/go-rest-api/v9/signature_jwt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"birdcar/sql/db"
)

// DB is what handlers need from the database: both *pgxpool.Pool and pgx.Tx
// satisfy it, so a test can hand the server a transaction.
type DB interface {
	db.DBTX
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Server holds the dependencies every handler shares.
type Server struct {
	DB      DB
	Logger  *slog.Logger
	Sandbox bool // no MessageBird key: messages are recorded, not sent
	// Jobs enqueues sends in the transactions that write messages.
	Jobs *river.Client[pgx.Tx]
	// DefaultCountry (ISO code) reads national numbers and breaks ties in assignment.
	DefaultCountry string
	// GracePeriod is how long an ended ride's number keeps routing.
	GracePeriod time.Duration
	// APITokens are the bearer tokens the JSON API accepts; none turns it off.
	APITokens []string
	// SigningKey is MessageBird's webhook signing key; "" accepts unsigned
	// webhooks.
	SigningKey string
	// PublicURL is where MessageBird reaches this server (scheme and host):
	// signatures cover it.
	PublicURL string
	// CallLog records answered calls in batches; nil writes each at once.
	CallLog *CallLog
	// AdminUser and AdminPasswordHash guard the console (bcrypt hash).
	AdminUser         string
	AdminPasswordHash []byte
	// SecureCookies marks the session cookie Secure (PUBLIC_URL is https).
	SecureCookies bool
	// PoolLowWatermark: fewer free numbers than this shows a warning.
	PoolLowWatermark int
	// RiverUI serves River's own UI under /riverui; nil leaves it out.
	RiverUI http.Handler
	// Metrics is the process's registry, fed by the webhooks and by
	// database gauges counted at scrape time; nil measures nothing.
	Metrics *prometheus.Registry
	// MetricsToken guards /metrics here (Bearer); "" leaves /metrics out of
	// this app, for MetricsHandler on a private listener.
	MetricsToken string
	// Now is the clock (tests control it); nil means time.Now.
	Now func() time.Time
	// Location is the time zone of texts and pages; nil means time.Local.
	Location *time.Location
	// WorkersRunning reports whether this process's River workers run, for
	// /readyz; nil (a web-only process) leaves the check out.
	WorkersRunning func() bool
	// WebhookConcurrency caps the webhooks handled at once; more wait
	// briefly, then get a 503 (MessageBird retries). 0 means 64.
	WebhookConcurrency int

	app     *fiber.App
	queries *db.Queries
	// base is cancelled at shutdown; request contexts derive from it.
	base       context.Context
	signatures *signature_jwt.Validator
	// replays holds the admitted signatures' ids until they expire.
	replays *replayGuard
	// webhookSlots is the semaphore behind WebhookConcurrency.
	webhookSlots chan struct{}
}

// NewServer builds the Fiber app and its routes. ctx bounds every request's
// work: cancelling it aborts in-flight database calls at shutdown.
func NewServer(ctx context.Context, s *Server) *Server {
	s.base = ctx
	s.queries = db.New(s.DB)
	s.useSigningKey(s.SigningKey)
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	s.app = fiber.New(fiber.Config{
		ErrorHandler:          s.handleError,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		BodyLimit:             consoleBodyLimit, // limitBody sets each route's own
	})
	s.app.Use(recover.New(), s.withUserContext, s.requestID)
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
	s.app.Use(s.requireLogin, s.checkCSRF)
	s.registerDashboardRoutes()
	s.registerRideRoutes()
	s.registerPeopleRoutes()
	s.registerNumberRoutes()
	s.registerSendRoutes()
	s.registerSimulatorRoutes()
	s.registerRiverUIRoutes()
	s.app.Use(func(c *fiber.Ctx) error { return errNotFound })
	return s
}

// App exposes the Fiber app, for tests (app.Test) and the listener.
func (s *Server) App() *fiber.App { return s.app }

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting connections and waits for in-flight requests.
func (s *Server) Shutdown(timeout time.Duration) error {
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
