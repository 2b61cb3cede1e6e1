package cluster

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// rotationEnv makes instances re-read the signing keys four times a second.
var rotationEnv = map[string]string{"GRANTD_KEY_RELOAD_INTERVAL": "250ms"}

// publishAhead is the rotation's lead in TestKeyRotationSeenByAll: far above
// the reload period, so that every instance publishes the new key well
// before any signs with it.
const publishAhead = 4 * time.Second

// TestKeyRotationSeenByAll is docs/SECURITY.md REL-12 across two instances: a
// rotation written to the shared database by `grantd keys rotate` is
// published by every instance before any instance signs with the new key
// (so no verifier that follows the JWKS meets an unknown kid); tokens of the
// old key stay valid everywhere until it retires; an immediate rotation (a
// leaked key) ends the old key's tokens on every instance.
func TestKeyRotationSeenByAll(t *testing.T) {
	c := newCluster(t, clusterOptions{instances: 2, env: rotationEnv, users: []string{"alice"}})
	a, b := c.nodes[0].URL, c.nodes[1].URL
	br := c.browser(t, "203.0.113.20")
	signIn(t, at(br, a), at(br, a), "alice")
	first := c.completedFlow(t, br, a)
	k1 := kidOf(t, first.AccessToken)

	grantdCommand(t, "keys", "rotate", "--database", c.direct, "--publish-ahead", publishAhead.String())
	deadline := time.Now().Add(publishAhead + 10*time.Second)
	// seenByAll are the kids every instance has published so far.
	seenByAll := map[string]bool{}
	rt := map[string]string{a: first.RefreshToken, b: first.RefreshToken}
	signedBy := map[string]string{}
	for signedBy[a] == "" || signedBy[a] == k1 || signedBy[b] == "" || signedBy[b] == k1 {
		if time.Now().After(deadline) {
			t.Fatalf("after %v, A signs with %s and B with %s; the old key was %s", publishAhead+10*time.Second,
				signedBy[a], signedBy[b], k1)
		}
		ka, kb := c.publishedKids(t, a), c.publishedKids(t, b)
		for _, kid := range ka {
			if slices.Contains(kb, kid) {
				seenByAll[kid] = true
			}
		}
		for _, base := range []string{a, b} {
			next := tokensOf(t, "refresh on "+base, c.refresh(base, rt[base]))
			rt[a], rt[b] = next.RefreshToken, next.RefreshToken
			kid := kidOf(t, next.AccessToken)
			if !seenByAll[kid] {
				t.Fatalf("%s signed with %s before every instance published it (published by all: %v)", base, kid, seenByAll)
			}
			signedBy[base] = kid
		}
		time.Sleep(100 * time.Millisecond) // the instances reload their keys on their own, real, clocks
	}
	k2 := signedBy[a]
	if signedBy[b] != k2 {
		t.Fatalf("after the rotation A signs with %s, B with %s", k2, signedBy[b])
	}
	for _, base := range []string{a, b} {
		if kids := c.publishedKids(t, base); !slices.Contains(kids, k1) || !slices.Contains(kids, k2) {
			t.Errorf("JWKS of %s after activation: %v, want the old key %s (its tokens live) and the new %s", base, kids, k1, k2)
		}
		c.verifyAccessToken(t, base, first.AccessToken)
		if r := c.introspect(base, first.AccessToken); !strings.Contains(string(r.body), `"active":true`) {
			t.Errorf("introspection on %s of a token of the old key: %s, want active", base, r)
		}
	}

	// A leaked key: withdrawn at once everywhere, its tokens with it.
	second := tokensOf(t, "refresh", c.refresh(a, rt[a]))
	if kidOf(t, second.AccessToken) != k2 {
		t.Fatalf("token signed by %s, want %s", kidOf(t, second.AccessToken), k2)
	}
	// Introspected once, so that each instance has verified it already.
	for _, base := range []string{a, b} {
		if r := c.introspect(base, second.AccessToken); !strings.Contains(string(r.body), `"active":true`) {
			t.Fatalf("introspection on %s before the immediate rotation: %s, want active", base, r)
		}
	}
	grantdCommand(t, "keys", "rotate", "--database", c.direct, "--immediately")
	deadline = time.Now().Add(10 * time.Second)
	for _, base := range []string{a, b} {
		for {
			r := c.introspect(base, second.AccessToken)
			if r.status == http.StatusOK && string(r.body) == `{"active":false}` && !slices.Contains(c.publishedKids(t, base), k2) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still accepts or publishes the withdrawn key %s: %s", base, k2, r)
			}
			time.Sleep(100 * time.Millisecond) // until the instance, another process, reloads its keys
		}
	}
	third := tokensOf(t, "refresh after the immediate rotation", c.refresh(b, second.RefreshToken))
	if kid := kidOf(t, third.AccessToken); kid == k1 || kid == k2 {
		t.Errorf("B signs with %s after an immediate rotation away from %s", kid, k2)
	}
	c.verifyAccessToken(t, a, third.AccessToken)
}

// publishedKids returns the kids in base's JWKS.
func (c *cluster) publishedKids(t *testing.T, base string) []string {
	t.Helper()
	r := c.get(base, "/.well-known/jwks.json")
	var set jose.JSONWebKeySet
	if r.status != http.StatusOK || json.Unmarshal(r.body, &set) != nil {
		t.Fatalf("GET %s/.well-known/jwks.json: %s", base, r)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

// kidOf returns the kid in a JWS header.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil || len(jws.Signatures) != 1 {
		t.Fatalf("parse token: %v", err)
	}
	return jws.Signatures[0].Header.KeyID
}
