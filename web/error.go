package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"birdcar/components"
)

// Error is a failure whose Message is safe to show a person. Any other
// error reaching the error handler is internal: logged, never shown.
type Error struct {
	Status  int
	Code    string // stable, for API clients
	Message string
	Field   string // the input at fault, when there is one
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// invalid reports bad input in one field (HTTP 422).
func invalid(field, message string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "invalid_" + field, Message: message, Field: field}
}

var errNotFound = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is nothing at this address."}

// handleError is Fiber's single error handler: it maps an error to a status
// and renders it for whoever asked.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	// The request's context ended with the handler chain; rendering the
	// error still needs one.
	c.SetUserContext(context.WithoutCancel(c.UserContext()))
	var pub *Error
	var fe *fiber.Error
	switch {
	case errors.As(err, &pub):
	case errors.As(err, &fe):
		pub = fiberError(c, fe)
	default:
		// The log handler adds the request id from the context.
		s.Logger.ErrorContext(c.UserContext(), "request failed",
			"method", c.Method(), "path", c.Path(), "err", err)
		pub = &Error{Status: http.StatusInternalServerError, Code: "internal",
			Message: "Something went wrong on our side. It has been logged; please try again."}
	}
	if strings.HasPrefix(c.Path(), "/api/") {
		return writeProblem(c, pub)
	}
	props := components.ErrorProps{Status: pub.Status, Message: pub.Message}
	if isHTMX(c) {
		return render(c, pub.Status, components.ErrorMessage(props))
	}
	return renderPage(c, pub.Status, s.layout(c, http.StatusText(pub.Status), ""), components.ErrorMessage(props))
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

// problem is an RFC 9457 problem document with BirdCar's stable code.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Field  string `json:"field,omitempty"`
}

func writeProblem(c *fiber.Ctx, e *Error) error {
	body, err := json.Marshal(problem{
		Type: "about:blank", Title: http.StatusText(e.Status), Status: e.Status,
		Detail: e.Message, Code: e.Code, Field: e.Field,
	})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/problem+json")
	return c.Status(e.Status).Send(body)
}
