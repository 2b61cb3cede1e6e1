// Package callback serves the round trip of a sign-in at an upstream
// OpenID Connect provider: from the sign-in page's button to the provider,
// and back at GET /callback (the path of the design grantd follows), where
// the user is signed in and returned to where they were.
package callback

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/federation"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/upstream"
	"github.com/grantd/grantd/internal/web"
)

// loginTTL bounds an upstream sign-in from its start to the callback.
const loginTTL = 10 * time.Minute

// Pages serves the round trip of a sign-in at an upstream provider:
//
//	GET /signin/upstream/{id}  start: remember the request in the browser, go to the upstream
//	GET /callback              finish: check it, exchange the code, sign the user in, return
//
// The pending request (the upstream, state, nonce, PKCE verifier and where
// to return) rides in a cookie sealed under the server's secret key, so a
// visitor who never comes back costs the store nothing; its state is used
// once (store.Once), so a callback replayed, even with the cookie, fails.
type Pages struct {
	Site      *web.Site
	Directory *federation.Directory
	Users     store.Users
	Once      store.Once
	// Issuer is the server's public URL; the callback is Issuer +
	// federation.CallbackPath.
	Issuer string
	Rand   io.Reader
}

// Mount registers the routes on mux.
func (p *Pages) Mount(mux *http.ServeMux) {
	mux.Handle("GET /signin/upstream/{id}", p.Site.Handler(http.HandlerFunc(p.start)))
	mux.Handle("GET "+federation.CallbackPath, p.Site.Handler(http.HandlerFunc(p.callback)))
}

// pending is an upstream sign-in between its start and its callback.
type pending struct {
	Upstream string `json:"u"`
	upstream.AuthRequest
	ReturnTo string `json:"r"`
	Expires  int64  `json:"e"`
}

// loginAAD binds the sealed pending sign-in to its cookie.
var loginAAD = []byte("upstream-login")

func (p *Pages) cookieName() string {
	if p.Site.Secure() {
		return "__Host-grantd_upstream"
	}
	return "grantd_upstream"
}

// start begins a sign-in at the upstream in the path: it remembers the
// request in a sealed cookie and sends the browser to the upstream.
func (p *Pages) start(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	e, err := p.Directory.Lookup(ctx, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		p.Site.Error(w, r, http.StatusNotFound, web.Msg("upstream.none"))
		return
	}
	if err != nil {
		p.Site.Log().ErrorContext(ctx, "look up upstream", "err", err)
		p.Site.Unavailable(w, r)
		return
	}
	a, err := upstream.NewAuthRequest(p.Rand)
	if err == nil {
		err = p.setPending(w, pending{Upstream: e.ID, AuthRequest: a, ReturnTo: web.LocalPath(r.URL.Query().Get("return_to")),
			Expires: p.Site.CurrentTime().Add(loginTTL).Unix()})
	}
	if err != nil {
		p.Site.Log().ErrorContext(ctx, "start upstream sign-in", "upstream", e.ID, "err", err)
		p.Site.Unavailable(w, r)
		return
	}
	target, err := e.Provider.AuthCodeURL(ctx, p.Issuer+federation.CallbackPath, a)
	if err != nil {
		p.Site.Log().WarnContext(ctx, "upstream unavailable", "upstream", e.ID, "err", err)
		p.unreachable(w, r, e)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (p *Pages) setPending(w http.ResponseWriter, pe pending) error {
	b, err := json.Marshal(pe)
	if err != nil {
		return err
	}
	sealed, err := p.Directory.Sealer.Seal(b, loginAAD)
	if err != nil {
		return err
	}
	http.SetCookie(w, p.cookie(sealed, int(loginTTL/time.Second)))
	return nil
}

func (p *Pages) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: p.cookieName(), Value: value, Path: "/", MaxAge: maxAge, Secure: p.Site.Secure(),
		HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// errBadState covers every callback whose state is not this browser's
// pending sign-in: missing, foreign, expired or used.
var errBadState = errors.New("callback state is not the browser's pending sign-in")

// takePending returns the browser's pending sign-in that the callback's
// state names, and clears its cookie; it is used once.
func (p *Pages) takePending(w http.ResponseWriter, r *http.Request) (pending, error) {
	http.SetCookie(w, p.cookie("", -1))
	c, err := r.Cookie(p.cookieName())
	if err != nil || p.Directory.Sealer == nil {
		return pending{}, errBadState
	}
	b, err := p.Directory.Sealer.Open(c.Value, loginAAD)
	var pe pending
	if err != nil || json.Unmarshal(b, &pe) != nil {
		return pending{}, errBadState
	}
	state := r.URL.Query().Get("state")
	now := p.Site.CurrentTime()
	if state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(pe.State)) != 1 || now.Unix() >= pe.Expires {
		return pending{}, errBadState
	}
	err = p.Once.UseOnce(r.Context(), "upstream-state:"+secret.Hash(state), time.Unix(pe.Expires, 0))
	if errors.Is(err, store.ErrAlreadyExists) {
		return pending{}, errBadState
	}
	return pe, err
}

// callback finishes an upstream sign-in (the redirect URI): it checks the
// state against the browser's pending sign-in, takes the code at once,
// validates the ID token, signs the user in — keeping the upstream's tokens
// sealed in the session for a passthrough client — and returns the user to
// where they were.
func (p *Pages) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	pe, err := p.takePending(w, r)
	if errors.Is(err, errBadState) {
		p.Site.Log().InfoContext(ctx, "upstream callback refused: state", "err", err)
		p.Site.Problem(w, r, http.StatusBadRequest, web.Msg("error.title_signin"), web.Msg("upstream.state"))
		return
	}
	if err != nil {
		p.Site.Log().ErrorContext(ctx, "upstream callback: use the state", "err", err)
		p.Site.Unavailable(w, r)
		return
	}
	e, err := p.Directory.Lookup(ctx, pe.Upstream)
	if err != nil {
		p.Site.Log().WarnContext(ctx, "upstream callback: upstream gone", "upstream", pe.Upstream, "err", err)
		p.Site.Problem(w, r, http.StatusBadRequest, web.Msg("error.title_signin"), web.Msg("upstream.gone"))
		return
	}
	id, tokens, err := p.exchange(ctx, e, r, pe)
	if err != nil {
		p.failed(w, r, e, err)
		return
	}
	var user store.User
	uid, err := admin.NewUserID(p.Rand) // used when this is the subject's first sign-in
	if err == nil {
		user, err = p.Users.SignInFederated(ctx, store.User{ID: uid, UpstreamID: e.ID, UpstreamSubject: id.Subject,
			DisplayName: id.Username, Email: id.Email, EmailVerified: id.EmailVerified, CreatedAt: p.Site.CurrentTime()})
	}
	if err != nil {
		p.Site.Log().ErrorContext(ctx, "upstream sign-in: store the user", "upstream", e.ID, "err", err)
		p.Site.Unavailable(w, r)
		return
	}
	if user.Disabled {
		p.Site.Log().InfoContext(ctx, "upstream sign-in of a disabled user", "user_id", user.ID)
		p.Site.Problem(w, r, http.StatusForbidden, web.Msg("error.title_signin"), web.Msg("upstream.disabled"))
		return
	}
	held := federation.Held{Upstream: e.ID, Subject: id.Subject, Tokens: tokens}
	sealTokens := func(idHash string) (string, error) { return p.Directory.Seal(held, store.SealedSessionTokens, idHash) }
	old, _, _ := p.Site.Session(r)
	if _, err := p.Site.SignInHolding(w, r, old, user, p.Site.CurrentTime(), sealTokens); err != nil {
		p.Site.Log().ErrorContext(ctx, "upstream sign-in: start the session", "err", err)
		p.Site.Unavailable(w, r)
		return
	}
	p.Site.Log().InfoContext(ctx, "signed in upstream", "upstream", e.ID, "user_id", user.ID)
	http.Redirect(w, r, pe.ReturnTo, http.StatusSeeOther)
}

// exchange reads the callback and redeems its code.
func (p *Pages) exchange(ctx context.Context, e federation.Entry, r *http.Request, pe pending) (upstream.Identity, upstream.Tokens, error) {
	code, err := e.Provider.Callback(ctx, r.URL.Query())
	if err != nil {
		return upstream.Identity{}, upstream.Tokens{}, err
	}
	return e.Provider.Exchange(ctx, p.Issuer+federation.CallbackPath, code, pe.AuthRequest)
}

// failed answers a callback the upstream's answer or its ID token failed,
// with a page that says what happened in the user's words; the cause goes
// to the log only.
func (p *Pages) failed(w http.ResponseWriter, r *http.Request, e federation.Entry, err error) {
	p.Site.Log().InfoContext(r.Context(), "upstream sign-in failed", "upstream", e.ID, "err", err)
	var ue *upstream.Error
	switch {
	case errors.Is(err, upstream.ErrUnavailable):
		p.unreachable(w, r, e)
	case errors.As(err, &ue) && ue.Status == 0 && ue.Code == "access_denied":
		p.Site.Problem(w, r, http.StatusForbidden, web.Msg("error.title_signin"), web.Msg("upstream.cancelled", "name", displayName(e)))
	case errors.As(err, &ue):
		p.Site.Problem(w, r, http.StatusBadRequest, web.Msg("error.title_signin"), web.Msg("upstream.failed", "name", displayName(e)))
	default:
		p.Site.Problem(w, r, http.StatusBadRequest, web.Msg("error.title_signin"), web.Msg("upstream.bad", "name", displayName(e)))
	}
}

// unreachable answers when the upstream does not answer in time.
func (p *Pages) unreachable(w http.ResponseWriter, r *http.Request, e federation.Entry) {
	p.Site.UnavailableFor(w, r, 30*time.Second, "upstream.unreachable", "name", displayName(e))
}

func displayName(e federation.Entry) string {
	if e.Name != "" {
		return e.Name
	}
	return e.ID
}

// Buttons lists d's usable upstreams for the sign-in page (web.Site.
// Upstreams).
func Buttons(d *federation.Directory) func(ctx context.Context) ([]web.Upstream, error) {
	return func(ctx context.Context) ([]web.Upstream, error) {
		entries, err := d.Entries(ctx)
		if err != nil {
			return nil, err
		}
		buttons := make([]web.Upstream, len(entries))
		for i, e := range entries {
			buttons[i] = web.Upstream{ID: e.ID, Name: e.Name}
		}
		return buttons, nil
	}
}
