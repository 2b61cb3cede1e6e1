package bearer_test

import (
	"errors"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/bearer"
	"github.com/grantd/grantd/internal/bearer/bearertest"
	"github.com/grantd/grantd/internal/store"
)

// TestVerifiedCacheNeverDecides: a token's signature is verified once and
// remembered, but every Check still asks the store, so revocation (REV-02)
// and a disabled user (RT-07) end a cached token at once; and the cache
// stays within its bound, forgotten tokens being verified again.
func TestVerifiedCacheNeverDecides(t *testing.T) {
	f := bearertest.New(t)
	f.AddUsers("alice")
	f.AddClient(store.Client{ID: "tv", Name: "TV", Public: true}, "")
	c := f.Checker(f.Store)
	c.MaxVerified = 10
	ctx := t.Context()

	var tokens []bearertest.Issued
	for range 25 {
		tokens = append(tokens, f.Issue("tv", "u-alice", "lights:read", "https://api.example"))
	}
	for round := range 2 { // the second round meets cached and evicted tokens alike
		for i, tk := range tokens {
			if claims, err := c.Check(ctx, tk.AT); err != nil || claims.GrantID != tk.GrantID {
				t.Fatalf("round %d, token %d: %+v, %v; want active", round, i, claims, err)
			}
			if n := c.Cached(); n > 10 {
				t.Fatalf("cache holds %d tokens, bound 10", n)
			}
		}
	}

	last := tokens[len(tokens)-1] // checked a moment ago: cached
	if err := f.Store.RevokeGrant(ctx, last.GrantID, f.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Check(ctx, last.AT); !errors.Is(err, bearer.ErrInactive) {
		t.Errorf("cached token of a revoked grant: %v, want inactive", err)
	}
	other := tokens[len(tokens)-2]
	if err := f.Store.SetUserDisabled(ctx, "u-alice", true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Check(ctx, other.AT); !errors.Is(err, bearer.ErrInactive) {
		t.Errorf("cached token of a disabled user: %v, want inactive", err)
	}
	if err := f.Store.SetUserDisabled(ctx, "u-alice", false); err != nil {
		t.Fatal(err)
	}
	f.Clock.Add(bearertest.AccessTokenTTL + time.Second)
	if _, err := c.Check(ctx, other.AT); !errors.Is(err, bearer.ErrInactive) {
		t.Errorf("cached token after its expiry: %v, want inactive", err)
	}
}
