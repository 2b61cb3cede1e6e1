package oauth_test

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

func newAuthenticator(t *testing.T, ttl time.Duration, now *time.Time) (*oauth.ClientAuthenticator, *countingClients) {
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
	return &oauth.ClientAuthenticator{Clients: counting, Verifier: secret.NewVerifier(0, 0), ClientTTL: ttl, Now: func() time.Time { return *now }}, counting
}

func authenticate(t *testing.T, a *oauth.ClientAuthenticator, header string) error {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(""))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", header)
	f, err := oauth.ParseForm(httptest.NewRecorder(), r)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = a.Authenticate(t.Context(), r, f)
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
