package web

import (
	"github.com/gofiber/fiber/v2"
)

// handleWebhookSMS records an incoming SMS and forwards it to the other
// party of the ride whose route matches. It answers 200 only once the
// message and its forward's job are committed: after that nothing is lost.
func (s *Server) handleWebhookSMS(c *fiber.Ctx) error {
	in, err := s.inbound.SMS(c.Get(fiber.HeaderContentType), c.Request().Body(), func(name string) string { return c.FormValue(name) })
	if err != nil {
		return err
	}
	outcome, err := s.Rides.ReceiveSMS(c.UserContext(), in)
	if err != nil {
		return err
	}
	c.Locals(localOutcome, string(outcome))
	return c.SendString("OK")
}
