// Package deptest checks, in the spirit of Tailscale's tstest/deptest, what
// grantd's packages may link. (The demo programs' own check is in
// internal/lightsexample.)
package deptest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/grantd/grantd/"

// protocol are the packages that speak OAuth and render pages: they reach
// state only through the store's interfaces (DESIGN: "the protocol
// packages never touch SQL").
var protocol = []string{
	"internal/oauth", "internal/token", "internal/device", "internal/authorize", "internal/introspect",
	"internal/revoke", "internal/userinfo", "internal/discovery", "internal/keys", "internal/bearer",
	"internal/web", "internal/federation", "internal/callback", "internal/upstream", "internal/scopes",
	"internal/ratelimit", "internal/secret", "internal/seal", "internal/config",
}

// sqlPackage reports whether dep talks to a database.
func sqlPackage(dep string) bool {
	return dep == "database/sql" || strings.HasPrefix(dep, "modernc.org/sqlite") ||
		strings.HasPrefix(dep, "github.com/jackc/") || dep == module+"internal/store/sqlstore"
}

// TestProtocolPackagesLinkNoSQL: no protocol package links database/sql, a
// driver or the SQL store. The check is shown to bite on cmd/grantd.
func TestProtocolPackagesLinkNoSQL(t *testing.T) {
	for _, pkg := range protocol {
		for _, d := range deps(t, pkg) {
			if sqlPackage(d) {
				t.Errorf("%s links %s", pkg, d)
			}
		}
	}
	bites := false
	for _, d := range deps(t, "cmd/grantd") {
		bites = bites || sqlPackage(d)
	}
	if !bites {
		t.Error("cmd/grantd links no SQL package: the check would not catch one")
	}
}

// TestMemoryStoreLinksNoSQL: the in-memory store, which handler tests and
// `--database memory:` demos run on, links no database/sql, driver or SQL
// store, so that it stands on its own. The check is shown to bite on the
// SQL store, which links all of them.
func TestMemoryStoreLinksNoSQL(t *testing.T) {
	for _, d := range deps(t, "internal/store/memstore") {
		if sqlPackage(d) {
			t.Errorf("internal/store/memstore links %s", d)
		}
	}
	linked := map[string]bool{}
	for _, d := range deps(t, "internal/store/sqlstore") {
		linked[d] = true
	}
	for _, d := range []string{"database/sql", "modernc.org/sqlite", "github.com/jackc/pgx/v5/stdlib"} {
		if !linked[d] || !sqlPackage(d) {
			t.Errorf("internal/store/sqlstore: links %s %t, counted as SQL %t: the check would not catch it", d, linked[d], sqlPackage(d))
		}
	}
}

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", module+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// nonStandard returns the packages pkg links, itself left out, that are not
// in the standard library.
func nonStandard(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var deps []string
	for _, d := range strings.Fields(string(out)) {
		if d != module+pkg {
			deps = append(deps, d)
		}
	}
	return deps
}

// TestVocabularyIsALeaf: internal/oauth, the protocol vocabulary every
// endpoint uses, links only the standard library, directly or not, so it
// can hold no state and reach no store. The check is shown to bite on
// internal/clientauth, which took oauth's stateful part.
func TestVocabularyIsALeaf(t *testing.T) {
	for _, d := range nonStandard(t, "internal/oauth") {
		t.Errorf("internal/oauth links %s, which is not in the standard library", d)
	}
	if len(nonStandard(t, "internal/clientauth")) == 0 {
		t.Error("internal/clientauth links only the standard library: the check would not catch a dependency")
	}
}
