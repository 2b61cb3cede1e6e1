package upstream_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/grantd/grantd/internal/upstream"
)

func TestConfigValidate(t *testing.T) {
	ok := upstream.Config{ID: "cognito", Issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc", ClientID: "c"}
	tests := []struct {
		name string
		edit func(*upstream.Config)
		want string // "" for valid
	}{
		{"complete", func(*upstream.Config) {}, ""},
		{"loopback http issuer", func(c *upstream.Config) { c.Issuer = "http://127.0.0.1:8080/pool" }, ""},
		{"no id", func(c *upstream.Config) { c.ID = "" }, "id is empty"},
		{"no client id", func(c *upstream.Config) { c.ClientID = "" }, "client_id is empty"},
		{"http issuer", func(c *upstream.Config) { c.Issuer = "http://idp.example" }, "must use https"},
		{"issuer with query", func(c *upstream.Config) { c.Issuer = "https://idp.example/?x=1" }, "without query"},
		{"relative issuer", func(c *upstream.Config) { c.Issuer = "idp.example" }, "issuer"},
		{"scope with a space", func(c *upstream.Config) { c.Scopes = []string{"email profile"} }, "scope"},
		{"extra param overriding state", func(c *upstream.Config) { c.ExtraParams = map[string]string{"state": "x"} }, "\"state\" may not be set"},
		{"extra param overriding PKCE", func(c *upstream.Config) {
			c.ExtraParams = map[string]string{"code_challenge_method": "plain"}
		}, "may not be set"},
		{"http revocation URL", func(c *upstream.Config) { c.RevocationURL = "http://idp.example/revoke" }, "revocation_url"},
	}
	for _, tt := range tests {
		c := ok
		tt.edit(&c)
		err := c.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate = %v, want %q", tt.name, err, tt.want)
		}
		if _, nerr := upstream.New(c, upstream.Options{}); (nerr == nil) != (err == nil) {
			t.Errorf("%s: New and Validate disagree: %v vs %v", tt.name, nerr, err)
		}
	}
}

// TestNewAuthRequest: state, nonce and verifier are 256 random bits each
// (GEN-02), from the injected reader.
func TestNewAuthRequest(t *testing.T) {
	a, err := upstream.NewAuthRequest(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.State) != 43 || len(a.Nonce) != 43 || len(a.CodeVerifier) != 43 || a.State == a.Nonce || a.Nonce == a.CodeVerifier {
		t.Errorf("NewAuthRequest = %+v, want three distinct 256-bit values", a)
	}
	if _, err := upstream.NewAuthRequest(iotest.ErrReader(errors.New("no entropy"))); err == nil {
		t.Error("NewAuthRequest ignored a failing reader")
	}
}

// TestAuthCodeURL checks the request (FED-01): code flow, state, nonce,
// the S256 challenge of the verifier, the scopes, the extra parameters.
func TestAuthCodeURL(t *testing.T) {
	f := newFakeOP(t)
	p := f.provider(t, newClock(epoch), func(c *upstream.Config) {
		c.Scopes = []string{"email", "openid"}
		c.ExtraParams = map[string]string{"identity_provider": "COGNITO"}
	})
	a, _ := upstream.NewAuthRequest(rand.Reader)
	raw, err := p.AuthCodeURL(t.Context(), callback, a)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(raw)
	sum := sha256.Sum256([]byte(a.CodeVerifier))
	want := url.Values{
		"response_type": {"code"}, "client_id": {"grantd"}, "redirect_uri": {callback},
		"scope": {"openid email"}, "state": {a.State}, "nonce": {a.Nonce},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}, "identity_provider": {"COGNITO"},
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != f.issuer+"/authorize" {
		t.Errorf("endpoint %s", got)
	}
	if got := u.Query(); got.Encode() != want.Encode() {
		t.Errorf("query\n got %s\nwant %s", got.Encode(), want.Encode())
	}
	for _, bad := range []upstream.AuthRequest{
		{Nonce: a.Nonce, CodeVerifier: a.CodeVerifier},
		{State: a.State, CodeVerifier: a.CodeVerifier},
		{State: a.State, Nonce: a.Nonce, CodeVerifier: "short"},
		{State: a.State, Nonce: a.Nonce, CodeVerifier: strings.Repeat("é", 43)},
	} {
		if _, err := p.AuthCodeURL(t.Context(), callback, bad); err == nil {
			t.Errorf("AuthCodeURL accepted %+v", bad)
		}
	}
	for _, bad := range []string{"", "/callback", "https://grantd.example/cb#x"} {
		if _, err := p.AuthCodeURL(t.Context(), bad, a); err == nil {
			t.Errorf("AuthCodeURL accepted the redirect URI %q", bad)
		}
	}
}

// TestExchangeRequest checks what the token request carries: the code, the
// verifier, the same redirect URI, and client authentication as advertised.
func TestExchangeRequest(t *testing.T) {
	x := newIDTokenFixture(t)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("grantd:s3cret"))
	tests := []struct {
		name     string
		methods  []string
		secret   string
		wantAuth string
		wantForm url.Values
	}{
		{"basic", []string{"client_secret_basic", "client_secret_post"}, "s3cret", basic, url.Values{}},
		{"none advertised: basic", nil, "s3cret", basic, url.Values{}},
		{"post only", []string{"client_secret_post"}, "s3cret", "", url.Values{"client_id": {"grantd"}, "client_secret": {"s3cret"}}},
		{"public client", []string{"client_secret_basic"}, "", "", url.Values{"client_id": {"grantd"}}},
	}
	for _, tt := range tests {
		x.f.set(func(f *fakeOP) {
			f.meta["token_endpoint_auth_methods_supported"] = tt.methods
			f.tokenBody = tokenResponse(x.signRS(t, x.claims()))
			f.tokenForms, f.authHeaders = nil, nil
		})
		p := x.f.provider(t, x.clock, func(c *upstream.Config) { c.ClientSecret = tt.secret })
		if _, _, err := p.Exchange(t.Context(), callback, "code-1", x.req); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		form, auth := x.f.tokenForms[0], x.f.authHeaders[0]
		want := url.Values{"grant_type": {"authorization_code"}, "code": {"code-1"},
			"code_verifier": {x.req.CodeVerifier}, "redirect_uri": {callback}}
		for k, v := range tt.wantForm {
			want[k] = v
		}
		if form.Encode() != want.Encode() || auth != tt.wantAuth {
			t.Errorf("%s: form %s auth %q\nwant form %s auth %q", tt.name, form.Encode(), auth, want.Encode(), tt.wantAuth)
		}
	}
}

func TestExchangeReturnsTheTokens(t *testing.T) {
	x := newIDTokenFixture(t)
	idt := x.signRS(t, x.claims())
	x.f.set(func(f *fakeOP) { f.tokenBody = tokenResponse(idt) })
	_, tok, err := x.f.provider(t, x.clock).Exchange(t.Context(), callback, "c", x.req)
	want := upstream.Tokens{IDToken: idt, AccessToken: "upstream-access", RefreshToken: "upstream-refresh",
		TokenType: "Bearer", Scope: "openid email", Expiry: epoch.Add(time.Hour)}
	if err != nil || tok != want {
		t.Errorf("Exchange tokens = %+v, %v\nwant %+v", tok, err, want)
	}
}

// TestTokenEndpointErrors: only an OAuth error the upstream answered is an
// *Error; anything else is ErrUnavailable (REL-17).
func TestTokenEndpointErrors(t *testing.T) {
	x := newIDTokenFixture(t)
	tests := []struct {
		name     string
		status   int
		body     any
		wantCode string // "" for ErrUnavailable
	}{
		{"invalid_grant", 400, map[string]string{"error": "invalid_grant", "error_description": "used"}, "invalid_grant"},
		{"invalid_client", 401, map[string]string{"error": "invalid_client"}, "invalid_client"},
		{"error in a 200", 200, map[string]string{"error": "invalid_grant"}, "invalid_grant"},
		{"500 with an OAuth error", 500, map[string]string{"error": "server_error"}, ""},
		{"503 page", 503, "<html>down</html>", ""},
		{"429", 429, map[string]string{"error": "slow_down"}, ""},
		{"400 without an error", 400, "<html>bad</html>", ""},
		{"200 not JSON", 200, "not json", ""},
		{"200 without access_token", 200, map[string]string{"token_type": "Bearer"}, ""},
		{"200 larger than 1 MiB", 200, `{"access_token":"` + strings.Repeat("a", upstream.MaxResponseBytes) + `"}`, ""},
	}
	for _, tt := range tests {
		x.f.set(func(f *fakeOP) { f.tokenStatus, f.tokenBody = tt.status, tt.body })
		_, _, err := x.f.provider(t, x.clock).Exchange(t.Context(), callback, "c", x.req)
		var oe *upstream.Error
		switch {
		case tt.wantCode != "" && (!errors.As(err, &oe) || oe.Code != tt.wantCode):
			t.Errorf("%s: %v, want *Error %s", tt.name, err, tt.wantCode)
		case tt.wantCode == "" && (!errors.Is(err, upstream.ErrUnavailable) || errors.As(err, &oe)):
			t.Errorf("%s: %v, want ErrUnavailable", tt.name, err)
		}
	}
}

func TestRefresh(t *testing.T) {
	x := newIDTokenFixture(t)
	p := x.f.provider(t, x.clock)
	tests := []struct {
		name    string
		body    map[string]any
		subject string
		wantRT  string
		wantErr error
	}{
		{"not rotated: keeps the refresh token", map[string]any{"access_token": "a2", "token_type": "Bearer", "id_token": x.signRS(t, x.with(map[string]any{"nonce": nil}))},
			"user-1", "old-refresh", nil},
		{"rotated", map[string]any{"access_token": "a2", "token_type": "Bearer", "refresh_token": "new-refresh"},
			"user-1", "new-refresh", nil},
		{"ID token for another subject", map[string]any{"access_token": "a2", "token_type": "Bearer", "id_token": x.signRS(t, x.with(map[string]any{"sub": "user-2"}))},
			"user-1", "", upstream.ErrInvalidIDToken},
		{"expired ID token", map[string]any{"access_token": "a2", "token_type": "Bearer", "id_token": x.signRS(t, x.with(map[string]any{"exp": epoch.Add(-time.Hour).Unix()}))},
			"user-1", "", upstream.ErrInvalidIDToken},
	}
	for _, tt := range tests {
		x.f.set(func(f *fakeOP) { f.tokenStatus, f.tokenBody, f.tokenForms = 200, tt.body, nil })
		tok, err := p.Refresh(t.Context(), "old-refresh", tt.subject)
		if !errors.Is(err, tt.wantErr) || tt.wantErr == nil && (tok.RefreshToken != tt.wantRT || tok.AccessToken != "a2") {
			t.Errorf("%s: Refresh = %+v, %v", tt.name, tok, err)
		}
		if f := x.f.tokenForms[0]; f.Get("grant_type") != "refresh_token" || f.Get("refresh_token") != "old-refresh" {
			t.Errorf("%s: refresh request %v", tt.name, f)
		}
	}
	x.f.set(func(f *fakeOP) { f.tokenStatus, f.tokenBody = 400, map[string]string{"error": "invalid_grant"} })
	var oe *upstream.Error
	if _, err := p.Refresh(t.Context(), "old-refresh", "user-1"); !errors.As(err, &oe) || oe.Code != "invalid_grant" {
		t.Errorf("dead refresh token: %v, want *Error invalid_grant", err)
	}
	x.f.set(func(f *fakeOP) { f.tokenStatus, f.tokenBody = 502, "bad gateway" })
	if _, err := p.Refresh(t.Context(), "old-refresh", "user-1"); !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("upstream 502: %v, want ErrUnavailable", err)
	}
}

func TestRevoke(t *testing.T) {
	f := newFakeOP(t)
	c := newClock(epoch)
	if err := f.provider(t, c).Revoke(t.Context(), "rt-1", "refresh_token"); err != nil {
		t.Fatal(err)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("grantd:s3cret"))
	if got := f.revokeForms[0]; got.Encode() != "token=rt-1&token_type_hint=refresh_token" || f.authHeaders[0] != basic {
		t.Errorf("revocation request %s %q", got.Encode(), f.authHeaders[0])
	}

	f.set(func(f *fakeOP) { f.revokeCode = 400 })
	var oe *upstream.Error
	if err := f.provider(t, c).Revoke(t.Context(), "at", ""); !errors.As(err, &oe) || oe.Code != "unsupported_token_type" {
		t.Errorf("refused revocation: %v", err)
	}
	f.set(func(f *fakeOP) { f.revokeCode = 503 })
	if err := f.provider(t, c).Revoke(t.Context(), "rt", ""); !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("revocation 503: %v, want ErrUnavailable", err)
	}

	f.set(func(f *fakeOP) { delete(f.meta, "revocation_endpoint"); f.revokeCode = 200 })
	if err := f.provider(t, c).Revoke(t.Context(), "rt", ""); !errors.Is(err, upstream.ErrNoRevocation) {
		t.Errorf("no revocation endpoint: %v, want ErrNoRevocation", err)
	}
	p := f.provider(t, c, func(c *upstream.Config) { c.RevocationURL = f.issuer + "/revoke" })
	if err := p.Revoke(t.Context(), "rt-2", ""); err != nil || f.revokeForms[len(f.revokeForms)-1].Get("token") != "rt-2" {
		t.Errorf("configured revocation URL: %v", err)
	}
}

// TestCallback reads authorization responses (FED-01, FED-03): an upstream
// error is an *Error to show as a page, a foreign iss is refused.
func TestCallback(t *testing.T) {
	f := newFakeOP(t)
	q := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name      string
		promise   bool // authorization_response_iss_parameter_supported
		query     url.Values
		wantCode  string
		wantError string // *Error code
		wantErr   error
	}{
		{"code", false, q("code", "c1", "state", "s"), "c1", "", nil},
		{"code and our iss", true, q("code", "c1", "iss", f.issuer), "c1", "", nil},
		{"user cancelled", false, q("error", "access_denied", "error_description", "End-User aborted"), "", "access_denied", nil},
		{"another issuer (mix-up)", false, q("code", "c1", "iss", "https://evil.example"), "", "", upstream.ErrInvalidCallback},
		{"error from another issuer", false, q("error", "access_denied", "iss", "https://evil.example"), "", "", upstream.ErrInvalidCallback},
		{"no iss though promised", true, q("code", "c1"), "", "", upstream.ErrInvalidCallback},
		{"no code", false, q("state", "s"), "", "", upstream.ErrInvalidCallback},
	}
	for _, tt := range tests {
		f.set(func(f *fakeOP) { f.meta["authorization_response_iss_parameter_supported"] = tt.promise })
		code, err := f.provider(t, newClock(epoch)).Callback(t.Context(), tt.query)
		var oe *upstream.Error
		switch {
		case tt.wantError != "":
			if !errors.As(err, &oe) || oe.Code != tt.wantError || oe.Status != 0 {
				t.Errorf("%s: %v, want *Error %s", tt.name, err, tt.wantError)
			}
		case code != tt.wantCode || !errors.Is(err, tt.wantErr):
			t.Errorf("%s: Callback = %q, %v; want %q, %v", tt.name, code, err, tt.wantCode, tt.wantErr)
		}
	}
}

// TestDiscoveryIsRetriedThenCached: a failed discovery is not cached; a
// successful one is, and concurrent first callers share one fetch.
func TestDiscoveryIsRetriedThenCached(t *testing.T) {
	f := newFakeOP(t)
	p := f.provider(t, newClock(epoch))
	a, _ := upstream.NewAuthRequest(rand.Reader)
	f.set(func(f *fakeOP) { f.metaStatus = 503 })
	if _, err := p.AuthCodeURL(t.Context(), callback, a); !errors.Is(err, upstream.ErrUnavailable) {
		t.Fatalf("discovery 503: %v, want ErrUnavailable", err)
	}
	f.set(func(f *fakeOP) { f.metaStatus = 0 })
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := p.AuthCodeURL(t.Context(), callback, a); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := f.discoveryHits.Load(); n != 2 {
		t.Errorf("discovery fetched %d times, want 2 (one failure, then one shared success)", n)
	}
}

func TestDiscoveryMustMatch(t *testing.T) {
	tests := []struct {
		name string
		edit func(m map[string]any, issuer string)
		want string
	}{
		{"issuer with a trailing slash", func(m map[string]any, iss string) { m["issuer"] = iss + "/" }, "issuer"},
		{"no token endpoint", func(m map[string]any, _ string) { delete(m, "token_endpoint") }, "token_endpoint"},
		{"no jwks_uri", func(m map[string]any, _ string) { delete(m, "jwks_uri") }, "jwks_uri"},
		{"plain http endpoint", func(m map[string]any, _ string) { m["token_endpoint"] = "http://idp.example/token" }, "https"},
		{"only HS256", func(m map[string]any, _ string) {
			m["id_token_signing_alg_values_supported"] = []string{"HS256", "none"}
		}, "signing algorithm"},
	}
	for _, tt := range tests {
		f := newFakeOP(t)
		f.set(func(f *fakeOP) { tt.edit(f.meta, f.issuer) })
		a, _ := upstream.NewAuthRequest(rand.Reader)
		_, err := f.provider(t, newClock(epoch)).AuthCodeURL(t.Context(), callback, a)
		if !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want ErrUnavailable naming %q", tt.name, err, tt.want)
		}
	}
}

// TestSlowUpstreamTimesOut: an upstream that accepts connections and never
// answers costs one timeout per call, then ErrUnavailable (REL-17).
func TestSlowUpstreamTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	t.Cleanup(func() { ln.Close(); conns.Wait() })
	conns.Go(func() {
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	})
	cfg := upstream.Config{ID: "slow", Issuer: "http://" + ln.Addr().String(), ClientID: "grantd"}
	p, err := upstream.New(cfg, upstream.Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := upstream.NewAuthRequest(rand.Reader)
	start := time.Now()
	_, err = p.AuthCodeURL(t.Context(), callback, a)
	if !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("black-holed upstream: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v with a 300ms timeout", d)
	}
}

// TestSlowTokenEndpointTimesOut: discovery works, the token endpoint hangs.
func TestSlowTokenEndpointTimesOut(t *testing.T) {
	x := newIDTokenFixture(t)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(func() { close(release); slow.Close() })
	x.f.set(func(f *fakeOP) { f.meta["token_endpoint"] = slow.URL + "/token" })
	p, _ := upstream.New(upstream.Config{ID: "fake", Issuer: x.f.issuer, ClientID: "grantd", ClientSecret: "s"},
		upstream.Options{Timeout: 300 * time.Millisecond, Now: x.clock.Now})
	start := time.Now()
	_, _, err := p.Exchange(t.Context(), callback, "c", x.req)
	if !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("hanging token endpoint: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v with a 300ms timeout", d)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	x := newIDTokenFixture(t)
	var hits bytes.Buffer
	var mu sync.Mutex
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits.WriteString(r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	t.Cleanup(target.Close)
	redirector := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	t.Cleanup(redirector.Close)
	x.f.set(func(f *fakeOP) { f.meta["token_endpoint"] = redirector.URL })
	_, _, err := x.f.provider(t, x.clock).Exchange(t.Context(), callback, "c", x.req)
	if !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("redirected token endpoint: %v, want ErrUnavailable", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits.Len() > 0 {
		t.Errorf("client credentials followed a redirect: %q", hits.String())
	}
}
