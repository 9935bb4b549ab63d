package web

import (
	"bytes"
	"crypto/sha256"
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
		Message: "The JSON API is off: set API_TOKENS, or make a token on the console's API tokens page, to enable it."}
	errUnauthorized = &ride.Error{Code: ride.CodeUnauthorized,
		Message: "Send a valid API token as \"Authorization: Bearer <token>\"."}
	errNoEndpoint = &ride.Error{Code: ride.CodeNotFound,
		Message: "The API has no such endpoint, or it does not take this method."}
	errNotJSON = &ride.Error{Code: ride.CodeUnsupportedMediaType,
		Message: "Send the body as JSON with \"Content-Type: application/json\"."}
)

// registerAPIRoutes mounts the JSON API for the platform's backend, and
// its OpenAPI document, which needs no token.
func (s *Server) registerAPIRoutes() {
	s.app.Get("/api/v1/openapi.json", handleOpenAPI)
	api := s.app.Group("/api/v1", s.requireToken, s.idempotency)
	s.registerAPIPeopleRoutes(api)
	s.registerAPINumberRoutes(api)
	s.registerAPIRideRoutes(api)
	s.registerAPIMessageRoutes(api)
	// What the routes above do not take ends here, not at the console's login.
	api.Use(func(c *fiber.Ctx) error { return errNoEndpoint })
}

// localKey names what the API's middleware hands its handlers.
type localKey int

const (
	tokenScopeKey localKey = iota // whose idempotency keys: a hash of the token
	rulesKey                      // the domain bound to an idempotent request's transaction
)

// requireToken admits requests bearing a live API token: one of
// API_TOKENS or one made on the console's API tokens page. The request's
// changes are recorded in the audit log under the token's name.
func (s *Server) requireToken(c *fiber.Ctx) error {
	got, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok {
		got = "" // a token must come as a bearer token
	}
	tok, found, err := s.Admin.Token(c.UserContext(), s.APITokens, got)
	if err != nil {
		return err
	}
	if !found {
		if len(s.APITokens) == 0 {
			if any, err := s.Admin.HasTokens(c.UserContext()); err != nil {
				return err
			} else if !any {
				return errAPIOff
			}
		}
		return errUnauthorized
	}
	c.Locals(tokenScopeKey, tok.Scope)
	c.SetUserContext(ride.WithActor(c.UserContext(), tok.Actor()))
	return c.Next()
}

// rules is the domain as an API handler must use it: inside the
// transaction of an idempotent request, if this is one.
func (s *Server) rules(c *fiber.Ctx) *ride.Service {
	if svc, ok := c.Locals(rulesKey).(*ride.Service); ok {
		return svc
	}
	return s.Rides
}

// idempotency runs a POST or PATCH that carries an Idempotency-Key once
// per key and API token: its changes and its answer commit together, and a
// retry gets the stored answer, marked Idempotent-Replayed. Failures are
// not stored, so a retry after one runs afresh.
func (s *Server) idempotency(c *fiber.Ctx) error {
	key := c.Get("Idempotency-Key")
	if key == "" || (c.Method() != fiber.MethodPost && c.Method() != fiber.MethodPatch) {
		return c.Next()
	}
	if len(key) > 200 || strings.ContainsFunc(key, func(r rune) bool { return r < ' ' || r > '~' }) {
		return ride.InvalidField("idempotency_key", "The Idempotency-Key header must be at most 200 printable ASCII characters.")
	}
	h := sha256.New()
	for _, part := range [][]byte{[]byte(c.Method()), c.Request().URI().RequestURI(), c.Request().Body()} {
		h.Write(part)
		h.Write([]byte{0})
	}
	scope, _ := c.Locals(tokenScopeKey).(string)
	k := ride.IdempotencyKey{Scope: scope, Key: key, Fingerprint: h.Sum(nil)}
	out, replayed, err := s.Rides.Idempotent(c.UserContext(), k, func(svc *ride.Service) (ride.Replay, error) {
		c.Locals(rulesKey, svc)
		if err := c.Next(); err != nil {
			return ride.Replay{}, err
		}
		return ride.Replay{Status: c.Response().StatusCode(), Body: bytes.Clone(c.Response().Body())}, nil
	})
	c.Locals(rulesKey, nil)
	if err != nil || !replayed {
		return err
	}
	c.Set("Idempotent-Replayed", "true")
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(out.Status).Send(out.Body)
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

// pageOf reads a list's limit and cursor from the query string.
func pageOf(c *fiber.Ctx) (ride.Page, error) {
	var p ride.Page
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return p, ride.InvalidField("limit", "limit must be a whole number from 1 to 100.")
		}
		p.Limit = n
	}
	var err error
	p.After, err = ride.ParseCursor(c.Query("cursor"))
	return p, err
}

// queryID reads an optional id filter from the query string: 0 when absent.
func queryID(c *fiber.Ctx, name string) (int64, error) {
	v := c.Query(name)
	if v == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, ride.InvalidField(name, name+" must be a positive whole number.")
	}
	return id, nil
}

// nextCursor is a list's next_cursor: null after the last page.
func nextCursor(c *ride.Cursor) *string {
	if c == nil {
		return nil
	}
	s := c.String()
	return &s
}

// pathID reads a numeric id from the route.
func pathID(c *fiber.Ctx, notFound *ride.Error) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, notFound
	}
	return id, nil
}
