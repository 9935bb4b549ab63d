package web

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"birdcar/components"
)

// Error is a failure whose Message is safe to show a person. Any other
// error reaching the error handler is internal: logged, never shown.
type Error struct {
	Status  int
	Code    string // stable, for API clients
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

var errNotFound = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is nothing at this address."}

// handleError is Fiber's single error handler: it maps an error to a status
// and renders it for whoever asked.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	var pub *Error
	var fe *fiber.Error
	switch {
	case errors.As(err, &pub):
	case errors.As(err, &fe):
		// Fiber's own errors (bad method, body too large) carry safe texts.
		pub = &Error{Status: fe.Code, Code: codeForStatus(fe.Code), Message: fe.Message}
	default:
		s.Logger.ErrorContext(c.UserContext(), "request failed",
			"request_id", c.Locals("requestid"), "method", c.Method(), "path", c.Path(), "err", err)
		pub = &Error{Status: http.StatusInternalServerError, Code: "internal",
			Message: "Something went wrong on our side. It has been logged; please try again."}
	}
	props := components.ErrorProps{Status: pub.Status, Message: pub.Message}
	if isHTMX(c) {
		return render(c, pub.Status, components.ErrorMessage(props))
	}
	return renderPage(c, pub.Status, components.LayoutProps{Title: http.StatusText(pub.Status), Sandbox: s.Sandbox}, components.ErrorMessage(props))
}

func codeForStatus(status int) string {
	switch status {
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	}
	if status >= 500 {
		return "internal"
	}
	return "bad_request"
}
