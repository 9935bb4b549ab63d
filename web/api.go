package web

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"birdcar/sql/ride"
)

var (
	errAPIOff = &ride.Error{Code: ride.CodeAPIDisabled,
		Message: "The JSON API is off: set API_TOKENS to enable it."}
	errUnauthorized = &ride.Error{Code: ride.CodeUnauthorized,
		Message: "Send a valid API token as \"Authorization: Bearer <token>\"."}
	errNoEndpoint = &ride.Error{Code: ride.CodeNotFound,
		Message: "The API has no such endpoint, or it does not take this method."}
	errNotJSON = &ride.Error{Code: ride.CodeUnsupportedMediaType,
		Message: "Send the body as JSON with \"Content-Type: application/json\"."}
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
		return errNotJSON
	}
	body := bytes.TrimLeft(c.Request().Body(), " \t\r\n")
	if !utf8.Valid(body) {
		return ride.ErrNotUTF8
	}
	if !bytes.HasPrefix(body, []byte("{")) {
		return ride.ErrInvalidJSON
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return ride.InvalidField(typeErr.Field, "The field \""+typeErr.Field+"\" must be "+jsonType(typeErr.Type)+".")
		}
		return ride.ErrInvalidJSON
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
func pathID(c *fiber.Ctx, notFound *ride.Error) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, notFound
	}
	return id, nil
}
