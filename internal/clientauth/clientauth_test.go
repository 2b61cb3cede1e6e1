package clientauth_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/clientauth"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore"
)

// countingClients counts the loads that reach the real store.
type countingClients struct {
	store.Clients
	loads atomic.Int64
}

func (c *countingClients) Client(ctx context.Context, id string) (store.Client, error) {
	c.loads.Add(1)
	return c.Clients.Client(ctx, id)
}

func newAuthenticator(t *testing.T, ttl time.Duration, now *time.Time) (*clientauth.Authenticator, *countingClients) {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "g.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hash, _ := secret.HashClientSecret(rand.Reader, "s3cret: with/odd+chars", false)
	if err := st.CreateClient(t.Context(), store.Client{ID: "tv:1", SecretHash: hash, CreatedAt: *now}); err != nil {
		t.Fatal(err)
	}
	counting := &countingClients{Clients: st}
	return &clientauth.Authenticator{Clients: counting, Verifier: secret.NewVerifier(0, 0), ClientTTL: ttl, Now: func() time.Time { return *now }}, counting
}

func authenticate(t *testing.T, a *clientauth.Authenticator, header string) error {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(""))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", header)
	f, err := oauth.ParseForm(httptest.NewRecorder(), r)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Authenticate(t.Context(), r, f)
	return err
}

// TestBasicCredentialsAreFormEncoded: RFC 6749 §2.3.1 has clients
// form-encode id and secret before base64, so ':' '/' '+' and ' ' survive.
func TestBasicCredentialsAreFormEncoded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a, _ := newAuthenticator(t, 0, &now)
	basic := func(id, sec string) string {
		r := httptest.NewRequest("GET", "/", nil)
		r.SetBasicAuth(id, sec)
		return r.Header.Get("Authorization")
	}
	if err := authenticate(t, a, basic(url.QueryEscape("tv:1"), url.QueryEscape("s3cret: with/odd+chars"))); err != nil {
		t.Errorf("form-encoded credentials: %v", err)
	}
	if err := authenticate(t, a, basic(url.QueryEscape("tv:1"), url.QueryEscape("s3cret: with/odd chars"))); err == nil {
		t.Error("a wrong secret was accepted")
	}
}

// TestClientCache: within ClientTTL the client is read once; after it, again.
func TestClientCache(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a, counting := newAuthenticator(t, 2*time.Second, &now)
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth(url.QueryEscape("tv:1"), url.QueryEscape("s3cret: with/odd+chars"))
	h := r.Header.Get("Authorization")
	for range 3 {
		if err := authenticate(t, a, h); err != nil {
			t.Fatal(err)
		}
	}
	if got := counting.loads.Load(); got != 1 {
		t.Errorf("%d loads within the TTL, want 1", got)
	}
	now = now.Add(3 * time.Second)
	authenticate(t, a, h)
	if got := counting.loads.Load(); got != 2 {
		t.Errorf("%d loads after the TTL, want 2", got)
	}
}

// TestSecretRotation: after `grantd client rotate-secret --grace`, the old
// secret authenticates until the grace ends and the new one at once (once
// the client record, cached for ClientTTL, is read again); each is checked
// with argon2id once and then from its remembered digest. A rotation
// without a grace ends the old secret within ClientTTL.
func TestSecretRotation(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	now := start
	a, _ := newAuthenticator(t, 2*time.Second, &now)
	st := a.Clients.(*countingClients).Clients.(store.Store)
	rotate := func(sec string, grace time.Duration) {
		hash, err := secret.HashClientSecret(rand.Reader, sec, false)
		if err != nil {
			t.Fatal(err)
		}
		var until time.Time
		if grace > 0 {
			until = now.Add(grace)
		}
		if err := st.RotateClientSecret(t.Context(), "tv:1", hash, until); err != nil {
			t.Fatal(err)
		}
	}
	const first = "s3cret: with/odd+chars"
	steps := []struct {
		what      string
		at        time.Duration // since start
		rotate    string        // rotate to this secret first, with grace
		grace     time.Duration
		secret    string
		want      bool
		newChecks int64 // argon2id checks this step makes
	}{
		{"first secret", 0, "", 0, first, true, 1},
		{"rotated with a 1h grace", time.Second, "second-secret", time.Hour, first, true, 0}, // the cached record
		{"new secret before the cache expires", time.Second, "", 0, "second-secret", false, 1},
		{"old secret in the grace", 3 * time.Second, "", 0, first, true, 0},
		{"new secret in the grace", 3 * time.Second, "", 0, "second-secret", true, 1},
		{"old secret again, remembered", 4 * time.Second, "", 0, first, true, 0},
		{"new secret again, remembered", 4 * time.Second, "", 0, "second-secret", true, 0},
		{"a wrong secret in the grace", 4 * time.Second, "", 0, "wrong-secret", false, 2},
		{"old secret at the grace's end", time.Second + time.Hour, "", 0, first, false, 1},
		{"new secret after the grace", time.Second + time.Hour, "", 0, "second-secret", true, 0},
		{"rotated without a grace", 2*time.Second + time.Hour, "third-secret", 0, "second-secret", true, 0},
		{"replaced secret after the cache expires", 5*time.Second + time.Hour, "", 0, "second-secret", false, 1},
		{"newest secret", 5*time.Second + time.Hour, "", 0, "third-secret", true, 1},
	}
	for _, s := range steps {
		now = start.Add(s.at)
		if s.rotate != "" {
			rotate(s.rotate, s.grace)
		}
		before := a.Verifier.Checks()
		r := httptest.NewRequest("GET", "/", nil)
		r.SetBasicAuth(url.QueryEscape("tv:1"), url.QueryEscape(s.secret))
		err := authenticate(t, a, r.Header.Get("Authorization"))
		if got := err == nil; got != s.want {
			t.Errorf("%s: authenticated %t (%v), want %t", s.what, got, err, s.want)
		}
		if got := a.Verifier.Checks() - before; got != s.newChecks {
			t.Errorf("%s: %d argon2id checks, want %d", s.what, got, s.newChecks)
		}
	}
}
