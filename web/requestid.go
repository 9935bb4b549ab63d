package web

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// requestIDHeader carries the request id both ways, so a proxy's or a
// client's id ties their logs to ours.
const requestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an incoming id: it is copied into every log line.
const maxRequestIDLen = 64

// requestIDKey is the context key of the request id.
type requestIDKey struct{}

// requestID takes X-Request-Id or makes one, returns it, and puts it in
// the request's context for every log line. It must run after
// withUserContext, which replaces the context.
func (s *Server) requestID(c *fiber.Ctx) error {
	id := c.Get(requestIDHeader)
	if validRequestID(id) {
		// Fiber's strings point into a buffer reused after the request;
		// the context may outlive it.
		id = strings.Clone(id)
	} else {
		id = newRequestID()
	}
	c.Set(requestIDHeader, id)
	c.SetUserContext(withRequestID(c.UserContext(), id))
	return c.Next()
}

// validRequestID admits ids that are safe to echo and log unquoted.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
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

// newRequestID returns 16 hex characters. Ids only need to be unique
// enough to find a request's lines, not unguessable, so math/rand's cheap
// per-thread generator does, on the webhooks' hot path.
func newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// requestIDFrom returns the request id in ctx, or "".
func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
