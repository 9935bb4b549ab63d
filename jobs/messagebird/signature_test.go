package messagebird

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestVerify_SDKReferenceVectors: MessageBird's reference tokens (copied
// from the SDK, see testdata/signature_reference.NOTICE) get the SDK's
// verdicts, refusals for the SDK's reasons.
func TestVerify_SDKReferenceVectors(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/signature_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []struct {
		Name, Secret, URL, Payload, Timestamp, Token, Reason string
		Valid                                                bool
	}
	if err := json.Unmarshal(data, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors) != 43 {
		t.Fatalf("%d vectors, want the SDK's 43", len(vectors))
	}
	reasons := map[string]error{ // the SDK's reason → ours
		"invalid jwt: claim nbf is in the future":                              jwt.ErrTokenNotValidYet,
		"invalid jwt: claim exp is in the past":                                jwt.ErrTokenExpired,
		"invalid jwt: claim url_hash is invalid":                               errURLHash,
		"invalid jwt: claim payload_hash is invalid":                           errPayloadHash,
		"invalid jwt: claim payload_hash is set but actual payload is missing": errPayloadUnexpected,
		"invalid jwt: claim payload_hash is not set but payload is present":    errPayloadMissing,
		"invalid jwt: signature is invalid":                                    jwt.ErrTokenSignatureInvalid,
		"invalid jwt: signing method none is invalid":                          jwt.ErrTokenSignatureInvalid,
	}
	for _, vec := range vectors {
		t.Run(vec.Name, func(t *testing.T) {
			at, err := time.Parse(time.RFC3339, vec.Timestamp)
			if err != nil {
				t.Fatal(err)
			}
			v := NewVerifier(vec.Secret)
			v.now = func() time.Time { return at }
			_, err = v.Verify(vec.Token, vec.URL, []byte(vec.Payload))
			if vec.Valid {
				if err != nil {
					t.Errorf("refused a valid token: %v", err)
				}
				return
			}
			want, ok := reasons[vec.Reason]
			if !ok {
				t.Fatalf("no error of ours for the SDK's reason %q", vec.Reason)
			}
			if !errors.Is(err, ErrBadSignature) || !errors.Is(err, want) {
				t.Errorf("got %v, want ErrBadSignature for %q (%v)", err, vec.Reason, want)
			}
		})
	}
}

// TestHostile_ForgedTokens: tokens an attacker can make without the key,
// or replay with another request, are refused; one signed with the key
// over this request is admitted once.
func TestHostile_ForgedTokens(t *testing.T) {
	t.Parallel()
	const key, url = "signing-key", "https://birdcar.example/webhook?x=1"
	body := []byte("originator=31612345678&payload=hi")
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	good := func() map[string]any {
		return map[string]any{"iss": "MessageBird", "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix(),
			"jti": "id-1", "url_hash": sha256Hex([]byte(url)), "payload_hash": sha256Hex(body)}
	}
	with := func(k string, val any) map[string]any {
		c := good()
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	cases := []struct {
		name  string
		token string
		want  error // nil: admitted
	}{
		{"valid", forge(t, "HS256", key, good()), nil},
		{"HS512, as the SDK admits", forge(t, "HS512", key, good()), nil},
		{"alg none", forge(t, "none", "", good()), jwt.ErrTokenSignatureInvalid},
		{"alg RS256 signed with the key as HMAC secret", forge(t, "RS256", key, good()), jwt.ErrTokenSignatureInvalid},
		{"other key", forge(t, "HS256", "guessed", good()), jwt.ErrTokenSignatureInvalid},
		{"signed for another URL", forge(t, "HS256", key, with("url_hash", sha256Hex([]byte(url+"&y=2")))), errURLHash},
		{"signed for another body", forge(t, "HS256", key, with("payload_hash", sha256Hex([]byte("payload=x")))), errPayloadHash},
		{"body not signed", forge(t, "HS256", key, with("payload_hash", nil)), errPayloadMissing},
		{"no jti", forge(t, "HS256", key, with("jti", nil)), errNoID},
		{"other issuer", forge(t, "HS256", key, with("iss", "Mallory")), jwt.ErrTokenInvalidIssuer},
		{"no exp", forge(t, "HS256", key, with("exp", nil)), jwt.ErrTokenRequiredClaimMissing},
		{"expired", forge(t, "HS256", key, with("exp", now.Add(-2*time.Second).Unix())), jwt.ErrTokenExpired},
		{"not yet valid", forge(t, "HS256", key, with("nbf", now.Add(2*time.Second).Unix())), jwt.ErrTokenNotValidYet},
		{"a second's skew", forge(t, "HS256", key, with("nbf", now.Add(time.Second).Unix())), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := NewVerifier(key)
			v.now = func() time.Time { return now }
			id, err := v.Verify(tc.token, url, body)
			if tc.want == nil {
				if err != nil || id != "id-1" {
					t.Fatalf("Verify = %q, %v; want id-1 admitted", id, err)
				}
				if _, err := v.Verify(tc.token, url, body); !errors.Is(err, ErrReplayed) {
					t.Errorf("second use: %v, want ErrReplayed", err)
				}
				return
			}
			if !errors.Is(err, ErrBadSignature) || !errors.Is(err, tc.want) {
				t.Errorf("got %v, want ErrBadSignature and %v", err, tc.want)
			}
		})
	}
}

// TestVerify_GuardOutlivesToken: the replay guard remembers an id for as
// long as its token is admitted, up to exp plus the leeway, so no replay
// slips through at the end.
func TestVerify_GuardOutlivesToken(t *testing.T) {
	t.Parallel()
	const key, url = "signing-key", "https://birdcar.example/webhook-voice"
	signed := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	token := Sign(key, url, nil, signed)
	lastAdmitted := signed.Add(time.Minute + maxSkew - time.Nanosecond)
	v := NewVerifier(key)
	v.now = func() time.Time { return lastAdmitted }
	if _, err := v.Verify(token, url, nil); err != nil {
		t.Fatalf("at exp + leeway - 1ns: %v", err)
	}
	if _, err := v.Verify(token, url, nil); !errors.Is(err, ErrReplayed) {
		t.Errorf("replayed at exp + leeway - 1ns: %v, want ErrReplayed", err)
	}
	v.now = func() time.Time { return lastAdmitted.Add(time.Nanosecond) }
	if _, err := v.Verify(token, url, nil); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("at exp + leeway: %v, want expired", err)
	}
}

// forge makes a token as an attacker may: any alg in the header, claims as
// given, and an HMAC-SHA256 signature with key (none for alg none).
func forge(t *testing.T, alg, key string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	unsigned := enc(map[string]string{"alg": alg, "typ": "JWT"}) + "." + enc(claims)
	if alg == "none" {
		return unsigned + "."
	}
	hash := sha256.New
	if alg == "HS512" {
		hash = sha512.New
	}
	mac := hmac.New(hash, []byte(key))
	mac.Write([]byte(unsigned))
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// TestHostile_ReplayGuardBounded: ids are kept until their signature
// expires and no longer; a guard full of live ids refuses more rather than
// forget one.
func TestHostile_ReplayGuardBounded(t *testing.T) {
	t.Parallel()
	g := &replayGuard{seen: map[string]time.Time{}}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	exp := now.Add(time.Minute)
	if got := g.claim("a", exp, now); got != claimed {
		t.Fatalf("first use: %v", got)
	}
	if got := g.claim("a", exp, now.Add(30*time.Second)); got != replayed {
		t.Errorf("second use while valid: %v, want replayed", got)
	}
	for i := len(g.seen); i < maxReplayIDs; i++ {
		g.claim(strconv.Itoa(i), exp, now)
	}
	if got := g.claim("one more", exp, now); got != guardFull {
		t.Errorf("claim on a full guard: %v, want guardFull", got)
	}
	later := exp.Add(time.Second)
	if got := g.claim("one more", later.Add(time.Minute), later); got != claimed {
		t.Errorf("claim once the others expired: %v", got)
	}
	if len(g.seen) != 1 {
		t.Errorf("%d ids kept after they expired, want only the new one", len(g.seen))
	}
	g.release("one more")
	if got := g.claim("one more", later.Add(time.Minute), later); got != claimed {
		t.Errorf("claim after release: %v", got)
	}
}
