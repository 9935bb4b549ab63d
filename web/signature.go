package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/messagebird/go-rest-api/v9/signature_jwt"
)

// signatureHeader carries MessageBird's signed JWT on every webhook.
const signatureHeader = "MessageBird-Signature-JWT"

var (
	errBadSignature = &Error{Status: http.StatusUnauthorized, Code: "invalid_signature",
		Message: "The request's MessageBird signature is missing or invalid."}
	errReplayed = &Error{Status: http.StatusUnauthorized, Code: "replayed_signature",
		Message: "The request's MessageBird signature has been used before: each delivery is signed anew."}
)

// Bounds of the replay guard: MessageBird's signatures are valid for a
// minute (the SDK's reference tokens), so this many ids is over 1,600
// webhooks a second.
const (
	maxReplayIDs     = 100_000
	replayPruneEvery = time.Minute
)

// verifySignature admits a webhook only with a valid MessageBird signature
// over the full URL (PUBLIC_URL plus the path and query as received) and
// the body, when a signing key is configured, and only once: a captured
// request played again while its signature is valid is refused.
func (s *Server) verifySignature(c *fiber.Ctx) error {
	if s.signatures == nil {
		return c.Next()
	}
	token := c.Get(signatureHeader)
	if token == "" {
		return errBadSignature
	}
	url := s.PublicURL + string(c.Request().URI().RequestURI())
	claims, err := s.signatures.ValidateSignature(token, url, c.Body())
	if err != nil {
		s.Logger.InfoContext(c.UserContext(), "webhook refused: bad signature", "path", c.Path(), "reason", err)
		return errBadSignature
	}
	// The validator checked exp with a second's leeway; the id is kept as long.
	cl := claims.(*signature_jwt.Claims)
	jti, exp := cl.JWTID, time.Unix(cl.ExpirationTime, 0).Add(time.Second)
	switch s.replays.claim(jti, exp, signature_jwt.TimeFunc()) {
	case replayed:
		s.Logger.WarnContext(c.UserContext(), "webhook refused: signature replayed", "path", c.Path())
		return errReplayed
	case guardFull:
		c.Set(fiber.HeaderRetryAfter, "1")
		return errBusy
	}
	err = c.Next()
	if failedOnOurSide(err) {
		// MessageBird retries a 5xx; should the retry carry the same
		// signature, it must get through.
		s.replays.release(jti)
	}
	return err
}

// failedOnOurSide reports whether err becomes a 5xx answer.
func failedOnOurSide(err error) bool {
	var pub *Error
	var fe *fiber.Error
	switch {
	case err == nil:
		return false
	case errors.As(err, &pub):
		return pub.Status >= 500
	case errors.As(err, &fe):
		return fe.Code >= 500
	}
	return true
}

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

// useSigningKey turns signature checks on (a non-empty key) or off.
func (s *Server) useSigningKey(key string) {
	s.SigningKey, s.signatures, s.replays = key, nil, nil
	if key != "" {
		s.signatures = signature_jwt.NewValidator(key)
		s.replays = &replayGuard{seen: map[string]time.Time{}}
	}
}

// signWebhook signs a request the way MessageBird does: an HS256 JWT over
// the issuer, a one-minute validity, a unique id and the hashes of the full
// URL and the body. The simulator uses it to call the webhooks as
// MessageBird would.
func signWebhook(key, fullURL string, body []byte, now time.Time) string {
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
