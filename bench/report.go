package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Report is a whole run, as written to bench/results/*.json.
type Report struct {
	Date     time.Time       `json:"date"`
	Mode     string          `json:"mode"`
	Machine  Machine         `json:"machine"`
	Go       string          `json:"go"`
	Commit   string          `json:"commit"`
	Settings reportSettings  `json:"settings"`
	Targets  []*TargetReport `json:"targets"`
	Trivial  *TargetReport   `json:"trivial,omitempty"`
	Bars     []Bar           `json:"bars,omitempty"`
}

type reportSettings struct {
	Connections     int     `json:"connections"`
	WarmupSeconds   float64 `json:"warmup_seconds"`
	DurationSeconds float64 `json:"duration_seconds"`
	Pending         int     `json:"pending_codes"`
	Approved        int     `json:"approved_codes"`
	Hammered        int     `json:"hammered_codes"`
	PollingInterval int     `json:"grantd_polling_interval_seconds"`
	Pinned          bool    `json:"pinned"`
	QuietWait       float64 `json:"quiet_wait_seconds"`
}

// Machine describes where the run happened.
type Machine struct {
	CPU    string `json:"cpu"`
	Cores  int    `json:"cores"`
	Memory string `json:"memory"`
	Kernel string `json:"kernel"`
}

func readMachine() Machine {
	m := Machine{Cores: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				m.Memory = strings.TrimSpace(v)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}

// gitCommit names the commit src is at, with "+dirty" when its work tree
// has changes.
func gitCommit(src string) string {
	out, err := exec.Command("git", "-C", src, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", src, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += "+dirty"
	}
	return c
}

// Bar is one of the targets, judged on this run's figures.
type Bar struct {
	Name   string `json:"name"`
	Figure string `json:"figure"`
	Met    bool   `json:"met"`
	// Share is a rate bar's figure as a share of the same run's bare
	// net/http handler, same method, and ShareBar the share the bar asks
	// for: its figure over the reference machine's bare handler
	// (referenceGET, referencePOST). Both 0 when the bar is no rate or the
	// bare handler was not measured. MetAsShare is then Share ≥ ShareBar,
	// and the p99 bound where the bar has one.
	Share      float64 `json:"share_of_bare_handler,omitempty"`
	ShareBar   float64 `json:"share_bar,omitempty"`
	MetAsShare bool    `json:"met_as_share,omitempty"`
}

// The reference machine's bare net/http handler, against which its
// rate bars were set: the bars as shares of these are what a run on a
// faster or slower machine, or phase of one, can be judged on.
const (
	referenceGET  = 57000
	referencePOST = 50000
)

// judgeBars checks grantd's figures against the bars, in absolute
// figures and, when trivial holds the bare handler's rates of the same
// run, as shares of them.
func judgeBars(t *TargetReport, trivial *TargetReport) []Bar {
	row := func(rows []Row, sc string) (Row, bool) {
		for _, r := range rows {
			if r.Scenario == sc && r.Skipped == "" {
				return r, true
			}
		}
		return Row{}, false
	}
	var bare struct{ get, post float64 }
	if trivial != nil {
		if r, ok := row(trivial.Rows, scTrivialGET); ok {
			bare.get = r.Rate
		}
		if r, ok := row(trivial.Rows, scTrivialPOST); ok {
			bare.post = r.Rate
		}
	}
	var bars []Bar
	rate := func(name, sc string, min float64, p99 bool) {
		r, ok := row(t.Rows, sc)
		if !ok {
			bars = append(bars, Bar{Name: name, Figure: "not measured"})
			return
		}
		fig := fmt.Sprintf("%s/s", thousands(r.Rate))
		latency := true
		if p99 {
			fig += fmt.Sprintf(", p99 %.2f ms", r.P99)
			latency = r.P99 <= 10
		}
		bar := Bar{Name: name, Figure: fig, Met: r.Rate >= min && latency}
		ref, base := float64(referencePOST), bare.post
		if sc == scMetadata || sc == scJWKS {
			ref, base = referenceGET, bare.get
		}
		if base > 0 {
			bar.Share, bar.ShareBar = r.Rate/base, min/ref
			bar.MetAsShare = bar.Share >= bar.ShareBar && latency
		}
		bars = append(bars, bar)
	}
	rate("device authorization, SQLite durable ≥ 6,000/s", scDeviceAuthorization, 6000, false)
	rate("pending polls, slow_down enforced ≥ 20,000/s, p99 ≤ 10 ms", scPollPaced, 20000, true)
	rate("refresh with rotation, ES256 ≥ 5,000/s", scRefresh, 5000, false)
	rate("metadata ≥ 40,000/s", scMetadata, 40000, false)
	rate("JWKS ≥ 40,000/s", scJWKS, 40000, false)
	bars = append(bars,
		Bar{Name: fmt.Sprintf("RSS with %s pending codes ≤ 64 MB", thousands(float64(t.PendingCodes))),
			Figure: mb(t.PendingRSS), Met: t.PendingRSS > 0 && t.PendingRSS <= 64<<20},
		Bar{Name: "idle RSS ≤ 20 MB", Figure: mb(t.IdleRSS), Met: t.IdleRSS > 0 && t.IdleRSS <= 20<<20})
	var worst Row
	for _, r := range t.Rows {
		if r.Skipped == "" && r.P99 >= worst.P99 {
			worst = r
		}
	}
	bars = append(bars, Bar{Name: "every scenario p99 ≤ 10 ms",
		Figure: fmt.Sprintf("worst: %s, p99 %.2f ms", worst.Scenario, worst.P99), Met: worst.P99 <= 10})
	return bars
}

// writeReport writes rep as Markdown and JSON into dir and returns the
// Markdown file's path.
func writeReport(rep *Report, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base := filepath.Join(dir, rep.Date.UTC().Format("2006-01-02T150405Z")+"-"+rep.Mode)
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return "", err
	}
	return base + ".md", os.WriteFile(base+".md", []byte(markdown(rep)), 0o644)
}

// markdown renders the report.
func markdown(rep *Report) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	st := rep.Settings
	p("# grantd load run (%s), %s\n\n", rep.Mode, rep.Date.UTC().Format("2006-01-02 15:04 UTC"))
	p("- Machine: %s, %d cores, %s, %s\n", rep.Machine.CPU, rep.Machine.Cores, rep.Machine.Memory, rep.Machine.Kernel)
	p("- Go %s; grantd at commit %s\n", strings.TrimPrefix(rep.Go, "go"), rep.Commit)
	pin := "not pinned (taskset missing or -pin=false)"
	if st.Pinned {
		pin = "server on CPU " + serverCPU + ", generator on CPU " + generatorCPU + " (taskset)"
	}
	p("- %s; %d connections; %.0f s warm-up, %.0f s measured per scenario\n", pin, st.Connections, st.WarmupSeconds, st.DurationSeconds)
	if st.QuietWait > 0 {
		p("- before each scenario the harness waited up to %.0f s for other processes to use under %.0f%% of a core; \"others' CPU\" is what they used while it measured\n", st.QuietWait, 100*quietLoad)
	}
	p("- grantd: SQLite (WAL, every write fsynced before its answer), ES256 access tokens, POLLING_INTERVAL=%d s; "+
		"%s pending codes polled in 2a, %s in 2b; %s codes approved for 3\n",
		st.PollingInterval, thousands(float64(st.Pending)), thousands(float64(st.Hammered)), thousands(float64(st.Approved)))
	p("- a server's CPU and RSS include its child processes', if it has any; with a child, RSS is the sum of their Pss (shared pages once) and peak RSS the sum of their peaks\n")
	if slices.ContainsFunc(rep.Targets, func(t *TargetReport) bool { return t.Name == "grantd-postgres" }) {
		p("- grantd-postgres: the same, on the PostgreSQL of GRANTD_TEST_POSTGRES (synchronous_commit=on for durable writes), " +
			"which runs unpinned on both cores; its server processes' CPU is the \"database CPU\" column\n")
	}
	p("\n")

	p("| Scenario | Target | req/s | p50 ms | p95 ms | p99 ms | outcomes | server CPU | database CPU | server peak RSS | generator CPU | others' CPU |\n")
	p("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n")
	all := slices.Clone(rep.Targets)
	if rep.Trivial != nil {
		all = append(all, rep.Trivial)
	}
	for _, r := range sortedRows(all) {
		if r.Skipped != "" {
			p("| %s | %s | — | — | — | — | skipped: %s | | | | | |\n", r.Scenario, r.Target, r.Skipped)
			continue
		}
		p("| %s | %s | %s | %.2f | %.2f | %.2f | %s | %s | %s | %s | %s | %s |\n", r.Scenario, r.Target, thousands(r.Rate),
			r.P50, r.P95, r.P99, outcomesText(r), cores(r.ServerCPU), cores(r.DatabaseCPU), mbOrDash(r.ServerPeakRSS),
			cores(r.GeneratorCPU), cores(r.OtherCPU))
	}

	p("\n| Memory | idle RSS | pending codes | RSS with them | database size | time to seed |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, t := range rep.Targets {
		p("| %s | %s | %s | %s | %s | %.1f s |\n", t.Name, mbOrDash(t.IdleRSS), thousands(float64(t.PendingCodes)),
			mbOrDash(t.PendingRSS), mbOrDash(t.DBBytes), t.SeedSeconds)
	}
	generatorCheck(&b, rep)
	if len(rep.Bars) > 0 {
		yes := map[bool]string{true: "yes", false: "**no**"}
		p("\n| Bar (grantd, SQLite) | This run | Met | share of the bare handler (the bar's share) | Met as a share |\n" +
			"| --- | --- | --- | --- | --- |\n")
		for _, bar := range rep.Bars {
			share, met := "—", "—"
			if bar.ShareBar > 0 {
				share = fmt.Sprintf("%.1f%% (%.1f%%)", 100*bar.Share, 100*bar.ShareBar)
				met = yes[bar.MetAsShare]
			}
			p("| %s | %s | %s | %s | %s |\n", bar.Name, bar.Figure, yes[bar.Met], share, met)
		}
		if rep.Trivial != nil {
			p("\nA share is the rate over the same run's bare net/http handler, same method; the bar's share is its "+
				"figure over the bare handler of the issue's reference machine (%s GET/s, %s POST/s).\n",
				thousands(referenceGET), thousands(referencePOST))
		}
	}
	return b.String()
}

// generatorCheck shows, for each scenario, how far the same generator went
// against the trivial handler with the same method, and the generator's
// capacity: the trivial rate divided by the generator core's busy share,
// i.e. what it would send if the server answered at once.
func generatorCheck(b *strings.Builder, rep *Report) {
	if rep.Trivial == nil {
		return
	}
	var get, post Row
	for _, r := range rep.Trivial.Rows {
		switch r.Scenario {
		case scTrivialGET:
			get = r
		case scTrivialPOST:
			post = r
		}
	}
	capacity := func(r Row) float64 {
		if r.GeneratorCPU <= 0 {
			return 0
		}
		return r.Rate / min(1, r.GeneratorCPU)
	}
	fmt.Fprintf(b, "\nGenerator check: the same generator against a bare net/http handler on the server core reached %s GET/s "+
		"with its own core %s busy, and %s POST/s with it %s busy; its capacity (rate ÷ busy share) is about %s GET/s and %s POST/s.\n\n",
		thousands(get.Rate), cores(get.GeneratorCPU), thousands(post.Rate), cores(post.GeneratorCPU),
		thousands(capacity(get)), thousands(capacity(post)))
	fmt.Fprintf(b, "| Scenario | target req/s | trivial req/s, same method | ratio | generator capacity ÷ target rate (≥ 1.5) | generator CPU in the scenario |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, t := range rep.Targets {
		for _, r := range t.Rows {
			if r.Skipped != "" || r.Rate == 0 {
				continue
			}
			triv := post
			if r.Scenario == scMetadata || r.Scenario == scJWKS {
				triv = get
			}
			fmt.Fprintf(b, "| %s, %s | %s | %s | %.1f× | %.1f× | %s |\n", t.Name, r.Scenario, thousands(r.Rate),
				thousands(triv.Rate), triv.Rate/r.Rate, capacity(triv)/r.Rate, cores(r.GeneratorCPU))
		}
	}
}

func sortedRows(targets []*TargetReport) []Row {
	var rows []Row
	for _, t := range targets {
		rows = append(rows, t.Rows...)
	}
	order := []string{scDeviceAuthorization, scPollPaced, scPollUnpaced, scRedeem, scRefresh, scIntrospect, scMetadata, scJWKS, scTrivialGET, scTrivialPOST}
	slices.SortStableFunc(rows, func(a, b Row) int {
		return cmp.Compare(slices.Index(order, a.Scenario), slices.Index(order, b.Scenario))
	})
	return rows
}

func outcomesText(r Row) string {
	type kv struct {
		k string
		v int64
	}
	var list []kv
	for k, v := range r.Outcomes {
		list = append(list, kv{k, v})
	}
	slices.SortFunc(list, func(a, b kv) int { return cmp.Or(cmp.Compare(b.v, a.v), cmp.Compare(a.k, b.k)) })
	var parts []string
	for _, e := range list {
		parts = append(parts, fmt.Sprintf("%s %s", e.k, thousands(float64(e.v))))
	}
	s := strings.Join(parts, ", ")
	if len(r.Problems) > 0 {
		s += " — **" + strings.Join(r.Problems, "; ") + "**"
	}
	return s
}

func cores(c float64) string {
	if c == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*c)
}

func mbOrDash(n int64) string {
	if n <= 0 {
		return "—"
	}
	return mb(n)
}

// thousands formats n rounded, with commas.
func thousands(n float64) string {
	s := fmt.Sprintf("%.0f", n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
