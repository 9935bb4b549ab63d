package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/messagebird/go-rest-api/v9/signature_jwt"
)

// signatureHeader carries MessageBird's signed JWT on every webhook.
const signatureHeader = "MessageBird-Signature-JWT"

var errBadSignature = &Error{Status: http.StatusUnauthorized, Code: "invalid_signature",
	Message: "The request's MessageBird signature is missing or invalid."}

// verifySignature admits a webhook only with a valid MessageBird signature
// over the full URL (PUBLIC_URL plus the path and query as received) and
// the body, when a signing key is configured.
func (s *Server) verifySignature(c *fiber.Ctx) error {
	if s.signatures == nil {
		return c.Next()
	}
	token := c.Get(signatureHeader)
	if token == "" {
		return errBadSignature
	}
	url := s.PublicURL + string(c.Request().URI().RequestURI())
	if _, err := s.signatures.ValidateSignature(token, url, c.Body()); err != nil {
		s.Logger.InfoContext(c.UserContext(), "webhook refused: bad signature", "path", c.Path(), "reason", err)
		return errBadSignature
	}
	return c.Next()
}

// useSigningKey turns signature checks on (a non-empty key) or off.
func (s *Server) useSigningKey(key string) {
	s.SigningKey, s.signatures = key, nil
	if key != "" {
		s.signatures = signature_jwt.NewValidator(key)
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
