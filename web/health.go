package web

import (
	"time"

	"github.com/gofiber/fiber/v2"
)

// readyTimeout bounds a whole /readyz answer, all checks together: a probe
// (Kubernetes waits 1 s by default) counts a late answer as a failure anyway.
const readyTimeout = time.Second

func (s *Server) registerHealthRoutes() {
	s.app.Get("/healthz", s.handleHealthz)
	s.app.Get("/readyz", s.handleReadyz)
}

// handleHealthz says the process is alive; it touches nothing else.
func (s *Server) handleHealthz(c *fiber.Ctx) error {
	return c.SendString("ok")
}

// readiness is /readyz's answer: each check is "ok" or says what is wrong
// in words safe to show anyone (no URLs, no passwords).
type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// handleReadyz says whether this process can do its work now: 200 when
// every check passes, 503 naming the failures otherwise.
func (s *Server) handleReadyz(c *fiber.Ctx) error {
	checks := s.Rides.Readiness(c.UserContext(), readyTimeout)
	if s.WorkersRunning != nil {
		checks["workers"] = "ok"
		if !s.WorkersRunning() {
			checks["workers"] = "not running"
		}
	}
	answer, status := readiness{Status: "ready", Checks: checks}, fiber.StatusOK
	for _, v := range checks {
		if v != "ok" {
			answer.Status, status = "not ready", fiber.StatusServiceUnavailable
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(answer)
}
