package web

import (
	"github.com/gofiber/fiber/v2"
)

// hstsMaxAge keeps browsers on https for a year once they have seen it.
const hstsMaxAge = "max-age=31536000"

// securityHeaders gives every answer the headers below. It runs first, so
// that whatever answers later (a handler, the error handler, River UI)
// answers with them; handleError sets them again for the errors fasthttp
// raises before any handler runs.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	s.setSecurityHeaders(c)
	return c.Next()
}

func (s *Server) setSecurityHeaders(c *fiber.Ctx) {
	h := &c.Response().Header
	// Browsers take the declared Content-Type, never a guess from the body:
	// a text a rider sent cannot be sniffed into HTML or script.
	h.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	// No page of ours may be framed, so none can be overlaid to trick a
	// click (ending a ride, revealing a number). The policy holds only
	// frame-ancestors: River UI's pages run its own scripts and styles, which
	// a script policy would have to admit. X-Frame-Options is for browsers
	// older than frame-ancestors.
	h.Set(fiber.HeaderContentSecurityPolicy, "frame-ancestors 'none'")
	h.Set(fiber.HeaderXFrameOptions, "DENY")
	// Console pages show phone numbers and carry the session's CSRF token:
	// no cache, shared or the browser's own, may keep them. The API and the
	// webhooks answer with the same data, so they get the same; only the
	// static files (which set their own) are cached.
	h.Set(fiber.HeaderCacheControl, "no-store")
	// A search's address may hold a phone number: a link to another site
	// must not carry it there in its Referer.
	h.Set(fiber.HeaderReferrerPolicy, "same-origin")
	if s.SecureCookies {
		// PUBLIC_URL is https: browsers must not come back over http.
		h.Set(fiber.HeaderStrictTransportSecurity, hstsMaxAge)
	}
}
