package components

import "context"

type csrfKey struct{}

// WithCSRF puts the session's CSRF token where templates find it.
func WithCSRF(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, csrfKey{}, token)
}

// CSRFToken is the token WithCSRF stored, or "".
func CSRFToken(ctx context.Context) string {
	tok, _ := ctx.Value(csrfKey{}).(string)
	return tok
}

// CSRFFieldName is the form field (and CSRFHeader the htmx header) that
// carries the token.
const (
	CSRFFieldName = "_csrf"
	CSRFHeader    = "X-CSRF-Token"
)
