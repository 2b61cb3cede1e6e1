package authorize

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/web"
)

// GrantType is the grant a client must be allowed to use this endpoint.
const GrantType = oauth.GrantAuthorizationCode

// Error codes of the authorization endpoint that the token endpoint never
// sends (RFC 6749 §4.1.2.1, RFC 8707 §2, OpenID Connect Core §3.1.2.6).
const (
	UnsupportedResponseType oauth.ErrorCode = "unsupported_response_type"
	InvalidTarget           oauth.ErrorCode = "invalid_target"
	LoginRequired           oauth.ErrorCode = "login_required"
	ConsentRequired         oauth.ErrorCode = "consent_required"
	RequestNotSupported     oauth.ErrorCode = "request_not_supported"
	RequestURINotSupported  oauth.ErrorCode = "request_uri_not_supported"
)

// Parameters of an authorization request.
const (
	paramResponseType = "response_type"
	paramClientID     = "client_id"
	paramRedirectURI  = "redirect_uri"
	paramScope        = "scope"
	paramState        = "state"
	paramNonce        = "nonce"
	paramChallenge    = "code_challenge"
	paramMethod       = "code_challenge_method"
	paramResource     = "resource"
	paramPrompt       = "prompt"
	paramMaxAge       = "max_age"
	paramResponseMode = "response_mode"
	paramRequest      = "request"
	paramRequestURI   = "request_uri"
	paramAuthSince    = "auth_since"
	paramUILocales    = "ui_locales"
)

const (
	// maxAgeLimitSeconds is the largest max_age a time.Duration holds.
	maxAgeLimitSeconds = math.MaxInt64 / int64(time.Second)
)

// carried lists the parameters the consent form carries and its CSRF token
// is bound to; ui_locales, so that the pages after it keep the language
// the application asked for. Other parameters (login_hint, ...) are
// ignored.
var carried = []string{
	paramResponseType, paramClientID, paramRedirectURI, paramScope, paramState, paramNonce,
	paramChallenge, paramMethod, paramResource, paramPrompt, paramMaxAge, paramResponseMode, paramAuthSince,
	paramUILocales,
}

// pageError is a problem with client_id or redirect_uri. It is shown to the
// user on an error page and never redirected (AZ-01, AZ-03, AZ-04).
type pageError struct {
	status int
	msg    web.Message
	// why says what is wrong in the operator's terms, for the log; the
	// page says less.
	why   string
	cause error // a store failure, for the log; the page is then 503
}

func (e *pageError) Error() string { return string(e.msg.Key) }

// Messages of the error pages. They never echo the request, and each says
// to go back to the application, which is the only way on (web.Error).
var (
	msgUnreadable  = web.Msg("authorize.unreadable")
	msgClient      = web.Msg("authorize.client")
	msgRedirect    = web.Msg("authorize.redirect")
	msgRedirectCfg = web.Msg("authorize.redirect_cfg")
)

// request is an authorization request (RFC 6749 §4.1.1, OpenID Connect Core
// §3.1.2.1) whose client and redirect URI are validated. Its params hold
// every parameter as sent.
type request struct {
	params url.Values
	client store.Client
	// redirectURI is where responses go: the registered URI, byte-equal to
	// the one sent, or the only one registered when none was sent.
	redirectURI string
	// State is echoed only when sent exactly once.
	state    string
	hasState bool
	// Set by validate.
	scopes    []string
	prompt    prompts
	maxAge    time.Duration // -1 when absent
	authSince time.Time     // zero when absent or unreadable
}

// prompts are the values of the prompt parameter grantd supports.
type prompts struct{ none, login, consent bool }

// parseParams returns the parameters of an authorization request: the
// query of a GET, the query and form body of a POST (OpenID Connect Core
// §3.1.2.1). It writes an error page and returns false when they cannot be
// read.
func (p *Pages) parseParams(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if r.Method == http.MethodPost {
		if !p.Site.ParseForm(w, r) {
			return nil, false
		}
		return r.Form, true
	}
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		p.Site.Log().InfoContext(r.Context(), "authorization request refused", "event", "authorize.refused",
			"reason", "the query string is malformed")
		p.Site.Error(w, r, http.StatusBadRequest, msgUnreadable)
		return nil, false
	}
	return v, true
}

// clientRequest is step 1: it finds the client and the redirect URI. Any
// error is a *pageError; a store failure is one with status 503.
func (p *Pages) clientRequest(ctx context.Context, params url.Values) (*request, *pageError) {
	ids := params[paramClientID]
	if len(ids) != 1 || ids[0] == "" {
		return nil, &pageError{status: http.StatusBadRequest, msg: msgClient, why: "no client_id, or more than one"}
	}
	client, err := p.Store.Client(ctx, ids[0])
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, &pageError{status: http.StatusBadRequest, msg: msgClient, why: "no such client"}
	case err == nil && client.Disabled:
		return nil, &pageError{status: http.StatusBadRequest, msg: msgClient, why: "the client is disabled"}
	case err != nil:
		return nil, &pageError{status: http.StatusServiceUnavailable, cause: fmt.Errorf("look up client: %w", err)}
	}
	target, perr := redirectTarget(client, params[paramRedirectURI])
	if perr != nil {
		return nil, perr
	}
	req := &request{params: params, client: client, redirectURI: target}
	if states := params[paramState]; len(states) == 1 {
		req.state, req.hasState = states[0], true
	}
	return req, nil
}

// redirectTarget matches the sent redirect_uri values against the client's
// registered URIs by exact string comparison: no normalisation, no prefix,
// no case folding (RFC 9700 §4.1.3). Omitting it is allowed only when
// exactly one URI is registered (RFC 6749 §3.1.2.3).
func redirectTarget(client store.Client, sent []string) (string, *pageError) {
	var target string
	switch {
	case len(sent) > 1:
		return "", &pageError{status: http.StatusBadRequest, msg: msgRedirect, why: "redirect_uri sent more than once"}
	case len(sent) == 1:
		for _, uri := range client.RedirectURIs {
			if uri == sent[0] || sameLoopbackRedirect(uri, sent[0]) {
				target = sent[0]
			}
		}
	case len(client.RedirectURIs) == 1:
		target = client.RedirectURIs[0]
	}
	switch {
	case target == "" && len(sent) == 1:
		return "", &pageError{status: http.StatusBadRequest, msg: msgRedirect,
			why: "the redirect_uri is not one registered for the client (grantd client show lists them)"}
	case target == "" && len(client.RedirectURIs) == 0:
		return "", &pageError{status: http.StatusBadRequest, msg: msgRedirect,
			why: "the client has no redirect URI registered (grantd client update --redirect-uri)"}
	case target == "":
		return "", &pageError{status: http.StatusBadRequest, msg: msgRedirect,
			why: "no redirect_uri sent, and the client has several registered"}
	}
	// A registered URI must be absolute and have no fragment (RFC 6749
	// §3.1.2); a bad registration is refused rather than redirected to.
	if u, err := url.Parse(target); err != nil || !u.IsAbs() || strings.Contains(target, "#") {
		return "", &pageError{status: http.StatusBadRequest, msg: msgRedirectCfg,
			why: "the client's registered redirect URI is not absolute or has a fragment"}
	}
	return target, nil
}

// sameLoopbackRedirect reports whether sent equals the registered URI but for
// the port, both being http on one loopback IP address: a native app
// listens on whatever port the operating system gives it, so any port
// matches (RFC 8252 §7.3). Everything else is compared as it was sent,
// byte for byte.
func sameLoopbackRedirect(registered, sent string) bool {
	rHost, rRest, ok := loopbackRedirect(registered)
	if !ok {
		return false
	}
	sHost, sRest, ok := loopbackRedirect(sent)
	return ok && rHost == sHost && rRest == sRest
}

// loopbackRedirect splits an http URI on a loopback IP literal into its host
// (without the port) and what follows the authority.
func loopbackRedirect(uri string) (host, rest string, ok bool) {
	after, found := strings.CutPrefix(uri, "http://")
	if !found {
		return "", "", false
	}
	authority, rest := after, ""
	if i := strings.IndexAny(after, "/?"); i >= 0 {
		authority, rest = after[:i], after[i:]
	}
	host = authority
	if h, port, err := net.SplitHostPort(authority); err == nil {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return "", "", false
		}
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() || ip.Zone() != "" || ip.String() != host {
		return "", "", false
	}
	return host, rest, true
}

// validate is step 2: every check whose failure is redirected to the
// client. It fills in the scopes, prompts, max_age and auth_since.
func (req *request) validate(requirePKCE bool) *oauth.Error {
	for _, vs := range req.params {
		if len(vs) > 1 {
			return oauth.NewError(oauth.InvalidRequest, "A parameter is repeated.")
		}
	}
	if err := checkResponseType(req.params); err != nil {
		return err
	}
	if !req.client.AllowsGrant(GrantType) {
		return oauth.NewError(oauth.UnauthorizedClient, "The client may not use the authorization code grant.")
	}
	requested, err := oauth.ParseScope(req.params.Get(paramScope))
	if err != nil {
		return err
	}
	if req.scopes, err = oauth.GrantScopes(requested, req.client.Scopes); err != nil {
		return err
	}
	if err := oauth.CheckChallenge(req.params, req.client.Public || requirePKCE); err != nil {
		return err
	}
	if err := checkResource(req.params); err != nil {
		return err
	}
	if req.prompt, err = parsePrompt(req.params.Get(paramPrompt)); err != nil {
		return err
	}
	if req.maxAge, err = parseMaxAge(req.params); err != nil {
		return err
	}
	req.authSince = parseAuthSince(req.params.Get(paramAuthSince))
	return nil
}

// checkResponseType allows only response_type=code: the implicit and
// hybrid flows are disabled (AZ-16). Request objects and response modes
// other than query are not supported.
func checkResponseType(params url.Values) *oauth.Error {
	switch rt := params.Get(paramResponseType); {
	case !params.Has(paramResponseType) || rt == "":
		return oauth.NewError(oauth.InvalidRequest, "The response_type parameter is missing.")
	case rt != "code":
		return oauth.NewError(UnsupportedResponseType, "Only response_type=code is supported.")
	case params.Has(paramRequest):
		return oauth.NewError(RequestNotSupported, "Request objects are not supported.")
	case params.Has(paramRequestURI):
		return oauth.NewError(RequestURINotSupported, "The request_uri parameter is not supported.")
	case params.Has(paramResponseMode) && params.Get(paramResponseMode) != "query":
		return oauth.NewError(oauth.InvalidRequest, "Only response_mode=query is supported.")
	}
	return nil
}

// checkResource checks the RFC 8707 resource indicator: an absolute URI
// without a fragment. grantd binds a code to at most one resource; a
// repeated one is refused with every repeated parameter (invalid_request).
func checkResource(params url.Values) *oauth.Error {
	if !params.Has(paramResource) {
		return nil
	}
	raw := params.Get(paramResource)
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || strings.Contains(raw, "#") {
		return oauth.NewError(InvalidTarget, "The resource must be an absolute URI without a fragment.")
	}
	return nil
}

// parsePrompt reads the prompt parameter (OpenID Connect Core §3.1.2.1):
// none, login and consent are supported; none may not be combined.
func parsePrompt(s string) (prompts, *oauth.Error) {
	var p prompts
	n := 0
	for _, v := range strings.Split(s, " ") {
		switch v {
		case "":
			continue
		case "none":
			p.none = true
		case "login":
			p.login = true
		case "consent":
			p.consent = true
		default:
			return prompts{}, oauth.NewError(oauth.InvalidRequest, "The prompt parameter has an unsupported value.")
		}
		n++
	}
	if p.none && n > 1 {
		return prompts{}, oauth.NewError(oauth.InvalidRequest, "prompt=none cannot be combined with other values.")
	}
	return p, nil
}

// parseMaxAge reads max_age: a non-negative integer of seconds, or -1 when
// absent. A value too large for a time.Duration means no limit.
func parseMaxAge(params url.Values) (time.Duration, *oauth.Error) {
	if !params.Has(paramMaxAge) {
		return -1, nil
	}
	s := params.Get(paramMaxAge)
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, oauth.NewError(oauth.InvalidRequest, "The max_age parameter must be a non-negative integer.")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxAgeLimitSeconds {
		return -1, nil
	}
	return time.Duration(n) * time.Second, nil
}

// parseAuthSince reads the auth_since marker (unix milliseconds) that grantd
// adds when it sends the user to sign in; zero when absent or unreadable.
// Milliseconds, not seconds: a sign-in earlier in the same second must not
// pass for the fresh one prompt=login asks for.
func parseAuthSince(s string) time.Time {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return time.Time{}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// carriedParams returns the carried parameters of v, repeats kept so that
// validation still sees them.
func carriedParams(v url.Values) url.Values {
	out := make(url.Values)
	for _, name := range carried {
		if vs, ok := v[name]; ok {
			out[name] = vs
		}
	}
	return out
}
