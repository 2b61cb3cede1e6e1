package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve the trivial handler when the harness
// starts it as one, as the bench binary does.
func TestMain(m *testing.M) {
	maybeServeTrivial()
	os.Exit(m.Run())
}

// TestSmoke builds grantd from this module, runs every scenario for about a
// second at low concurrency against it (SQLite, and PostgreSQL when
// GRANTD_TEST_POSTGRES is set) and the trivial handler, and fails on any
// unexpected answer or a scenario that could not run. It never asserts a
// rate or a latency: CI machines are noisy.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs grantd; skipped with -short")
	}
	o := smokeOptions()
	o.Src = ".."
	o.Out = t.TempDir()
	o.Pin = false
	o.Commit = "smoke-test"
	o.Postgres = os.Getenv("GRANTD_TEST_POSTGRES")
	o.Progress = testWriter{t}
	start := time.Now()
	rep, _, err := run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := grantdProblems(rep); err != nil {
		t.Error(err)
	}
	want := []string{scDeviceAuthorization, scPollPaced, scPollUnpaced, scRedeem, scRefresh, scIntrospect, scMetadata, scJWKS}
	for _, tr := range rep.Targets {
		ran := map[string]Row{}
		for _, r := range tr.Rows {
			ran[r.Scenario] = r
		}
		for _, sc := range want {
			r, ok := ran[sc]
			switch {
			case !ok:
				t.Errorf("%s: scenario %q did not run", tr.Name, sc)
			case r.Skipped != "" && !strings.HasPrefix(r.Skipped, "not supported by target"):
				t.Errorf("%s: scenario %q skipped: %s", tr.Name, sc, r.Skipped)
			case r.Skipped == "" && r.Requests == 0:
				t.Errorf("%s: scenario %q completed no request", tr.Name, sc)
			}
		}
	}
	if rep.Trivial == nil || len(rep.Trivial.Rows) != 2 || rep.Trivial.Rows[0].Requests == 0 {
		t.Errorf("the trivial handler was not measured: %+v", rep.Trivial)
	}
	t.Logf("smoke run took %s", time.Since(start).Round(time.Millisecond))
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestScenariosFlag: -scenarios measures the chosen scenarios only, runs
// what they need unmeasured (scenario 4 needs approved and redeemed
// codes), marks the report partial, and refuses an unknown id.
func TestScenariosFlag(t *testing.T) {
	if _, err := parseFlags([]string{"-scenarios", "4,7"}); err == nil || !strings.Contains(err.Error(), `"7"`) {
		t.Errorf("-scenarios 4,7: %v, want an error naming 7", err)
	}
	if testing.Short() {
		t.Skip("builds and runs grantd; skipped with -short")
	}
	o, err := parseFlags([]string{"-smoke", "-scenarios", "4, 6b", "-trivial=false", "-pin=false", "-src", "..",
		"-out", t.TempDir(), "-commit", "smoke-test"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Mode != "smoke" || len(o.Only) != 2 {
		t.Fatalf("mode %q, only %v", o.Mode, o.Only)
	}
	o.Progress = testWriter{t}
	rep, _, err := run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	var ran []string
	for _, r := range rep.Targets[0].Rows {
		ran = append(ran, r.Scenario)
		if r.Requests == 0 || r.Unexpected > 0 {
			t.Errorf("%s: %d requests, %d unexpected", r.Scenario, r.Requests, r.Unexpected)
		}
	}
	if want := []string{scJWKS, scRefresh}; strings.Join(ran, "|") != strings.Join(want, "|") {
		t.Errorf("measured %q, want %q", ran, want)
	}
	if full, _ := parseFlags([]string{"-scenarios", "1"}); full.Mode != "partial" {
		t.Errorf("a full run with -scenarios has mode %q, want partial", full.Mode)
	}
}

// TestWants: -scenarios picks grantd's and the peers' scenarios by id; the
// trivial handler's, the generator check, follow -trivial alone.
func TestWants(t *testing.T) {
	only := settings{Only: map[string]bool{"4": true, "6b": true}}
	for _, c := range []struct {
		s        settings
		scenario string
		want     bool
	}{
		{settings{}, scDeviceAuthorization, true},
		{only, scRefresh, true},
		{only, scJWKS, true},
		{only, scMetadata, false},
		{only, scDeviceAuthorization, false},
		{only, scTrivialGET, true},
		{only, scTrivialPOST, true},
	} {
		if got := c.s.wants(c.scenario); got != c.want {
			t.Errorf("Only %v: wants(%q) = %v, want %v", c.s.Only, c.scenario, got, c.want)
		}
	}
}
