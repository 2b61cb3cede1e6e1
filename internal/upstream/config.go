package upstream

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Limits of every Provider.
const (
	// MaxTimeout bounds each upstream call (discovery, JWKS, token,
	// revocation): a slow upstream costs a user at most this per call.
	MaxTimeout = 10 * time.Second
	// MaxResponseBytes bounds every upstream response body; a larger one
	// is refused as malformed (ErrUnavailable).
	MaxResponseBytes = 1 << 20
	// ClockSkew is the leeway allowed between the upstream's clock and
	// ours when checking exp, iat and nbf.
	ClockSkew = time.Minute
	// JWKSRefetchInterval is the least time between two fetches of the
	// JWKS caused by a token signed with an unknown key id.
	JWKSRefetchInterval = time.Minute
	// JWKSMaxAge is how long fetched keys are used before they are
	// fetched again (the old keys stay in use if that fails).
	JWKSMaxAge = 24 * time.Hour
)

// Config is one upstream OpenID Connect provider as an operator configures
// it.
type Config struct {
	// ID is grantd's name for the upstream ("cognito"): it keys federated
	// identities and appears in logs and errors.
	ID string
	// Name is shown to users ("Sign in with Acme").
	Name string
	// Issuer is the provider's issuer identifier, compared byte for byte
	// with the discovery document and every ID token. For Amazon Cognito:
	// https://cognito-idp.<region>.amazonaws.com/<user pool id>.
	Issuer string
	// ClientID and ClientSecret are grantd's client at the upstream. An
	// empty secret makes grantd a public client (PKCE alone).
	ClientID, ClientSecret string
	// Scopes requested; "openid" is always included (and put first).
	// Default: openid alone.
	Scopes []string
	// UsernameClaim names the ID token claim shown as the username
	// ("cognito:username"). Default "preferred_username". When the claim
	// is missing or empty: preferred_username, then email, then sub.
	UsernameClaim string
	// ExtraParams are added to the authorization request
	// (identity_provider=COGNITO). They may not set a parameter the
	// protocol sets (state, nonce, PKCE, redirect_uri, …).
	ExtraParams map[string]string
	// RevocationURL is the RFC 7009 revocation endpoint, for a provider
	// whose discovery document does not name one. Discovery wins when it
	// does.
	RevocationURL string
}

// Options are a Provider's dependencies. The zero value is usable.
type Options struct {
	// HTTPClient makes the upstream calls. Default: a client with
	// http.DefaultTransport. It is copied, not changed: the copy never
	// follows redirects and bounds response bodies to MaxResponseBytes.
	HTTPClient *http.Client
	// Timeout bounds each upstream call; default and maximum MaxTimeout.
	Timeout time.Duration
	// Now is the clock for token validity and the JWKS cache. Default
	// time.Now.
	Now func() time.Time
	// Logger receives discovery and key-fetch events and the reasons ID
	// tokens are refused (never token contents). Default: discard.
	Logger *slog.Logger
	// Observe, when set, is told of every call to the provider once its
	// response headers arrive or it fails: which call (CallDiscovery,
	// CallKeys, CallToken, CallRefresh, CallRevocation, CallCheck), the
	// HTTP status (0 when there is none) and how long it took.
	Observe func(upstream, call string, status int, err error, d time.Duration)
}

// The calls an Observe function is told of.
const (
	CallDiscovery  = "discovery"
	CallKeys       = "jwks"
	CallToken      = "token"
	CallRefresh    = "refresh"
	CallRevocation = "revocation"
	CallCheck      = "check"
)

// reservedParams are set by AuthCodeURL itself; ExtraParams may not
// replace them.
func reservedParam(name string) bool {
	switch name {
	case "response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
		"code_challenge", "code_challenge_method", "response_mode", "request", "request_uri",
		"client_secret", "code_verifier":
		return true
	}
	return false
}

// Validate checks the configuration without contacting the upstream. Its
// messages name the setting at fault.
func (c Config) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("id is empty"))
	}
	if err := checkIssuer(c.Issuer); err != nil {
		errs = append(errs, err)
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("client_id is empty"))
	}
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			errs = append(errs, fmt.Errorf("scope %q is not a valid scope token", s))
		}
	}
	for k := range c.ExtraParams {
		if k == "" || reservedParam(k) {
			errs = append(errs, fmt.Errorf("extra parameter %q may not be set: the protocol sets it", k))
		}
	}
	if c.RevocationURL != "" {
		if err := checkEndpoint("revocation_url", c.RevocationURL, c.Issuer); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("upstream %q: %w", c.ID, err)
	}
	return nil
}

// checkIssuer accepts an https URL, or http on a loopback address (tests),
// without query or fragment (OpenID Connect Discovery §2).
func checkIssuer(iss string) error {
	u, err := url.Parse(iss)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("issuer %q is not an https URL without query or fragment", iss)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return fmt.Errorf("issuer %q must use https", iss)
	}
	return nil
}

// checkEndpoint accepts an https URL, or http when the issuer itself is
// plain http on loopback.
func checkEndpoint(name, endpoint, issuer string) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("%s %q is not an absolute URL", name, endpoint)
	}
	if u.Scheme == "https" {
		return nil
	}
	if iu, err := url.Parse(issuer); err == nil && u.Scheme == "http" && iu.Scheme == "http" && isLoopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("%s %q must use https", name, endpoint)
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// scopes returns the scopes to request: openid first, then the configured
// ones, without duplicates.
func (c Config) scopes() []string {
	out := []string{"openid"}
	for _, s := range c.Scopes {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (c Config) usernameClaim() string {
	if c.UsernameClaim == "" {
		return "preferred_username"
	}
	return c.UsernameClaim
}
