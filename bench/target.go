package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/grantd/grantd/bench/load"
)

// Target is one server under test: grantd started by the harness, or any
// RFC 8628 server given by URL.
type Target struct {
	Name string
	// Base is the issuer URL; Addr and Host are where to connect and what
	// to send as Host.
	Base       *url.URL
	Addr, Host string
	ClientID   string
	Secret     string
	Scope      string
	// Username and Password sign in to grantd's verification pages to
	// approve codes (scenarios 3–5); empty for peers.
	Username, Password string
	// PID is the server process, for CPU and memory readings; 0 when
	// unknown. Pinned says whether it runs on the server core alone.
	PID    int
	Pinned bool
	// DBFiles are the files whose sizes make up the database size.
	DBFiles []string
	// DBProcess is the command name of a database server the target uses
	// ("postgres"), whose CPU is reported apart from the others'.
	DBProcess string
	// PprofAddr serves CPU profiles when grantd runs with GRANTD_PPROF_ADDR.
	PprofAddr string
	Endpoints Endpoints
	// Stop ends a server the harness started.
	Stop func() error
	// Log is the server's log file, shown when something fails.
	Log string
}

// Endpoints are request paths on the target, from its metadata.
type Endpoints struct {
	Metadata            string
	DeviceAuthorization string
	Token               string
	JWKS                string
	Introspection       string
}

// basicAuth is the Authorization header line for the target's client
// (RFC 6749 §2.3.1: id and secret form-urlencoded, then base64).
func (t *Target) basicAuth() string {
	cred := url.QueryEscape(t.ClientID) + ":" + url.QueryEscape(t.Secret)
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(cred))
}

// parseTargetSpec reads a -target value: comma-separated key=value pairs,
// keys name, url, client_id, client_secret, scope, user, password, pid.
// The key cmd, if present, must come last and takes the rest of the string:
// a command the harness starts (pinned to the server core) and stops.
func parseTargetSpec(spec string) (t *Target, cmd string, err error) {
	t = &Target{Scope: "openid"}
	rest := spec
	for rest != "" {
		var part string
		if strings.HasPrefix(rest, "cmd=") {
			part, rest = rest, ""
		} else {
			part, rest, _ = strings.Cut(rest, ",")
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, "", fmt.Errorf("target %q: %q is not key=value", spec, part)
		}
		switch k {
		case "name":
			t.Name = v
		case "url":
			if t.Base, err = url.Parse(v); err != nil {
				return nil, "", fmt.Errorf("target %q: %w", spec, err)
			}
		case "client_id":
			t.ClientID = v
		case "client_secret":
			t.Secret = v
		case "scope":
			t.Scope = v
		case "user":
			t.Username = v
		case "password":
			t.Password = v
		case "pid":
			if t.PID, err = strconv.Atoi(v); err != nil {
				return nil, "", fmt.Errorf("target %q: pid: %w", spec, err)
			}
		case "cmd":
			cmd = v
		default:
			return nil, "", fmt.Errorf("target %q: unknown key %q", spec, k)
		}
	}
	if t.Name == "" || t.Base == nil || t.ClientID == "" {
		return nil, "", fmt.Errorf("target %q: name, url and client_id are required", spec)
	}
	t.Base.Path = strings.TrimSuffix(t.Base.Path, "/")
	t.Addr, t.Host = hostPort(t.Base), t.Base.Host
	return t, cmd, nil
}

// hostPort is u's host:port, with the scheme's default port.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// checkLoopback refuses to send load anywhere but this machine unless the
// operator says otherwise: a load run against someone else's server is an
// attack.
func (t *Target) checkLoopback(allowRemote bool) error {
	if t.Base.Scheme != "http" {
		return fmt.Errorf("target %s: only http:// is supported (the generator speaks plain HTTP/1.1)", t.Name)
	}
	if !allowRemote && !load.IsLoopback(t.Base.Hostname()) {
		return fmt.Errorf("target %s: %s is not a loopback address; pass -allow-remote if you own it", t.Name, t.Base.Hostname())
	}
	return nil
}

// discover reads the target's RFC 8414 metadata (or OpenID Connect
// discovery) for its endpoints. Every endpoint must be on the same host:port.
func (t *Target) discover(ctx context.Context) error {
	var meta struct {
		DeviceAuthorization string `json:"device_authorization_endpoint"`
		Token               string `json:"token_endpoint"`
		JWKS                string `json:"jwks_uri"`
		Introspection       string `json:"introspection_endpoint"`
	}
	var tried []string
	for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		u := t.Base.String() + p
		tried = append(tried, u)
		body, status, err := httpGet(ctx, u)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			continue
		}
		if err := json.Unmarshal(body, &meta); err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		t.Endpoints.Metadata = t.Base.Path + p
		break
	}
	if t.Endpoints.Metadata == "" {
		return fmt.Errorf("target %s: no metadata at %s", t.Name, strings.Join(tried, " or "))
	}
	var err error
	path := func(raw, what string, required bool) string {
		if raw == "" {
			if required && err == nil {
				err = fmt.Errorf("target %s: metadata has no %s", t.Name, what)
			}
			return ""
		}
		u, perr := url.Parse(raw)
		if perr != nil || u.Host != t.Base.Host {
			if err == nil {
				err = fmt.Errorf("target %s: %s %q is not on %s", t.Name, what, raw, t.Base.Host)
			}
			return ""
		}
		return u.RequestURI()
	}
	t.Endpoints.DeviceAuthorization = path(meta.DeviceAuthorization, "device_authorization_endpoint", true)
	t.Endpoints.Token = path(meta.Token, "token_endpoint", true)
	t.Endpoints.JWKS = path(meta.JWKS, "jwks_uri", true)
	// RFC 7662 has no discovery of its own; grantd serves /introspect.
	t.Endpoints.Introspection = path(meta.Introspection, "introspection_endpoint", false)
	if t.Endpoints.Introspection == "" {
		t.Endpoints.Introspection = t.Base.Path + "/introspect"
	}
	return err
}

// dbSize is the sum of the sizes of the target's database files.
func (t *Target) dbSize() int64 {
	var n int64
	for _, f := range t.DBFiles {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n
}

var setupClient = &http.Client{Timeout: 30 * time.Second}

func httpGet(ctx context.Context, u string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := setupClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return body, resp.StatusCode, err
}

// waitReady polls u until it answers 200 or the timeout passes.
func waitReady(ctx context.Context, u string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	for {
		_, status, err := httpGet(ctx, u)
		if err == nil && status == http.StatusOK {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s (last: %d %v)", u, timeout, status, err)
		}
		select {
		case <-exited:
			return fmt.Errorf("server exited before %s answered", u)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
