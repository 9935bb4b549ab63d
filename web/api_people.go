package web

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"birdcar/sql/ride"
)

// personJSON is a customer or driver as the API shows it; an erased one
// has no phone.
type personJSON struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Phone  string `json:"phone,omitempty"`
	Erased bool   `json:"erased"`
}

func toPersonJSON(p ride.Person) personJSON {
	if p.Erased() {
		return personJSON{ID: p.ID, Name: p.Name, Erased: true}
	}
	return personJSON{ID: p.ID, Name: p.Name, Phone: p.Phone}
}

func (s *Server) registerAPIPeopleRoutes(api fiber.Router) {
	for _, role := range ride.Roles {
		plural := "/" + string(role) + "s"
		api.Post(plural, s.handleAPIPersonCreate(role))
		api.Get(plural, s.handleAPIPersonList(role))
		api.Get(plural+"/:id", s.handleAPIPersonGet(role))
		api.Patch(plural+"/:id", s.handleAPIPersonPatch(role))
		api.Delete(plural+"/:id", s.handleAPIPersonErase(role))
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
		p, err := s.rules(c).CreatePerson(c.UserContext(), role, ride.PersonInput{Name: in.Name, Phone: in.Phone})
		if err != nil {
			return err
		}
		return c.Status(http.StatusCreated).JSON(toPersonJSON(p))
	}
}

// handleAPIPersonList pages through the people of a role, newest first;
// ?phone= finds one by their phone in any form a person types.
func (s *Server) handleAPIPersonList(role ride.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		page, err := pageOf(c)
		if err != nil {
			return err
		}
		people, next, err := s.rules(c).PeoplePage(c.UserContext(), role, c.Query("phone"), page)
		if err != nil {
			return err
		}
		out := make([]personJSON, len(people))
		for i, p := range people {
			out[i] = toPersonJSON(p)
		}
		return c.JSON(fiber.Map{string(role) + "s": out, "next_cursor": nextCursor(next)})
	}
}

func (s *Server) handleAPIPersonGet(role ride.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pathID(c, ride.ErrPersonNotFound)
		if err != nil {
			return err
		}
		p, err := s.rules(c).Person(c.UserContext(), role, id)
		if err != nil {
			return err
		}
		return c.JSON(toPersonJSON(p))
	}
}

// handleAPIPersonPatch changes the fields sent; the others stay.
func (s *Server) handleAPIPersonPatch(role ride.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pathID(c, ride.ErrPersonNotFound)
		if err != nil {
			return err
		}
		var in struct {
			Name  *string `json:"name"`
			Phone *string `json:"phone"`
		}
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
		p, err := s.rules(c).PatchPerson(c.UserContext(), role, id, ride.PersonPatch{Name: in.Name, Phone: in.Phone})
		if err != nil {
			return err
		}
		return c.JSON(toPersonJSON(p))
	}
}

// handleAPIPersonErase erases a person (see ride.Service.ErasePerson).
func (s *Server) handleAPIPersonErase(role ride.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pathID(c, ride.ErrPersonNotFound)
		if err != nil {
			return err
		}
		if err := s.rules(c).ErasePerson(c.UserContext(), role, id); err != nil {
			return err
		}
		return c.SendStatus(http.StatusNoContent)
	}
}
