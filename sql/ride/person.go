package ride

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"birdcar/sql/db"
	"birdcar/sql/ride/phone"
)

// Role is the part a person plays in rides.
type Role string

// The two roles of a ride.
const (
	RoleCustomer Role = "customer"
	RoleDriver   Role = "driver"
)

// Roles lists the roles in the order pages show them.
var Roles = []Role{RoleCustomer, RoleDriver}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return r == RoleCustomer || r == RoleDriver }

// Person is a customer or a driver.
type Person struct {
	ID    int64
	Role  Role
	Name  string
	Phone string // E.164
}

// PersonInput is a person as typed: a name and a phone in any common form.
type PersonInput struct {
	Name, Phone string
	// stored marks Phone as the one already stored, not checked again: a
	// phone accepted under older rules survives a rename.
	stored bool
}

// PersonPatch changes some of a person: a nil field stays as it is.
type PersonPatch struct {
	Name, Phone *string
}

// check validates the input and returns it with the phone in E.164.
func (in PersonInput) check(defaultCountry string) (PersonInput, error) {
	name, nameErr := checkText("name", "Name", in.Name)
	if in.stored {
		if nameErr != nil {
			return in, nameErr
		}
		return PersonInput{Name: name, Phone: in.Phone}, nil
	}
	var phoneErr error
	e164, err := phone.Parse(in.Phone, defaultCountry, phone.Valid)
	if err != nil {
		phoneErr = &Error{Code: CodeInvalidPhone, Field: "phone", Message: "Phone: " + err.Error() + "."}
	}
	if err := JoinFields(nameErr, phoneErr); err != nil {
		return in, err
	}
	return PersonInput{Name: name, Phone: e164}, nil
}

// CreatePerson adds a customer or a driver. A phone already taken in the
// role is refused: it would make the person ambiguous to route.
func (s *Service) CreatePerson(ctx context.Context, role Role, in PersonInput) (Person, error) {
	return s.savePerson(ctx, role, 0, in)
}

// UpdatePerson changes a person's name and phone. Rides already under way
// keep the phones their routes copied, so an edit never reroutes a ride.
func (s *Service) UpdatePerson(ctx context.Context, role Role, id int64, in PersonInput) (Person, error) {
	return s.savePerson(ctx, role, id, in)
}

// PatchPerson changes a person's name, phone or both.
func (s *Service) PatchPerson(ctx context.Context, role Role, id int64, patch PersonPatch) (Person, error) {
	if !role.Valid() {
		return Person{}, ErrPersonNotFound
	}
	p, err := s.Person(ctx, role, id)
	if err != nil {
		return Person{}, err
	}
	in := PersonInput{Name: p.Name, Phone: p.Phone, stored: true}
	if patch.Name != nil {
		in.Name = *patch.Name
	}
	if patch.Phone != nil {
		in.Phone, in.stored = *patch.Phone, false
	}
	return s.savePerson(ctx, role, id, in)
}

// savePerson creates (id 0) or updates a person, in a savepoint of its
// own so that a refused duplicate spoils nothing around it.
func (s *Service) savePerson(ctx context.Context, role Role, id int64, in PersonInput) (Person, error) {
	if !role.Valid() {
		return Person{}, ErrPersonNotFound
	}
	in, err := in.check(s.DefaultCountry)
	if err != nil {
		return Person{}, err
	}
	var p Person
	err = s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		if id != 0 {
			cur, err := lockPerson(ctx, q, role, id, "update")
			if err != nil {
				return err
			}
			if cur.Erased() {
				return Errorf(CodePersonErased, "This %s was erased: their name and phone cannot be given back.", role)
			}
		}
		var row db.PersonGetRow
		var err error
		if id == 0 {
			var r db.PersonCreateRow
			r, err = q.PersonCreate(ctx, db.PersonCreateParams{Role: string(role), Name: in.Name, Phone: in.Phone})
			row = db.PersonGetRow(r)
		} else {
			var r db.PersonUpdateRow
			r, err = q.PersonUpdate(ctx, db.PersonUpdateParams{Role: string(role), ID: id, Name: in.Name, Phone: in.Phone})
			row = db.PersonGetRow(r)
		}
		if err != nil {
			return err
		}
		p = toPerson(role, row)
		action := AuditPersonUpdate
		if id == 0 {
			action = AuditPersonCreate
		}
		return s.audit(ctx, q, AuditEntry{Action: action, PersonRole: role, PersonID: &p.ID})
	})
	switch {
	case isUniqueViolation(err):
		return Person{}, &Error{Code: CodeDuplicatePhone, Field: "phone",
			Message: fmt.Sprintf("A %s with the phone number %s already exists.", role, in.Phone)}
	case errors.Is(err, pgx.ErrNoRows):
		return Person{}, ErrPersonNotFound
	case err != nil:
		return Person{}, fmt.Errorf("save %s: %w", role, err)
	}
	return p, nil
}

// Person returns one person of a role.
func (s *Service) Person(ctx context.Context, role Role, id int64) (Person, error) {
	return s.person(ctx, s.queries(), role, id)
}

func (s *Service) person(ctx context.Context, q *db.Queries, role Role, id int64) (Person, error) {
	row, err := q.PersonGet(ctx, db.PersonGetParams{Role: string(role), ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return Person{}, ErrPersonNotFound
	} else if err != nil {
		return Person{}, fmt.Errorf("get %s: %w", role, err)
	}
	return toPerson(role, row), nil
}

// People lists the first limit people of a role by name whose name or
// phone contains query ("" for everyone).
func (s *Service) People(ctx context.Context, role Role, query string, limit int) ([]Person, error) {
	rows, err := s.queries().PersonList(ctx, db.PersonListParams{Role: string(role), Q: query, Lim: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("list %ss: %w", role, err)
	}
	people := make([]Person, len(rows))
	for i, r := range rows {
		people[i] = toPerson(role, db.PersonGetRow(r))
	}
	return people, nil
}

// PeoplePage returns a page of the people of a role, newest first, with
// the phone typed ("" for all), and where the next page starts.
func (s *Service) PeoplePage(ctx context.Context, role Role, typedPhone string, p Page) ([]Person, *Cursor, error) {
	if !role.Valid() {
		return nil, nil, ErrPersonNotFound
	}
	lim, err := p.limit()
	if err != nil {
		return nil, nil, err
	}
	phone, err := s.phoneFilter(typedPhone)
	if err != nil {
		return nil, nil, err
	}
	rows, err := s.queries().PersonPage(ctx, db.PersonPageParams{Role: string(role), Phone: phone, AfterID: p.After.ID, Lim: lim})
	if err != nil {
		return nil, nil, fmt.Errorf("page %ss: %w", role, err)
	}
	people := make([]Person, len(rows))
	for i, r := range rows {
		people[i] = toPerson(role, db.PersonGetRow(r))
	}
	people, next := cut(people, lim, func(p Person) Cursor { return Cursor{ID: p.ID} })
	return people, next, nil
}

// DeletePerson deletes a person who has never had a ride, and returns who
// it was. Rides keep their customer and driver, so that a ride's history,
// texts and calls stay attributable: anyone with a ride is refused, with
// the most pressing reason.
func (s *Service) DeletePerson(ctx context.Context, role Role, id int64) (Person, error) {
	p, err := s.Person(ctx, role, id)
	if err != nil {
		return p, err
	}
	// The foreign key decides, so a ride created meanwhile cannot slip
	// past a check made beforehand.
	err = s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		if _, err := q.PersonDelete(ctx, db.PersonDeleteParams{Role: string(role), ID: id}); err != nil {
			return err
		}
		return s.audit(ctx, q, AuditEntry{Action: AuditPersonDelete, PersonRole: role, PersonID: &id})
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		ride, err := s.queries().PersonLastRide(ctx, db.PersonLastRideParams{Role: string(role), ID: id})
		if err != nil {
			return p, fmt.Errorf("find %s's ride: %w", role, err)
		}
		return p, &Error{Code: CodePersonHasRides, Message: s.deleteRefusal(p.Name, ride)}
	}
	if err != nil {
		return p, fmt.Errorf("delete %s: %w", role, err)
	}
	return p, nil
}

// deleteRefusal says why name, who has ride, cannot be deleted.
func (s *Service) deleteRefusal(name string, ride db.PersonLastRideRow) string {
	const why = "people with rides are kept so ride history stays attributable"
	switch {
	case RideStatus(ride.Status) == RideActive:
		return fmt.Sprintf("%s has an active ride (#%d) and cannot be deleted: %s.", name, ride.ID, why)
	case ride.ExpiresAt != nil && ride.ExpiresAt.After(s.Now()):
		return fmt.Sprintf("%s has a ride in its grace period (#%d, routing until %s) and cannot be deleted: %s.",
			name, ride.ID, s.Format(*ride.ExpiresAt), why)
	}
	return fmt.Sprintf("%s has ride history (#%d) and cannot be deleted: %s.", name, ride.ID, why)
}

// lockPerson reads a person and locks their row until tx ends: "share"
// while a ride is created for them or they are answered out of session,
// "update" while they are erased, so the two never interleave.
func lockPerson(ctx context.Context, q *db.Queries, role Role, id int64, strength string) (Person, error) {
	row, err := q.PersonLock(ctx, db.PersonLockParams{Role: string(role), ID: id, Strength: strength})
	if errors.Is(err, pgx.ErrNoRows) {
		return Person{}, ErrPersonNotFound
	} else if err != nil {
		return Person{}, fmt.Errorf("lock %s: %w", role, err)
	}
	return toPerson(role, db.PersonGetRow(row)), nil
}

func toPerson(role Role, r db.PersonGetRow) Person {
	return Person{ID: r.ID, Role: role, Name: r.Name, Phone: r.Phone}
}

// isUniqueViolation reports a duplicate the database refused.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
