package upstream_test

import (
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/grantd/grantd/internal/upstream"
	"github.com/grantd/grantd/internal/upstream/upstreamtest"
)

func logFindings(t *testing.T, fs []upstream.Finding) {
	t.Helper()
	for _, f := range fs {
		t.Log(f)
	}
}

func TestFindingString(t *testing.T) {
	tests := []struct {
		f    upstream.Finding
		want string
	}{
		{upstream.Finding{upstream.Pass, "JWKS found", ""}, "ok      JWKS found"},
		{upstream.Finding{upstream.Fail, "issuer mismatch", "set the issuer"}, "FAIL    issuer mismatch\n        fix: set the issuer"},
		{upstream.Finding{upstream.Warn, "no revocation", "set it"}, "warning no revocation\n        fix: set it"},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// find returns the first finding whose What contains s.
func find(fs []upstream.Finding, s string) (upstream.Finding, bool) {
	for _, f := range fs {
		if strings.Contains(f.What, s) {
			return f, true
		}
	}
	return upstream.Finding{}, false
}

func TestCheckPassesAgainstTheRealUpstream(t *testing.T) {
	t.Parallel()
	u := upstreamtest.Start(t, upstreamtest.Options{RedirectURIs: []string{realCallback}})
	cfg := upstream.Config{ID: "cognito", Issuer: u.Issuer, ClientID: u.ClientID, ClientSecret: u.ClientSecret,
		Scopes: []string{"email", "profile"}}
	fs := upstream.Check(t.Context(), cfg, realCallback, upstream.Options{Timeout: 5 * time.Second})
	logFindings(t, fs)
	for _, f := range fs {
		if f.Level != upstream.Pass {
			t.Errorf("%s: %s (fix: %s)", f.Level, f.What, f.Fix)
		}
	}
	for _, want := range []string{"issuer matches exactly", "PKCE with S256", "accepts the client credentials",
		"accepts the client and redirect URI", "usable signing key", "revocation endpoint"} {
		if _, ok := find(fs, want); !ok {
			t.Errorf("no finding says %q", want)
		}
	}
}

// TestCheckFindsSetupMistakes: the mistakes a person setting up an app
// client makes, each reported as a Fail with a fix, against the real
// upstream.
func TestCheckFindsSetupMistakes(t *testing.T) {
	t.Parallel()
	u := upstreamtest.Start(t, upstreamtest.Options{RedirectURIs: []string{realCallback}})
	good := upstream.Config{ID: "cognito", Issuer: u.Issuer, ClientID: u.ClientID, ClientSecret: u.ClientSecret}
	tests := []struct {
		name     string
		edit     func(*upstream.Config)
		redirect string
		what     string // in the failing finding
		fix      string // in its fix
	}{
		{"issuer with a trailing slash", func(c *upstream.Config) { c.Issuer += "/" }, realCallback,
			"issuer mismatch", `set the issuer to exactly "` + u.Issuer + `"`},
		{"issuer of the sign-in domain", func(c *upstream.Config) { c.Issuer = strings.TrimSuffix(c.Issuer, "/us-east-1_grantdTest") },
			realCallback, "no discovery document", "cognito-idp.<region>.amazonaws.com/<user pool id>"},
		{"wrong client secret", func(c *upstream.Config) { c.ClientSecret = "wrong" }, realCallback,
			"refused the client credentials", "client id and secret"},
		{"unknown client id", func(c *upstream.Config) { c.ClientID = "nobody" }, realCallback,
			"authorization endpoint", "check the client id"},
		{"unregistered callback URL", func(*upstream.Config) {}, "https://grantd.example/callback",
			"authorization endpoint", "register https://grantd.example/callback as an allowed callback"},
		{"bad configuration", func(c *upstream.Config) { c.ExtraParams = map[string]string{"nonce": "x"} }, realCallback,
			"configuration", "correct the setting"},
	}
	for _, tt := range tests {
		cfg := good
		tt.edit(&cfg)
		fs := upstream.Check(t.Context(), cfg, tt.redirect, upstream.Options{Timeout: 5 * time.Second})
		if !upstream.Failed(fs) {
			logFindings(t, fs)
			t.Errorf("%s: no Fail", tt.name)
			continue
		}
		if testing.Verbose() {
			t.Logf("%s:", tt.name)
			logFindings(t, fs)
		}
		f, ok := find(fs, tt.what)
		if !ok || f.Level != upstream.Fail || !strings.Contains(f.Fix, tt.fix) {
			logFindings(t, fs)
			t.Errorf("%s: want a Fail about %q with a fix saying %q", tt.name, tt.what, tt.fix)
		}
	}
}

func TestCheckReadsTheDiscoveryDocument(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(m map[string]any, issuer string)
		level upstream.Level
		what  string
		fix   string
	}{
		{"S256 not supported", func(m map[string]any, _ string) { m["code_challenge_methods_supported"] = []string{"plain"} },
			upstream.Fail, "PKCE S256 is not among", "enable PKCE with S256"},
		{"PKCE not advertised", func(m map[string]any, _ string) { delete(m, "code_challenge_methods_supported") },
			upstream.Warn, "does not list code_challenge_methods_supported", "S256"},
		{"no code flow", func(m map[string]any, _ string) { m["response_types_supported"] = []string{"token"} },
			upstream.Fail, "response type code is not among", "authorization code grant"},
		{"scope not offered", func(m map[string]any, _ string) { m["scopes_supported"] = []string{"openid"} },
			upstream.Warn, `scope "email" is not listed`, "allow it for the client"},
		{"Cognito without a revocation endpoint in discovery", func(m map[string]any, iss string) {
			delete(m, "revocation_endpoint")
			m["token_endpoint"] = iss + "/oauth2/token"
		}, upstream.Warn, "no revocation endpoint", "set the revocation URL to http://"},
	}
	key := rsaKey(t, "k1")
	for _, tt := range tests {
		f := newFakeOP(t)
		f.set(func(f *fakeOP) { tt.edit(f.meta, f.issuer); f.jwks = []jose.JSONWebKey{key} })
		cfg := upstream.Config{ID: "fake", Issuer: f.issuer, ClientID: "grantd", ClientSecret: "s", Scopes: []string{"email"}}
		fs := upstream.Check(t.Context(), cfg, "", upstream.Options{Timeout: 2 * time.Second})
		got, ok := find(fs, tt.what)
		if !ok || got.Level != tt.level || !strings.Contains(got.Fix, tt.fix) {
			logFindings(t, fs)
			t.Errorf("%s: want %s about %q with a fix saying %q", tt.name, tt.level, tt.what, tt.fix)
		}
	}
}

func TestCheckReportsADownUpstream(t *testing.T) {
	t.Parallel()
	u := upstreamtest.Start(t, upstreamtest.Options{RedirectURIs: []string{realCallback}})
	u.Stop()
	cfg := upstream.Config{ID: "cognito", Issuer: u.Issuer, ClientID: u.ClientID, ClientSecret: u.ClientSecret}
	fs := upstream.Check(t.Context(), cfg, realCallback, upstream.Options{Timeout: 2 * time.Second})
	if f, ok := find(fs, "discovery failed"); !ok || f.Level != upstream.Fail || !strings.Contains(f.Fix, "reach") {
		logFindings(t, fs)
		t.Error("want a Fail saying discovery failed, with a fix about reaching the issuer")
	}
}
