package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grantd/grantd/internal/upstream/upstreamtest"
)

// TestUpstreamCommands drives `grantd upstream create|list|test|delete`
// through the binary against the Cognito-like test provider: the secret is
// read from standard input, sealed in the database and never printed; the
// key file is made beside the SQLite file with mode 0600; `test` checks
// the live provider and prints each finding; mistakes get one clear line.
func TestUpstreamCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "g.db")
	up := upstreamtest.Start(t, upstreamtest.Options{RedirectURIs: []string{"http://127.0.0.1:8080/callback"}})
	out, errOut, code := grantd(t, db, up.ClientSecret+"\n", "upstream", "create", "--id", "cognito", "--issuer", up.Issuer,
		"--client-id", up.ClientID, "--client-secret-stdin", "--scope", "openid", "--scope", "email",
		"--name", "Sign in with Lights Incorporated", "--claim-username", "cognito:username",
		"--extra-param", "identity_provider=COGNITO")
	if code != 0 {
		t.Fatalf("upstream create: %d %s", code, errOut)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("upstream create printed %q: %v", out, err)
	}
	if created["id"] != "cognito" || created["client_secret"] != true || created["redirect_uri"] != "http://127.0.0.1:8080/callback" ||
		strings.Contains(out, up.ClientSecret) {
		t.Errorf("upstream create printed %s", out)
	}
	info, err := os.Stat(db + ".secret-key")
	if err != nil || info.Mode().Perm() != 0o600 || info.Size() != 32 {
		t.Errorf("key file: %v %v; want 32 bytes, mode 0600, beside the database", info, err)
	}
	for _, name := range []string{db, db + "-wal"} {
		if b, err := os.ReadFile(name); err == nil && strings.Contains(string(b), up.ClientSecret) {
			t.Errorf("%s holds the upstream client secret in clear", filepath.Base(name))
		}
	}

	out, _, code = grantd(t, db, "", "upstream", "list")
	if code != 0 || !strings.Contains(out, `"id":"cognito"`) || strings.Contains(out, up.ClientSecret) {
		t.Errorf("upstream list: %d %s", code, out)
	}
	out, errOut, code = grantd(t, db, "", "upstream", "test", "cognito")
	if code != 0 || !strings.Contains(out, "ok ") || strings.Contains(out, "FAIL") {
		t.Errorf("upstream test of a good upstream: %d\n%s%s", code, out, errOut)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"duplicate", []string{"upstream", "create", "--id", "cognito", "--issuer", up.Issuer, "--client-id", "x"}, `upstream "cognito" already exists`},
		{"no issuer", []string{"upstream", "create", "--id", "other", "--client-id", "x"}, "--issuer is required"},
		{"bad id", []string{"upstream", "create", "--id", "Bad:Id", "--issuer", up.Issuer, "--client-id", "x"}, `upstream id "Bad:Id"`},
		{"unknown", []string{"upstream", "test", "nobody"}, `upstream "nobody" not found`},
		{"unknown delete", []string{"upstream", "delete", "nobody"}, `upstream "nobody" not found`},
	}
	for _, tt := range tests {
		if _, errOut, code := grantd(t, db, "", tt.args...); code == 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: %d %q; want a failure saying %q", tt.name, code, errOut, tt.want)
		}
	}
	// A wrong secret: the provider refuses it, and test says so, with a fix.
	grantd(t, db, "not-the-secret\n", "upstream", "create", "--id", "wrong", "--issuer", up.Issuer,
		"--client-id", up.ClientID, "--client-secret-stdin")
	out, _, code = grantd(t, db, "", "upstream", "test", "wrong")
	if code == 0 || !strings.Contains(out, "FAIL") {
		t.Errorf("upstream test with a wrong secret: %d\n%s", code, out)
	}
	if _, _, code := grantd(t, db, "", "upstream", "delete", "wrong"); code != 0 {
		t.Errorf("upstream delete: %d", code)
	}
	if out, _, _ := grantd(t, db, "", "upstream", "list"); strings.Contains(out, `"wrong"`) {
		t.Errorf("deleted upstream still listed: %s", out)
	}
}

// TestSecretsRekey: `grantd secrets rekey` seals every value again under
// the new key file; the old key then opens nothing, and the new one opens
// the upstream's secret (upstream test passes with it).
func TestSecretsRekey(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "g.db")
	up := upstreamtest.Start(t, upstreamtest.Options{RedirectURIs: []string{"http://127.0.0.1:8080/callback"}})
	if _, errOut, code := grantd(t, db, up.ClientSecret+"\n", "upstream", "create", "--id", "cognito", "--issuer", up.Issuer,
		"--client-id", up.ClientID, "--client-secret-stdin"); code != 0 {
		t.Fatalf("upstream create: %s", errOut)
	}
	oldKey := filepath.Join(dir, "old.key")
	if err := os.Rename(db+".secret-key", oldKey); err != nil {
		t.Fatal(err)
	}
	newKey := filepath.Join(dir, "new.key")
	if err := os.WriteFile(newKey, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	withNew := func(args ...string) (string, string, int) {
		t.Helper()
		t.Setenv("GRANTD_SECRET_KEY_FILE", newKey)
		return grantd(t, db, "", args...)
	}
	if out, _, code := withNew("upstream", "test", "cognito"); code == 0 {
		t.Errorf("upstream test with a key that did not seal the secret passed:\n%s", out)
	}
	out, errOut, code := withNew("secrets", "rekey", "--old-key-file", oldKey)
	if code != 0 || !strings.Contains(out, `"resealed":1`) {
		t.Fatalf("secrets rekey: %d %s %s", code, out, errOut)
	}
	if out, errOut, code := withNew("upstream", "test", "cognito"); code != 0 {
		t.Errorf("upstream test after rekey: %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := withNew("secrets", "rekey"); code == 0 || !strings.Contains(errOut, "--old-key-file is required") {
		t.Errorf("rekey without the old key: %d %s", code, errOut)
	}
}
