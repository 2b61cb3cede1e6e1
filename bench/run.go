package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/grantd/grantd/bench/load"
	"github.com/grantd/grantd/bench/proc"
)

// Scenario ids, in the order of the issue.
const (
	scDeviceAuthorization = "1 device authorization"
	scPollPaced           = "2a poll, interval respected"
	scPollUnpaced         = "2b poll, interval ignored"
	scRedeem              = "3 approve-then-redeem"
	scRefresh             = "4 refresh with rotation"
	scIntrospect          = "5 introspection"
	scMetadata            = "6a metadata"
	scJWKS                = "6b JWKS"
	scTrivialGET          = "trivial GET"
	scTrivialPOST         = "trivial POST"
)

// settings are a run's knobs.
type settings struct {
	Conns            int
	Warmup, Duration time.Duration
	// Pending is how many pending codes scenario 2a polls over.
	Pending int
	// Approved is how many codes are approved for scenario 3 (and so how
	// many refresh families scenario 4 rotates).
	Approved int
	// Hammered is how many codes scenario 2b polls without pause.
	Hammered int
	// ApproveSessions is how many signed-in users approve codes at once.
	ApproveSessions int
	// IdleWait is how long a fresh server sits before its idle RSS is read.
	IdleWait time.Duration
	// QuietWait, when set, is how long to wait before each scenario for
	// the rest of the machine to go quiet (a shared machine).
	QuietWait time.Duration
	// ProfileDir, when set, receives a CPU profile per scenario of targets
	// that serve one.
	ProfileDir string
	// Only, when not empty, names the scenarios to measure by id ("1",
	// "2a", …); the others are not run, except what a chosen one needs
	// (the approvals and unmeasured redemptions that 4 and 5 use).
	Only map[string]bool
	// Progress receives one line per step.
	Progress io.Writer
}

// scenarioIDs are the ids -scenarios takes.
var scenarioIDs = []string{"1", "2a", "2b", "3", "4", "5", "6a", "6b"}

// wants reports whether the scenario named name (its id, a space, its
// title) is to be measured.
func (s settings) wants(name string) bool {
	id, _, _ := strings.Cut(name, " ")
	// The trivial handler's scenarios are governed by -trivial alone.
	return len(s.Only) == 0 || s.Only[id] || id == "trivial"
}

// Row is one scenario's figures against one target.
type Row struct {
	Target   string           `json:"target"`
	Scenario string           `json:"scenario"`
	Conns    int              `json:"connections"`
	Requests int64            `json:"requests"`
	Seconds  float64          `json:"seconds"`
	Rate     float64          `json:"requests_per_second"`
	P50      float64          `json:"p50_ms"`
	P95      float64          `json:"p95_ms"`
	P99      float64          `json:"p99_ms"`
	Max      float64          `json:"max_ms"`
	Outcomes map[string]int64 `json:"outcomes"`
	// Unexpected counts requests whose outcome the scenario does not expect.
	Unexpected int64 `json:"unexpected"`
	// ServerCPU is the server's CPU use in cores (1 = one core busy);
	// GeneratorCPU the same for the load generator.
	ServerCPU    float64 `json:"server_cpu_cores"`
	GeneratorCPU float64 `json:"generator_cpu_cores"`
	// OtherCPU is the rest of the machine's busy CPU time while measuring:
	// other processes, and kernel work charged to no process. On a shared
	// machine it shows how disturbed a figure is.
	OtherCPU float64 `json:"other_cpu_cores"`
	// DatabaseCPU is the CPU use of the target's database server
	// (PostgreSQL, running on both cores), in cores; not part of OtherCPU.
	DatabaseCPU float64 `json:"database_cpu_cores,omitempty"`
	// ServerPeakRSS is the server's peak resident set during the scenario.
	ServerPeakRSS int64 `json:"server_peak_rss_bytes"`
	// Problems are checks the scenario failed (zero unexpected errors,
	// slow_down dominating); Skipped says why a scenario did not run.
	Problems  []string `json:"problems,omitempty"`
	Skipped   string   `json:"skipped,omitempty"`
	LastError string   `json:"last_transport_error,omitempty"`
	Profile   string   `json:"profile,omitempty"`
}

// TargetReport is everything measured of one target.
type TargetReport struct {
	Name    string `json:"name"`
	Pinned  bool   `json:"pinned_to_server_core"`
	IdleRSS int64  `json:"idle_rss_bytes"`
	// PendingCodes pending at once when PendingRSS and DBBytes were read.
	PendingCodes   int64    `json:"pending_codes"`
	PendingRSS     int64    `json:"pending_rss_bytes"`
	PendingPeakRSS int64    `json:"pending_peak_rss_bytes"`
	DBBytes        int64    `json:"database_bytes"`
	SeedSeconds    float64  `json:"seed_seconds"`
	Rows           []Row    `json:"rows"`
	Notes          []string `json:"notes,omitempty"`
}

// runner measures one target.
type runner struct {
	t   *Target
	s   settings
	rep *TargetReport
}

func (r *runner) logf(format string, args ...any) {
	if r.s.Progress != nil {
		fmt.Fprintf(r.s.Progress, "[%s] %s\n", r.t.Name, fmt.Sprintf(format, args...))
	}
}

// measureTarget runs every scenario the target supports, in an order that
// lets later scenarios use what earlier ones created.
func measureTarget(ctx context.Context, t *Target, s settings) (*TargetReport, error) {
	if err := t.discover(ctx); err != nil {
		return nil, err
	}
	r := &runner{t: t, s: s, rep: &TargetReport{Name: t.Name, Pinned: t.Pinned}}
	if t.PID != 0 {
		load.Sleep(ctx, s.IdleWait)
		if m, err := proc.FamilyMemory(t.PID); err == nil {
			r.rep.IdleRSS = m.RSS
		}
	}
	r.measure(ctx, scMetadata, getStep(t.Endpoints.Metadata), s.Warmup, nil)
	r.measure(ctx, scJWKS, getStep(t.Endpoints.JWKS), s.Warmup, nil)

	// The pending codes come first, so that the memory they cost is read
	// with exactly s.Pending of them, however fast scenario 1 then adds
	// its own.
	pending, err := r.seed(ctx)
	if err != nil {
		return r.rep, err
	}
	r.measure(ctx, scDeviceAuthorization, authorizeStep(t, &codeSink{}, 0), s.Warmup, nil)
	ring := newPollRing(pending)
	r.measure(ctx, scPollPaced, pacedPollStep(t, ring), s.Warmup, nil)
	hammered := pending[:min(s.Hammered, len(pending))]
	r.measure(ctx, scPollUnpaced, unpacedPollStep(t, hammered), s.Warmup, checkSlowDown)

	if t.Username == "" {
		why := "needs approval on the target's own pages; the harness drives grantd's only"
		for _, sc := range []string{scRedeem, scRefresh, scIntrospect} {
			r.skip(sc, why)
		}
		return r.rep, nil
	}
	if !s.wants(scRedeem) && !s.wants(scRefresh) && !s.wants(scIntrospect) {
		return r.rep, nil
	}
	approved, err := r.approve(ctx)
	if err != nil {
		return r.rep, err
	}
	tokens := &tokenSink{}
	if s.wants(scRedeem) {
		r.measure(ctx, scRedeem, redeemStep(t, approved, tokens), 0, nil)
	} else {
		load.Run(ctx, load.Options{Addr: t.Addr, Host: t.Host, Conns: s.Conns, Duration: 30 * time.Minute,
			NewStep: redeemStep(t, approved, tokens)})
	}
	if len(tokens.sets) == 0 {
		r.skip(scRefresh, "no tokens were redeemed")
		r.skip(scIntrospect, "no tokens were redeemed")
		return r.rep, nil
	}
	r.measure(ctx, scRefresh, refreshStep(t, tokens.sets, s.Conns), s.Warmup, nil)
	r.introspect(ctx, tokens.sets)
	return r.rep, nil
}

// seed makes s.Pending pending codes with unmeasured device
// authorizations, then reads the server's memory and database size.
func (r *runner) seed(ctx context.Context) ([]deviceCode, error) {
	start := time.Now()
	sink := &codeSink{}
	if need := int64(r.s.Pending); need > 0 {
		r.logf("seeding %d pending codes", need)
		res := load.Run(ctx, load.Options{Addr: r.t.Addr, Host: r.t.Host, Conns: r.s.Conns, Duration: 30 * time.Minute,
			NewStep: authorizeStep(r.t, sink, int64(r.s.Pending))})
		if bad := unexpected(res.Outcomes, load.OutcomeOK); bad > 0 {
			return nil, fmt.Errorf("seeding pending codes: %d failed: %v %s", bad, res.Outcomes, res.LastError)
		}
	}
	codes := sink.take()
	r.rep.SeedSeconds = time.Since(start).Seconds()
	r.rep.PendingCodes = int64(len(codes))
	r.rep.DBBytes = r.t.dbSize()
	if r.t.PID != 0 {
		if m, err := proc.FamilyMemory(r.t.PID); err == nil {
			r.rep.PendingRSS, r.rep.PendingPeakRSS = m.RSS, m.Peak
		}
	}
	r.logf("%d pending codes; RSS %s, database %s", len(codes), mb(r.rep.PendingRSS), mb(r.rep.DBBytes))
	if len(codes) > r.s.Pending {
		codes = codes[:r.s.Pending]
	}
	if len(codes) == 0 {
		return nil, fmt.Errorf("no device codes were issued")
	}
	return codes, nil
}

// approve issues s.Approved fresh codes and approves them on the pages.
func (r *runner) approve(ctx context.Context) ([]deviceCode, error) {
	sink := &codeSink{}
	res := load.Run(ctx, load.Options{Addr: r.t.Addr, Host: r.t.Host, Conns: r.s.Conns, Duration: 30 * time.Minute,
		NewStep: authorizeStep(r.t, sink, int64(r.s.Approved))})
	if bad := unexpected(res.Outcomes, load.OutcomeOK); bad > 0 {
		return nil, fmt.Errorf("issuing codes to approve: %d failed: %v", bad, res.Outcomes)
	}
	codes := sink.take()
	start := time.Now()
	if err := approveAll(ctx, r.t, codes, r.s.ApproveSessions); err != nil {
		return nil, fmt.Errorf("approving codes on the pages: %w\n%s", err, tail(r.t.Log, 10))
	}
	r.logf("approved %d codes on the pages in %.1fs", len(codes), time.Since(start).Seconds())
	return codes, nil
}

// introspect runs scenario 5 unless the target answers 404 there.
func (r *runner) introspect(ctx context.Context, sets []tokenSet) {
	c := load.NewConn(r.t.Addr, r.t.Host)
	req := postForm(r.t, r.t.Endpoints.Introspection)
	req.Body = []byte("token=" + sets[0].Access)
	resp, err := c.Do(req, time.Now().Add(10*time.Second))
	c.Close()
	switch {
	case err != nil:
		r.skip(scIntrospect, "probe failed: "+err.Error())
		return
	case resp.Status == http.StatusNotFound:
		r.skip(scIntrospect, "not supported by target (404 at "+r.t.Endpoints.Introspection+")")
		return
	}
	tokens := make([]string, len(sets))
	for i, s := range sets {
		tokens[i] = s.Access
	}
	r.measure(ctx, scIntrospect, introspectStep(r.t, tokens), r.s.Warmup, nil)
}

func (r *runner) skip(scenario, why string) {
	r.logf("%s: skipped: %s", scenario, why)
	r.rep.Rows = append(r.rep.Rows, Row{Target: r.t.Name, Scenario: scenario, Skipped: why})
}

// expected lists the outcomes each scenario expects; anything else is an
// unexpected error.
var expected = map[string][]string{
	scPollPaced:   {authorizationPending},
	scPollUnpaced: {authorizationPending, slowDown},
}

// check is an extra assertion on a scenario's outcomes.
type check func(Row) string

// checkSlowDown asserts that slow_down answers most polls that ignore the
// interval (RFC 8628 §3.5).
func checkSlowDown(row Row) string {
	if row.Requests == 0 {
		return ""
	}
	share := float64(row.Outcomes[slowDown]) / float64(row.Requests)
	if share <= 0.5 {
		return fmt.Sprintf("slow_down answered %.1f%% of polls that ignored the interval; it must dominate", 100*share)
	}
	return ""
}

// measure runs one scenario and appends its row, unless the scenario is
// not among those chosen.
func (r *runner) measure(ctx context.Context, scenario string, step func(int) load.Step, warmup time.Duration, extra check) Row {
	if !r.s.wants(scenario) {
		return Row{}
	}
	r.waitQuiet(ctx)
	r.logf("%s: %d connections, %s", scenario, r.s.Conns, r.s.Duration)
	var cpu0, busy0, db0 time.Duration
	var profile func() string
	res := load.Run(ctx, load.Options{
		Addr: r.t.Addr, Host: r.t.Host, Conns: r.s.Conns, Warmup: warmup, Duration: r.s.Duration,
		NewStep: step,
		OnMeasure: func(begin bool) {
			busy, _, _ := proc.MachineCPU()
			var db time.Duration
			if r.t.DBProcess != "" {
				db = proc.CPUOf(r.t.DBProcess)
			}
			if begin {
				busy0, db0 = busy, db
			} else {
				busy0, db0 = busy-busy0, db-db0
			}
			if r.t.PID == 0 {
				return
			}
			if begin {
				proc.ResetFamilyPeak(r.t.PID)
				cpu0, _ = proc.FamilyCPU(r.t.PID)
				profile = r.startProfile(ctx, scenario)
				return
			}
			cpu1, _ := proc.FamilyCPU(r.t.PID)
			cpu0 = cpu1 - cpu0
		},
	})
	row := newRow(r.t.Name, scenario, r.s.Conns, res)
	if r.t.PID != 0 {
		row.ServerCPU = cpu0.Seconds() / res.Elapsed.Seconds()
		if m, err := proc.FamilyMemory(r.t.PID); err == nil {
			row.ServerPeakRSS = m.Peak
		}
	}
	row.DatabaseCPU = max(0, db0.Seconds()/res.Elapsed.Seconds())
	row.OtherCPU = max(0, busy0.Seconds()/res.Elapsed.Seconds()-row.ServerCPU-row.GeneratorCPU-row.DatabaseCPU)
	if profile != nil {
		row.Profile = profile()
	}
	want := expected[scenario]
	if want == nil {
		want = []string{load.OutcomeOK}
	}
	row.Unexpected = unexpected(res.Outcomes, want...)
	if row.Unexpected > 0 {
		row.Problems = append(row.Problems, fmt.Sprintf("%d unexpected outcomes", row.Unexpected))
	}
	if row.Requests == 0 {
		row.Problems = append(row.Problems, "no request completed")
	}
	if extra != nil {
		if p := extra(row); p != "" {
			row.Problems = append(row.Problems, p)
		}
	}
	r.logf("%s: %.0f req/s, p99 %.2f ms, %v%s", scenario, row.Rate, row.P99, res.Outcomes, problemsSuffix(row))
	r.rep.Rows = append(r.rep.Rows, row)
	return row
}

func problemsSuffix(row Row) string {
	if len(row.Problems) == 0 {
		return ""
	}
	return " — " + strings.Join(row.Problems, "; ")
}

func newRow(target, scenario string, conns int, res load.Result) Row {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return Row{Target: target, Scenario: scenario, Conns: conns, Requests: res.Requests,
		Seconds: res.Elapsed.Seconds(), Rate: res.Rate(),
		P50: ms(res.P50), P95: ms(res.P95), P99: ms(res.P99), Max: ms(res.Max),
		Outcomes: res.Outcomes, GeneratorCPU: res.GeneratorCPU.Seconds() / res.Elapsed.Seconds(),
		LastError: res.LastError}
}

// quietLoad is the CPU, in cores, that the rest of the machine may use
// for it to count as quiet.
const quietLoad = 0.2

// waitQuiet waits, at most s.QuietWait, until the machine's CPU use other
// than the target's and the harness's stays under quietLoad for a second.
func (r *runner) waitQuiet(ctx context.Context) {
	if r.s.QuietWait <= 0 {
		return
	}
	deadline := time.Now().Add(r.s.QuietWait)
	for {
		others := r.othersCPU(ctx, time.Second)
		if others < quietLoad {
			return
		}
		if time.Now().After(deadline) {
			r.logf("machine still busy (others use %.0f%% of a core); measuring anyway", 100*others)
			return
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// othersCPU measures, over d, the cores busy with anything but the target
// (its database server included) and this process.
func (r *runner) othersCPU(ctx context.Context, d time.Duration) float64 {
	ours := func() time.Duration {
		c := load.ProcessCPU()
		if r.t.PID != 0 {
			s, _ := proc.FamilyCPU(r.t.PID)
			c += s
		}
		if r.t.DBProcess != "" {
			c += proc.CPUOf(r.t.DBProcess)
		}
		return c
	}
	b0, _, _ := proc.MachineCPU()
	o0 := ours()
	load.Sleep(ctx, d)
	b1, _, _ := proc.MachineCPU()
	return max(0, ((b1-b0)-(ours()-o0)).Seconds()/d.Seconds())
}

// unexpected counts outcomes not in want.
func unexpected(outcomes map[string]int64, want ...string) int64 {
	var n int64
	for k, v := range outcomes {
		if !slices.Contains(want, k) {
			n += v
		}
	}
	return n
}

// startProfile starts a CPU profile of the target for the scenario's
// duration; the returned func waits for it and returns the summary file.
func (r *runner) startProfile(ctx context.Context, scenario string) func() string {
	if r.t.PprofAddr == "" || r.s.ProfileDir == "" {
		return nil
	}
	name := filepath.Join(r.s.ProfileDir, r.t.Name+"-"+slug(scenario))
	secs := int(r.s.Duration.Round(time.Second) / time.Second)
	done := make(chan string, 1)
	go func() {
		body, status, err := httpGet(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", r.t.PprofAddr, max(1, secs)))
		if err != nil || status != http.StatusOK {
			done <- fmt.Sprintf("profile failed: %d %v", status, err)
			return
		}
		if err := os.WriteFile(name+".pprof", body, 0o644); err != nil {
			done <- err.Error()
			return
		}
		top, _ := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=40", name+".pprof").CombinedOutput()
		os.WriteFile(name+".top.txt", top, 0o644)
		done <- name + ".top.txt"
	}()
	return func() string { return <-done }
}

func slug(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			b.WriteRune(c)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }
