package ride

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"birdcar/sql/database"
	"birdcar/sql/migrations"
)

// latestMigration is read once: the embedded migrations never change.
var latestMigration = sync.OnceValue(migrations.Latest)

// Readiness says whether the database can serve the rules now: "ok" for
// each of "database" and "migrations", or what is wrong, in words safe to
// show anyone (no URLs, no passwords), all within timeout. Nothing is
// cached, so it recovers as soon as the database does. The checks run one
// after the other: they share the database (a single transaction, in
// tests).
func (s *Service) Readiness(ctx context.Context, timeout time.Duration) map[string]string {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return map[string]string{"database": s.checkDatabase(ctx, timeout), "migrations": s.checkMigrations(ctx, timeout)}
}

func (s *Service) checkDatabase(ctx context.Context, timeout time.Duration) string {
	var one int
	if err := s.DB.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return describeDBError(ctx, err, timeout)
	}
	return "ok"
}

// checkMigrations fails only when the schema is older than this build. A
// newer one is what old processes see during a rolling deploy, and taking
// them all out of service at once would be an outage.
func (s *Service) checkMigrations(ctx context.Context, timeout time.Duration) string {
	have, err := migrations.Current(ctx, s.DB)
	if err != nil {
		return describeDBError(ctx, err, timeout)
	}
	if want := latestMigration(); have < want {
		return fmt.Sprintf("behind: database at version %d, this build needs %d", have, want)
	}
	return "ok"
}

// describeDBError says what went wrong without what pgx's messages carry
// besides: user, database, host and port.
func describeDBError(ctx context.Context, err error, timeout time.Duration) string {
	if ctx.Err() != nil {
		return fmt.Sprintf("timeout: no answer within %v", timeout)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		// No answer from the server: refused, reset, closed.
		return "unreachable: " + database.Cause(err).Error()
	}
	what := pgErr.Message + " (SQLSTATE " + pgErr.Code + ")"
	if Unreachable(err) {
		return "unreachable: " + what
	}
	return "error: " + what
}

// ErrDatabaseUnavailable is how a request that needed the database while
// it was away is answered: the caller may try again (MessageBird does).
var ErrDatabaseUnavailable = &Error{Code: CodeDatabaseUnavailable,
	Message: "BirdCar cannot reach its database right now; please try again shortly."}

// Unreachable reports whether err says the database could not be reached
// (refused, reset, closed, or going away), as opposed to a query failing.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		var connErr *pgconn.ConnectError
		if errors.As(err, &connErr) {
			return true // refused, or no answer within the connect timeout
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return false // the caller's time ran out: not the server's state
		}
		var netErr net.Error
		return errors.As(err, &netErr) || pgconn.SafeToRetry(err) ||
			errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
	}
	// Class 08 and 57P01-57P03: the connection failed, or the server is
	// going away or not yet there ("the database system is starting up"),
	// not failing a query (57014, a statement timeout, is a failure).
	return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P0")
}
