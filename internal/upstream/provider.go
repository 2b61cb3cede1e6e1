package upstream

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/grantd/grantd/internal/oauth"
	"golang.org/x/oauth2"
)

// Provider is one upstream OpenID Connect provider, as grantd's client. It
// is safe for concurrent use. Discovery and the JWKS are fetched on first
// use and cached; a failed discovery is tried again on the next call.
type Provider struct {
	cfg     Config
	client  *http.Client
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger

	found    atomic.Pointer[discovered]
	discover flight[*discovered]
}

// discovered is what a successful discovery yields; it never changes.
type discovered struct {
	meta     *metadata
	algs     []jose.SignatureAlgorithm
	keys     *keySet
	verifier *oidc.IDTokenVerifier
}

// New returns a Provider for cfg after checking cfg (Config.Validate). It
// makes no network call.
func New(cfg Config, o Options) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, client: httpClient(o.HTTPClient, cfg.ID, o.Observe), timeout: o.Timeout, now: o.Now, log: o.Logger}
	if p.timeout <= 0 || p.timeout > MaxTimeout {
		p.timeout = MaxTimeout
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With("upstream", cfg.ID)
	return p, nil
}

// ID is the configured id of the upstream.
func (p *Provider) ID() string { return p.cfg.ID }

// Name is the configured display name, or the id when there is none.
func (p *Provider) Name() string {
	if p.cfg.Name == "" {
		return p.cfg.ID
	}
	return p.cfg.Name
}

// discovered returns the cached discovery, fetching it when there is none.
func (p *Provider) discovered(ctx context.Context) (*discovered, error) {
	if d := p.found.Load(); d != nil {
		return d, nil
	}
	d, err := p.discover.do(ctx, func(ctx context.Context) (*discovered, error) {
		if d := p.found.Load(); d != nil {
			return d, nil
		}
		ctx, cancel := context.WithTimeout(ctx, p.timeout)
		defer cancel()
		m, err := fetchMetadata(ctx, p)
		if err != nil {
			p.log.Warn("upstream discovery failed", "err", err)
			return nil, err
		}
		d := p.newDiscovered(m)
		p.found.Store(d)
		p.log.Info("upstream discovered", "issuer", m.Issuer)
		return d, nil
	})
	if err != nil {
		return nil, unavailable(p.cfg.ID, "discovery", err)
	}
	return d, nil
}

func (p *Provider) newDiscovered(m *metadata) *discovered {
	algs := signingAlgs(m.IDTokenSigningAlgValuesSupported)
	keys := &keySet{url: m.JWKSURI, client: p.client, timeout: p.timeout, now: p.now, log: p.log}
	names := make([]string, len(algs))
	for i, a := range algs {
		names[i] = string(a)
	}
	v := oidc.NewVerifier(p.cfg.Issuer, keys, &oidc.Config{
		ClientID:             p.cfg.ClientID,
		SupportedSigningAlgs: names,
		SkipExpiryCheck:      true, // checkClaims does it, with ClockSkew and the injected clock
	})
	return &discovered{meta: m, algs: algs, keys: keys, verifier: v}
}

// call returns the context of one upstream call, named name for Observe:
// bounded by the timeout and carrying the HTTP client for x/oauth2.
func (p *Provider) call(ctx context.Context, name string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(withCall(ctx, name), p.timeout)
	return context.WithValue(ctx, oauth2.HTTPClient, p.client), cancel
}

func (p *Provider) oauthConfig(d *discovered, redirectURI string) *oauth2.Config {
	style := oauth2.AuthStyleInHeader
	if p.cfg.ClientSecret == "" || !basicAuth(d.meta) {
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL: d.meta.AuthorizationEndpoint, TokenURL: d.meta.TokenEndpoint, AuthStyle: style,
		},
		RedirectURL: redirectURI,
		Scopes:      p.cfg.scopes(),
	}
}

// AuthRequest holds the values that bind one authorization request to the
// browser session that started it. Keep all three in the session: State to
// compare with the callback's, Nonce and CodeVerifier for Exchange.
type AuthRequest struct {
	State        string
	Nonce        string
	CodeVerifier string // PKCE (RFC 7636); AuthCodeURL sends its S256 challenge
}

// NewAuthRequest returns fresh values, 256 random bits each, read from r
// (crypto/rand.Reader in production).
func NewAuthRequest(r io.Reader) (AuthRequest, error) {
	var v [3]string
	for i := range v {
		b := make([]byte, 32)
		if _, err := io.ReadFull(r, b); err != nil {
			return AuthRequest{}, fmt.Errorf("upstream: read random bytes: %w", err)
		}
		v[i] = base64.RawURLEncoding.EncodeToString(b)
	}
	return AuthRequest{State: v[0], Nonce: v[1], CodeVerifier: v[2]}, nil
}

func (a AuthRequest) validate(redirectURI string) error {
	if u, err := url.Parse(redirectURI); err != nil || !u.IsAbs() || u.Fragment != "" {
		return fmt.Errorf("upstream: redirect URI %q is not an absolute URL", redirectURI)
	}
	if a.State == "" || a.Nonce == "" {
		return errors.New("upstream: state and nonce are required")
	}
	if !oauth.ValidVerifier(a.CodeVerifier) {
		return errors.New("upstream: the code verifier is not 43–128 unreserved characters (RFC 7636 §4.1)")
	}
	return nil
}

// AuthCodeURL returns the URL to send the user's browser to: an
// authorization request (response_type=code) for the configured scopes
// with a's state and nonce, the S256 challenge of a's verifier, and the
// configured extra parameters.
func (p *Provider) AuthCodeURL(ctx context.Context, redirectURI string, a AuthRequest) (string, error) {
	if err := a.validate(redirectURI); err != nil {
		return "", err
	}
	d, err := p.discovered(ctx)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(a.CodeVerifier), oidc.Nonce(a.Nonce)}
	for k, v := range p.cfg.ExtraParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	return p.oauthConfig(d, redirectURI).AuthCodeURL(a.State, opts...), nil
}

// Callback reads the authorization response at our redirect URI and
// returns its code. It returns an *Error when the upstream sent an error
// (access_denied when the user cancelled), and ErrInvalidCallback when the
// response names another issuer or, from an upstream that promises iss
// (RFC 9207), names none, or carries no code. It does not check state:
// the caller compares it with the browser session's and consumes it first.
func (p *Provider) Callback(ctx context.Context, q url.Values) (string, error) {
	if iss := q.Get("iss"); iss != "" {
		if iss != p.cfg.Issuer {
			return "", fmt.Errorf("upstream %s: %w: iss %q is not the issuer (mix-up, RFC 9207)", p.cfg.ID, ErrInvalidCallback, iss)
		}
	} else {
		d, err := p.discovered(ctx)
		if err != nil {
			return "", err
		}
		if d.meta.IssParameterSupported {
			return "", fmt.Errorf("upstream %s: %w: no iss, which the upstream promises (RFC 9207)", p.cfg.ID, ErrInvalidCallback)
		}
	}
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("upstream %s: authorization: %w", p.cfg.ID, &Error{Code: e, Description: q.Get("error_description")})
	}
	code := q.Get("code")
	if code == "" {
		return "", fmt.Errorf("upstream %s: %w: no code", p.cfg.ID, ErrInvalidCallback)
	}
	return code, nil
}
