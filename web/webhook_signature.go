package web

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"birdcar/jobs/messagebird"
)

// verifySignature admits a webhook only with a valid MessageBird signature
// over the full URL (PUBLIC_URL plus the path and query as received) and
// the body, when a signing key is configured, and only once.
func (s *Server) verifySignature(c *fiber.Ctx) error {
	if s.verifier == nil {
		return c.Next()
	}
	url := s.PublicURL + string(c.Request().URI().RequestURI())
	id, err := s.verifier.Verify(c.Get(messagebird.SignatureHeader), url, c.Request().Body())
	switch {
	case errors.Is(err, messagebird.ErrBadSignature):
		s.Logger.InfoContext(c.UserContext(), "webhook refused: bad signature", "path", c.Path(), "reason", err)
		return messagebird.ErrBadSignature
	case errors.Is(err, messagebird.ErrReplayed):
		s.Logger.WarnContext(c.UserContext(), "webhook refused: signature replayed", "path", c.Path())
		return err
	case errors.Is(err, messagebird.ErrTooManySignatures):
		c.Set(fiber.HeaderRetryAfter, "1")
		return errBusy
	case err != nil:
		return err
	}
	err = c.Next()
	if err != nil && errorStatus(c, err) >= 500 {
		// MessageBird retries a 5xx; should the retry carry the same
		// signature, it must get through.
		s.verifier.Release(id)
	}
	return err
}
