package keys_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/oauth"
)

// TestSignVerifiesWithGoJose: for every algorithm and token type, a token
// that Sign makes is a compact JWS (RFC 7515 §7.1) whose protected header
// holds exactly alg, kid and typ, and whose signature go-jose verifies
// against the published JWKS alone — an implementation other than ours
// (JWT-03: the typ header tells access and ID tokens apart).
func TestSignVerifiesWithGoJose(t *testing.T) {
	set, err := keys.Load(t.Context(), openStore(t), rand.Reader, t0, keys.RS256, keys.ES256, keys.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(set.JWKS(), &jwks); err != nil {
		t.Fatal(err)
	}
	claims := oauth.AccessTokenClaims{Issuer: "https://grantd.example", Subject: "k2x7", Audience: "https://grantd.example",
		ClientID: "tv", Scope: "lights:read", IssuedAt: t0.Unix(), ExpiresAt: t0.Unix() + 3600, ID: "j1", GrantID: "g1"}
	want, _ := claims.MarshalJSON()
	sigLen := map[string]int{keys.ES256: 64, keys.EdDSA: 64, keys.RS256: 256}
	for _, alg := range []string{keys.ES256, keys.EdDSA, keys.RS256} {
		for _, typ := range []string{keys.TypeAccessToken, keys.TypeIDToken} {
			tok, err := set.Sign(alg, typ, claims)
			if err != nil {
				t.Fatalf("%s %s: %v", alg, typ, err)
			}
			parts := strings.Split(tok, ".")
			if len(parts) != 3 {
				t.Fatalf("%s %s: %d parts", alg, typ, len(parts))
			}
			var hdr map[string]any
			if err := decodePart(parts[0], &hdr); err != nil {
				t.Fatalf("%s %s header: %v", alg, typ, err)
			}
			kid := set.KeyID(alg)
			if len(hdr) != 3 || hdr["alg"] != alg || hdr["kid"] != kid || hdr["typ"] != typ {
				t.Errorf("%s %s: header %v, want alg, kid %q and typ only", alg, typ, hdr, kid)
			}
			if sig, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil || len(sig) != sigLen[alg] {
				t.Errorf("%s %s: signature of %d bytes (%v), want %d", alg, typ, len(sig), err, sigLen[alg])
			}
			obj, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatalf("%s %s: go-jose parse: %v", alg, typ, err)
			}
			keysByID := jwks.Key(kid)
			if len(keysByID) != 1 {
				t.Fatalf("%s: kid %q published %d times", alg, kid, len(keysByID))
			}
			payload, err := obj.Verify(keysByID[0])
			if err != nil {
				t.Fatalf("%s %s: go-jose verify: %v", alg, typ, err)
			}
			if string(payload) != string(want) {
				t.Errorf("%s %s: payload %s, want %s", alg, typ, payload, want)
			}
			var got oauth.AccessTokenClaims
			if err := set.Verify(tok, typ, &got); err != nil || got != claims {
				t.Errorf("%s %s: Verify = %v, %+v", alg, typ, err, got)
			}
		}
	}
}

// TestSignedTokensDiffer: ES256 draws a fresh nonce for every signature,
// so two tokens of one payload differ; and a set signs only with the
// algorithms it holds keys for.
func TestSignedTokensDiffer(t *testing.T) {
	set, err := keys.Load(t.Context(), openStore(t), rand.Reader, t0, keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	a, err1 := set.Sign(keys.ES256, keys.TypeAccessToken, json.RawMessage(`{"sub":"u1"}`))
	b, err2 := set.Sign(keys.ES256, keys.TypeAccessToken, json.RawMessage(`{"sub":"u1"}`))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if a == b {
		t.Error("two ES256 signatures of one payload are equal: the nonce is not random")
	}
	if _, err := set.Sign(keys.RS256, keys.TypeAccessToken, json.RawMessage(`{}`)); err == nil {
		t.Error("signed with an algorithm the set has no key for")
	}
}

func decodePart(part string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
