package introspect_test

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/bearer"
	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/oauth"
)

// Hand-built JWTs, for the forgeries of JWT-08 and JWT-09 that keys.Set
// would never sign.

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b64(b)
}

// jws builds header.payload.signature, the signature being sign of the
// signing input (nil: empty signature).
func jws(header map[string]any, claims any, sign func(input []byte) []byte) string {
	input := b64JSON(header) + "." + b64JSON(claims)
	if sign == nil {
		return input + "."
	}
	return input + "." + b64(sign([]byte(input)))
}

// rs256 signs with key.
func rs256(key *rsa.PrivateKey) func([]byte) []byte {
	return func(input []byte) []byte {
		sum := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		if err != nil {
			panic(err)
		}
		return sig
	}
}

// hs256 MACs with secret.
func hs256(secret []byte) func([]byte) []byte {
	return func(input []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(input)
		return m.Sum(nil)
	}
}

// signingKey returns the fixture's real RS256 private key and its kid.
func (f *fixture) signingKey() (*rsa.PrivateKey, string) {
	f.T.Helper()
	ks, err := f.Store.SigningKeys(context.Background())
	if err != nil || len(ks) == 0 {
		f.T.Fatalf("signing keys: %v", err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(ks[0].PrivateKey)
	if err != nil {
		f.T.Fatalf("parse key: %v", err)
	}
	return priv.(*rsa.PrivateKey), ks[0].ID
}

// publicPEM is the real key's public half as an attacker would find it,
// PEM and DER encoded: the HMAC secrets of the key-confusion attack.
func (f *fixture) publicPEM() (pemKey, derKey []byte) {
	priv, _ := f.signingKey()
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		f.T.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), der
}

// attackerKey is an RSA key grantd never saw.
func attackerKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// jwkOf is the public JWK of key, for the embedded-key header attack.
func jwkOf(key *rsa.PrivateKey) map[string]any {
	e := big64(key.PublicKey.E)
	return map[string]any{"kty": "RSA", "n": b64(key.PublicKey.N.Bytes()), "e": e}
}

func big64(e int) string {
	var b []byte
	for ; e > 0; e >>= 8 {
		b = append([]byte{byte(e)}, b...)
	}
	return b64(b)
}

// truncations returns tok cut at several lengths (GEN-05): one and two
// characters short, half, 80 characters, and at each dot.
func truncations(tok string) map[string]string {
	out := map[string]string{
		"len-1": tok[:len(tok)-1],
		"len-2": tok[:len(tok)-2],
		"half":  tok[:len(tok)/2],
		"80":    tok[:min(80, len(tok)-1)],
		"1":     tok[:1],
	}
	if i := strings.LastIndex(tok, "."); i > 0 {
		out["to-last-dot"] = tok[:i+1]
		out["before-last-dot"] = tok[:i]
	}
	if i := strings.Index(tok, "."); i > 0 {
		out["header-only"] = tok[:i]
	}
	return out
}

// forgeryCases are tokens an attacker builds (JWT-08, JWT-09); every one
// carries the claims of a live grant, so only the forged part can make it
// fail.
func forgeryCases(f *fixture) []inactiveCase {
	live := func(f *fixture) (map[string]any, any) {
		_, kid := f.signingKey()
		return map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": kid}, f.Issue("app", "u-alice", "openid", "").Claims
	}
	with := func(h map[string]any, kv ...any) map[string]any {
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(h, kv[i].(string))
			} else {
				h[kv[i].(string)] = kv[i+1]
			}
		}
		return h
	}
	attacker := attackerKey()
	pemKey, derKey := f.publicPEM()
	var cases []inactiveCase
	add := func(id, name string, build func(h map[string]any, c any) string) {
		cases = append(cases, inactiveCase{id: id, name: name, token: func(f *fixture) string {
			h, c := live(f)
			return build(h, c)
		}})
	}
	add("JWT-08", "alg none", func(h map[string]any, c any) string { return jws(with(h, "alg", "none"), c, nil) })
	add("JWT-08", "alg None", func(h map[string]any, c any) string { return jws(with(h, "alg", "None"), c, nil) })
	add("JWT-08", "HS256 keyed with the PEM public key", func(h map[string]any, c any) string {
		return jws(with(h, "alg", "HS256"), c, hs256(pemKey))
	})
	add("JWT-08", "HS256 keyed with the DER public key", func(h map[string]any, c any) string {
		return jws(with(h, "alg", "HS256"), c, hs256(derKey))
	})
	add("JWT-08", "unknown kid, attacker's key", func(h map[string]any, c any) string {
		return jws(with(h, "kid", "attacker"), c, rs256(attacker))
	})
	add("JWT-08", "our kid, attacker's key", func(h map[string]any, c any) string { return jws(h, c, rs256(attacker)) })
	add("JWT-08", "kid with a path, HS256 empty key", func(h map[string]any, c any) string {
		return jws(with(h, "alg", "HS256", "kid", "../../../../../../dev/null"), c, hs256(nil))
	})
	add("JWT-08", "kid with SQL", func(h map[string]any, c any) string {
		return jws(with(h, "kid", "x' UNION SELECT 'k"), c, rs256(attacker))
	})
	add("JWT-08", "embedded jwk header", func(h map[string]any, c any) string {
		return jws(with(h, "jwk", jwkOf(attacker)), c, rs256(attacker))
	})
	add("JWT-08", "jku header", func(h map[string]any, c any) string {
		return jws(with(h, "jku", "https://evil.example/jwks"), c, rs256(attacker))
	})
	add("JWT-08", "typ missing, real key", func(h map[string]any, c any) string {
		priv, _ := f.signingKey()
		return jws(with(h, "typ", nil), c, rs256(priv))
	})
	add("JWT-09", "typ JWT (an ID token), real key", func(h map[string]any, c any) string {
		priv, _ := f.signingKey()
		return jws(with(h, "typ", "JWT"), c, rs256(priv))
	})
	add("JWT-08", "payload swapped under a valid signature", func(h map[string]any, c any) string {
		priv, _ := f.signingKey()
		parts := strings.Split(jws(h, c, rs256(priv)), ".")
		other := f.Issue("app", "u-bob", "openid profile", "").Claims
		return parts[0] + "." + b64JSON(other) + "." + parts[2]
	})
	cases = append(cases, claimCases()...)
	return cases
}

// claimCases are tokens properly signed by grantd's key whose claims are
// wrong (JWT-08, JWT-09).
func claimCases() []inactiveCase {
	var cases []inactiveCase
	add := func(id, name, typ string, edit func(c *oauth.AccessTokenClaims)) {
		cases = append(cases, inactiveCase{id: id, name: name, token: func(f *fixture) string {
			c := f.Issue("app", "u-alice", "openid", "").Claims
			edit(&c)
			return f.Sign(typ, c)
		}})
	}
	at, id := keys.TypeAccessToken, keys.TypeIDToken
	add("JWT-09", "ID token with access token claims", id, func(*oauth.AccessTokenClaims) {})
	add("JWT-08", "wrong iss", at, func(c *oauth.AccessTokenClaims) { c.Issuer = "https://evil.example" })
	add("JWT-08", "missing exp", at, func(c *oauth.AccessTokenClaims) { c.ExpiresAt = 0 })
	add("JWT-08", "iat in the future beyond leeway", at, func(c *oauth.AccessTokenClaims) {
		c.IssuedAt += int64((bearer.Leeway + time.Minute) / time.Second)
	})
	add("INT-04", "no grant_id", at, func(c *oauth.AccessTokenClaims) { c.GrantID = "" })
	add("INT-04", "unknown grant_id", at, func(c *oauth.AccessTokenClaims) { c.GrantID = "no-such-grant" })
	add("JWT-03", "no jti", at, func(c *oauth.AccessTokenClaims) { c.ID = "" })
	return cases
}

// truncationCases cut a live access token and a live refresh token at
// several lengths, and flip one character of each (GEN-05).
func truncationCases(f *fixture) []inactiveCase {
	g := f.Issue("app", "u-alice", "openid", "")
	var cases []inactiveCase
	for kind, tok := range map[string]string{"access token": g.AT, "refresh token": g.RT} {
		for cut, short := range truncations(tok) {
			cases = append(cases, inactiveCase{id: "GEN-05", name: kind + " truncated " + cut,
				token: func(*fixture) string { return short }})
		}
		flipped := tok[:len(tok)-1] + string(tok[len(tok)-1]^1)
		cases = append(cases, inactiveCase{id: "GEN-05", name: kind + " last character changed",
			token: func(*fixture) string { return flipped }})
	}
	return cases
}
