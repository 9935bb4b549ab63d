package ride_test

import (
	"errors"
	"fmt"
	"testing"

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
