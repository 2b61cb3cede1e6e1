package main_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore"
	"github.com/grantd/grantd/internal/store/storetest"
)

// TestGrantRevokeOldID: a grant id made by an older grantd may begin with
// "-" (base64url); it is revoked by giving it after "--", as the
// command's help says; without "--" it is a usage error (exit 2) that
// says so.
func TestGrantRevokeOldID(t *testing.T) {
	db := filepath.Join(t.TempDir(), "g.db")
	ok[object](t, db, "", "client", "create", "--id", "web", "--secret", "web-secret-0123456789",
		"--grant-type", "authorization_code", "--redirect-uri", "https://web.example/cb", "--scope", "openid")
	user := ok[object](t, db, "", "user", "create", "--username", "alice", "--password", "correct horse battery")

	const id = "-9nM3KyQkoBo8ndVGSFjwQ" // as base64url ids were
	st, err := sqlstore.Open(t.Context(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	userID := user["id"].(string)
	code := store.AuthorizationCode{Hash: "code-hash", ClientID: "web", UserID: userID, RedirectURI: "https://web.example/cb",
		Scopes: []string{"openid"}, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	g := store.Grant{ID: id, ClientID: "web", UserID: userID, Scopes: []string{"openid"}, Kind: "authorization_code",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastUsedAt: now}
	if err := st.CreateAuthorizationCode(t.Context(), code); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RedeemAuthorizationCode(t.Context(), code.Hash, "web", now, storetest.Issue[store.AuthorizationCode](&g, nil)); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	fails(t, db, 2, `unknown flag --9nM3KyQkoBo8ndVGSFjwQ; an argument that begins with "-" goes after "--"`, "grant", "revoke", id)
	if out := ok[object](t, db, "", "grant", "revoke", "--", id); out["id"] != id || out["revoked_at"] == nil {
		t.Errorf("grant revoke -- %s printed %v; want the grant, revoked", id, out)
	}
	stdout, stderr, _ := grantd(t, db, "", "grant", "revoke", "--help")
	if want := "grantd grant revoke -- ID"; !strings.Contains(stdout+stderr, want) {
		t.Errorf("grant revoke --help: %q; want it to say %q", stdout+stderr, want)
	}
}
