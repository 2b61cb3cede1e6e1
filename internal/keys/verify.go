package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// MaxTokenBytes bounds a token handed to Verify: a hostile token is refused
// before any parsing (JWT-10).
const MaxTokenBytes = 8 << 10

// ErrInvalidToken reports a token that is malformed, not ours, or not of the
// expected type. It says nothing more, on purpose.
var ErrInvalidToken = errors.New("keys: invalid token")

// Verify checks a compact JWS signed by one of this set's keys: its kid must
// be known, its alg must be that key's algorithm (never none, never HMAC), and
// its typ header must equal typ (RFC 8725 §3.11: an ID token is not an access
// token). It decodes the payload into claims. It checks no claim: callers
// check iss, exp and the rest.
func (s *Set) Verify(raw, typ string, claims any) error {
	_, err := s.VerifyKID(raw, typ, claims)
	return err
}

// VerifyKID is Verify, and also returns the kid of the key that signed.
func (s *Set) VerifyKID(raw, typ string, claims any) (string, error) {
	if len(raw) > MaxTokenBytes || strings.Count(raw, ".") != 2 {
		return "", ErrInvalidToken
	}
	r := s.cur.Load()
	obj, err := jose.ParseSignedCompact(raw, r.algs)
	if err != nil || len(obj.Signatures) != 1 {
		return "", ErrInvalidToken
	}
	h := obj.Signatures[0].Protected
	key, ok := r.public[h.KeyID]
	if !ok || key.Algorithm != h.Algorithm {
		return "", ErrInvalidToken
	}
	if t, _ := h.ExtraHeaders[jose.HeaderType].(string); t != typ {
		return "", ErrInvalidToken
	}
	payload, err := obj.Verify(key)
	if err != nil {
		return "", ErrInvalidToken
	}
	if err := json.Unmarshal(payload, claims); err != nil {
		return "", fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	return h.KeyID, nil
}

// Published reports whether the key kid is in the JWKS now.
func (s *Set) Published(kid string) bool {
	_, ok := s.cur.Load().public[kid]
	return ok
}
