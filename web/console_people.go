package web

import (
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"birdcar/components"
	"birdcar/sql/ride"
)

// registerPeopleRoutes mounts the customers and drivers pages.
func (s *Server) registerPeopleRoutes() {
	s.app.Get("/people", s.handlePeople)
	for _, role := range ride.Roles {
		path := components.PeoplePath(role)
		s.app.Post(path, s.handlePersonAdd(role))
		s.app.Get(path+"/:id", s.handlePersonRow(role))
		s.app.Get(path+"/:id/edit", s.handlePersonEdit(role))
		s.app.Post(path+"/:id", s.handlePersonSave(role))
		s.app.Post(path+"/:id/delete", s.handlePersonDelete(role))
		s.app.Post(path+"/:id/erase", s.handlePersonErase(role))
	}
}

func (s *Server) handlePeople(c *fiber.Ctx) error {
	return s.showPeople(c, http.StatusOK, components.PeopleSectionProps{})
}

// showPeople answers with sec alone for htmx, else with the whole page in
// which sec (when it has a role) stands for its role's section.
func (s *Server) showPeople(c *fiber.Ctx, status int, sec components.PeopleSectionProps) error {
	if sec.Role != "" && isHTMX(c) {
		return render(c, status, components.PeopleSection(sec))
	}
	p := components.PeopleProps{Q: ride.Sanitize(strings.TrimSpace(c.Query("q")))}
	for _, role := range ride.Roles {
		if role == sec.Role {
			p.Sections = append(p.Sections, sec)
			continue
		}
		people, err := s.Rides.People(c.UserContext(), role, p.Q, peopleShown)
		if err != nil {
			return err
		}
		p.Sections = append(p.Sections, components.PeopleSectionProps{Role: role, People: people, Truncated: len(people) == peopleShown})
	}
	return renderPage(c, status, s.layout(c, "People", "people"), components.People(p))
}

// showPersonRow answers with one row for htmx, else with the whole page
// showing that row.
func (s *Server) showPersonRow(c *fiber.Ctx, status int, row components.PersonRowProps) error {
	if isHTMX(c) {
		return render(c, status, components.PersonRow(row))
	}
	people, err := s.Rides.People(c.UserContext(), row.Person.Role, "", peopleShown)
	if err != nil {
		return err
	}
	return s.showPeople(c, status, components.PeopleSectionProps{Role: row.Person.Role, People: people, Row: &row})
}

// formError is what a form shows in place: the message of every field at
// fault, with the status to answer; nil when err is not about fields.
func formError(err error) (map[string]string, int) {
	if e := ride.AsError(err); e != nil && e.Field != "" {
		return e.FieldErrors(), statusOf[e.Code.Kind()]
	}
	return nil, 0
}

func personForm(c *fiber.Ctx) components.PersonForm {
	return components.PersonForm{Name: c.FormValue("name"), Phone: c.FormValue("phone")}
}

func (s *Server) handlePersonAdd(role ride.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		form := personForm(c)
		sec := components.PeopleSectionProps{Role: role}
		status := http.StatusOK
		p, err := s.Rides.CreatePerson(c.UserContext(), role, ride.PersonInput{Name: form.Name, Phone: form.Phone})
		switch fe, feStatus := formError(err); {
		case fe != nil:
			status = feStatus
			form.Errors = fe
			sec.Add = form
		case err != nil:
			return err
		case !isHTMX(c):
			return c.Redirect("/people", http.StatusSeeOther)
		default:
			sec.Added = p.Name
		}
		if sec.People, err = s.Rides.People(c.UserContext(), role, "", peopleShown); err != nil {
			return err
		}
		return s.showPeople(c, status, sec)
	}
}

// person loads the person the route names.
func (s *Server) person(c *fiber.Ctx, role ride.Role) (ride.Person, error) {
	id, err := pathID(c, ride.ErrPersonNotFound)
	if err != nil {
		return ride.Person{}, err
	}
	return s.Rides.Person(c.UserContext(), role, id)
}

// handlePersonRow shows a plain row: Cancel on the inline form asks for it.
func (s *Server) handlePersonRow(role ride.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, err := s.person(c, role)
		if err != nil {
			return err
		}
		return s.showPersonRow(c, http.StatusOK, components.PersonRowProps{Person: p})
	}
}

func (s *Server) handlePersonEdit(role ride.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, err := s.person(c, role)
		if err != nil {
			return err
		}
		return s.showPersonRow(c, http.StatusOK, components.PersonRowProps{
			Person: p, Editing: true, Form: components.PersonForm{Name: p.Name, Phone: p.Phone}})
	}
}

// handlePersonSave updates a person.
func (s *Server) handlePersonSave(role ride.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pathID(c, ride.ErrPersonNotFound)
		if err != nil {
			return err
		}
		form := personForm(c)
		p, err := s.Rides.UpdatePerson(c.UserContext(), role, id, ride.PersonInput{Name: form.Name, Phone: form.Phone})
		if fe, status := formError(err); fe != nil {
			form.Errors = fe
			return s.showPersonRow(c, status, components.PersonRowProps{
				Person: ride.Person{ID: id, Role: role}, Editing: true, Form: form})
		} else if err != nil {
			return err
		}
		if !isHTMX(c) {
			return c.Redirect("/people", http.StatusSeeOther)
		}
		return render(c, http.StatusOK, components.PersonRow(components.PersonRowProps{Person: p}))
	}
}

// handlePersonDelete deletes a person who has never had a ride, or shows
// in their row why not.
func (s *Server) handlePersonDelete(role ride.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pathID(c, ride.ErrPersonNotFound)
		if err != nil {
			return err
		}
		p, err := s.Rides.DeletePerson(c.UserContext(), role, id)
		if ride.ErrorCode(err) == ride.CodePersonHasRides {
			return s.showPersonRow(c, http.StatusConflict, components.PersonRowProps{Person: p, Refusal: ride.AsError(err).Message})
		} else if err != nil {
			return err
		}
		if !isHTMX(c) {
			return c.Redirect("/people", http.StatusSeeOther)
		}
		// An empty answer swaps the row away.
		return c.Status(http.StatusOK).SendString("")
	}
}

// handlePersonErase erases a person and shows them erased, or shows in
// their row why not.
func (s *Server) handlePersonErase(role ride.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pathID(c, ride.ErrPersonNotFound)
		if err != nil {
			return err
		}
		ctx := c.UserContext()
		err = s.Rides.ErasePerson(ctx, role, id)
		if ride.ErrorCode(err) == ride.CodePersonInSession {
			p, perr := s.Rides.Person(ctx, role, id)
			if perr != nil {
				return perr
			}
			return s.showPersonRow(c, http.StatusConflict, components.PersonRowProps{Person: p, Refusal: ride.AsError(err).Message})
		} else if err != nil {
			return err
		}
		p, err := s.Rides.Person(ctx, role, id)
		if err != nil {
			return err
		}
		return s.showPersonRow(c, http.StatusOK, components.PersonRowProps{Person: p})
	}
}
