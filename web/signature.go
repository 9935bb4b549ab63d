package web

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
)

// signatureHeader carries MessageBird's signed JWT on every webhook.
const signatureHeader = "MessageBird-Signature-JWT"

var errBadSignature = &Error{Status: http.StatusUnauthorized, Code: "invalid_signature",
	Message: "The request's MessageBird signature is missing or invalid."}

// verifySignature admits a webhook only with a valid MessageBird signature
// over the full URL (PUBLIC_URL plus the path and query as received) and
// the body, when a signing key is configured.
func (s *Server) verifySignature(c *fiber.Ctx) error {
	if s.Signatures == nil {
		return c.Next()
	}
	token := c.Get(signatureHeader)
	if token == "" {
		return errBadSignature
	}
	url := s.PublicURL + string(c.Request().URI().RequestURI())
	if _, err := s.Signatures.ValidateSignature(token, url, c.Body()); err != nil {
		s.Logger.InfoContext(c.UserContext(), "webhook refused: bad signature", "path", c.Path(), "reason", err)
		return errBadSignature
	}
	return c.Next()
}
