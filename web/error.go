package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"birdcar/components"
	"birdcar/sql/ride"
)

// statusOf is the one mapping of the domain's kinds of error to HTTP.
var statusOf = map[ride.Kind]int{
	ride.Internal:     http.StatusInternalServerError,
	ride.Invalid:      http.StatusUnprocessableEntity,
	ride.Malformed:    http.StatusBadRequest,
	ride.NotFound:     http.StatusNotFound,
	ride.NotAllowed:   http.StatusMethodNotAllowed,
	ride.Conflict:     http.StatusConflict,
	ride.TooLarge:     http.StatusRequestEntityTooLarge,
	ride.Unsupported:  http.StatusUnsupportedMediaType,
	ride.Unauthorized: http.StatusUnauthorized,
	ride.Forbidden:    http.StatusForbidden,
	ride.Unavailable:  http.StatusServiceUnavailable,
}

var (
	errNotFound = &ride.Error{Code: ride.CodeNotFound, Message: "There is nothing at this address."}
	errInternal = &ride.Error{Code: ride.CodeInternal,
		Message: "Something went wrong on our side. It has been logged; please try again."}
)

// httpError is err as the client sees it, with its status: a domain
// Error as it is, an error Fiber or fasthttp raised in words of our own
// (keeping its status), anything else as an internal error.
func httpError(c *fiber.Ctx, err error) (*ride.Error, int) {
	if e := ride.AsError(err); e != nil {
		return e, statusOf[e.Code.Kind()]
	}
	if ride.Unreachable(err) {
		return ride.ErrDatabaseUnavailable, http.StatusServiceUnavailable
	}
	if fe, ok := errors.AsType[*fiber.Error](err); ok {
		return fiberError(c, fe), fe.Code
	}
	return errInternal, http.StatusInternalServerError
}

// errorStatus is the status the error handler answers err with.
func errorStatus(c *fiber.Ctx, err error) int {
	_, status := httpError(c, err)
	return status
}

// handleError is Fiber's single error handler: it maps an error to a status
// and renders it for whoever asked: problem+json for the API, an htmx
// fragment or a page for the console.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	// The request's context ended with the handler chain; rendering the
	// error still needs one.
	c.SetUserContext(context.WithoutCancel(c.UserContext()))
	// fasthttp's own errors (a malformed request, oversized headers) come
	// here before any middleware ran.
	s.setSecurityHeaders(c)
	pub, status := httpError(c, err)
	if status == http.StatusServiceUnavailable {
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	if pub == ride.ErrDatabaseUnavailable {
		s.Logger.WarnContext(c.UserContext(), "database unreachable", "method", c.Method(), "path", c.Path(), "err", err)
	}
	if pub == errInternal {
		// The log handler adds the request id from the context.
		s.Logger.ErrorContext(c.UserContext(), "request failed",
			"method", c.Method(), "path", c.Path(), "err", err)
	}
	if strings.HasPrefix(c.Path(), "/api/") {
		return writeProblem(c, status, pub)
	}
	props := components.ErrorProps{Status: status, Message: pub.Message}
	if isHTMX(c) {
		return render(c, status, components.ErrorMessage(props))
	}
	return renderPage(c, status, s.layout(c, http.StatusText(status), ""), components.ErrorMessage(props))
}

// fiberError gives an error Fiber or fasthttp raised (a malformed request,
// oversized headers or body, often before any handler ran) a message of
// our own: theirs can quote parser internals and the request's bytes.
func fiberError(c *fiber.Ctx, fe *fiber.Error) *ride.Error {
	switch fe.Code {
	case http.StatusRequestEntityTooLarge:
		return tooLarge(bodyLimit(c))
	case http.StatusNotFound:
		return errNotFound
	case http.StatusMethodNotAllowed:
		return &ride.Error{Code: ride.CodeMethodNotAllowed, Message: "This address does not take this method."}
	case http.StatusUnauthorized:
		return &ride.Error{Code: ride.CodeUnauthorized, Message: http.StatusText(fe.Code) + "."}
	case http.StatusForbidden:
		return &ride.Error{Code: ride.CodeForbidden, Message: http.StatusText(fe.Code) + "."}
	case http.StatusBadRequest:
		return &ride.Error{Code: ride.CodeBadRequest, Message: "The request is not valid HTTP."}
	case http.StatusRequestHeaderFieldsTooLarge:
		return &ride.Error{Code: ride.CodeBadRequest, Message: "The request's headers are too large."}
	case http.StatusRequestTimeout:
		return &ride.Error{Code: ride.CodeBadRequest, Message: "The request took too long to arrive."}
	}
	code := ride.CodeBadRequest
	if fe.Code >= 500 {
		code = ride.CodeInternal
	}
	return &ride.Error{Code: code, Message: http.StatusText(fe.Code) + "."}
}

// problem is an RFC 9457 problem document with BirdCar's stable code.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Field  string `json:"field,omitempty"`
	// Errors lists every field at fault, the first among them, when
	// there is more than one.
	Errors []fieldProblem `json:"errors,omitempty"`
}

// fieldProblem is one field at fault in a problem document.
type fieldProblem struct {
	Code   string `json:"code"`
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

func writeProblem(c *fiber.Ctx, status int, e *ride.Error) error {
	p := problem{
		Type: "about:blank", Title: http.StatusText(status), Status: status,
		Detail: e.Message, Code: e.Name(), Field: e.Field,
	}
	if len(e.More) > 0 {
		for _, f := range append([]*ride.Error{e}, e.More...) {
			p.Errors = append(p.Errors, fieldProblem{Code: f.Name(), Field: f.Field, Detail: f.Message})
		}
	}
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/problem+json")
	return c.Status(status).Send(body)
}
