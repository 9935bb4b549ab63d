package web

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"

	"birdcar/sql/migrations"
)

// readyTimeout bounds a whole /readyz answer, all checks together: a probe
// (Kubernetes waits 1 s by default) counts a late answer as a failure anyway.
const readyTimeout = time.Second

// latestMigration is read once: the embedded migrations never change.
var latestMigration = sync.OnceValue(migrations.Latest)

func (s *Server) registerHealthRoutes() {
	s.app.Get("/healthz", s.handleHealthz)
	s.app.Get("/readyz", s.handleReadyz)
}

// handleHealthz says the process is alive; it touches nothing else.
func (s *Server) handleHealthz(c *fiber.Ctx) error {
	return c.SendString("ok")
}

// readiness is /readyz's answer: each check is "ok" or says what is wrong
// in words safe to show anyone (no URLs, no passwords).
type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// handleReadyz says whether this process can do its work now: 200 when
// every check passes, 503 naming the failures otherwise. Nothing is cached,
// so it recovers as soon as the database does. The checks run one after
// the other: they share the database (a single transaction, in tests).
func (s *Server) handleReadyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), readyTimeout)
	defer cancel()
	checks := map[string]string{
		"database":   s.checkDatabase(ctx),
		"migrations": s.checkMigrations(ctx),
	}
	if s.WorkersRunning != nil {
		checks["workers"] = "ok"
		if !s.WorkersRunning() {
			checks["workers"] = "not running"
		}
	}
	answer, status := readiness{Status: "ready", Checks: checks}, fiber.StatusOK
	for _, v := range checks {
		if v != "ok" {
			answer.Status, status = "not ready", fiber.StatusServiceUnavailable
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(answer)
}

func (s *Server) checkDatabase(ctx context.Context) string {
	var one int
	if err := s.DB.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return describeDBError(ctx, err)
	}
	return "ok"
}

// checkMigrations fails only when the schema is older than this build. A
// newer one is what old processes see during a rolling deploy, and taking
// them all out of service at once would be an outage.
func (s *Server) checkMigrations(ctx context.Context) string {
	have, err := migrations.Current(ctx, s.DB)
	if err != nil {
		return describeDBError(ctx, err)
	}
	if want := latestMigration(); have < want {
		return fmt.Sprintf("behind: database at version %d, this build needs %d", have, want)
	}
	return "ok"
}

// describeDBError says what went wrong without what pgx's messages carry
// besides: user, database, host and port.
func describeDBError(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return fmt.Sprintf("timeout: no answer within %v", readyTimeout)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		// No answer from the server: refused, reset, closed.
		return "unreachable: " + innermost(err).Error()
	}
	what := pgErr.Message + " (SQLSTATE " + pgErr.Code + ")"
	// Classes 08 and 57: the server is going away or not yet there ("the
	// database system is starting up"), not failing a query.
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) || strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57") {
		return "unreachable: " + what
	}
	return "error: " + what
}

// innermost follows an error chain, and the first of joined errors, to its
// end: "connection refused", without the dial details wrapped around it.
func innermost(err error) error {
	for {
		var next error
		switch e := err.(type) {
		case interface{ Unwrap() error }:
			next = e.Unwrap()
		case interface{ Unwrap() []error }:
			if errs := e.Unwrap(); len(errs) > 0 {
				next = errs[0]
			}
		}
		if next == nil {
			return err
		}
		err = next
	}
}
