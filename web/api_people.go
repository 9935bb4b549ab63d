package web

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"birdcar/sql/ride"
)

// personJSON is a customer or driver as the API shows it.
type personJSON struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

func (s *Server) registerAPIPeopleRoutes(api fiber.Router) {
	for _, role := range ride.Roles {
		api.Post("/"+string(role)+"s", s.handleAPIPersonCreate(role))
	}
}

func (s *Server) handleAPIPersonCreate(role ride.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var in struct {
			Name  string `json:"name"`
			Phone string `json:"phone"`
		}
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
		p, err := s.Rides.CreatePerson(c.UserContext(), role, ride.PersonInput{Name: in.Name, Phone: in.Phone})
		if err != nil {
			return err
		}
		return c.Status(http.StatusCreated).JSON(personJSON{p.ID, p.Name, p.Phone})
	}
}
