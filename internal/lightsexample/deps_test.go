package lightsexample

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// forbidden returns the packages of deps that pkg must not link: the demo
// programs use grantd only through its public HTTP interface, so of
// grantd's own packages they may link only allowed (their own and the
// demo's shared ones); and, when noSQL, no database/sql (lightctl and the
// connector keep no database), and when noAWS, nothing of the AWS SDK.
func forbidden(deps []string, allowed []string, noSQL, noAWS bool) []string {
	var bad []string
	for _, d := range deps {
		own, isOwn := strings.CutPrefix(d, "github.com/grantd/grantd/")
		switch {
		case isOwn && !slices.Contains(allowed, own):
			bad = append(bad, d)
		case noSQL && (d == "database/sql" || strings.HasPrefix(d, "modernc.org/sqlite") || strings.HasPrefix(d, "github.com/jackc/")):
			bad = append(bad, d)
		case noAWS && strings.HasPrefix(d, "github.com/aws/"):
			bad = append(bad, d)
		}
	}
	return bad
}

// TestDemoDependencies checks, in the spirit of Tailscale's deptest, what
// each demo command links: none links grantd's server, store, keys,
// token, web or protocol packages; lightctl and the connector link no
// database/sql; lightctl links nothing of the AWS SDK. The check is shown
// to bite by running it on grantd itself.
func TestDemoDependencies(t *testing.T) {
	shared := []string{"internal/rs", "internal/lightsapi"}
	cases := []struct {
		cmd          string
		allowed      []string
		noSQL, noAWS bool
	}{
		{"cmd/lightsd", append([]string{"cmd/lightsd", "internal/lights"}, shared...), false, true},
		{"cmd/lightctl", append([]string{"cmd/lightctl", "internal/lightctl"}, shared...), true, true},
		{"cmd/lights-connector", append([]string{"cmd/lights-connector", "internal/connector"}, shared...), true, false},
	}
	for _, tc := range cases {
		deps := goListDeps(t, tc.cmd)
		if bad := forbidden(deps, tc.allowed, tc.noSQL, tc.noAWS); len(bad) > 0 {
			t.Errorf("%s links %v", tc.cmd, bad)
		}
	}
	grantd := goListDeps(t, "cmd/grantd")
	bad := forbidden(grantd, []string{"cmd/grantd"}, true, true)
	for _, want := range []string{"github.com/grantd/grantd/internal/store/sqlstore", "github.com/grantd/grantd/internal/keys", "database/sql"} {
		if !slices.Contains(bad, want) {
			t.Errorf("the check does not flag %s in cmd/grantd: it would not catch a demo program linking it", want)
		}
	}
}

func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "github.com/grantd/grantd/"+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}
