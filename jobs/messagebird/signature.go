package messagebird

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/messagebird/go-rest-api/v9/signature_jwt"

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

// Verifier checks MessageBird's webhook signatures, and admits each
// signature once: a captured request played again while its signature is
// valid is refused. Safe for concurrent use.
type Verifier struct {
	validator *signature_jwt.Validator
	replays   replayGuard
}

// NewVerifier checks signatures made with MessageBird's signing key.
func NewVerifier(key string) *Verifier {
	return &Verifier{validator: signature_jwt.NewValidator(key), replays: replayGuard{seen: map[string]time.Time{}}}
}

// Verify admits a webhook whose token signs fullURL (PUBLIC_URL plus the
// path and query as received) and body. It returns the signature's id, for
// Release. A refusal wraps ErrBadSignature (with the reason),
// ErrReplayed or ErrTooManySignatures.
func (v *Verifier) Verify(token, fullURL string, body []byte) (string, error) {
	if token == "" {
		return "", fmt.Errorf("%w: no %s header", ErrBadSignature, SignatureHeader)
	}
	claims, err := v.validator.ValidateSignature(token, fullURL, body)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	// The validator checked exp with a second's leeway; the id is kept as long.
	cl := claims.(*signature_jwt.Claims)
	jti, exp := cl.JWTID, time.Unix(cl.ExpirationTime, 0).Add(time.Second)
	switch v.replays.claim(jti, exp, signature_jwt.TimeFunc()) {
	case replayed:
		return "", ErrReplayed
	case guardFull:
		return "", ErrTooManySignatures
	}
	return jti, nil
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
	hash := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	claims := map[string]any{"iss": "MessageBird", "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		"jti": rand.Text(), "url_hash": hash([]byte(fullURL))}
	if len(body) > 0 {
		claims["payload_hash"] = hash(body)
	}
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	payload, _ := json.Marshal(claims)
	unsigned := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}
