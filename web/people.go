package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"birdcar/components"
	"birdcar/sql/db"
)

// personTable binds the People handlers to the customers or the drivers
// table: the two have the same shape but distinct generated queries. Each
// function takes the queries first, like a method expression.
type personTable struct {
	role     components.Role
	list     func(q *db.Queries, ctx context.Context, search string) ([]components.Person, error)
	get      func(*db.Queries, context.Context, int64) (components.Person, error)
	create   func(*db.Queries, context.Context, string, string) (components.Person, error)
	update   func(*db.Queries, context.Context, int64, string, string) (components.Person, error)
	delete   func(*db.Queries, context.Context, int64) (int64, error)
	lastRide func(*db.Queries, context.Context, int64) (db.CustomerLastRideRow, error)
}

// peopleShown is how many of each role a list shows; a search finds the rest.
const peopleShown = 100

var personTables = []personTable{
	{
		role: components.RoleCustomer,
		list: func(q *db.Queries, ctx context.Context, search string) ([]components.Person, error) {
			rows, err := q.CustomerList(ctx, db.CustomerListParams{Q: search, Lim: peopleShown})
			people := make([]components.Person, len(rows))
			for i, r := range rows {
				people[i] = components.Person{ID: r.ID, Name: r.Name, Phone: r.Phone}
			}
			return people, err
		},
		get: func(q *db.Queries, ctx context.Context, id int64) (components.Person, error) {
			r, err := q.CustomerGet(ctx, id)
			return components.Person{ID: r.ID, Name: r.Name, Phone: r.Phone}, err
		},
		create: func(q *db.Queries, ctx context.Context, name, phone string) (components.Person, error) {
			r, err := q.CustomerCreate(ctx, db.CustomerCreateParams{Name: name, Phone: phone})
			return components.Person{ID: r.ID, Name: r.Name, Phone: r.Phone}, err
		},
		update: func(q *db.Queries, ctx context.Context, id int64, name, phone string) (components.Person, error) {
			r, err := q.CustomerUpdate(ctx, db.CustomerUpdateParams{ID: id, Name: name, Phone: phone})
			return components.Person{ID: r.ID, Name: r.Name, Phone: r.Phone}, err
		},
		delete:   (*db.Queries).CustomerDelete,
		lastRide: (*db.Queries).CustomerLastRide,
	},
	{
		role: components.RoleDriver,
		list: func(q *db.Queries, ctx context.Context, search string) ([]components.Person, error) {
			rows, err := q.DriverList(ctx, db.DriverListParams{Q: search, Lim: peopleShown})
			people := make([]components.Person, len(rows))
			for i, r := range rows {
				people[i] = components.Person{ID: r.ID, Name: r.Name, Phone: r.Phone}
			}
			return people, err
		},
		get: func(q *db.Queries, ctx context.Context, id int64) (components.Person, error) {
			r, err := q.DriverGet(ctx, id)
			return components.Person{ID: r.ID, Name: r.Name, Phone: r.Phone}, err
		},
		create: func(q *db.Queries, ctx context.Context, name, phone string) (components.Person, error) {
			r, err := q.DriverCreate(ctx, db.DriverCreateParams{Name: name, Phone: phone})
			return components.Person{ID: r.ID, Name: r.Name, Phone: r.Phone}, err
		},
		update: func(q *db.Queries, ctx context.Context, id int64, name, phone string) (components.Person, error) {
			r, err := q.DriverUpdate(ctx, db.DriverUpdateParams{ID: id, Name: name, Phone: phone})
			return components.Person{ID: r.ID, Name: r.Name, Phone: r.Phone}, err
		},
		delete: (*db.Queries).DriverDelete,
		lastRide: func(q *db.Queries, ctx context.Context, id int64) (db.CustomerLastRideRow, error) {
			r, err := q.DriverLastRide(ctx, id)
			return db.CustomerLastRideRow(r), err
		},
	},
}

// registerPeopleRoutes mounts the customers and drivers pages.
func (s *Server) registerPeopleRoutes() {
	s.app.Get("/people", s.handlePeople)
	for _, t := range personTables {
		path := t.role.Path()
		s.app.Post(path, s.handlePersonAdd(t))
		s.app.Get(path+"/:id", s.handlePersonRow(t))
		s.app.Get(path+"/:id/edit", s.handlePersonEdit(t))
		s.app.Post(path+"/:id", s.handlePersonSave(t))
		s.app.Post(path+"/:id/delete", s.handlePersonDelete(t))
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
	p := components.PeopleProps{Q: sanitize(strings.TrimSpace(c.Query("q")))}
	for _, t := range personTables {
		if t.role == sec.Role {
			p.Sections = append(p.Sections, sec)
			continue
		}
		people, err := t.list(s.queries, c.UserContext(), p.Q)
		if err != nil {
			return fmt.Errorf("list %ss: %w", t.role, err)
		}
		p.Sections = append(p.Sections, components.PeopleSectionProps{Role: t.role, People: people, Truncated: len(people) == peopleShown})
	}
	return renderPage(c, status, s.layout(c, "People", "people"), components.People(p))
}

// showPersonRow answers with one row for htmx, else with the whole page
// showing that row.
func (s *Server) showPersonRow(c *fiber.Ctx, status int, t personTable, row components.PersonRowProps) error {
	if isHTMX(c) {
		return render(c, status, components.PersonRow(row))
	}
	people, err := t.list(s.queries, c.UserContext(), "")
	if err != nil {
		return fmt.Errorf("list %ss: %w", t.role, err)
	}
	return s.showPeople(c, status, components.PeopleSectionProps{Role: t.role, People: people, Row: &row})
}

// formError is the field error a form shows in place, or nil when err is
// not one.
func formError(err error) *Error {
	var pub *Error
	if errors.As(err, &pub) && pub.Field != "" {
		return pub
	}
	return nil
}

func (s *Server) handlePersonAdd(t personTable) fiber.Handler {
	return func(c *fiber.Ctx) error {
		form := components.PersonForm{Name: c.FormValue("name"), Phone: c.FormValue("phone")}
		sec := components.PeopleSectionProps{Role: t.role}
		status := http.StatusOK
		p, err := s.savePerson(c.UserContext(), t, 0, form)
		switch fe := formError(err); {
		case fe != nil:
			status = fe.Status
			form.Errors = map[string]string{fe.Field: fe.Message}
			sec.Add = form
		case err != nil:
			return err
		case !isHTMX(c):
			return c.Redirect("/people", http.StatusSeeOther)
		default:
			sec.Added = p.Name
		}
		if sec.People, err = t.list(s.queries, c.UserContext(), ""); err != nil {
			return fmt.Errorf("list %ss: %w", t.role, err)
		}
		return s.showPeople(c, status, sec)
	}
}

// savePerson validates a form and creates (id 0) or updates the person.
func (s *Server) savePerson(ctx context.Context, t personTable, id int64, form components.PersonForm) (components.Person, error) {
	name, e164, err := s.personInput(form.Name, form.Phone)
	if err != nil {
		return components.Person{}, err
	}
	var p components.Person
	// A savepoint of its own, so a refused duplicate spoils nothing around it.
	err = pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) (err error) {
		if id == 0 {
			p, err = t.create(db.New(tx), ctx, name, e164)
		} else {
			p, err = t.update(db.New(tx), ctx, id, name, e164)
		}
		return err
	})
	switch {
	case isUniqueViolation(err):
		return p, &Error{Status: http.StatusConflict, Code: "duplicate_phone", Field: "phone",
			Message: fmt.Sprintf("A %s with the phone number %s already exists.", t.role, e164)}
	case errors.Is(err, pgx.ErrNoRows):
		return p, errPersonNotFound
	case err != nil:
		return p, fmt.Errorf("save %s: %w", t.role, err)
	}
	return p, nil
}

var errPersonNotFound = &Error{Status: http.StatusNotFound, Code: "person_not_found", Message: "This person no longer exists."}

// person loads the person the route names.
func (s *Server) person(c *fiber.Ctx, t personTable) (components.Person, error) {
	id, err := pathID(c, errPersonNotFound)
	if err != nil {
		return components.Person{}, err
	}
	p, err := t.get(s.queries, c.UserContext(), id)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, errPersonNotFound
	} else if err != nil {
		return p, fmt.Errorf("get %s: %w", t.role, err)
	}
	return p, nil
}

// handlePersonRow shows a plain row: Cancel on the inline form asks for it.
func (s *Server) handlePersonRow(t personTable) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, err := s.person(c, t)
		if err != nil {
			return err
		}
		return s.showPersonRow(c, http.StatusOK, t, components.PersonRowProps{Role: t.role, Person: p})
	}
}

func (s *Server) handlePersonEdit(t personTable) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, err := s.person(c, t)
		if err != nil {
			return err
		}
		return s.showPersonRow(c, http.StatusOK, t, components.PersonRowProps{
			Role: t.role, Person: p, Editing: true, Form: components.PersonForm{Name: p.Name, Phone: p.Phone}})
	}
}

// handlePersonSave updates a person. Rides already under way keep the
// phones their routes copied, so an edit never reroutes a ride.
func (s *Server) handlePersonSave(t personTable) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pathID(c, errPersonNotFound)
		if err != nil {
			return err
		}
		form := components.PersonForm{Name: c.FormValue("name"), Phone: c.FormValue("phone")}
		p, err := s.savePerson(c.UserContext(), t, id, form)
		if fe := formError(err); fe != nil {
			form.Errors = map[string]string{fe.Field: fe.Message}
			return s.showPersonRow(c, fe.Status, t, components.PersonRowProps{
				Role: t.role, Person: components.Person{ID: id}, Editing: true, Form: form})
		} else if err != nil {
			return err
		}
		if !isHTMX(c) {
			return c.Redirect("/people", http.StatusSeeOther)
		}
		return render(c, http.StatusOK, components.PersonRow(components.PersonRowProps{Role: t.role, Person: p}))
	}
}

// handlePersonDelete deletes a person who has never had a ride. Rides keep
// their customer and driver (ON DELETE RESTRICT): a ride's history, texts
// and calls stay attributable, so anyone with a ride is refused, with the
// most pressing reason.
func (s *Server) handlePersonDelete(t personTable) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		p, err := s.person(c, t)
		if err != nil {
			return err
		}
		// The foreign key decides, so a ride created meanwhile cannot slip
		// past a check made beforehand.
		err = pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
			_, err := t.delete(db.New(tx), ctx, p.ID)
			return err
		})
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" {
			ride, err := t.lastRide(s.queries, ctx, p.ID)
			if err != nil {
				return fmt.Errorf("find %s's ride: %w", t.role, err)
			}
			return s.showPersonRow(c, http.StatusConflict, t, components.PersonRowProps{
				Role: t.role, Person: p, Refusal: s.deleteRefusal(p.Name, ride)})
		}
		if err != nil {
			return fmt.Errorf("delete %s: %w", t.role, err)
		}
		if !isHTMX(c) {
			return c.Redirect("/people", http.StatusSeeOther)
		}
		// An empty answer swaps the row away.
		return c.Status(http.StatusOK).SendString("")
	}
}

// deleteRefusal says why name, who has ride, cannot be deleted.
func (s *Server) deleteRefusal(name string, ride db.CustomerLastRideRow) string {
	const why = "people with rides are kept so ride history stays attributable"
	switch {
	case ride.Status == "active":
		return fmt.Sprintf("%s has an active ride (#%d) and cannot be deleted: %s.", name, ride.ID, why)
	case ride.ExpiresAt != nil && ride.ExpiresAt.After(s.now()):
		return fmt.Sprintf("%s has a ride in its grace period (#%d, routing until %s) and cannot be deleted: %s.",
			name, ride.ID, ride.ExpiresAt.In(s.location()).Format("2 Jan 15:04"), why)
	}
	return fmt.Sprintf("%s has ride history (#%d) and cannot be deleted: %s.", name, ride.ID, why)
}
