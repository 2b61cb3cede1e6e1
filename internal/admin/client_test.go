package admin

import (
	"context"
	"crypto/rand"
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
