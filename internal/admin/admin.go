// Package admin holds the operator's actions on grantd's state — creating
// clients and users, preparing a demo — with the validation they need. The
// command line and tests call it; it knows nothing of flags or HTTP.
package admin

import (
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// Grant types a client may be given.
const (
	GrantDeviceCode        = oauth.GrantDeviceCode
	GrantRefreshToken      = oauth.GrantRefreshToken
	GrantAuthorizationCode = oauth.GrantAuthorizationCode
)

var (
	clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9._~:-]{1,128}$`)
	usernamePattern = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,64}$`)
)

// MinPasswordLength is the shortest password an operator may set.
const MinPasswordLength = 8

// ClientSpec describes a client to create.
type ClientSpec struct {
	ID           string
	Secret       string // empty: generate one, unless Public
	Public       bool
	Name         string
	RedirectURIs []string
	GrantTypes   []string // empty: the device grant and refresh_token
	Scopes       []string
	// AuthMethod pins the token endpoint authentication method:
	// client_secret_basic, client_secret_post or none, or AWS IoT managed
	// integrations' names for the first two, HTTP_BASIC and
	// REQUEST_BODY_CREDENTIALS. Empty accepts either secret method.
	AuthMethod string
	// Audience is the default aud of the client's access tokens.
	Audience string
	// Introspect lets the client call the introspection endpoint.
	Introspect bool
	// RevokeEndsGrant makes the client's revocation of one of its access
	// tokens revoke the token's whole grant (store.Client.RevokeEndsGrant).
	RevokeEndsGrant bool
	// TokenMode is local (default) or passthrough (store.Client.TokenMode).
	TokenMode string
	// LogoURI and ClientURI are the client's logo and home page, https
	// URLs the consent page shows (store.Client.LogoURI, ClientURI).
	LogoURI, ClientURI string
}

// CreatedClient is a stored client, with its secret in clear text only when
// grantd generated it (shown once, never stored).
type CreatedClient struct {
	Client          store.Client
	GeneratedSecret string
}

// CreateClient validates spec and stores the client.
func CreateClient(ctx context.Context, st store.Store, r io.Reader, now time.Time, spec ClientSpec) (CreatedClient, error) {
	if !clientIDPattern.MatchString(spec.ID) {
		return CreatedClient{}, fmt.Errorf("client id %q: use 1-128 characters of A-Z a-z 0-9 . _ ~ : -", spec.ID)
	}
	// A client id equal to a user id could be confused with a sub (RFC 9700
	// §4.15, JWT-06).
	if _, err := st.User(ctx, spec.ID); err == nil {
		return CreatedClient{}, fmt.Errorf("client id %q: equals a user id", spec.ID)
	} else if !errors.Is(err, store.ErrNotFound) {
		return CreatedClient{}, fmt.Errorf("check client id %q: %w", spec.ID, err)
	}
	c := store.Client{ID: spec.ID, Public: spec.Public, Name: spec.Name, Introspect: spec.Introspect,
		RevokeEndsGrant: spec.RevokeEndsGrant, TokenMode: store.TokenModeLocal, CreatedAt: now}
	switch spec.TokenMode {
	case "", store.TokenModeLocal:
	case store.TokenModePassthrough:
		c.TokenMode = store.TokenModePassthrough
	default:
		return CreatedClient{}, fmt.Errorf("token mode %q: use local or passthrough", spec.TokenMode)
	}
	var err error
	if c.AuthMethod, err = checkAuthMethod(spec.AuthMethod, spec.Public); err != nil {
		return CreatedClient{}, err
	}
	if spec.Audience != "" {
		if u, perr := url.Parse(spec.Audience); perr != nil || !u.IsAbs() || u.Fragment != "" {
			return CreatedClient{}, fmt.Errorf("audience %q: must be an absolute URI without a fragment", spec.Audience)
		}
		c.Audience = spec.Audience
	}
	if c.LogoURI, err = checkPageURL("logo URI", spec.LogoURI); err != nil {
		return CreatedClient{}, err
	}
	if c.ClientURI, err = checkPageURL("client URI", spec.ClientURI); err != nil {
		return CreatedClient{}, err
	}
	if c.RedirectURIs, err = checkRedirectURIs(spec.RedirectURIs); err != nil {
		return CreatedClient{}, err
	}
	if c.GrantTypes, err = checkGrantTypes(spec.GrantTypes); err != nil {
		return CreatedClient{}, err
	}
	scopes, perr := oauth.ParseScope(strings.Join(spec.Scopes, " "))
	if perr != nil || len(scopes) != len(spec.Scopes) {
		return CreatedClient{}, fmt.Errorf("scopes %q: each must be one distinct scope token", spec.Scopes)
	}
	c.Scopes = scopes
	out := CreatedClient{}
	switch {
	case spec.Public && spec.Secret != "":
		return CreatedClient{}, errors.New("a public client has no secret")
	case spec.Public:
	case spec.Secret == "":
		if out.GeneratedSecret, err = secret.NewToken(r); err != nil {
			return CreatedClient{}, err
		}
		c.SecretHash, err = secret.HashClientSecret(r, out.GeneratedSecret, true)
	default:
		if len(spec.Secret) < MinPasswordLength {
			return CreatedClient{}, fmt.Errorf("client secret: at least %d characters", MinPasswordLength)
		}
		c.SecretHash, err = secret.HashClientSecret(r, spec.Secret, false)
	}
	if err != nil {
		return CreatedClient{}, fmt.Errorf("hash client secret: %w", err)
	}
	if err := st.CreateClient(ctx, c); err != nil {
		return CreatedClient{}, fmt.Errorf("create client %q: %w", spec.ID, err)
	}
	out.Client = c
	return out, nil
}

// pageHost is the host (and port) a URL shown on the pages may name: the
// logo's origin becomes a source of the consent page's
// Content-Security-Policy.
var pageHost = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$`)

// checkPageURL checks an optional URL the consent page shows: absolute
// https with a plain host, no user info and no fragment. grantd never
// fetches it; the browser does, so nothing else may be shown.
func checkPageURL(what, v string) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.User != nil || u.Fragment != "" ||
		!pageHost.MatchString(u.Host) || len(v) > 2000 {
		return "", fmt.Errorf("%s %q: must be an absolute https:// URL with a host name, no user info and no fragment", what, v)
	}
	return v, nil
}

// checkAuthMethod maps the method an operator gave to its RFC 8414 name.
func checkAuthMethod(m string, public bool) (string, error) {
	switch m {
	case "HTTP_BASIC":
		m = oauth.AuthBasic
	case "REQUEST_BODY_CREDENTIALS":
		m = oauth.AuthPost
	}
	switch {
	case m == "" && public:
		return oauth.AuthNone, nil
	case m == "":
		return "", nil
	case m == oauth.AuthNone && public, (m == oauth.AuthBasic || m == oauth.AuthPost) && !public:
		return m, nil
	case public:
		return "", fmt.Errorf("auth method %q: a public client uses none", m)
	default:
		return "", fmt.Errorf("auth method %q: use client_secret_basic (HTTP_BASIC) or client_secret_post (REQUEST_BODY_CREDENTIALS)", m)
	}
}

func checkGrantTypes(gs []string) ([]string, error) {
	if len(gs) == 0 {
		return []string{GrantDeviceCode, GrantRefreshToken}, nil
	}
	for _, g := range gs {
		switch g {
		case GrantDeviceCode, GrantRefreshToken, GrantAuthorizationCode:
		default:
			return nil, fmt.Errorf("grant type %q: use %s, %s or %s", g, GrantDeviceCode, GrantRefreshToken, GrantAuthorizationCode)
		}
	}
	return gs, nil
}

// checkRedirectURIs enforces RFC 9700 §2.6 and RFC 8252 §7.3: absolute URIs
// without fragment, https, or plain http only for loopback IP literals
// (AZ-02). Private-use schemes of native apps (com.example.app:/cb) are kept.
func checkRedirectURIs(uris []string) ([]string, error) {
	for _, raw := range uris {
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(raw, "#") {
			return nil, fmt.Errorf("redirect URI %q: must be absolute, without a fragment", raw)
		}
		switch {
		case u.Scheme == "https":
			if u.Host == "" {
				return nil, fmt.Errorf("redirect URI %q: no host", raw)
			}
		case u.Scheme == "http":
			ip, err := netip.ParseAddr(u.Hostname())
			if err != nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("redirect URI %q: plain http only for loopback IP addresses (127.0.0.1, [::1])", raw)
			}
		case privateUseScheme(u.Scheme):
		default:
			return nil, fmt.Errorf("redirect URI %q: use https, http on a loopback IP address, "+
				"or an app's private-use scheme in reverse domain notation, such as com.example.app:/callback", raw)
		}
	}
	return uris, nil
}

// privateUseScheme reports whether scheme is a private-use URI scheme as
// RFC 8252 §7.1 has native apps register: a reverse domain name, which
// has a period. None of the schemes that run or embed content in a browser
// (javascript, data, vbscript, file, blob, about) has one.
func privateUseScheme(scheme string) bool {
	return strings.Contains(scheme, ".") && !strings.HasPrefix(scheme, ".") && !strings.HasSuffix(scheme, ".")
}

// UserSpec describes a local account to create.
type UserSpec struct {
	Username, Password string
	// Email, optional, is released with EmailVerified to clients granted
	// the email scope.
	Email         string
	EmailVerified bool
}

// CreateUser validates and stores a local account with a fresh random id.
func CreateUser(ctx context.Context, st store.Users, r io.Reader, now time.Time, spec UserSpec) (store.User, error) {
	username, password := spec.Username, spec.Password
	if !usernamePattern.MatchString(username) {
		return store.User{}, fmt.Errorf("username %q: use 1-64 characters of A-Z a-z 0-9 . _ @ + -", username)
	}
	if len(password) < MinPasswordLength {
		return store.User{}, fmt.Errorf("password: at least %d characters", MinPasswordLength)
	}
	if spec.Email != "" {
		if a, err := mail.ParseAddress(spec.Email); err != nil || a.Address != spec.Email || a.Name != "" {
			return store.User{}, fmt.Errorf("email %q: not an e-mail address", spec.Email)
		}
	} else if spec.EmailVerified {
		return store.User{}, errors.New("email verified: give the address with --email")
	}
	id, err := NewUserID(r)
	if err != nil {
		return store.User{}, err
	}
	hash, err := secret.HashPassword(r, password)
	if err != nil {
		return store.User{}, fmt.Errorf("hash password: %w", err)
	}
	u := store.User{ID: id, Username: username, PasswordHash: hash, Email: spec.Email, EmailVerified: spec.EmailVerified, CreatedAt: now}
	if err := st.CreateUser(ctx, u); err != nil {
		return store.User{}, fmt.Errorf("create user %q: %w", username, err)
	}
	return u, nil
}

var userIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewUserID returns a fresh user id: 128 random bits as 26 lower-case base32
// characters, within the 1-64 characters of [a-zA-Z0-9_.,@-] that platforms
// such as AWS IoT managed integrations accept as a userId. Random ids are
// never reused and reveal nothing of the user name.
func NewUserID(r io.Reader) (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return userIDEncoding.EncodeToString(b), nil
}
