package web

import "github.com/gofiber/fiber/v2"

func (s *Server) registerHealthRoutes() {
	s.app.Get("/healthz", s.handleHealthz)
}

// handleHealthz says the process is alive; it touches nothing else.
func (s *Server) handleHealthz(c *fiber.Ctx) error {
	return c.SendString("ok")
}
