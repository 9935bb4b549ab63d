package web

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"birdcar/sql/ride"
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
	api.Patch("/numbers/:id", s.handleAPINumberPatch)
}

func toNumberJSON(n ride.Number) numberJSON {
	return numberJSON{n.ID, n.Number, n.Country, n.Enabled, n.LastAssignedAt}
}

func (s *Server) handleAPINumberCreate(c *fiber.Ctx) error {
	var in struct {
		Number  string `json:"number"`
		Country string `json:"country"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	n, err := s.rules(c).AddNumber(c.UserContext(), ride.NumberInput{Number: in.Number, Country: in.Country})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(toNumberJSON(n))
}

func (s *Server) handleAPINumberList(c *fiber.Ctx) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	nums, next, err := s.rules(c).NumberPage(c.UserContext(), page)
	if err != nil {
		return err
	}
	out := make([]numberJSON, len(nums))
	for i, n := range nums {
		out[i] = toNumberJSON(n)
	}
	return c.JSON(fiber.Map{"numbers": out, "next_cursor": nextCursor(next)})
}

// handleAPINumberPatch switches a number on or off: a disabled number
// takes no new ride, and rides already on it keep it.
func (s *Server) handleAPINumberPatch(c *fiber.Ctx) error {
	id, err := pathID(c, ride.ErrNumberNotFound)
	if err != nil {
		return err
	}
	var in struct {
		Enabled *bool `json:"enabled"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Enabled == nil {
		return ride.InvalidField("enabled", `Send {"enabled": true} or {"enabled": false}.`)
	}
	n, err := s.rules(c).SetNumberEnabled(c.UserContext(), id, *in.Enabled)
	if err != nil {
		return err
	}
	return c.JSON(toNumberJSON(n))
}
