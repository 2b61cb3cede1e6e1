package upstream_test

import (
	"crypto/rand"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/upstream"
	"github.com/grantd/grantd/internal/upstream/upstreamtest"
)

// The tests in this file run against a real OpenID provider (panva's
// oidc-provider, configured like an Amazon Cognito user pool): see package
// upstreamtest.

const realCallback = "http://127.0.0.1:1/callback"

func realProvider(t *testing.T, u *upstreamtest.Upstream, edit ...func(*upstream.Config)) *upstream.Provider {
	t.Helper()
	cfg := upstream.Config{
		ID: "cognito", Name: "Acme", Issuer: u.Issuer, ClientID: u.ClientID, ClientSecret: u.ClientSecret,
		Scopes: []string{"email", "profile"}, UsernameClaim: "cognito:username",
	}
	for _, e := range edit {
		e(&cfg)
	}
	p, err := upstream.New(cfg, upstream.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// signIn runs the browser's part: AuthCodeURL, sign-in as user, Callback.
func signIn(t *testing.T, u *upstreamtest.Upstream, p *upstream.Provider, user upstreamtest.User) (string, upstream.AuthRequest) {
	t.Helper()
	a, err := upstream.NewAuthRequest(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	authURL, err := p.AuthCodeURL(t.Context(), realCallback, a)
	if err != nil {
		t.Fatal(err)
	}
	back := u.SignIn(t, authURL, user.Username, user.Password)
	if got := back.Query().Get("state"); got != a.State {
		t.Fatalf("callback state %q, want %q", got, a.State)
	}
	code, err := p.Callback(t.Context(), back.Query())
	if err != nil {
		t.Fatalf("callback %s: %v", back, err)
	}
	return code, a
}

func TestRealSignIn(t *testing.T) {
	t.Parallel()
	u := upstreamtest.Start(t, upstreamtest.Options{RedirectURIs: []string{realCallback}})
	tests := []struct {
		user  upstreamtest.User
		claim string
		want  upstream.Identity
	}{
		{upstreamtest.Alice(), "cognito:username", upstream.Identity{Subject: upstreamtest.Alice().Subject,
			Username: "alice", Email: "alice@example.com", EmailVerified: true}},
		{upstreamtest.Bob(), "cognito:username", upstream.Identity{Subject: upstreamtest.Bob().Subject,
			Username: "bob", Email: "bob@example.com"}},
		{upstreamtest.Bob(), "", upstream.Identity{Subject: upstreamtest.Bob().Subject, // falls back to email
			Username: "bob@example.com", Email: "bob@example.com"}},
		{upstreamtest.Carol(), "", upstream.Identity{Subject: upstreamtest.Carol().Subject, // to sub
			Username: upstreamtest.Carol().Subject}},
	}
	for _, tt := range tests {
		p := realProvider(t, u, func(c *upstream.Config) { c.UsernameClaim = tt.claim })
		code, a := signIn(t, u, p, tt.user)
		before := time.Now()
		id, tok, err := p.Exchange(t.Context(), realCallback, code, a)
		if err != nil {
			t.Fatalf("%s: Exchange: %v", tt.user.Username, err)
		}
		if id != tt.want {
			t.Errorf("%s, claim %q: identity %+v, want %+v", tt.user.Username, tt.claim, id, tt.want)
		}
		if tok.IDToken == "" || tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" ||
			tok.Scope != "openid email profile" || tok.Expiry.Before(before.Add(59*time.Minute)) {
			t.Errorf("%s: tokens %+v", tt.user.Username, tok)
		}
	}
}

// TestRealCodeIsSingleUse: the upstream refuses a code twice, and a code
// with another PKCE verifier, with invalid_grant (FED-01, FED-04).
func TestRealCodeIsSingleUse(t *testing.T) {
	t.Parallel()
	u := upstreamtest.Start(t, upstreamtest.Options{RedirectURIs: []string{realCallback}})
	p := realProvider(t, u)
	var oe *upstream.Error

	code, a := signIn(t, u, p, upstreamtest.Alice())
	other := a
	other.CodeVerifier = a.CodeVerifier[:42] + "x"
	if _, _, err := p.Exchange(t.Context(), realCallback, code, other); !errors.As(err, &oe) || oe.Code != "invalid_grant" {
		t.Errorf("another verifier: %v, want invalid_grant", err)
	}

	code, a = signIn(t, u, p, upstreamtest.Alice())
	if _, _, err := p.Exchange(t.Context(), realCallback, code, a); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Exchange(t.Context(), realCallback, code, a); !errors.As(err, &oe) || oe.Code != "invalid_grant" {
		t.Errorf("second use: %v, want invalid_grant", err)
	}
}

func TestRealRefreshAndRevoke(t *testing.T) {
	t.Parallel()
	u := upstreamtest.Start(t, upstreamtest.Options{RedirectURIs: []string{realCallback}})
	p := realProvider(t, u)
	code, a := signIn(t, u, p, upstreamtest.Alice())
	id, tok, err := p.Exchange(t.Context(), realCallback, code, a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Refresh(t.Context(), tok.RefreshToken, id.Subject)
	if err != nil {
		t.Fatal(err)
	}
	if got.RefreshToken != tok.RefreshToken {
		t.Errorf("refresh token changed; Cognito does not rotate and the answer has none")
	}
	if got.AccessToken == "" || got.AccessToken == tok.AccessToken || got.IDToken == "" {
		t.Errorf("refreshed tokens %+v", got)
	}
	if _, err := p.Refresh(t.Context(), tok.RefreshToken, upstreamtest.Bob().Subject); !errors.Is(err, upstream.ErrInvalidIDToken) {
		t.Errorf("refresh for another subject: %v, want ErrInvalidIDToken", err)
	}

	if err := p.Revoke(t.Context(), tok.RefreshToken, "refresh_token"); err != nil {
		t.Fatal(err)
	}
	var oe *upstream.Error
	if _, err := p.Refresh(t.Context(), tok.RefreshToken, id.Subject); !errors.As(err, &oe) || oe.Code != "invalid_grant" {
		t.Errorf("refresh after revocation: %v, want *Error invalid_grant", err)
	}
}

func TestRealCancelAndForgedCallbacks(t *testing.T) {
	t.Parallel()
	u := upstreamtest.Start(t, upstreamtest.Options{RedirectURIs: []string{realCallback}})
	p := realProvider(t, u)
	a, _ := upstream.NewAuthRequest(rand.Reader)
	authURL, err := p.AuthCodeURL(t.Context(), realCallback, a)
	if err != nil {
		t.Fatal(err)
	}
	back := u.Cancel(t, authURL)
	var oe *upstream.Error
	if _, err := p.Callback(t.Context(), back.Query()); !errors.As(err, &oe) || oe.Code != "access_denied" {
		t.Errorf("cancelled sign-in: %v, want *Error access_denied", err)
	}

	// oidc-provider promises iss (RFC 9207): a callback without it, or with
	// another, is refused.
	q := url.Values{"code": {"c"}, "state": {a.State}}
	if _, err := p.Callback(t.Context(), q); !errors.Is(err, upstream.ErrInvalidCallback) {
		t.Errorf("callback without iss: %v", err)
	}
	q.Set("iss", "https://evil.example")
	if _, err := p.Callback(t.Context(), q); !errors.Is(err, upstream.ErrInvalidCallback) {
		t.Errorf("callback with a foreign iss: %v", err)
	}
}

// TestRealUpstreamStopsMidFlow: the user signed in, then the upstream went
// away before the code exchange (REL-17): ErrUnavailable, quickly, and the
// same for refresh and revocation.
func TestRealUpstreamStopsMidFlow(t *testing.T) {
	t.Parallel()
	u := upstreamtest.Start(t, upstreamtest.Options{RedirectURIs: []string{realCallback}})
	p := realProvider(t, u)
	code, a := signIn(t, u, p, upstreamtest.Alice())
	u.Stop()

	start := time.Now()
	_, _, err := p.Exchange(t.Context(), realCallback, code, a)
	if !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("exchange with the upstream down: %v, want ErrUnavailable", err)
	}
	if _, err := p.Refresh(t.Context(), "rt", "sub"); !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("refresh with the upstream down: %v, want ErrUnavailable", err)
	}
	if err := p.Revoke(t.Context(), "rt", ""); !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("revoke with the upstream down: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("three calls to a stopped upstream took %v", d)
	}
}
