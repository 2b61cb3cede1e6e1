package main

import (
	"math"
	"strings"
	"testing"
)

// TestJudgeBars: a rate bar is judged in absolute figures and, with the
// same run's bare handler measured, as a share of it against the bar's
// share of the reference machine; a p99 bound holds in both.
func TestJudgeBars(t *testing.T) {
	grantd := &TargetReport{Name: "grantd", PendingCodes: 100000, PendingRSS: 49 << 20, IdleRSS: 18 << 20, Rows: []Row{
		{Scenario: scDeviceAuthorization, Rate: 5388, P99: 25.6},
		{Scenario: scPollPaced, Rate: 14643, P99: 4.98},
		{Scenario: scRefresh, Rate: 5100, P99: 30.5},
		{Scenario: scMetadata, Rate: 22493, P99: 3.4},
		{Scenario: scJWKS, Skipped: "not served"},
	}}
	trivial := &TargetReport{Name: "net/http trivial", Rows: []Row{
		{Scenario: scTrivialGET, Rate: 38864},
		{Scenario: scTrivialPOST, Rate: 28059},
	}}
	type verdict struct {
		met, metAsShare bool
		share, shareBar float64
	}
	for _, c := range []struct {
		name    string
		trivial *TargetReport
		want    map[string]verdict
	}{
		{"with the bare handler", trivial, map[string]verdict{
			"device authorization, SQLite durable ≥ 6,000/s":            {false, true, 5388.0 / 28059, 0.12},
			"pending polls, slow_down enforced ≥ 20,000/s, p99 ≤ 10 ms": {false, true, 14643.0 / 28059, 0.4},
			"refresh with rotation, ES256 ≥ 5,000/s":                    {true, true, 5100.0 / 28059, 0.1},
			"metadata ≥ 40,000/s":                                       {false, false, 22493.0 / 38864, 40000.0 / 57000},
			"JWKS ≥ 40,000/s":                                           {false, false, 0, 0},
			"idle RSS ≤ 20 MB":                                          {true, false, 0, 0},
			"every scenario p99 ≤ 10 ms":                                {false, false, 0, 0},
		}},
		{"without it", nil, map[string]verdict{
			"device authorization, SQLite durable ≥ 6,000/s": {false, false, 0, 0},
			"refresh with rotation, ES256 ≥ 5,000/s":         {true, false, 0, 0},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			bars := judgeBars(grantd, c.trivial)
			for name, want := range c.want {
				var got *Bar
				for i := range bars {
					if bars[i].Name == name {
						got = &bars[i]
					}
				}
				if got == nil {
					t.Errorf("no bar %q", name)
					continue
				}
				if got.Met != want.met || got.MetAsShare != want.metAsShare ||
					math.Abs(got.Share-want.share) > 1e-9 || math.Abs(got.ShareBar-want.shareBar) > 1e-9 {
					t.Errorf("%s: %+v, want %+v", name, *got, want)
				}
			}
		})
	}

	// A paced poll over its p99 bound fails as a share too.
	slow := *grantd
	slow.Rows = []Row{{Scenario: scPollPaced, Rate: 30000, P99: 12}}
	for _, b := range judgeBars(&slow, trivial) {
		if strings.HasPrefix(b.Name, "pending polls") && (b.Met || b.MetAsShare) {
			t.Errorf("polls with p99 12 ms: %+v, want not met either way", b)
		}
	}
}

// TestBarsMarkdown: the report's bar table shows both verdicts.
func TestBarsMarkdown(t *testing.T) {
	grantd := &TargetReport{Name: "grantd", IdleRSS: 18 << 20,
		Rows: []Row{{Scenario: scDeviceAuthorization, Rate: 5388, P99: 25.6}}}
	trivial := &TargetReport{Name: "net/http trivial", Rows: []Row{
		{Scenario: scTrivialGET, Rate: 38864}, {Scenario: scTrivialPOST, Rate: 28059}}}
	rep := &Report{Targets: []*TargetReport{grantd}, Trivial: trivial, Bars: judgeBars(grantd, trivial)}
	md := markdown(rep)
	for _, want := range []string{
		"| device authorization, SQLite durable ≥ 6,000/s | 5,388/s | **no** | 19.2% (12.0%) | yes |",
		"| idle RSS ≤ 20 MB | 18.0 MB | yes | — | — |",
		"(57,000 GET/s, 50,000 POST/s)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
}
