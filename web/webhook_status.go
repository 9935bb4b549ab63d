package web

import (
	"github.com/gofiber/fiber/v2"

	"birdcar/sql/ride"
)

// handleWebhookStatus applies a MessageBird delivery report to the outbound
// message named by its reference (our message id). A report for a message
// we do not know is acknowledged and ignored, so MessageBird stops retrying.
func (s *Server) handleWebhookStatus(c *fiber.Ctx) error {
	field := func(name string) string {
		if v := c.Query(name); v != "" {
			return v
		}
		return c.FormValue(name)
	}
	rep, ok := s.inbound.Report(field)
	if !ok {
		s.Logger.InfoContext(c.UserContext(), "delivery report ignored: unknown reference or status",
			"reference", ride.Sanitize(field("reference")), "status", ride.Sanitize(field("status")))
		return c.SendString("OK")
	}
	applied, err := s.Rides.ApplyReport(c.UserContext(), rep)
	if err != nil {
		return err
	}
	c.Locals(localOutcome, reportOutcome(applied))
	if !applied {
		s.Logger.InfoContext(c.UserContext(), "delivery report ignored: unknown message or older than the last", "reference", rep.MessageID)
	}
	return c.SendString("OK")
}
