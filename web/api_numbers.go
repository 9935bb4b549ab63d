package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"birdcar/sql/db"
	"birdcar/sql/ride/phone"
)

// numberJSON is a pool number as the API shows it.
type numberJSON struct {
	ID             int64      `json:"id"`
	Number         string     `json:"number"`
	Country        string     `json:"country"`
	Enabled        bool       `json:"enabled"`
	LastAssignedAt *time.Time `json:"last_assigned_at"`
}

func (s *Server) registerAPINumberRoutes(api fiber.Router) {
	api.Post("/numbers", s.handleAPINumberCreate)
	api.Get("/numbers", s.handleAPINumberList)
}

func toNumberJSON(n db.ProxyNumber) numberJSON {
	return numberJSON{n.ID, n.Number, n.Country, n.Enabled, n.LastAssignedAt}
}

// numberInput normalises a pool number; the country defaults to the number's own.
func (s *Server) numberInput(raw, country string) (db.ProxyNumberCreateParams, error) {
	e164, err := phone.Normalize(raw, s.DefaultCountry)
	if err != nil {
		return db.ProxyNumberCreateParams{}, &Error{Status: http.StatusUnprocessableEntity, Code: "invalid_phone",
			Field: "number", Message: "Number: " + err.Error() + "."}
	}
	country = strings.ToUpper(strings.TrimSpace(country))
	if country == "" {
		country = phone.Region(e164)
	}
	if len(country) != 2 || strings.Trim(country, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return db.ProxyNumberCreateParams{}, invalid("country", "Country must be a two-letter ISO code such as NL.")
	}
	return db.ProxyNumberCreateParams{Number: e164, Country: country}, nil
}

func (s *Server) handleAPINumberCreate(c *fiber.Ctx) error {
	var in struct {
		Number  string `json:"number"`
		Country string `json:"country"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	params, err := s.numberInput(in.Number, in.Country)
	if err != nil {
		return err
	}
	var n db.ProxyNumber
	err = pgx.BeginFunc(c.UserContext(), s.DB, func(tx pgx.Tx) (err error) {
		n, err = db.New(tx).ProxyNumberCreate(c.UserContext(), params)
		return err
	})
	if isUniqueViolation(err) {
		return &Error{Status: http.StatusConflict, Code: "duplicate_number", Field: "number",
			Message: fmt.Sprintf("%s is already in the pool.", params.Number)}
	}
	if err != nil {
		return fmt.Errorf("create number: %w", err)
	}
	return c.Status(http.StatusCreated).JSON(toNumberJSON(n))
}

func (s *Server) handleAPINumberList(c *fiber.Ctx) error {
	nums, err := s.queries.ProxyNumberList(c.UserContext())
	if err != nil {
		return fmt.Errorf("list numbers: %w", err)
	}
	out := make([]numberJSON, len(nums))
	for i, n := range nums {
		out[i] = toNumberJSON(n)
	}
	return c.JSON(fiber.Map{"numbers": out})
}
