// Package upstreamtest runs a real OpenID Connect provider for tests: panva's
// oidc-provider (OpenID certified) from testdata/upstream, configured to look
// like an Amazon Cognito user pool (see testdata/upstream/server.mjs for what
// it reproduces). Start launches it on 127.0.0.1 with a client registered for
// the test; SignIn and Cancel drive its sign-in page with a plain HTTP client,
// as a user's browser would, up to the redirect back to the client.
//
// It needs Node.js and the npm packages installed in testdata/upstream
// (scripts/test.sh runs npm ci there). Without them the test is skipped,
// except in CI (the CI environment variable set), where it fails.
package upstreamtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/logtest"
)

// User is one of the fixed users of the test user pool.
type User struct {
	Username, Password string
	Subject            string // the sub claim: a fixed UUID, as Cognito's are
	Email              string // empty for a user without an e-mail address
	EmailVerified      bool
}

// Alice has a verified e-mail address.
func Alice() User {
	return User{"alice", "alice-password-1", "4c1d9a2e-6b0f-4f3e-9a57-0a1b2c3d4e01", "alice@example.com", true}
}

// Bob has an e-mail address that is not verified.
func Bob() User {
	return User{"bob", "bob-password-2", "7e2f0b4c-1d3a-4b5c-8e6f-0a1b2c3d4e02", "bob@example.com", false}
}

// Carol has no e-mail address.
func Carol() User {
	return User{"carol", "carol-password-3", "9a3b1c5d-2e4f-4a6b-8c7d-0a1b2c3d4e03", "", false}
}

// Options registers the client the code under test will be. The zero value
// registers client "grantd-test" with a random secret and the redirect URI
// http://127.0.0.1:1/callback (nothing needs to listen there: SignIn stops at
// the redirect).
type Options struct {
	ClientID     string
	ClientSecret string
	RedirectURIs []string
}

// Upstream is a running test provider.
type Upstream struct {
	Issuer       string // e.g. http://127.0.0.1:41234/us-east-1_grantdTest
	ClientID     string
	ClientSecret string
	RedirectURIs []string

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}
	once   sync.Once
}

// startTimeout bounds how long node may take to print its issuer; it takes
// well under a second on an idle machine.
const startTimeout = 60 * time.Second

// Start runs the provider for the length of the test and returns once it
// answers. It is stopped when the test ends.
func Start(t testing.TB, o Options) *Upstream {
	t.Helper()
	dir := serverDir(t)
	o = o.withDefaults(t)
	args := []string{"server.mjs", "--exit-with-stdin", "--client-id", o.ClientID, "--client-secret", o.ClientSecret}
	for _, r := range o.RedirectURIs {
		args = append(args, "--redirect-uri", r)
	}
	cmd := exec.Command("node", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DEBUG=") // no oidc-provider debug output
	cmd.WaitDelay = 5 * time.Second          // Wait returns even if something held on to the pipes
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("upstreamtest: %v", err)
	}
	out := &firstLine{ready: make(chan struct{})}
	var stderr logtest.Buffer
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("upstreamtest: start node: %v", err)
	}
	u := &Upstream{
		ClientID: o.ClientID, ClientSecret: o.ClientSecret, RedirectURIs: o.RedirectURIs,
		cmd: cmd, stdin: stdin, exited: make(chan struct{}),
	}
	go func() {
		cmd.Wait()
		close(u.exited)
	}()
	t.Cleanup(func() {
		u.Stop()
		if t.Failed() {
			t.Logf("upstreamtest: the provider's standard error:\n%s", stderr.String())
		}
	})
	select {
	case <-out.ready:
		u.Issuer = out.line()
	case <-u.exited:
		t.Fatalf("upstreamtest: node exited before it was ready: %s", stderr.String())
	case <-time.After(startTimeout):
		t.Fatalf("upstreamtest: node printed no issuer within %v (process %s): %s",
			startTimeout, procState(cmd.Process.Pid), stderr.String())
	}
	if !strings.HasPrefix(u.Issuer, "http://127.0.0.1:") {
		t.Fatalf("upstreamtest: unexpected first line %q", u.Issuer)
	}
	return u
}

// Stop ends the provider and waits until it has exited, so that the next
// request to it fails with a refused connection. It is safe to call more
// than once.
func (u *Upstream) Stop() {
	u.once.Do(func() {
		u.stdin.Close()
		u.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-u.exited:
		case <-time.After(5 * time.Second):
			u.cmd.Process.Kill()
			<-u.exited
		}
	})
}

// procState describes a process from /proc (Linux), for a failure message:
// its state letter and the kernel function it waits in.
func procState(pid int) string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "unknown"
	}
	wchan, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
	state := ""
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		state = string(stat[i+2])
	}
	return fmt.Sprintf("%d state %s wchan %s", pid, state, wchan)
}

// serverDir finds testdata/upstream and checks that node and the npm
// packages are there.
func serverDir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("upstreamtest: cannot locate the source tree")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "upstream")
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("upstreamtest: "+format, args...)
		}
		t.Skipf("upstreamtest: "+format, args...)
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("node not found (install Node.js 20 or later): %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err != nil {
		missing("oidc-provider is not installed: run (cd %s && npm ci --no-audit --no-fund), as scripts/test.sh does", dir)
	}
	return dir
}

func (o Options) withDefaults(t testing.TB) Options {
	if o.ClientID == "" {
		o.ClientID = "grantd-test"
	}
	if o.ClientSecret == "" {
		b := make([]byte, 24)
		rand.Read(b)
		o.ClientSecret = hex.EncodeToString(b)
	}
	if len(o.RedirectURIs) == 0 {
		o.RedirectURIs = []string{"http://127.0.0.1:1/callback"}
	}
	return o
}

// firstLine is the child's standard output: it signals when the first line
// (the issuer) is complete and discards the rest.
type firstLine struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
	done  bool
}

func (w *firstLine) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.buf.Write(p)
		if bytes.IndexByte(w.buf.Bytes(), '\n') >= 0 {
			w.done = true
			close(w.ready)
		}
	}
	return len(p), nil
}

func (w *firstLine) line() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l, _, _ := bytes.Cut(w.buf.Bytes(), []byte("\n"))
	return strings.TrimSpace(string(l))
}

// ErrWrongPassword is returned by TrySignIn when the sign-in page refused
// the username or password.
var ErrWrongPassword = errors.New("upstreamtest: incorrect username or password")

// SignIn follows authURL (an authorization request to this provider) with a
// fresh cookie jar, signs in as username, and returns the URL the provider
// then redirects to: the request's redirect_uri with code, state and iss, or
// with error when the provider refused the request. It fails the test on
// any other outcome.
func (u *Upstream) SignIn(t testing.TB, authURL, username, password string) *url.URL {
	t.Helper()
	loc, err := u.TrySignIn(t.Context(), authURL, username, password)
	if err != nil {
		t.Fatalf("upstreamtest: sign in as %s: %v", username, err)
	}
	return loc
}

// TrySignIn is SignIn returning an error (ErrWrongPassword for a refused
// password) instead of failing the test.
func (u *Upstream) TrySignIn(ctx context.Context, authURL, username, password string) (*url.URL, error) {
	return u.interact(ctx, authURL, "login", url.Values{"username": {username}, "password": {password}})
}

// Cancel follows authURL to the sign-in page and presses Cancel, as a user
// who changes their mind; it returns the redirect back to the client, which
// carries error=access_denied.
func (u *Upstream) Cancel(t testing.TB, authURL string) *url.URL {
	t.Helper()
	loc, err := u.interact(t.Context(), authURL, "abort", url.Values{})
	if err != nil {
		t.Fatalf("upstreamtest: cancel: %v", err)
	}
	return loc
}

var formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)

// interact opens the sign-in page of authURL and submits the form whose
// action ends in /action.
func (u *Upstream) interact(ctx context.Context, authURL, action string, form url.Values) (*url.URL, error) {
	a, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	redirect := a.Query().Get("redirect_uri")
	if redirect == "" {
		return nil, errors.New("the authorization URL has no redirect_uri")
	}
	c := browser(redirect)
	res, body, err := get(ctx, c, authURL)
	if err != nil {
		return nil, err
	}
	if loc := backAtClient(res, redirect); loc != nil {
		return loc, nil // refused before any page
	}
	var target string
	for _, m := range formAction.FindAllStringSubmatch(body, -1) {
		if strings.HasSuffix(m[1], "/"+action) {
			target = html.UnescapeString(m[1])
		}
	}
	if res.StatusCode != http.StatusOK || target == "" {
		return nil, fmt.Errorf("expected the sign-in page, got HTTP %d: %.300s", res.StatusCode, body)
	}
	next, err := res.Request.URL.Parse(target)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, next.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, body, err = do(c, req)
	if err != nil {
		return nil, err
	}
	if loc := backAtClient(res, redirect); loc != nil {
		return loc, nil
	}
	if strings.Contains(body, "Incorrect username or password.") {
		return nil, ErrWrongPassword
	}
	return nil, fmt.Errorf("no redirect back to %s, got HTTP %d: %.300s", redirect, res.StatusCode, body)
}

// browser is an HTTP client with a cookie jar that follows redirects until
// one leads to redirect (the client's redirect URI), which it returns
// unfollowed.
func browser(redirect string) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if atRedirect(req.URL, redirect) {
				return http.ErrUseLastResponse
			}
			if len(via) >= 20 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
}

func atRedirect(u *url.URL, redirect string) bool {
	v := *u
	v.RawQuery, v.Fragment = "", ""
	return v.String() == redirect
}

// backAtClient returns the Location of a redirect to the client's redirect
// URI, or nil.
func backAtClient(res *http.Response, redirect string) *url.URL {
	if res.StatusCode < 300 || res.StatusCode > 399 {
		return nil
	}
	loc, err := res.Location()
	if err != nil || !atRedirect(loc, redirect) {
		return nil
	}
	return loc
}

func get(ctx context.Context, c *http.Client, u string) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	return do(c, req)
}

func do(c *http.Client, req *http.Request) (*http.Response, string, error) {
	res, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res, string(b), err
}
