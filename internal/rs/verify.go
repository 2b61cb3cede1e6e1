package rs

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// MaxTokenBytes bounds the tokens Verifier parses (JWT-10): grantd's access
// tokens are well under 2 KiB.
const MaxTokenBytes = 8 << 10

// defaultAlgorithms are the signature algorithms grantd may sign access
// tokens with. None is symmetric, so a token "signed" with HS256 and the
// public key as secret never verifies.
func defaultAlgorithms() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}
}

// Verifier validates grantd's JWT access tokens locally, as RFC 9068 §4
// says a resource server must.
type Verifier struct {
	// Issuer must equal the token's iss byte for byte.
	Issuer string
	// Audience is this resource server's own identifier: the token's aud
	// must contain it (JWT-13).
	Audience string
	// Keys finds the signing key by kid.
	Keys *KeySet
	Now  func() time.Time
	// Leeway tolerates clock skew in exp, nbf and iat.
	Leeway time.Duration
	// Algorithms is the allowlist; nil means RS256, ES256 and EdDSA.
	Algorithms []jose.SignatureAlgorithm
}

// NewVerifier returns a Verifier for issuer's tokens meant for audience,
// with keys from issuer's JWKS, a 30-second leeway and the real clock.
func NewVerifier(issuer, audience string) *Verifier {
	return &Verifier{Issuer: issuer, Audience: audience, Keys: &KeySet{Issuer: issuer}, Leeway: 30 * time.Second}
}

// accessTokenClaims are the claims of an RFC 9068 §2.2 access token.
type accessTokenClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  audience `json:"aud"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope"`
	ID        string   `json:"jti"`
	GrantID   string   `json:"grant_id"`
	ExpiresAt *int64   `json:"exp"`
	NotBefore *int64   `json:"nbf"`
	IssuedAt  *int64   `json:"iat"`
}

// audience is aud: one string or an array of them (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// Check validates raw and returns its claims. Every refusal wraps
// ErrInvalidToken, except a JWKS that cannot be fetched (ErrUnavailable).
func (v *Verifier) Check(ctx context.Context, raw string) (Claims, error) {
	if len(raw) > MaxTokenBytes || strings.Count(raw, ".") != 2 {
		return Claims{}, invalid("The access token is malformed.")
	}
	algs := v.Algorithms
	if algs == nil {
		algs = defaultAlgorithms()
	}
	jws, err := jose.ParseSignedCompact(raw, algs)
	if err != nil || len(jws.Signatures) != 1 {
		return Claims{}, invalid("The access token is malformed or signed with a refused algorithm.")
	}
	h := jws.Signatures[0].Header
	if err := checkHeader(h); err != nil {
		return Claims{}, err
	}
	key, err := v.Keys.Key(ctx, h.KeyID)
	if err != nil {
		return Claims{}, err
	}
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return Claims{}, invalid("The access token's algorithm does not match its key.")
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return Claims{}, invalid("The access token's signature is not valid.")
	}
	var c accessTokenClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Claims{}, invalid("The access token's claims are malformed.")
	}
	return v.checkClaims(c)
}

// checkHeader accepts only an at+jwt with a kid and no key of its own
// (RFC 9068 §4, RFC 8725 §3.11, JWT-08, JWT-09).
func checkHeader(h jose.Header) error {
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if t := strings.ToLower(typ); t != "at+jwt" && t != "application/at+jwt" {
		return invalid("The token is not an access token (typ at+jwt).")
	}
	if h.KeyID == "" {
		return invalid("The access token names no signing key.")
	}
	if h.JSONWebKey != nil {
		return invalid("The access token carries a key of its own.")
	}
	for _, name := range []jose.HeaderKey{"jku", "x5u", "x5c"} {
		if _, ok := h.ExtraHeaders[name]; ok {
			return invalid("The access token points to a key of its own.")
		}
	}
	return nil
}

// checkClaims applies RFC 9068 §4 steps 2–5 and the time checks.
func (v *Verifier) checkClaims(c accessTokenClaims) (Claims, error) {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	switch {
	case c.Issuer != v.Issuer:
		return Claims{}, invalid("The access token is from another issuer.")
	case !slices.Contains(c.Audience, v.Audience):
		return Claims{}, invalid("The access token is for another audience.")
	case c.ExpiresAt == nil:
		return Claims{}, invalid("The access token has no expiry.")
	case !now.Before(time.Unix(*c.ExpiresAt, 0).Add(v.Leeway)):
		return Claims{}, invalid("The access token has expired.")
	case c.NotBefore != nil && now.Add(v.Leeway).Before(time.Unix(*c.NotBefore, 0)):
		return Claims{}, invalid("The access token is not valid yet.")
	case c.IssuedAt != nil && now.Add(v.Leeway).Before(time.Unix(*c.IssuedAt, 0)):
		return Claims{}, invalid("The access token was issued in the future.")
	case c.Subject == "" || c.ClientID == "":
		return Claims{}, invalid("The access token lacks sub or client_id.")
	}
	return Claims{Issuer: c.Issuer, Subject: c.Subject, ClientID: c.ClientID, Audience: c.Audience,
		Scopes: strings.Fields(c.Scope), ID: c.ID, GrantID: c.GrantID, ExpiresAt: time.Unix(*c.ExpiresAt, 0)}, nil
}
