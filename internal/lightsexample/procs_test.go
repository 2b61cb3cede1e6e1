package lightsexample

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin is the folder TestMain builds the four programs into.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lightsexample")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	build := exec.Command("go", "build", "-o", dir+"/",
		"github.com/grantd/grantd/cmd/grantd", "github.com/grantd/grantd/cmd/lightsd",
		"github.com/grantd/grantd/cmd/lights-connector", "github.com/grantd/grantd/cmd/lightctl")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// command runs a program to completion and returns its standard output;
// a failure fails t.
func command(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// decode decodes a program's JSON output.
func decode[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
	return v
}

// server is a long-running program.
type server struct {
	name string
	URL  string
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs []string
}

// listening matches the log line each server writes once it listens.
var listening = regexp.MustCompile(`msg="[a-z-]+ listening" addr=(\S+)`)

// start runs a server and waits until it listens; it is stopped when t
// ends, and its log is shown if t failed.
func start(t *testing.T, env []string, name string, args ...string) *server {
	t.Helper()
	s := &server{name: name, cmd: exec.Command(filepath.Join(bin, name), args...)}
	s.cmd.Env = append(os.Environ(), env...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.logs = append(s.logs, sc.Text())
			s.mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			s.mu.Lock()
			t.Logf("%s log:\n%s", name, strings.Join(s.logs, "\n"))
			s.mu.Unlock()
		}
	})
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not listen within 30s", name)
	}
	return s
}

// freeAddr returns a loopback address nothing listens on now, for grantd,
// whose issuer must be known before it starts.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// audience is lightsd's resource identifier in the tests.
const audience = "https://lights.example/v1"

// chain is grantd and lightsd, running, with users alice and bob and their
// bulbs.
type chain struct {
	dir, grantdDB, lightsDB string
	grantd, lightsd         *server
	users                   map[string]string // username → id (sub)
	bulbs                   map[string][]string
}

// startChain creates the users and bulbs, runs clientSetup (grantd client
// creations), and starts grantd and lightsd.
func startChain(t *testing.T, clientSetup func(db string)) *chain {
	t.Helper()
	c := &chain{dir: t.TempDir(), users: map[string]string{}, bulbs: map[string][]string{}}
	c.grantdDB, c.lightsDB = filepath.Join(c.dir, "grantd.db"), filepath.Join(c.dir, "lights.db")
	for user, n := range map[string]string{"alice": "3", "bob": "1"} {
		u := decode[map[string]string](t, command(t, nil, "grantd", "user", "create", "--database", c.grantdDB,
			"--username", user, "--password", "correct horse battery"))
		c.users[user] = u["id"]
		l := decode[struct{ Bulbs []struct{ ID string } }](t, command(t, nil, "lightsd", "seed", "--db", c.lightsDB,
			"--user", u["id"], "--bulbs", n))
		for _, b := range l.Bulbs {
			c.bulbs[user] = append(c.bulbs[user], b.ID)
		}
	}
	clientSetup(c.grantdDB)
	addr := freeAddr(t)
	c.grantd = start(t, []string{"POLLING_INTERVAL=1"}, "grantd", "serve", "--addr", addr, "--database", c.grantdDB)
	c.lightsd = start(t, nil, "lightsd", "serve", "--addr", "127.0.0.1:0", "--db", c.lightsDB,
		"--issuer", c.grantd.URL, "--audience", audience, "--webhook-poll", "100ms")
	return c
}
