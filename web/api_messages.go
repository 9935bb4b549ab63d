package web

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"birdcar/sql/ride"
)

func (s *Server) registerAPIMessageRoutes(api fiber.Router) {
	api.Post("/messages/:id/retry", s.handleAPISendAction(func(r *ride.Service, ctx context.Context, id int64) error {
		_, err := r.RetrySend(ctx, id)
		return err
	}))
	api.Post("/messages/:id/cancel", s.handleAPISendAction((*ride.Service).CancelSend))
}

// handleAPISendAction retries or cancels a queued or failed send, as the
// console's sends page does, and answers with the message as it is now.
func (s *Server) handleAPISendAction(act func(*ride.Service, context.Context, int64) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pathID(c, ride.ErrMessageNotFound)
		if err != nil {
			return err
		}
		rules := s.rules(c)
		if err := act(rules, c.UserContext(), id); err != nil {
			return err
		}
		m, err := rules.OutboundMessage(c.UserContext(), id)
		if err != nil {
			return err
		}
		return c.JSON(toMessageJSON(m))
	}
}
