// Package admin keeps who may use the console: the operator's password
// and the sessions of those who logged in, in the database so that every
// BirdCar process shares them.
package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"birdcar/sql/db"
)

// SessionLifetime is how long a login lasts.
const SessionLifetime = 12 * time.Hour

// Service checks credentials and keeps sessions.
type Service struct {
	DB   db.DBTX
	User string // the operator's user name
	// PasswordHash is the bcrypt hash the password is checked against
	// (EnsurePassword returns it).
	PasswordHash []byte
	// Now is the clock (tests control it); nil means time.Now.
	Now func() time.Time
}

// Session is a logged-in operator.
type Session struct {
	User      string
	CSRFToken string // what the session's state-changing requests must carry
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// CheckPassword compares in constant time, and runs bcrypt even for a
// wrong user name, so the answer's timing does not say which was wrong.
func (s *Service) CheckPassword(user, password string) bool {
	gotUser, wantUser := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(s.User))
	userOK := subtle.ConstantTimeCompare(gotUser[:], wantUser[:]) == 1
	passwordOK := bcrypt.CompareHashAndPassword(s.PasswordHash, []byte(password)) == nil
	return userOK && passwordOK && s.User != ""
}

// StartSession stores a new session for the operator, forgetting expired
// ones, and returns the token its cookie carries.
func (s *Service) StartSession(ctx context.Context) (string, error) {
	q := db.New(s.DB)
	now := s.now()
	if err := q.AdminSessionDeleteExpired(ctx, now); err != nil {
		return "", fmt.Errorf("delete expired sessions: %w", err)
	}
	token := randomToken(32)
	err := q.AdminSessionCreate(ctx, db.AdminSessionCreateParams{
		IDHash: hashToken(token), Username: s.User, CsrfToken: randomToken(32),
		ExpiresAt: now.Add(SessionLifetime),
	})
	if err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return token, nil
}

// Session returns the live session token names, if there is one.
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
	return Session{User: row.Username, CSRFToken: row.CsrfToken}, true, nil
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
