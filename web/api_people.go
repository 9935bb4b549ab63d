package web

import (
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"birdcar/sql/db"
	"birdcar/sql/ride/phone"
)

// personJSON is a customer or driver as the API shows it.
type personJSON struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

func (s *Server) registerAPIPeopleRoutes(api fiber.Router) {
	api.Post("/customers", s.handleAPIPersonCreate("customer"))
	api.Post("/drivers", s.handleAPIPersonCreate("driver"))
}

// personInput validates a name and phone as typed, for either role.
func (s *Server) personInput(name, rawPhone string) (string, string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", "", invalid("name", "Name is required.")
	case utf8.RuneCountInString(name) > 200:
		return "", "", invalid("name", "Name must be at most 200 characters.")
	case !plainText(name):
		return "", "", invalid("name", "Name must be plain text, without control characters.")
	}
	e164, err := phone.Normalize(rawPhone, s.DefaultCountry)
	if err != nil {
		return "", "", &Error{Status: http.StatusUnprocessableEntity, Code: "invalid_phone", Field: "phone",
			Message: "Phone: " + err.Error() + "."}
	}
	return name, e164, nil
}

func (s *Server) handleAPIPersonCreate(role string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var in struct {
			Name  string `json:"name"`
			Phone string `json:"phone"`
		}
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
		name, e164, err := s.personInput(in.Name, in.Phone)
		if err != nil {
			return err
		}
		var out personJSON
		// In a transaction of its own, so a refused duplicate spoils nothing around it.
		err = pgx.BeginFunc(c.UserContext(), s.DB, func(tx pgx.Tx) error {
			q := db.New(tx)
			if role == "customer" {
				p, err := q.CustomerCreate(c.UserContext(), db.CustomerCreateParams{Name: name, Phone: e164})
				out = personJSON{p.ID, p.Name, p.Phone}
				return err
			}
			p, err := q.DriverCreate(c.UserContext(), db.DriverCreateParams{Name: name, Phone: e164})
			out = personJSON{p.ID, p.Name, p.Phone}
			return err
		})
		if isUniqueViolation(err) {
			return &Error{Status: http.StatusConflict, Code: "duplicate_phone", Field: "phone",
				Message: fmt.Sprintf("A %s with the phone number %s already exists.", role, e164)}
		}
		if err != nil {
			return fmt.Errorf("create %s: %w", role, err)
		}
		return c.Status(http.StatusCreated).JSON(out)
	}
}
