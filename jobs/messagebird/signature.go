package messagebird

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"birdcar/sql/ride"
)

// SignatureHeader carries MessageBird's signed JWT on every webhook.
const SignatureHeader = "MessageBird-Signature-JWT"

// Why Verify refuses a webhook.
var (
	ErrBadSignature = &ride.Error{Code: ride.CodeInvalidSignature,
		Message: "The request's MessageBird signature is missing or invalid."}
	ErrReplayed = &ride.Error{Code: ride.CodeReplayedSignature,
		Message: "The request's MessageBird signature has been used before: each delivery is signed anew."}
	// ErrTooManySignatures: more signatures are live than the replay
	// guard can remember; the webhook should be retried in a second.
	ErrTooManySignatures = errors.New("too many live signatures to remember one more")
)

// Bounds of the replay guard: MessageBird's signatures are valid for a
// minute (the SDK's reference tokens), so this many ids is over 1,600
// webhooks a second.
const (
	maxReplayIDs     = 100_000
	replayPruneEvery = time.Minute
)

// The token's checks, as the SDK's signature_jwt package makes them (its
// reference vectors are in testdata). We verify it ourselves: that package
// needs github.com/golang-jwt/jwt v3, which has GO-2025-3553 and no fix.
const (
	issuer = "MessageBird"
	// maxSkew is the SDK's leeway on nbf and exp for clocks apart.
	maxSkew = time.Second
)

// signingMethods are the SDK's: HMAC with the signing key, of the sizes its
// reference vectors declare valid. Not "none", nor any public-key
// algorithm whose key could be confused with the HMAC secret.
var signingMethods = []string{"HS256", "HS384", "HS512"}

// Why a token's own claims refuse it, in the SDK's words.
var (
	errNoID              = errors.New("claim jti is empty or missing")
	errURLHash           = errors.New("claim url_hash is invalid")
	errPayloadHash       = errors.New("claim payload_hash is invalid")
	errPayloadUnexpected = errors.New("claim payload_hash is set but actual payload is missing")
	errPayloadMissing    = errors.New("claim payload_hash is not set but payload is present")
)

// claims are MessageBird's: iss, nbf, exp and jti, and the SHA-256 (hex) of
// the full URL and of the body, when there is one.
type claims struct {
	jwt.RegisteredClaims
	URLHash     string `json:"url_hash"`
	PayloadHash string `json:"payload_hash,omitempty"`

	// The request's hashes, set before parsing; JSON cannot reach them.
	wantURLHash, wantPayloadHash string
}

// Validate checks what jwt's validator does not know: called by it after
// iss, nbf and exp.
func (c *claims) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errNoID)
	}
	if c.URLHash != c.wantURLHash {
		errs = append(errs, errURLHash)
	}
	switch {
	case c.wantPayloadHash == "" && c.PayloadHash != "":
		errs = append(errs, errPayloadUnexpected)
	case c.wantPayloadHash != "" && c.PayloadHash == "":
		errs = append(errs, errPayloadMissing)
	case c.PayloadHash != c.wantPayloadHash:
		errs = append(errs, errPayloadHash)
	}
	return errors.Join(errs...)
}

// newClaims holds the hashes of fullURL and body (none for an empty body).
func newClaims(fullURL string, body []byte) *claims {
	c := &claims{wantURLHash: sha256Hex([]byte(fullURL))}
	if len(body) > 0 {
		c.wantPayloadHash = sha256Hex(body)
	}
	return c
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Verifier checks MessageBird's webhook signatures, and admits each
// signature once: a captured request played again while its signature is
// valid is refused. Safe for concurrent use.
type Verifier struct {
	key     []byte
	now     func() time.Time // the tests set the clock
	replays replayGuard
}

// NewVerifier checks signatures made with MessageBird's signing key.
func NewVerifier(key string) *Verifier {
	return &Verifier{key: []byte(key), now: time.Now, replays: replayGuard{seen: map[string]time.Time{}}}
}

// Verify admits a webhook whose token signs fullURL (PUBLIC_URL plus the
// path and query as received) and body. It returns the signature's id, for
// Release. A refusal wraps ErrBadSignature (with the reason),
// ErrReplayed or ErrTooManySignatures.
func (v *Verifier) Verify(token, fullURL string, body []byte) (string, error) {
	if token == "" {
		return "", fmt.Errorf("%w: no %s header", ErrBadSignature, SignatureHeader)
	}
	now := v.now()
	c := newClaims(fullURL, body)
	_, err := jwt.ParseWithClaims(token, c, func(*jwt.Token) (any, error) { return v.key, nil },
		jwt.WithValidMethods(signingMethods), jwt.WithIssuer(issuer), jwt.WithExpirationRequired(),
		jwt.WithLeeway(maxSkew), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	// The token is refused from exp plus the leeway on; the id is kept as long.
	switch v.replays.claim(c.ID, c.ExpiresAt.Add(maxSkew), now) {
	case replayed:
		return "", ErrReplayed
	case guardFull:
		return "", ErrTooManySignatures
	}
	return c.ID, nil
}

// Release forgets an admitted signature, so that it may be used again:
// MessageBird retries a webhook that failed on our side, possibly with the
// same signature, and the retry must get through.
func (v *Verifier) Release(id string) { v.replays.release(id) }

// replayGuard remembers the ids (jti) of admitted signatures until they
// expire. It lives in memory: with several web processes, a replay sent to
// another process than the original gets through there, which a table
// would prevent at a write per webhook. The inbound SMS is idempotent on
// MessageBird's id anyway; the guard keeps a replayed call from being put
// through again.
type replayGuard struct {
	mu        sync.Mutex
	seen      map[string]time.Time // jti → when its signature expires
	nextPrune time.Time
}

type claimResult int

const (
	claimed claimResult = iota
	replayed
	guardFull // too many live ids to remember one more
)

// claim records jti until exp, unless it is recorded already.
func (g *replayGuard) claim(jti string, exp, now time.Time) claimResult {
	g.mu.Lock()
	defer g.mu.Unlock()
	if seenExp, ok := g.seen[jti]; ok && now.Before(seenExp) {
		return replayed
	}
	if len(g.seen) >= maxReplayIDs || now.After(g.nextPrune) {
		for id, e := range g.seen {
			if !now.Before(e) {
				delete(g.seen, id)
			}
		}
		g.nextPrune = now.Add(replayPruneEvery)
		if len(g.seen) >= maxReplayIDs {
			return guardFull
		}
	}
	g.seen[jti] = exp
	return claimed
}

// release forgets jti, so its signature may be used again.
func (g *replayGuard) release(jti string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.seen, jti)
}

// Sign signs a request the way MessageBird does: an HS256 JWT over the
// issuer, a one-minute validity, a unique id and the hashes of the full
// URL and the body. The simulator and the tests call the webhooks with it.
func Sign(key, fullURL string, body []byte, now time.Time) string {
	c := newClaims(fullURL, body)
	c.RegisteredClaims = jwt.RegisteredClaims{Issuer: issuer, NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)), ID: rand.Text()}
	c.URLHash, c.PayloadHash = c.wantURLHash, c.wantPayloadHash
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(key))
	if err != nil {
		panic(err) // only a key of another type than []byte fails
	}
	return token
}
