package admin

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/grantd/grantd/internal/secret"
)

// TestCreateClientIdentity is JWT-06 and TOK-03 at registration: a client
// id that equals a user id, which tokens carry as sub, is refused, and a
// client's secret is stored only as a hash that checks against it.
func TestCreateClientIdentity(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	u, err := CreateUser(ctx, st, rand.Reader, now, UserSpec{Username: "alice", Password: "long enough"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateClient(ctx, st, rand.Reader, now, ClientSpec{ID: u.ID}); err == nil ||
		!strings.Contains(err.Error(), "equals a user id") {
		t.Errorf("client id equal to user %s's id: %v, want it refused", u.Username, err)
	}
	const sec = "a-long-enough-client-secret"
	if _, err := CreateClient(ctx, st, rand.Reader, now, ClientSpec{ID: "tv", Secret: sec}); err != nil {
		t.Fatal(err)
	}
	c, err := st.Client(ctx, "tv")
	if err != nil {
		t.Fatal(err)
	}
	if c.SecretHash == "" || strings.Contains(c.SecretHash, sec) {
		t.Errorf("stored secret %q: want a hash, not the secret", c.SecretHash)
	}
	v := secret.NewVerifier(0, 0)
	if err := v.Check(ctx, c.SecretHash, sec); err != nil {
		t.Errorf("the stored hash does not check against the secret: %v", err)
	}
	if err := v.Check(ctx, c.SecretHash, sec+"x"); err == nil {
		t.Error("the stored hash checks against a wrong secret")
	}
}

// TestCreateClientPageURLs: a client's logo and home page, which the
// consent page shows and browsers load, must be plain https URLs.
func TestCreateClientPageURLs(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	for i, tt := range []struct {
		logo, home string
		ok         bool
	}{
		{"", "", true},
		{"https://cdn.example.com/acme.png", "https://acme.example.com/", true},
		{"https://cdn.example.com:8443/a.svg?v=1", "", true},
		{"http://cdn.example.com/acme.png", "", false},
		{"", "javascript:alert(1)", false},
		{"data:image/png;base64,AAAA", "", false},
		{"https://user@cdn.example.com/a.png", "", false},
		{"", "https://acme.example.com/#x", false},
		{"https://cdn.example.com;evil/a.png", "", false},
		{"/logo.png", "", false},
	} {
		id := fmt.Sprintf("client-%d", i)
		_, err := CreateClient(ctx, st, rand.Reader, now, ClientSpec{ID: id, Public: true, LogoURI: tt.logo, ClientURI: tt.home})
		if (err == nil) != tt.ok {
			t.Errorf("logo %q, home %q: error %v, want ok %v", tt.logo, tt.home, err, tt.ok)
			continue
		}
		if err != nil {
			continue
		}
		c, err := st.Client(ctx, id)
		if err != nil || c.LogoURI != tt.logo || c.ClientURI != tt.home {
			t.Errorf("stored %q %q (%v), want %q %q", c.LogoURI, c.ClientURI, err, tt.logo, tt.home)
		}
	}
}
