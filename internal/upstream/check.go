package upstream

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/oauth2"
)

// Level grades a Finding.
type Level int

const (
	// Pass: the check found what grantd needs.
	Pass Level = iota
	// Warn: grantd works, with a limit the operator should know of.
	Warn
	// Fail: sign-in (or refresh) through this upstream will not work.
	Fail
)

func (l Level) String() string {
	switch l {
	case Pass:
		return "ok"
	case Warn:
		return "warning"
	}
	return "FAIL"
}

// Finding is one result of Check: what was checked and seen and, when it
// is not a Pass, what to change.
type Finding struct {
	Level Level
	What  string
	Fix   string
}

// String is the finding as one line, and its fix on a second line.
func (f Finding) String() string {
	s := fmt.Sprintf("%-7s %s", f.Level, f.What)
	if f.Fix != "" && f.Level != Pass {
		s += "\n        fix: " + f.Fix
	}
	return s
}

// Failed reports whether any finding is a Fail.
func Failed(fs []Finding) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool { return f.Level == Fail })
}

// Check tests an upstream configuration against the live provider, for
// `grantd upstream test`: the configuration itself; discovery and an exact
// issuer; the endpoints, response type code, PKCE S256, the signing
// algorithms and scopes advertised; the JWKS; an authorization request for
// redirectURI (grantd's /callback; skipped when empty), which shows whether
// the client id and redirect URI are registered; a token request with a
// made-up code, which shows whether the client credentials are accepted;
// and the revocation endpoint. It stops at the first finding that makes
// the rest meaningless. Each network call is bounded by the timeout.
func Check(ctx context.Context, cfg Config, redirectURI string, o Options) []Finding {
	var out []Finding
	add := func(l Level, what, fix string) { out = append(out, Finding{l, what, fix}) }
	p, err := New(cfg, o)
	if err != nil {
		add(Fail, "configuration: "+err.Error(), "correct the setting named")
		return out
	}
	add(Pass, "configuration is complete", "")
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	m, err := fetchMetadata(cctx, p)
	cancel()
	if err != nil {
		what, fix := discoveryAdvice(cfg.Issuer, err)
		add(Fail, what, fix)
		return out
	}
	add(Pass, "discovery document found at "+discoveryURL(cfg.Issuer)+"; its issuer matches exactly", "")
	out = append(out, metadataFindings(cfg, m)...)
	d := p.newDiscovered(m)
	if err := d.keys.prepare(ctx, ""); err != nil {
		add(Fail, fmt.Sprintf("JWKS at %s: %v", m.JWKSURI, err), "the upstream must publish its ID token signing keys at jwks_uri")
		return out
	}
	add(Pass, fmt.Sprintf("JWKS at %s holds %d usable signing key(s)", m.JWKSURI, d.keys.count()), "")
	if redirectURI == "" {
		add(Warn, "authorization request not tried: no redirect URI given", "give grantd's callback URL (<issuer>/callback)")
	} else {
		out = append(out, p.probeAuthorization(ctx, d, redirectURI))
	}
	out = append(out, p.probeToken(ctx, d, redirectURI))
	return append(out, revocationFinding(cfg, m))
}

// discoveryAdvice explains a failed discovery.
func discoveryAdvice(issuer string, err error) (what, fix string) {
	var mismatch *issuerMismatch
	switch {
	case errors.As(err, &mismatch):
		return "issuer mismatch: " + err.Error(),
			fmt.Sprintf("set the issuer to exactly %q", mismatch.Discovered)
	case isStatus(err, 400, 499):
		return "no discovery document: " + err.Error(),
			"the issuer must be the provider's issuer URL; for Amazon Cognito " +
				"https://cognito-idp.<region>.amazonaws.com/<user pool id>, not the domain of its sign-in pages"
	case isStatus(err, 500, 599) || errors.Is(err, context.DeadlineExceeded):
		return "discovery failed: " + err.Error(), "the upstream is down or slow; try again, and check the issuer URL"
	}
	return "discovery failed: " + err.Error(),
		"check the issuer URL, and that grantd can reach it (DNS, proxy, firewall, TLS)"
}

func metadataFindings(cfg Config, m *metadata) []Finding {
	var out []Finding
	add := func(l Level, what, fix string) { out = append(out, Finding{l, what, fix}) }
	if slices.Contains(m.ResponseTypesSupported, "code") {
		add(Pass, "response type code (authorization code flow) is supported", "")
	} else {
		add(Fail, fmt.Sprintf("response type code is not among %q", m.ResponseTypesSupported),
			"enable the authorization code grant for the client (Amazon Cognito: app client, OAuth grant types)")
	}
	switch {
	case slices.Contains(m.CodeChallengeMethodsSupported, "S256"):
		add(Pass, "PKCE with S256 is supported", "")
	case len(m.CodeChallengeMethodsSupported) == 0:
		add(Warn, "the discovery document does not list code_challenge_methods_supported; grantd sends an S256 challenge anyway",
			"make sure the provider supports PKCE with S256 (Amazon Cognito does)")
	default:
		add(Fail, fmt.Sprintf("PKCE S256 is not among %q; grantd requires it", m.CodeChallengeMethodsSupported),
			"enable PKCE with S256 at the provider")
	}
	algs := signingAlgs(m.IDTokenSigningAlgValuesSupported)
	add(Pass, fmt.Sprintf("ID tokens signed with %v", algs), "")
	if len(m.ScopesSupported) > 0 {
		for _, s := range cfg.scopes() {
			if !slices.Contains(m.ScopesSupported, s) {
				add(Warn, fmt.Sprintf("scope %q is not listed in scopes_supported %q", s, m.ScopesSupported),
					"remove it, or allow it for the client (Amazon Cognito: app client, OpenID Connect scopes)")
			}
		}
	}
	if cfg.ClientSecret == "" {
		add(Warn, "no client secret: grantd is a public client at the upstream (PKCE alone)",
			"use a confidential client with a secret (Amazon Cognito: an app client with a client secret)")
	} else if basicAuth(m) {
		add(Pass, "client authentication: client_secret_basic", "")
	} else {
		add(Pass, "client authentication: client_secret_post", "")
	}
	return out
}

// errorWord finds an OAuth error code in an error page.
var errorWord = regexp.MustCompile(`\b(invalid_[a-z_]+|unauthorized_client|unsupported_response_type|access_denied|redirect_mismatch)\b`)

// probeAuthorization sends an authorization request as a browser would and
// reads the answer without following it.
func (p *Provider) probeAuthorization(ctx context.Context, d *discovered, redirectURI string) Finding {
	a, err := NewAuthRequest(rand.Reader)
	if err != nil {
		return Finding{Fail, err.Error(), ""}
	}
	authURL := p.oauthConfig(d, redirectURI).AuthCodeURL(a.State, oauth2.S256ChallengeOption(a.CodeVerifier))
	cctx, cancel := p.call(ctx, CallCheck)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, authURL, nil)
	if err != nil {
		return Finding{Fail, "authorization request: " + err.Error(), ""}
	}
	res, err := p.client.Do(req)
	if err != nil {
		return Finding{Fail, "authorization endpoint: " + err.Error(), "check that grantd can reach " + d.meta.AuthorizationEndpoint}
	}
	defer res.Body.Close()
	registered := fmt.Sprintf("register %s as an allowed callback (redirect) URL of client %s", redirectURI, p.cfg.ClientID)
	if loc, err := res.Location(); err == nil {
		if code := loc.Query().Get("error"); code != "" {
			what := fmt.Sprintf("the authorization endpoint refused the request: %s %s", code, loc.Query().Get("error_description"))
			return Finding{Fail, what, authorizationFix(code, registered)}
		}
		return Finding{Pass, "the authorization endpoint accepts the client and redirect URI (it redirects to " + loc.Host + ")", ""}
	}
	if res.StatusCode == http.StatusOK {
		return Finding{Pass, "the authorization endpoint accepts the client and redirect URI (it shows a page)", ""}
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	code := errorWord.FindString(string(body))
	what := strings.TrimSpace(fmt.Sprintf("the authorization endpoint answered HTTP %d %s", res.StatusCode, code))
	fix := authorizationFix(code, registered)
	if code == "" {
		fix = "check the client id, and " + registered + "; for Amazon Cognito, the user pool needs a domain"
	}
	return Finding{Fail, what, fix}
}

func authorizationFix(code, registered string) string {
	switch code {
	case "redirect_mismatch", "invalid_redirect_uri":
		return registered
	case "invalid_client", "unauthorized_client":
		return "check the client id, and that it may use the authorization code grant"
	case "invalid_scope":
		return "request only scopes the client is allowed"
	}
	return registered
}

// probeToken redeems a made-up code: an upstream that accepts the client's
// credentials answers invalid_grant.
func (p *Provider) probeToken(ctx context.Context, d *discovered, redirectURI string) Finding {
	a, err := NewAuthRequest(rand.Reader)
	if err != nil {
		return Finding{Fail, err.Error(), ""}
	}
	cctx, cancel := p.call(ctx, CallCheck)
	defer cancel()
	_, err = p.oauthConfig(d, redirectURI).Exchange(cctx, a.State, oauth2.VerifierOption(a.CodeVerifier))
	err = tokenError(p.cfg.ID, "token request", err)
	var oe *Error
	switch {
	case errors.As(err, &oe) && oe.Code == "invalid_grant":
		return Finding{Pass, "the token endpoint answers and accepts the client credentials (a made-up code got invalid_grant)", ""}
	case errors.As(err, &oe) && oe.Code == "invalid_client":
		return Finding{Fail, "the token endpoint refused the client credentials (invalid_client)",
			"check the client id and secret (Amazon Cognito: the app client's client secret)"}
	case errors.As(err, &oe) && oe.Code == "unauthorized_client":
		return Finding{Fail, "the client may not use the authorization code grant (unauthorized_client)",
			"enable the authorization code grant for the client"}
	case errors.As(err, &oe):
		return Finding{Warn, "the token endpoint answered a made-up code with " + oe.Error(),
			"expected invalid_grant; check the client settings"}
	}
	return Finding{Fail, "token endpoint: " + err.Error(), "check that grantd can reach " + d.meta.TokenEndpoint}
}

func revocationFinding(cfg Config, m *metadata) Finding {
	switch {
	case m.RevocationEndpoint != "":
		return Finding{Pass, "revocation endpoint " + m.RevocationEndpoint, ""}
	case cfg.RevocationURL != "":
		return Finding{Pass, "revocation endpoint " + cfg.RevocationURL + " (configured; discovery names none)", ""}
	}
	fix := "set the revocation URL if the provider has one"
	if u, err := url.Parse(m.TokenEndpoint); err == nil && strings.HasSuffix(u.Path, "/oauth2/token") {
		u.Path = strings.TrimSuffix(u.Path, "/token") + "/revoke"
		fix = "set the revocation URL to " + u.String() + " (Amazon Cognito: enable token revocation for the app client)"
	}
	return Finding{Warn, "no revocation endpoint: a device's POST /revoke of a passthrough refresh token is not passed upstream", fix}
}
