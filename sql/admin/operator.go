package admin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/crypto/bcrypt"

	"birdcar/sql/db"
	"birdcar/sql/ride"
)

// Role is what an operator may do. Each role may do everything the ones
// below it may.
type Role string

// The roles, from least to most.
const (
	// RoleViewer reads everything and changes nothing.
	RoleViewer Role = "viewer"
	// RoleDispatcher also manages rides and people: creates, ends and
	// extends rides, adds, edits, deletes and erases people, uses the
	// simulator, retries and cancels sends.
	RoleDispatcher Role = "dispatcher"
	// RoleAdmin also manages the pool of numbers, operators, API tokens
	// and River's UI.
	RoleAdmin Role = "admin"
)

// Roles lists the roles from least to most.
var Roles = []Role{RoleViewer, RoleDispatcher, RoleAdmin}

func (r Role) rank() int {
	for i, x := range Roles {
		if x == r {
			return i + 1
		}
	}
	return 0
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r may do what min may.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.rank() >= min.rank() }

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", ride.InvalidField("role", "Role must be admin, dispatcher or viewer.")
	}
	return r, nil
}

// Operator is someone who may log in to the console.
type Operator struct {
	ID        int64
	Name      string // shown in the console and the audit log
	Username  string // what they log in with; unique whatever its case
	Role      Role
	Disabled  bool
	CreatedAt time.Time
}

func toOperator(r db.Operator) Operator {
	return Operator{ID: r.ID, Name: r.Name, Username: r.Username, Role: Role(r.Role), Disabled: r.Disabled, CreatedAt: r.CreatedAt}
}

// NewOperator is an operator to add.
type NewOperator struct {
	Name, Username string
	Role           Role
	Password       string
}

// MinPasswordLength is the shortest password an operator may choose.
const MinPasswordLength = 10

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

var (
	// ErrOperatorNotFound: no operator has this id.
	ErrOperatorNotFound = &ride.Error{Code: ride.CodeOperatorNotFound, Message: "There is no such operator."}
	errLastAdmin        = &ride.Error{Code: ride.CodeLastAdmin,
		Message: "This is the last enabled admin: make someone else an admin first."}
	errSelf = &ride.Error{Code: ride.CodeForbidden,
		Message: "You cannot disable yourself or take away your own admin role: ask another admin."}
)

func checkPassword(field, password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return ride.InvalidField(field, fmt.Sprintf("The password must be at least %d characters long.", MinPasswordLength))
	}
	if len(password) > 72 {
		return ride.InvalidField(field, "The password must be at most 72 bytes long (bcrypt reads no further).")
	}
	return nil
}

// AddOperator adds an operator with an initial password. Every field at
// fault is reported at once (ride.Error.More).
func (s *Service) AddOperator(ctx context.Context, in NewOperator) (Operator, error) {
	in.Name, in.Username = strings.TrimSpace(in.Name), strings.TrimSpace(in.Username)
	var bad []error
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 100 || strings.ContainsFunc(in.Name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		bad = append(bad, ride.InvalidField("name", "Name is required: up to 100 characters, on one line."))
	}
	if !usernamePattern.MatchString(in.Username) {
		bad = append(bad, ride.InvalidField("username", "User name: 1 to 64 letters, digits, dots, dashes, underscores or @, starting with a letter or digit."))
	}
	if !in.Role.Valid() {
		bad = append(bad, ride.InvalidField("role", "Role must be admin, dispatcher or viewer."))
	}
	bad = append(bad, checkPassword("password", in.Password))
	if err := ride.JoinFields(bad...); err != nil {
		return Operator{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), s.cost())
	if err != nil {
		return Operator{}, fmt.Errorf("hash password: %w", err)
	}
	var op Operator
	err = pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		q := db.New(tx)
		row, err := q.OperatorCreate(ctx, db.OperatorCreateParams{Name: in.Name, Username: in.Username,
			PasswordHash: hash, Role: string(in.Role), CreatedAt: s.now()})
		if err != nil {
			return err
		}
		op = toOperator(row)
		return s.audit(ctx, q, ride.AuditOperatorAdd, fmt.Sprintf("%s (%s) as %s", op.Name, op.Username, op.Role))
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return Operator{}, &ride.Error{Code: ride.CodeDuplicateUsername, Field: "username",
			Message: fmt.Sprintf("The user name %q is taken.", in.Username)}
	}
	if err != nil {
		return Operator{}, fmt.Errorf("add operator: %w", err)
	}
	return op, nil
}

// Operators lists every operator, enabled first, by name.
func (s *Service) Operators(ctx context.Context) ([]Operator, error) {
	rows, err := db.New(s.DB).OperatorList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	out := make([]Operator, len(rows))
	for i, r := range rows {
		out[i] = toOperator(r)
	}
	return out, nil
}

// SetRole changes an operator's role. The last enabled admin stays one,
// and no one takes away their own admin role.
func (s *Service) SetRole(ctx context.Context, id int64, role Role) (Operator, error) {
	if !role.Valid() {
		return Operator{}, ride.InvalidField("role", "Role must be admin, dispatcher or viewer.")
	}
	return s.changeOperator(ctx, id, func(q *db.Queries, op *Operator) error {
		if op.Role == role {
			return nil
		}
		if op.Role == RoleAdmin {
			if err := s.keepAnAdmin(ctx, q, *op); err != nil {
				return err
			}
		}
		if err := q.OperatorSetRole(ctx, db.OperatorSetRoleParams{ID: op.ID, Role: string(role)}); err != nil {
			return err
		}
		detail := fmt.Sprintf("%s (%s): %s → %s", op.Name, op.Username, op.Role, role)
		op.Role = role
		return s.audit(ctx, q, ride.AuditOperatorRole, detail)
	})
}

// SetDisabled disables or enables an operator. Disabling ends their
// sessions in the same transaction: their next request is refused.
func (s *Service) SetDisabled(ctx context.Context, id int64, disabled bool) (Operator, error) {
	return s.changeOperator(ctx, id, func(q *db.Queries, op *Operator) error {
		if op.Disabled == disabled {
			return nil
		}
		action := ride.AuditOperatorEnable
		if disabled {
			action = ride.AuditOperatorDisable
			if err := s.keepAnAdmin(ctx, q, *op); err != nil {
				return err
			}
			if _, err := q.AdminSessionDeleteByOperator(ctx, op.ID); err != nil {
				return fmt.Errorf("end sessions: %w", err)
			}
		}
		if err := q.OperatorSetDisabled(ctx, db.OperatorSetDisabledParams{ID: op.ID, Disabled: disabled}); err != nil {
			return err
		}
		op.Disabled = disabled
		return s.audit(ctx, q, action, fmt.Sprintf("%s (%s)", op.Name, op.Username))
	})
}

// ChangePassword changes an operator's own password, given the current
// one and the new one typed twice, and ends every session of theirs (one
// a thief holds too): it returns the token of a new session for the
// caller. Every field at fault is reported at once. The first admin's
// password, when ADMIN_PASSWORD sets it, is changed there instead.
func (s *Service) ChangePassword(ctx context.Context, id int64, current, next, confirm string) (string, error) {
	newErr := checkPassword("new_password", next)
	var confirmErr error
	if next != confirm {
		confirmErr = ride.InvalidField("confirm", "The two new passwords differ.")
	}
	var hash []byte
	if newErr == nil && confirmErr == nil {
		var err error
		if hash, err = bcrypt.GenerateFromPassword([]byte(next), s.cost()); err != nil {
			return "", fmt.Errorf("hash password: %w", err)
		}
	}
	op, err := s.changeOperator(ctx, id, func(q *db.Queries, op *Operator) error {
		if s.PasswordFixedFor(op.Username) {
			return errPasswordFixed
		}
		row, err := q.OperatorGet(ctx, op.ID)
		if err != nil {
			return err
		}
		var currentErr error
		if current == "" {
			currentErr = ride.InvalidField("current_password", "Enter your current password.")
		} else if bcrypt.CompareHashAndPassword(row.PasswordHash, []byte(current)) != nil {
			currentErr = ride.InvalidField("current_password", "The current password is wrong.")
		}
		if err := ride.JoinFields(currentErr, newErr, confirmErr); err != nil {
			return err
		}
		if err := q.OperatorSetPassword(ctx, db.OperatorSetPasswordParams{ID: op.ID, PasswordHash: hash}); err != nil {
			return err
		}
		if _, err := q.AdminSessionDeleteByOperator(ctx, op.ID); err != nil {
			return fmt.Errorf("end sessions: %w", err)
		}
		return s.audit(ctx, q, ride.AuditOperatorPass, fmt.Sprintf("%s (%s)", op.Name, op.Username))
	})
	if err != nil {
		return "", err
	}
	return s.StartSession(ctx, op)
}

var errPasswordFixed = ride.Errorf(ride.CodeForbidden, "Your password is set by ADMIN_PASSWORD on the server: change it there.")

// PasswordFixedFor reports whether username's password is set by
// ADMIN_PASSWORD (the first admin's, when it is given), so that it cannot
// be changed in the console.
func (s *Service) PasswordFixedFor(username string) bool {
	return s.PasswordFixed && s.isFirstAdmin(username)
}

// Operator is the operator with id.
func (s *Service) Operator(ctx context.Context, id int64) (Operator, error) {
	row, err := db.New(s.DB).OperatorGet(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Operator{}, ErrOperatorNotFound
	} else if err != nil {
		return Operator{}, fmt.Errorf("load operator: %w", err)
	}
	return toOperator(row), nil
}

// changeOperator locks an operator and applies change, in a transaction.
// No one disables or demotes themselves: the context's actor is compared.
func (s *Service) changeOperator(ctx context.Context, id int64, change func(*db.Queries, *Operator) error) (Operator, error) {
	var op Operator
	err := pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		q := db.New(tx)
		row, err := q.OperatorGetForUpdate(ctx, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrOperatorNotFound
		} else if err != nil {
			return fmt.Errorf("load operator: %w", err)
		}
		op = toOperator(row)
		return change(q, &op)
	})
	return op, err
}

// keepAnAdmin refuses to let op, an admin, stop being one if they are the
// last enabled admin, or the one asking.
func (s *Service) keepAnAdmin(ctx context.Context, q *db.Queries, op Operator) error {
	if a := ride.ActorFrom(ctx); a.Kind == ride.ActorOperator && strings.EqualFold(a.Login, op.Username) {
		return errSelf
	}
	if op.Role != RoleAdmin || op.Disabled {
		return nil
	}
	// One change of admins at a time, and the count read after the lock
	// (a statement of its own, so it sees what the last one committed):
	// else two admins demoting each other at once would both see the
	// other stay, and leave none.
	if err := q.OperatorLockAdmins(ctx); err != nil {
		return fmt.Errorf("lock admins: %w", err)
	}
	others, err := q.OperatorCountAdmins(ctx, op.ID)
	if err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if others == 0 {
		return errLastAdmin
	}
	return nil
}

// audit records an action on operators or tokens in q's transaction.
func (s *Service) audit(ctx context.Context, q *db.Queries, action, detail string) error {
	return ride.RecordAudit(ctx, q, s.now(), ride.AuditEntry{Action: action, Detail: detail})
}
