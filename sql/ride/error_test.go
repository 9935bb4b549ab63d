package ride_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"birdcar/sql/ride"
)

func TestError_NamesAndCodes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		err  error
		want string
		code ride.Code
		kind ride.Kind
	}{
		{"a field's invalid value is named after it", ride.InvalidField("start", "Start is required."), "invalid_start", ride.CodeInvalid, ride.Invalid},
		{"a field's malformed value too", ride.MalformedField("id", "id is required."), "invalid_id", ride.CodeMalformed, ride.Malformed},
		{"a code with a field keeps its name", &ride.Error{Code: ride.CodeInvalidPhone, Field: "number"}, "invalid_phone", ride.CodeInvalidPhone, ride.Invalid},
		{"a wrapped error keeps its code", fmt.Errorf("create: %w", ride.ErrPoolExhausted), "pool_exhausted", ride.CodePoolExhausted, ride.Conflict},
		{"anything else is internal", errors.New("connection reset"), "internal", ride.CodeInternal, ride.Internal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code := ride.ErrorCode(tt.err)
			name := code.String()
			if e := ride.AsError(tt.err); e != nil {
				name = e.Name()
			}
			if code != tt.code || code.Kind() != tt.kind || name != tt.want {
				t.Errorf("code %s (kind %d) named %q; want %s (kind %d) named %q", code, code.Kind(), name, tt.code, tt.kind, tt.want)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"server shutting down", &pgconn.PgError{Code: "57P01"}, true},
		{"server starting", &pgconn.PgError{Code: "57P03"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, false},
		{"constraint", &pgconn.PgError{Code: "23505"}, false},
		{"refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"caller's deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), false},
		{"EOF", io.ErrUnexpectedEOF, true},
	} {
		if got := ride.Unreachable(tt.err); got != tt.want {
			t.Errorf("%s: Unreachable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
