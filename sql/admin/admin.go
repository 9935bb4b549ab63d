// Package admin keeps who may use the console and the API: operators,
// their roles, passwords and sessions, and named API tokens, in the
// database so that every BirdCar process shares them. Its changes are
// recorded in the audit log (ride.RecordAudit) in their transaction.
package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"birdcar/sql/db"
	"birdcar/sql/ride"
)

// SessionLifetime is how long a login lasts.
const SessionLifetime = 12 * time.Hour

// Service checks credentials, keeps sessions, and manages operators and
// API tokens.
type Service struct {
	// DB is a pool, or a transaction (tests).
	DB ride.DB
	// User is the first admin's user name (ADMIN_USER).
	User string
	// PasswordHash is the bcrypt hash the first admin's password is
	// checked against (EnsurePassword returns it). It is authoritative
	// when PasswordFixed; otherwise it is the first admin's password until
	// they change it.
	PasswordHash []byte
	// PasswordFixed says PasswordHash comes from ADMIN_PASSWORD: it alone
	// lets the first admin in, and it is never written down.
	PasswordFixed bool
	// Cost is bcrypt's cost for new passwords; 0 means bcrypt.DefaultCost.
	Cost int
	// Now is the clock (tests control it); nil means time.Now.
	Now func() time.Time
}

// Session is a logged-in operator.
type Session struct {
	OperatorID int64
	User       string // the user name
	Name       string // the display name
	Role       Role
	CSRFToken  string // what the session's state-changing requests must carry
}

// Actor is who the session's changes are recorded as.
func (s Session) Actor() ride.Actor {
	return ride.Actor{Kind: ride.ActorOperator, Name: s.Name, Login: s.User}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) cost() int {
	if s.Cost != 0 {
		return s.Cost
	}
	return bcrypt.DefaultCost
}

// dummyHash is compared against when there is no password to check, so a
// wrong user name costs as long as a wrong password.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("no one's password"), bcrypt.DefaultCost)
	return h
})

// isFirstAdmin reports whether username names the first admin.
func (s *Service) isFirstAdmin(username string) bool {
	return s.User != "" && strings.EqualFold(username, s.User)
}

// Login checks an operator's user name and password. It runs bcrypt
// exactly once whatever the outcome (unknown user, disabled operator,
// wrong password), so the answer's timing does not say which was wrong.
// The first admin logs in with PasswordHash when it is fixed; when the
// operators table does not have them yet, their first login adds them.
func (s *Service) Login(ctx context.Context, username, password string) (Operator, bool, error) {
	q := db.New(s.DB)
	var row db.Operator
	err := pgx.ErrNoRows
	// PostgreSQL's text holds neither NUL nor invalid UTF-8: no operator
	// is called that.
	if utf8.ValidString(username) && !strings.ContainsRune(username, 0) {
		row, err = q.OperatorByUsername(ctx, username)
	}
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Operator{}, false, fmt.Errorf("find operator: %w", err)
	}
	first := s.isFirstAdmin(username) && len(s.PasswordHash) > 0
	hash := dummyHash()
	switch {
	case first && (s.PasswordFixed || !found):
		hash = s.PasswordHash
	case found && len(row.PasswordHash) > 0:
		hash = row.PasswordHash
	}
	ok := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	switch {
	case !ok:
		return Operator{}, false, nil
	case !found && first:
		op, err := s.EnsureFirstAdmin(ctx)
		return op, err == nil && !op.Disabled, err
	case !found || row.Disabled:
		return Operator{}, false, nil
	}
	return toOperator(row), true, nil
}

// EnsureFirstAdmin makes sure the first admin (User) is an operator: added
// as an admin if missing; with a fixed password, made an enabled admin
// again (ADMIN_PASSWORD is the way back in).
func (s *Service) EnsureFirstAdmin(ctx context.Context) (Operator, error) {
	if s.User == "" {
		return Operator{}, errors.New("no first admin: ADMIN_USER is empty")
	}
	hash := s.PasswordHash
	if s.PasswordFixed || len(hash) == 0 {
		hash = []byte{}
	}
	q := db.New(s.DB)
	// Read first, and write only what needs changing: a write locks the
	// row, and every process (or test) starting at once would queue on it.
	row, err := q.OperatorByUsername(ctx, s.User)
	if err == nil {
		fixedOK := len(row.PasswordHash) == 0 && row.Role == string(RoleAdmin) && !row.Disabled
		if (s.PasswordFixed && fixedOK) || (!s.PasswordFixed && (len(row.PasswordHash) > 0 || len(hash) == 0)) {
			return toOperator(row), nil
		}
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return Operator{}, fmt.Errorf("find first admin: %w", err)
	}
	row, err = q.OperatorEnsureFirstAdmin(ctx, db.OperatorEnsureFirstAdminParams{
		Username: s.User, PasswordHash: hash, CreatedAt: s.now(), Fixed: s.PasswordFixed})
	if err != nil {
		return Operator{}, fmt.Errorf("ensure first admin: %w", err)
	}
	return toOperator(row), nil
}

// StartSession stores a new session for the operator, forgetting expired
// ones, and returns the token its cookie carries.
func (s *Service) StartSession(ctx context.Context, op Operator) (string, error) {
	q := db.New(s.DB)
	now := s.now()
	if err := q.AdminSessionDeleteExpired(ctx, now); err != nil {
		return "", fmt.Errorf("delete expired sessions: %w", err)
	}
	token := randomToken(32)
	err := q.AdminSessionCreate(ctx, db.AdminSessionCreateParams{
		IDHash: hashToken(token), Username: op.Username, OperatorID: op.ID, CsrfToken: randomToken(32),
		ExpiresAt: now.Add(SessionLifetime),
	})
	if err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return token, nil
}

// Session returns the live session token names, if there is one: a
// disabled operator's sessions are not.
func (s *Service) Session(ctx context.Context, token string) (Session, bool, error) {
	if token == "" {
		return Session{}, false, nil
	}
	row, err := db.New(s.DB).AdminSessionGet(ctx, db.AdminSessionGetParams{IDHash: hashToken(token), Now: s.now()})
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("load session: %w", err)
	}
	return Session{OperatorID: row.ID, User: row.Username, Name: row.Name, Role: Role(row.Role), CSRFToken: row.CsrfToken}, true, nil
}

// EndSession forgets the session token names.
func (s *Service) EndSession(ctx context.Context, token string) error {
	if err := db.New(s.DB).AdminSessionDelete(ctx, hashToken(token)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// EnsurePassword returns the bcrypt hash the console's password is checked
// against. A configured password is hashed and not stored. Without one,
// the password stored for user is used, and on the very first start one is
// generated, stored as a hash only, and returned as generated: the caller's
// only chance to get it to the operator. Processes starting together agree
// on one password, and only the one whose password was stored gets it.
func EnsurePassword(ctx context.Context, conn db.DBTX, user, configured string) (hash []byte, generated string, err error) {
	if configured != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(configured), bcrypt.DefaultCost)
		if err != nil {
			return nil, "", fmt.Errorf("hash ADMIN_PASSWORD: %w", err)
		}
		return hash, "", nil
	}
	q := db.New(conn)
	hash, err = q.AdminCredentialGet(ctx, user)
	if err == nil {
		return hash, "", nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, "", fmt.Errorf("load admin password: %w", err)
	}
	password := randomToken(18) // 24 characters, 144 bits
	hash, err = bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return nil, "", fmt.Errorf("hash generated admin password: %w", err)
	}
	stored, err := q.AdminCredentialCreate(ctx, db.AdminCredentialCreateParams{Username: user, PasswordHash: hash})
	if err != nil {
		return nil, "", fmt.Errorf("store admin password: %w", err)
	}
	if stored == 0 {
		if hash, err = q.AdminCredentialGet(ctx, user); err != nil {
			return nil, "", fmt.Errorf("load admin password: %w", err)
		}
		return hash, "", nil
	}
	return hash, password, nil
}

// hashToken is what the database keeps of a session token: a leaked table
// holds no usable cookie.
func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// randomToken is n random bytes, base64url-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails; it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b)
}
