package federation

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/seal"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/upstream"
)

// upstreams is a store.Upstreams the test changes.
type upstreams struct {
	mu    sync.Mutex
	list  []store.Upstream
	err   error
	reads int
}

func (u *upstreams) CreateUpstream(context.Context, store.Upstream) error { return nil }
func (u *upstreams) Upstream(context.Context, string) (store.Upstream, error) {
	return store.Upstream{}, store.ErrNotFound
}
func (u *upstreams) DeleteUpstream(context.Context, string) error { return nil }
func (u *upstreams) Upstreams(context.Context) ([]store.Upstream, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.reads++
	return u.list, u.err
}

func newSealer(t *testing.T) *seal.Sealer {
	t.Helper()
	k, err := seal.NewKey(make([]byte, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return seal.New(rand.Reader, k)
}

func sealed(t *testing.T, s *seal.Sealer, id, secret string) string {
	t.Helper()
	v, err := s.Seal([]byte(secret), store.SealedAAD(store.SealedUpstreamSecret, id))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDirectory: the entries are re-read every Reload, an unchanged
// upstream keeps its Provider (and so its cached discovery and keys), one
// whose secret does not open under the key is left out, and a store that
// fails leaves the entries read before.
func TestDirectory(t *testing.T) {
	s := newSealer(t)
	now := time.Unix(1_800_000_000, 0)
	st := &upstreams{list: []store.Upstream{
		{ID: "cognito", Issuer: "https://cognito.example/pool", ClientID: "a", ClientSecret: sealed(t, s, "cognito", "x")},
		{ID: "moved", Issuer: "https://moved.example", ClientID: "b", ClientSecret: sealed(t, s, "elsewhere", "y")},
		{ID: "public", Issuer: "https://public.example", ClientID: "c"},
	}}
	d := &Directory{Store: st, Sealer: s, Now: func() time.Time { return now }, Options: upstream.Options{}}
	ids := func() []string {
		t.Helper()
		es, err := d.Entries(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	if got := ids(); len(got) != 2 || got[0] != "cognito" || got[1] != "public" {
		t.Errorf("entries %v: want cognito and public (moved's secret is bound to another row)", got)
	}
	first, _ := d.Lookup(t.Context(), "cognito")
	now = now.Add(DefaultReload / 2)
	ids()
	if st.reads != 1 {
		t.Errorf("%d reads within the reload period, want 1", st.reads)
	}
	now = now.Add(DefaultReload)
	ids()
	again, _ := d.Lookup(t.Context(), "cognito")
	if st.reads != 2 || again.Provider != first.Provider {
		t.Errorf("after the reload period: %d reads, provider kept %v; want 2 and the same provider", st.reads, again.Provider == first.Provider)
	}
	st.mu.Lock()
	st.list[0].ClientID = "changed"
	st.mu.Unlock()
	now = now.Add(DefaultReload)
	changed, _ := d.Lookup(t.Context(), "cognito")
	if changed.Provider == first.Provider || changed.ClientID != "changed" {
		t.Error("a changed upstream kept its old provider")
	}
	st.mu.Lock()
	st.err = errors.New("database down")
	st.mu.Unlock()
	now = now.Add(DefaultReload)
	if got := ids(); len(got) != 2 {
		t.Errorf("entries while the store fails: %v, want those read before", got)
	}
	if _, err := d.Lookup(t.Context(), "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Lookup of an unknown upstream: %v, want ErrNotFound", err)
	}
	fresh := &Directory{Store: st, Sealer: s, Now: func() time.Time { return now }}
	if _, err := fresh.Entries(t.Context()); err == nil {
		t.Error("a directory that never read the upstreams returned none without an error")
	}
}

// TestHeldTokens: what a sign-in holds is sealed for its row: it opens
// there, moves from the session to the device grant, and opens nowhere
// else (GEN-03).
func TestHeldTokens(t *testing.T) {
	d := &Directory{Sealer: newSealer(t)}
	h := Held{Upstream: "cognito", Subject: "sub-1", Tokens: upstream.Tokens{AccessToken: "at", RefreshToken: "rt", IDToken: "it"}}
	inSession, err := d.Seal(h, store.SealedSessionTokens, "sess-hash")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(inSession, store.SealedSessionTokens, "another-session"); err == nil {
		t.Error("tokens sealed for one session opened for another")
	}
	moved, err := d.Move(inSession, store.SealedSessionTokens, "sess-hash", store.SealedDeviceTokens, "device-hash")
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Open(moved, store.SealedDeviceTokens, "device-hash")
	if err != nil || got != h {
		t.Errorf("moved tokens: %+v, %v; want %+v", got, err, h)
	}
	if _, err := d.Open(moved, store.SealedSessionTokens, "sess-hash"); err == nil {
		t.Error("tokens moved to the device grant still open as the session's")
	}
	if _, err := (&Directory{}).Seal(h, store.SealedSessionTokens, "x"); err == nil {
		t.Error("sealed without a secret key")
	}
}
