package cluster

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// postgresEnv names the variable holding the URL of a PostgreSQL database
// the tests may create scratch databases from, e.g.
// postgres://postgres@127.0.0.1:5432/grantd_test?sslmode=disable.
const postgresEnv = "GRANTD_TEST_POSTGRES"

// grantdBinary is the grantd command TestMain builds, when PostgreSQL is
// configured.
var grantdBinary string

func TestMain(m *testing.M) {
	if os.Getenv(postgresEnv) == "" {
		os.Exit(m.Run()) // the cluster tests skip themselves
	}
	dir, err := os.MkdirTemp("", "grantd-cluster")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		os.Exit(1)
	}
	grantdBinary = filepath.Join(dir, "grantd")
	build := exec.Command("go", "build", "-o", grantdBinary, "github.com/grantd/grantd/cmd/grantd")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build grantd: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// scratchDatabase creates a database of its own next to the one
// GRANTD_TEST_POSTGRES names, dropped when t ends, and returns its URL. It
// skips t when the variable is unset.
func scratchDatabase(t *testing.T) *url.URL {
	t.Helper()
	base := os.Getenv(postgresEnv)
	if base == "" {
		t.Skip(postgresEnv + " is unset: set it to a postgres:// URL (e.g. " +
			"postgres://postgres@127.0.0.1:5432/grantd_test?sslmode=disable) of a server where the tests " +
			"may create scratch databases, to run grantd as a cluster of processes")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", postgresEnv, err)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("%s: %v", postgresEnv, err)
	}
	name := "grantd_cluster_" + strings.ToLower(rand.Text())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		admin.Close()
		t.Fatalf("create scratch database: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP DATABASE `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
			t.Errorf("drop scratch database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u
}

// logBuffer collects a process's output.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, line)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

// logTail is how many lines of an instance's log a failed test shows.
const logTail = 60

// tail returns the last n lines.
func (b *logBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines[max(0, len(b.lines)-n):], "\n")
}

// contains reports whether a line of the log contains s.
func (b *logBuffer) contains(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// instance is one `grantd serve` process.
type instance struct {
	name   string
	URL    string // http://127.0.0.1:PORT
	cmd    *exec.Cmd
	logs   *logBuffer
	addr   chan string // where it listens, once it does
	exited chan struct{}
	err    error // the exit status, once exited is closed
}

var listeningAddr = regexp.MustCompile(`msg="grantd listening" addr=(\S+)`)

// startupTimeout bounds how long an instance takes to migrate, load its
// keys and listen.
const startupTimeout = 30 * time.Second

// launchInstance starts `grantd serve` on a free loopback port with the
// given database and environment; ready waits until it listens. The process
// is stopped when t ends.
func launchInstance(t *testing.T, name, database string, env []string) *instance {
	t.Helper()
	cmd := exec.Command(grantdBinary, "serve", "--addr", "127.0.0.1:0", "--database", database)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	in := &instance{name: name, cmd: cmd, logs: &logBuffer{}, exited: make(chan struct{}), addr: make(chan string, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			in.logs.add(line)
			if m := listeningAddr.FindStringSubmatch(line); m != nil {
				select {
				case in.addr <- m[1]:
				default:
				}
			}
		}
		in.err = cmd.Wait()
		close(in.exited)
	}()
	t.Cleanup(func() { in.stop(t) })
	return in
}

// ready waits until the instance listens and sets its URL.
func (in *instance) ready(t *testing.T) {
	t.Helper()
	select {
	case a := <-in.addr:
		in.URL = "http://" + a
	case <-in.exited:
		t.Fatalf("%s exited before listening: %v\n%s", in.name, in.err, in.logs)
	case <-time.After(startupTimeout):
		t.Fatalf("%s did not listen within %v\n%s", in.name, startupTimeout, in.logs)
	}
}

// signal sends sig to the process.
func (in *instance) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := in.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s: %v", in.name, err)
	}
}

// wait waits up to d for the process to exit and reports whether it did.
func (in *instance) wait(d time.Duration) bool {
	select {
	case <-in.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// stop ends the process (SIGTERM, then SIGKILL after 10 s), checks its log
// for panics, and shows the log when the test failed.
func (in *instance) stop(t *testing.T) {
	select {
	case <-in.exited:
	default:
		in.cmd.Process.Signal(syscall.SIGTERM)
		if !in.wait(10 * time.Second) {
			t.Errorf("%s did not stop within 10 s of SIGTERM", in.name)
			in.cmd.Process.Kill()
			in.wait(5 * time.Second)
		}
	}
	for _, bad := range []string{"panic", "DATA RACE"} {
		if in.logs.contains(bad) {
			t.Errorf("%s logged %q", in.name, bad)
		}
	}
	if t.Failed() {
		t.Logf("log of %s (last %d lines):\n%s", in.name, logTail, in.logs.tail(logTail))
	}
}

// instanceEnv returns the environment of an instance: the test's own,
// without any grantd setting, plus vars.
func instanceEnv(vars map[string]string) []string {
	seed := []string{"CODE_EXPIRATION=", "DEVICE_CODE_", "POLLING_INTERVAL=", "USER_CODE_", "RESULT_TOKEN_SET="}
	var env []string
	for _, kv := range os.Environ() {
		drop := strings.HasPrefix(kv, "GRANTD_")
		for _, p := range seed {
			drop = drop || strings.HasPrefix(kv, p)
		}
		if !drop {
			env = append(env, kv)
		}
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// grantdCommand runs a grantd sub-command to completion and returns its
// standard output.
func grantdCommand(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, grantdBinary, args...)
	cmd.Env = instanceEnv(nil)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("grantd %s: %v\n%s", strings.Join(args[:2], " "), err, stderr.String())
	}
	return stdout.String()
}

// The clients every cluster has.
var (
	deviceClient   = oauthClient{id: "tv", secret: "tv-secret-0123456789abcdefghijklmnop"}
	resourceServer = oauthClient{id: "rs", secret: "rs-secret-0123456789abcdefghijklmnop"}
)

// userPassword is the password of every user the tests create.
const userPassword = "correct horse battery staple"

// cluster is grantd as deployed for several instances: processes on one
// PostgreSQL database, optionally through a FaultProxy, behind a
// round-robin load balancer whose URL is the issuer of every instance.
type cluster struct {
	t        *testing.T
	database string // the instances' database URL (through the proxy, if any)
	direct   string // the database URL without the proxy
	proxy    *FaultProxy
	issuer   string
	env      []string
	mu       sync.Mutex
	nodes    []*instance // A, B, …; read by the load balancer
	http     *http.Client
	userIDs  map[string]string // by user name
}

// clusterOptions configure newCluster.
type clusterOptions struct {
	instances int
	proxy     bool              // put a FaultProxy between instances and database
	users     []string          // users to create, each with userPassword
	env       map[string]string // settings of every instance
}

// newCluster creates a scratch database, provisions the clients and users
// with the grantd command, and starts the instances together.
func newCluster(t *testing.T, o clusterOptions) *cluster {
	t.Helper()
	db := scratchDatabase(t)
	c := &cluster{t: t, direct: db.String(), database: db.String(), userIDs: map[string]string{}}
	if o.proxy {
		p, err := NewFaultProxy(db.Host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		c.proxy = p
		via := *db
		via.Host = p.Addr()
		c.database = via.String()
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(transport.CloseIdleConnections)
	c.http = &http.Client{Transport: transport, Timeout: requestTimeout}
	lb := c.loadBalancer()
	c.issuer = lb.URL
	vars := map[string]string{"GRANTD_ISSUER": c.issuer}
	for k, v := range o.env {
		vars[k] = v
	}
	c.env = instanceEnv(vars)
	c.provision(o.users)
	// Started together on a database without keys, the instances race to
	// create the signing keys and shared secrets.
	nodes := make([]*instance, o.instances)
	for i := range nodes {
		nodes[i] = c.launch(string(rune('A' + i)))
	}
	for _, n := range nodes {
		n.ready(t)
	}
	c.mu.Lock()
	c.nodes = nodes
	c.mu.Unlock()
	return c
}

// launch starts one more instance of the cluster, named name; call its
// ready method before using it.
func (c *cluster) launch(name string) *instance {
	u, err := url.Parse(c.database)
	if err != nil {
		c.t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", "grantd-"+name)
	u.RawQuery = q.Encode()
	return launchInstance(c.t, name, u.String(), c.env)
}

// provision migrates the database, then creates the device client, the
// resource server and users.
func (c *cluster) provision(users []string) {
	c.t.Helper()
	grantdCommand(c.t, "migrate", "--database", c.direct)
	grantdCommand(c.t, "client", "create", "--database", c.direct, "--id", deviceClient.id,
		"--secret", deviceClient.secret, "--name", "Living room TV", "--scope", "openid", "--scope", "lights:read")
	grantdCommand(c.t, "client", "create", "--database", c.direct, "--id", resourceServer.id,
		"--secret", resourceServer.secret, "--introspect")
	for _, name := range users {
		out := grantdCommand(c.t, "user", "create", "--database", c.direct, "--username", name, "--password", userPassword)
		var u struct{ ID string }
		if err := json.Unmarshal([]byte(out), &u); err != nil || u.ID == "" {
			c.t.Fatalf("user create %s: %q", name, out)
		}
		c.userIDs[name] = u.ID
	}
}

// loadBalancer starts a round-robin reverse proxy over the cluster's
// instances, the one public URL the issuer names. It passes the client's
// X-Forwarded-For on and appends its own hop.
func (c *cluster) loadBalancer() *httptest.Server {
	var next atomic.Uint64
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		c.mu.Lock()
		n := c.nodes[int(next.Add(1)-1)%len(c.nodes)]
		c.mu.Unlock()
		target, _ := url.Parse(n.URL)
		r.SetURL(target)
		r.Out.Header["X-Forwarded-For"] = r.In.Header["X-Forwarded-For"]
		r.SetXForwarded()
	}}
	lb := httptest.NewServer(rp)
	c.t.Cleanup(lb.Close)
	return lb
}
