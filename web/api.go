package web

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"
)

var (
	errAPIOff = &Error{Status: http.StatusNotFound, Code: "api_disabled",
		Message: "The JSON API is off: set API_TOKENS to enable it."}
	errUnauthorized = &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
		Message: "Send a valid API token as \"Authorization: Bearer <token>\"."}
)

// registerAPIRoutes mounts the JSON API for the platform's backend.
func (s *Server) registerAPIRoutes() {
	api := s.app.Group("/api/v1", s.requireToken)
	s.registerAPIPeopleRoutes(api)
	s.registerAPINumberRoutes(api)
	s.registerAPIRideRoutes(api)
}

// requireToken admits requests bearing one of the configured API tokens.
func (s *Server) requireToken(c *fiber.Ctx) error {
	if len(s.APITokens) == 0 {
		return errAPIOff
	}
	got, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok || got == "" {
		return errUnauthorized
	}
	for _, tok := range s.APITokens {
		if subtle.ConstantTimeCompare([]byte(got), []byte(tok)) == 1 {
			return c.Next()
		}
	}
	return errUnauthorized
}

// decodeJSON reads a JSON object body into v, with errors a client can fix.
func decodeJSON(c *fiber.Ctx, v any) error {
	if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: "Send the body as JSON with \"Content-Type: application/json\"."}
	}
	if err := json.Unmarshal(c.Body(), v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return invalid(typeErr.Field, "The field \""+typeErr.Field+"\" has the wrong type: want "+typeErr.Type.String()+".")
		}
		return &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "The body is not a valid JSON object."}
	}
	return nil
}

// pathID reads a numeric id from the route.
func pathID(c *fiber.Ctx, notFound *Error) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, notFound
	}
	return id, nil
}

// isUniqueViolation reports a duplicate the database refused.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
