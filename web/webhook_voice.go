package web

import (
	"github.com/gofiber/fiber/v2"

	"birdcar/jobs/messagebird"
)

// handleWebhookVoice answers MessageBird's fetch-call-flow request: transfer
// a ride party's call to the other party, or explain why not.
func (s *Server) handleWebhookVoice(c *fiber.Ctx) error {
	answer, err := s.Rides.RouteCall(c.UserContext(), s.inbound.Call(func(name string) string { return c.Query(name) }))
	if err != nil {
		return err
	}
	c.Locals(localOutcome, callOutcome(answer.TransferTo))
	c.Set(fiber.HeaderContentType, "application/xml")
	if answer.TransferTo == "" && answer.Say != "" {
		return c.Send(messagebird.SayFlow(answer.Say))
	}
	return c.Send(messagebird.CallFlow(answer.TransferTo))
}
