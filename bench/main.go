// Command bench is grantd's load harness. It starts grantd (SQLite in a
// temporary directory; also PostgreSQL when GRANTD_TEST_POSTGRES is set) or
// targets any RFC 8628 server by URL, and measures, scenario by scenario,
// requests per second, latency percentiles, answers by OAuth error code,
// server CPU and peak RSS:
//
//	1  device authorization requests
//	2a polls over many pending codes, each no sooner than its interval
//	2b polls that ignore the interval (slow_down must dominate)
//	3  approve-then-redeem (approved on grantd's pages, then polled once)
//	4  refresh token grant with rotation
//	5  introspection (skipped while the target answers 404)
//	6  metadata and JWKS
//
// plus RSS and database size with the pending codes, and the same generator
// against a trivial net/http handler to show it is not the bottleneck. The
// server runs on CPU 0 and the generator on CPU 1 (taskset). Results go to
// bench/results/ as Markdown and JSON. See bench/README.md.
//
//	go run ./bench                      # full run against grantd
//	go run ./bench -smoke               # a few seconds per scenario, no timing asserted
//	go run ./bench -target 'name=oidc-provider,url=http://127.0.0.1:3000,client_id=bench,client_secret=s,cmd=node /tmp/peer/server.mjs'
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/grantd/grantd/bench/proc"
)

// options are the command line.
type options struct {
	settings
	Mode        string
	Src, Bin    string
	NoGrantd    bool
	Targets     []string
	Pin         bool
	Interval    int
	Out         string
	Commit      string
	AllowRemote bool
	Trivial     bool
	Postgres    string
}

// fullOptions are the defaults of a measurement run.
func fullOptions() options {
	return options{
		settings: settings{Conns: 32, Warmup: 2 * time.Second, Duration: 10 * time.Second, Pending: 100_000,
			Approved: 20_000, Hammered: 256, ApproveSessions: 8, IdleWait: 2 * time.Second},
		Mode: "full", Src: ".", Pin: true, Interval: 1, Out: "bench/results", Trivial: true,
	}
}

// smokeOptions shrink a run to seconds: every scenario runs, at low
// concurrency; only unexpected errors count. Each scenario keeps a short
// warm-up, as the full run does: without one, a start-up transient (the
// first connections, a checkpoint the previous scenario left due) fell
// into the one measured second, and on a loaded CI machine one scenario
// once completed no request within it.
func smokeOptions() options {
	o := fullOptions()
	o.Mode = "smoke"
	// Approved codes are used up as they are redeemed, warm-up included,
	// at some 300 a second here: with 60, a target that redeemed them all
	// before the measured second had none left to measure, and the smoke
	// test failed with "completed no request" (seen on PostgreSQL in CI).
	// 1,500 leaves several times what warm-up and the second can use.
	o.settings = settings{Conns: 4, Warmup: 500 * time.Millisecond, Duration: time.Second, Pending: 300,
		Approved: 1500, Hammered: 8, ApproveSessions: 2, IdleWait: 200 * time.Millisecond}
	return o
}

type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, " ") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	maybeServeTrivial()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	rep, path, err := run(ctx, o)
	if path != "" {
		fmt.Println("wrote", path)
	}
	if err == nil {
		err = grantdProblems(rep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	smoke := fs.Bool("smoke", false, "a short run: every scenario for about a second at 4 connections; asserts only that nothing unexpected happens")
	var targets stringsFlag
	fs.Var(&targets, "target", "a peer: name=N,url=U,client_id=I[,client_secret=S][,scope=S][,pid=P][,cmd=COMMAND] (repeatable; cmd last)")
	d := fullOptions()
	var o options
	fs.IntVar(&o.Conns, "conns", d.Conns, "connections")
	fs.DurationVar(&o.Warmup, "warmup", d.Warmup, "warm-up before each measured scenario")
	fs.DurationVar(&o.Duration, "duration", d.Duration, "measured time per scenario")
	fs.IntVar(&o.Pending, "pending", d.Pending, "pending device codes polled in scenario 2a")
	fs.IntVar(&o.Approved, "approved", d.Approved, "codes approved for scenario 3 (and refresh families for 4)")
	fs.IntVar(&o.Hammered, "hammered", d.Hammered, "codes polled without pause in scenario 2b")
	fs.StringVar(&o.Src, "src", d.Src, "grantd module root to build ./cmd/grantd from")
	fs.StringVar(&o.Bin, "grantd", "", "a grantd binary to run instead of building one")
	fs.BoolVar(&o.NoGrantd, "no-grantd", false, "measure only the -target peers")
	fs.BoolVar(&o.Pin, "pin", d.Pin, "pin the server to CPU 0 and the generator to CPU 1 with taskset")
	fs.IntVar(&o.Interval, "interval", d.Interval, "grantd's POLLING_INTERVAL in seconds")
	fs.StringVar(&o.Out, "out", d.Out, "directory for the Markdown and JSON results")
	fs.StringVar(&o.Commit, "commit", "", "commit to record (default: git rev-parse HEAD of -src)")
	fs.DurationVar(&o.QuietWait, "quiet-wait", 0, "before each scenario, wait up to this long for other processes to leave the machine quiet")
	fs.StringVar(&o.ProfileDir, "profile", "", "serve grantd with GRANTD_PPROF_ADDR and write a CPU profile per scenario here")
	fs.BoolVar(&o.AllowRemote, "allow-remote", false, "allow targets that are not on loopback")
	fs.BoolVar(&o.Trivial, "trivial", d.Trivial, "measure the trivial net/http handler too (the generator check)")
	only := fs.String("scenarios", "", "measure only these scenarios, by id, comma-separated (1,2a,2b,3,4,5,6a,6b); the report's mode is then \"partial\"")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *smoke {
		// Flags given explicitly still win over the smoke defaults.
		s := smokeOptions()
		fs.Visit(func(f *flag.Flag) { s = applyFlag(s, o, f.Name) })
		s.Src, s.Bin, s.NoGrantd, s.Pin, s.Out, s.Commit, s.ProfileDir, s.AllowRemote, s.Trivial =
			o.Src, o.Bin, o.NoGrantd, o.Pin, o.Out, o.Commit, o.ProfileDir, o.AllowRemote, o.Trivial
		s.Interval, s.QuietWait = o.Interval, o.QuietWait
		o = s
	} else {
		o.Mode, o.ApproveSessions, o.IdleWait = d.Mode, d.ApproveSessions, d.IdleWait
	}
	if *only != "" {
		o.Only = make(map[string]bool)
		for _, id := range strings.Split(*only, ",") {
			id = strings.TrimSpace(id)
			if !slices.Contains(scenarioIDs, id) {
				return options{}, fmt.Errorf("-scenarios: unknown scenario %q (want some of %s)", id, strings.Join(scenarioIDs, ","))
			}
			o.Only[id] = true
		}
		if o.Mode == "full" {
			o.Mode = "partial"
		}
	}
	o.Targets = targets
	o.Postgres = os.Getenv("GRANTD_TEST_POSTGRES")
	return o, nil
}

// applyFlag copies the named settings flag from o into s.
func applyFlag(s, o options, name string) options {
	switch name {
	case "conns":
		s.Conns = o.Conns
	case "warmup":
		s.Warmup = o.Warmup
	case "duration":
		s.Duration = o.Duration
	case "pending":
		s.Pending = o.Pending
	case "approved":
		s.Approved = o.Approved
	case "hammered":
		s.Hammered = o.Hammered
	}
	return s
}

// run measures grantd, the peers and the trivial handler, one after
// another, and writes the report when o.Out is set.
func run(ctx context.Context, o options) (*Report, string, error) {
	if o.Progress == nil {
		o.Progress = os.Stderr
	}
	dir, err := os.MkdirTemp("", "grantd-bench-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dir)
	if o.Src, err = filepath.Abs(o.Src); err != nil {
		return nil, "", err
	}
	pinned := o.Pin && pinGenerator(o.Progress)
	rep := &Report{Date: time.Now(), Mode: o.Mode, Machine: readMachine(), Go: runtime.Version(),
		Commit: o.Commit, Settings: reportSettings{Connections: o.Conns, WarmupSeconds: o.Warmup.Seconds(),
			DurationSeconds: o.Duration.Seconds(), Pending: o.Pending, Approved: o.Approved, Hammered: o.Hammered,
			PollingInterval: o.Interval, Pinned: pinned, QuietWait: o.QuietWait.Seconds()}}
	if rep.Commit == "" {
		rep.Commit = gitCommit(o.Src)
	}
	if o.ProfileDir != "" {
		if err := os.MkdirAll(o.ProfileDir, 0o755); err != nil {
			return nil, "", err
		}
	}
	var errs []error
	if !o.NoGrantd {
		gopts := grantdOptions{Src: o.Src, Bin: o.Bin, Profiled: o.ProfileDir != "", Interval: o.Interval, Pin: pinned, Dir: dir}
		errs = append(errs, measureGrantd(ctx, o, gopts, rep))
		if o.Postgres != "" {
			gopts.Postgres = o.Postgres
			if err := measureGrantd(ctx, o, gopts, rep); errors.Is(err, errPostgresUnsupported) {
				fmt.Fprintln(o.Progress, "PostgreSQL:", err)
			} else {
				errs = append(errs, err)
			}
		}
	}
	for _, spec := range o.Targets {
		errs = append(errs, measurePeer(ctx, o, spec, dir, rep))
	}
	if o.Trivial {
		t, err := measureTrivial(ctx, o.settings, pinned, dir)
		rep.Trivial = t
		errs = append(errs, err)
	}
	for _, t := range rep.Targets {
		if t.Name == "grantd" {
			rep.Bars = judgeBars(t, rep.Trivial)
		}
	}
	path := ""
	if o.Out != "" {
		var werr error
		path, werr = writeReport(rep, o.Out)
		errs = append(errs, werr)
	}
	return rep, path, errors.Join(errs...)
}

// measureGrantd starts grantd, measures it and stops it.
func measureGrantd(ctx context.Context, o options, gopts grantdOptions, rep *Report) error {
	t, err := startGrantd(ctx, gopts)
	if err != nil {
		return err
	}
	defer t.Stop()
	tr, err := measureTarget(ctx, t, o.settings)
	if tr != nil {
		rep.Targets = append(rep.Targets, tr)
	}
	if err != nil {
		return fmt.Errorf("%s: %w\nserver log:\n%s", t.Name, err, tail(t.Log, 20))
	}
	return nil
}

// measurePeer measures a peer given by URL, starting it first when the
// spec has a command.
func measurePeer(ctx context.Context, o options, spec, dir string, rep *Report) error {
	t, command, err := parseTargetSpec(spec)
	if err != nil {
		return err
	}
	if err := t.checkLoopback(o.AllowRemote); err != nil {
		return err
	}
	if command != "" {
		if err := startCommand(ctx, t, command, dir); err != nil {
			return err
		}
		defer t.Stop()
	} else if t.PID != 0 && o.Pin {
		t.Pinned = proc.Pin(t.PID, serverCPU) == nil
	}
	tr, err := measureTarget(ctx, t, o.settings)
	if tr != nil {
		rep.Targets = append(rep.Targets, tr)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	return nil
}

// pinGenerator moves this process to the generator core and sizes the
// scheduler to it. It reports false, and pins nothing, on a machine with
// one core or without taskset.
func pinGenerator(progress io.Writer) bool {
	if proc.Cores() < 2 || proc.Taskset() == "" {
		fmt.Fprintln(progress, "not pinning: needs taskset and two cores")
		return false
	}
	if err := proc.Pin(os.Getpid(), generatorCPU); err != nil {
		fmt.Fprintln(progress, "not pinning:", err)
		return false
	}
	runtime.GOMAXPROCS(1)
	if err := proc.Renice(proc.Niceness); err != nil {
		fmt.Fprintln(progress, "generator keeps its priority:", err)
	}
	return true
}

// grantdProblems reports the failed checks of grantd's scenarios.
func grantdProblems(rep *Report) error {
	var errs []error
	for _, t := range rep.Targets {
		if !strings.HasPrefix(t.Name, "grantd") {
			continue
		}
		for _, r := range t.Rows {
			for _, p := range r.Problems {
				errs = append(errs, fmt.Errorf("%s, %s: %s (outcomes %v; %s)", t.Name, r.Scenario, p, r.Outcomes, r.LastError))
			}
		}
	}
	return errors.Join(errs...)
}
