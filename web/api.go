package web

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"
)

var (
	errAPIOff = &Error{Status: http.StatusNotFound, Code: "api_disabled",
		Message: "The JSON API is off: set API_TOKENS to enable it."}
	errUnauthorized = &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
		Message: "Send a valid API token as \"Authorization: Bearer <token>\"."}
	errNoEndpoint = &Error{Status: http.StatusNotFound, Code: "not_found",
		Message: "The API has no such endpoint, or it does not take this method."}
)

// registerAPIRoutes mounts the JSON API for the platform's backend.
func (s *Server) registerAPIRoutes() {
	api := s.app.Group("/api/v1", s.requireToken)
	s.registerAPIPeopleRoutes(api)
	s.registerAPINumberRoutes(api)
	s.registerAPIRideRoutes(api)
	// What the routes above do not take ends here, not at the console's login.
	api.Use(func(c *fiber.Ctx) error { return errNoEndpoint })
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
// Anything but an object is refused: null would leave v's defaults in place
// as if they had been sent. Invalid UTF-8 is refused rather than silently
// replaced, as encoding/json would.
func decodeJSON(c *fiber.Ctx, v any) error {
	if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: "Send the body as JSON with \"Content-Type: application/json\"."}
	}
	body := bytes.TrimLeft(c.Body(), " \t\r\n")
	if !utf8.Valid(body) {
		return errNotUTF8
	}
	if !bytes.HasPrefix(body, []byte("{")) {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "The body is not a valid JSON object."}
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return invalid(typeErr.Field, "The field \""+typeErr.Field+"\" must be "+jsonType(typeErr.Type)+".")
		}
		return &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "The body is not a valid JSON object."}
	}
	return nil
}

// jsonType names a field's type as a JSON client knows it.
func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	}
	return "of another type"
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
