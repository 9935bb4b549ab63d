package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"birdcar/sql/db"
	"birdcar/sql/ride"
)

// APIToken is a named bearer token of the JSON API: its name is who the
// audit log says acted.
type APIToken struct {
	ID        int64 // 0 for a token from API_TOKENS
	Name      string
	CreatedBy string
	CreatedAt time.Time
	RevokedAt *time.Time
	// Scope keys the token's idempotency keys: a hash of the token, so
	// two tokens never see each other's stored answers.
	Scope string
}

// Actor is who the token's changes are recorded as.
func (t APIToken) Actor() ride.Actor { return ride.Actor{Kind: ride.ActorAPI, Name: t.Name} }

// tokenPrefix marks BirdCar's tokens, so a leaked one is recognised.
const tokenPrefix = "bc_"

// ErrTokenNotFound: no live token has this id.
var ErrTokenNotFound = &ride.Error{Code: ride.CodeTokenNotFound, Message: "There is no such API token, or it is already revoked."}

// EnvTokenName names the nth (from 1) token of API_TOKENS in the audit log.
func EnvTokenName(n int) string { return "API_TOKENS #" + strconv.Itoa(n) }

// tokenScope is a token's idempotency scope (as before tokens had names).
func tokenScope(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:16])
}

// Token finds the live token a request presents: one of env (API_TOKENS,
// compared in constant time) or one made in the console.
func (s *Service) Token(ctx context.Context, env []string, presented string) (APIToken, bool, error) {
	if presented == "" {
		return APIToken{}, false, nil
	}
	for i, tok := range env {
		if subtle.ConstantTimeCompare([]byte(presented), []byte(tok)) == 1 {
			return APIToken{Name: EnvTokenName(i + 1), CreatedBy: "API_TOKENS", Scope: tokenScope(tok)}, true, nil
		}
	}
	if !strings.HasPrefix(presented, tokenPrefix) {
		return APIToken{}, false, nil
	}
	// A lookup by hash: the hash, not the token, is compared, so its
	// timing says nothing of the token.
	row, err := db.New(s.DB).APITokenByHash(ctx, hashToken(presented))
	if errors.Is(err, pgx.ErrNoRows) {
		return APIToken{}, false, nil
	} else if err != nil {
		return APIToken{}, false, fmt.Errorf("find API token: %w", err)
	}
	t := toToken(row)
	t.Scope = tokenScope(presented)
	return t, true, nil
}

// CreateToken makes a named API token and returns it with its secret,
// which is shown this once: only its hash is kept.
func (s *Service) CreateToken(ctx context.Context, name string) (APIToken, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 60 || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return APIToken{}, "", ride.InvalidField("name", "Name the token after who uses it: up to 60 characters, on one line.")
	}
	if strings.HasPrefix(strings.ToUpper(name), "API_TOKENS") {
		return APIToken{}, "", ride.InvalidField("name", "Names starting with API_TOKENS are kept for the tokens set in the environment.")
	}
	secret := tokenPrefix + randomToken(32)
	var t APIToken
	err := pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		q := db.New(tx)
		row, err := q.APITokenCreate(ctx, db.APITokenCreateParams{Name: name, TokenHash: hashToken(secret),
			CreatedBy: ride.ActorFrom(ctx).Name, CreatedAt: s.now()})
		if err != nil {
			return err
		}
		t = toToken(row)
		return s.audit(ctx, q, ride.AuditTokenCreate, name)
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return APIToken{}, "", &ride.Error{Code: ride.CodeDuplicateTokenName, Field: "name",
			Message: fmt.Sprintf("A token named %q exists already: choose another name.", name)}
	}
	if err != nil {
		return APIToken{}, "", fmt.Errorf("create API token: %w", err)
	}
	return t, secret, nil
}

// RevokeToken stops a token working at once.
func (s *Service) RevokeToken(ctx context.Context, id int64) (APIToken, error) {
	var t APIToken
	err := pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		q := db.New(tx)
		now := s.now()
		row, err := q.APITokenRevoke(ctx, db.APITokenRevokeParams{ID: id, Now: &now})
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrTokenNotFound
		} else if err != nil {
			return fmt.Errorf("revoke API token: %w", err)
		}
		t = toToken(row)
		return s.audit(ctx, q, ride.AuditTokenRevoke, t.Name)
	})
	return t, err
}

// LiveToken is the console-made token with id, if it is not revoked.
func (s *Service) LiveToken(ctx context.Context, id int64) (APIToken, error) {
	tokens, err := s.Tokens(ctx)
	if err != nil {
		return APIToken{}, err
	}
	for _, t := range tokens {
		if t.ID == id && t.RevokedAt == nil {
			return t, nil
		}
	}
	return APIToken{}, ErrTokenNotFound
}

// Tokens lists the tokens made in the console, live ones first.
func (s *Service) Tokens(ctx context.Context) ([]APIToken, error) {
	rows, err := db.New(s.DB).APITokenList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list API tokens: %w", err)
	}
	out := make([]APIToken, len(rows))
	for i, r := range rows {
		out[i] = toToken(r)
	}
	return out, nil
}

func toToken(r db.ApiToken) APIToken {
	return APIToken{ID: r.ID, Name: r.Name, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, RevokedAt: r.RevokedAt}
}

// HasTokens reports whether any console-made token is live: without one
// (and without API_TOKENS) the API is off.
func (s *Service) HasTokens(ctx context.Context) (bool, error) {
	live, err := db.New(s.DB).APITokenAnyLive(ctx)
	if err != nil {
		return false, fmt.Errorf("look for API tokens: %w", err)
	}
	return live, nil
}
