package obs

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
)

// MaxRequestIDLen bounds an incoming id: it is copied into every log line.
const MaxRequestIDLen = 64

// requestIDKey is the context key of the request id.
type requestIDKey struct{}

// ValidRequestID admits ids that are safe to echo and log unquoted.
func ValidRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

// NewRequestID returns 16 hex characters. Ids only need to be unique
// enough to find a request's lines, not unguessable, so math/rand's cheap
// per-thread generator does, on the webhooks' hot path.
func NewRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// WithRequestID returns ctx carrying id, which every log line written
// with the context then carries.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
