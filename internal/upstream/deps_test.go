package upstream_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps upstream and seal free of grantd's store, pages
// and HTTP server: those depend on them, never the reverse.
func TestDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/grantd/grantd/internal/upstream",
		"github.com/grantd/grantd/internal/seal").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, forbidden := range []string{"internal/upstream/upstreamtest", "internal/store", "internal/web", "internal/httpserver", "cmd/"} {
			if strings.HasPrefix(dep, "github.com/grantd/grantd/"+forbidden) {
				t.Errorf("imports %s", dep)
			}
		}
	}
}
