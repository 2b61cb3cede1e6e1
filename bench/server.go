package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/grantd/grantd/bench/proc"
)

// serverCPU is the core the server under test is pinned to; the generator
// takes generatorCPU.
const (
	serverCPU    = "0"
	generatorCPU = "1"
)

// grantdOptions say how to build and start grantd.
type grantdOptions struct {
	Src      string // module root to build ./cmd/grantd from
	Bin      string // a grantd binary to use instead of building one
	Profiled bool   // serve with GRANTD_PPROF_ADDR, for CPU profiles
	Interval int    // POLLING_INTERVAL, seconds
	Postgres string // a PostgreSQL URL instead of SQLite
	Pin      bool
	Dir      string // working directory: binaries, database, log
}

// buildGrantd builds grantd into dir, unless o names a binary.
func buildGrantd(ctx context.Context, o grantdOptions) (string, error) {
	if o.Bin != "" {
		return o.Bin, nil
	}
	bin := filepath.Join(o.Dir, "grantd")
	if err := goBuild(ctx, o.Src, bin, "./cmd/grantd"); err != nil {
		return "", err
	}
	return bin, nil
}

// goBuild builds pkg as grantd ships: a static binary, without cgo. With a
// C compiler at hand Go would otherwise link the C library (for its DNS
// resolver), which costs the idle server some 1.3 MB of resident memory.
func goBuild(ctx context.Context, src, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s in %s: %v\n%s", pkg, src, err, b)
	}
	return nil
}

// grantdEnv is the environment of a load run: ES256 access tokens (the
// bar's algorithm), codes that outlive the run, the interval the pending
// poll scenario paces to, and attempt budgets lifted so that the harness's
// one client, one user and one IP are not throttled.
func grantdEnv(o grantdOptions, addr, database string) []string {
	lifted := "100000000/1m"
	env := append(os.Environ(),
		"GRANTD_ADDR="+addr,
		"GRANTD_ISSUER=http://"+addr,
		"GRANTD_DATABASE="+database,
		"GRANTD_ACCESS_TOKEN_ALG=ES256",
		"RESULT_TOKEN_SET=ACCESS+REFRESH",
		"CODE_EXPIRATION=7200",
		"POLLING_INTERVAL="+strconv.Itoa(o.Interval),
		"GRANTD_CLIENT_AUTH_LIMIT="+lifted,
		"GRANTD_USER_CODE_LIMIT_ACCOUNT="+lifted,
		"GRANTD_USER_CODE_LIMIT_IP="+lifted,
		"GRANTD_USER_CODE_LIMIT_GLOBAL="+lifted,
		"GRANTD_SIGN_IN_LIMIT_ACCOUNT="+lifted,
		"GRANTD_SIGN_IN_LIMIT_IP="+lifted,
		"GRANTD_SIGN_IN_LIMIT_GLOBAL="+lifted,
		"GRANTD_INTROSPECT_LIMIT="+lifted,
		"GRANTD_REVOKE_LIMIT="+lifted,
		"GRANTD_DEVICE_AUTH_LIMIT_IP="+lifted,
		"GRANTD_DEVICE_AUTH_LIMIT_CLIENT="+lifted,
	)
	return env
}

// errPostgresUnsupported reports a grantd that refuses a PostgreSQL URL.
var errPostgresUnsupported = errors.New("this grantd does not support PostgreSQL yet")

// startGrantd provisions a client and a user in a fresh database and starts
// grantd serve, pinned to the server core.
func startGrantd(ctx context.Context, o grantdOptions) (*Target, error) {
	bin, err := buildGrantd(ctx, o)
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	database := filepath.Join(o.Dir, "grantd.db")
	if o.Postgres != "" {
		database = o.Postgres
	}
	env := grantdEnv(o, addr, database)
	// Fresh names each run: a PostgreSQL database outlives the run.
	suffix := strings.ToLower(rand.Text()[:8])
	t := &Target{Name: "grantd", Addr: addr, Host: addr, ClientID: "bench-" + suffix, Scope: "lights:read", Username: "bench-" + suffix}
	if o.Postgres != "" {
		t.Name = "grantd-postgres"
		t.DBProcess = "postgres"
	} else {
		t.DBFiles = []string{database, database + "-wal", database + "-shm"}
	}
	t.Base, _ = url.Parse("http://" + addr)
	if t.Secret, err = createClient(ctx, bin, env, t.ClientID); err != nil {
		return nil, err
	}
	t.Password = rand.Text()
	if _, err := runGrantd(ctx, bin, env, "user", "create", "--username", t.Username, "--password", t.Password); err != nil {
		return nil, err
	}

	name, args := bin, []string{"serve"}
	if o.Profiled {
		if t.PprofAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		env = append(env, "GRANTD_PPROF_ADDR="+t.PprofAddr)
	}
	cmd, pinned := proc.Command(pinCPU(o.Pin), name, args...)
	cmd.Env = env
	t.Log = filepath.Join(o.Dir, "grantd.log")
	if err := startLogged(ctx, t, cmd, pinned, t.Base.String()+"/readyz"); err != nil {
		return nil, err
	}
	return t, nil
}

func pinCPU(pin bool) string {
	if pin {
		return serverCPU
	}
	return ""
}

// createClient registers the harness's confidential device client and
// returns its generated secret. It asks for introspection rights when this
// grantd's client create has a flag for them.
func createClient(ctx context.Context, bin string, env []string, id string) (string, error) {
	args := []string{"client", "create", "--id", id, "--scope", "lights:read", "--scope", "openid"}
	help, _ := exec.CommandContext(ctx, bin, "client", "create", "-h").CombinedOutput()
	if bytes.Contains(help, []byte("-introspect")) {
		args = append(args, "--introspect")
	}
	out, err := runGrantd(ctx, bin, env, args...)
	if err != nil {
		return "", err
	}
	var c struct {
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out, &c); err != nil || c.Secret == "" {
		return "", fmt.Errorf("grantd client create printed %q: want JSON with client_secret", out)
	}
	return c.Secret, nil
}

func runGrantd(ctx context.Context, bin string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "PostgreSQL is not supported") {
			return nil, fmt.Errorf("%w: %s", errPostgresUnsupported, msg)
		}
		return nil, fmt.Errorf("grantd %s: %v: %s", strings.Join(args[:2], " "), err, msg)
	}
	return out, nil
}

// startCommand starts a peer from a shell command line, pinned to the
// server core, and waits for its metadata.
func startCommand(ctx context.Context, t *Target, command, dir string) error {
	cmd, pinned := proc.Command(pinCPU(true), "sh", "-c", "exec "+command)
	cmd.Env = os.Environ()
	t.Log = filepath.Join(dir, t.Name+".log")
	return startLogged(ctx, t, cmd, pinned, t.Base.String()+"/.well-known/openid-configuration")
}

// startLogged starts cmd with its output in t.Log, records its pid and a
// Stop that ends it gracefully, and waits until readyURL answers 200.
func startLogged(ctx context.Context, t *Target, cmd *exec.Cmd, pinned bool, readyURL string) error {
	logf, err := os.Create(t.Log)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	t.PID, t.Pinned = cmd.Process.Pid, pinned
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	t.Stop = func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		return nil
	}
	if err := waitReady(ctx, readyURL, 60*time.Second, exited); err != nil {
		t.Stop()
		return fmt.Errorf("%s: %w\n%s", t.Name, err, tail(t.Log, 20))
	}
	return nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
