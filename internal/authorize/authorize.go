package authorize

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/web"
)

// signInWindow is how long the auth_since marker of a request that sent the
// user to sign in is honoured: the time the user has to finish signing in.
const signInWindow = 10 * time.Minute

// authorize serves GET and POST /authorize: steps 1 and 2 validate the
// request, step 3 makes sure the right user is signed in, step 4 finds or
// asks for consent, and step 5 issues the code.
func (p *Pages) authorize(w http.ResponseWriter, r *http.Request) {
	params, ok := p.parseParams(w, r)
	if !ok {
		return
	}
	req, ok := p.validRequest(w, r, params)
	if !ok {
		return
	}
	sess, user, ok := p.signedIn(w, r, req)
	if !ok {
		return
	}
	if !req.prompt.consent {
		consent, err := p.Store.Consent(r.Context(), user.ID, req.client.ID)
		switch {
		case err == nil && oauth.Subset(req.scopes, consent.Scopes):
			p.issue(w, r, req, sess, user)
			return
		case err != nil && !errors.Is(err, store.ErrNotFound):
			p.Site.Log().ErrorContext(r.Context(), "consent lookup failed", "err", err)
			p.Site.Unavailable(w, r)
			return
		}
	}
	if req.prompt.none {
		p.redirectError(w, r, req, oauth.NewError(ConsentRequired, "The user has not consented to this request."))
		return
	}
	p.renderConsent(w, r, req, sess, user)
}

// validRequest runs steps 1 and 2. A bad client or redirect URI gets an
// error page; any later error is redirected to the client. It reports
// false when it has answered.
func (p *Pages) validRequest(w http.ResponseWriter, r *http.Request, params url.Values) (*request, bool) {
	req, perr := p.clientRequest(r.Context(), params)
	if perr != nil {
		if perr.status == http.StatusServiceUnavailable {
			p.Site.Log().ErrorContext(r.Context(), "authorization request: store failed", "err", perr.cause)
			p.Site.Unavailable(w, r)
			return nil, false
		}
		p.Site.Log().InfoContext(r.Context(), "authorization request refused", "event", "authorize.refused",
			"client_id", clientIDForLog(params), "reason", perr.why)
		p.Site.Error(w, r, perr.status, perr.msg)
		return nil, false
	}
	if err := req.validate(p.RequirePKCE); err != nil {
		p.Site.Log().InfoContext(r.Context(), "authorization request refused", "event", "authorize.refused",
			"client_id", req.client.ID, "reason", err.Description)
		p.redirectError(w, r, req, err)
		return nil, false
	}
	return req, true
}

// maxLoggedClientID bounds a client_id copied from a request into the log.
const maxLoggedClientID = 128

// clientIDForLog returns the client_id a refused request named, for the
// log: it may be no client's, so it is cut to the longest a client id may
// be.
func clientIDForLog(params url.Values) string {
	id := params.Get(paramClientID)
	if len(id) > maxLoggedClientID {
		id = id[:maxLoggedClientID] + "…"
	}
	return id
}

// signedIn is step 3. It returns the signed-in user when their sign-in is
// recent enough for the request; otherwise it answers login_required to
// prompt=none, or sends the user to sign in and come back (with an
// auth_since marker, so that prompt=login and max_age do not loop).
func (p *Pages) signedIn(w http.ResponseWriter, r *http.Request, req *request) (web.Session, store.User, bool) {
	sess, user, err := p.currentUser(r)
	if err != nil {
		p.Site.Log().ErrorContext(r.Context(), "session lookup failed", "err", err)
		p.Site.Unavailable(w, r)
		return web.Session{}, store.User{}, false
	}
	now := p.Site.CurrentTime()
	if user.ID != "" && !needsSignIn(req, sess.AuthTime, now) {
		return sess, user, true
	}
	if req.prompt.none {
		p.redirectError(w, r, req, oauth.NewError(LoginRequired, "The user must sign in."))
		return web.Session{}, store.User{}, false
	}
	back := make(url.Values, len(req.params)+1)
	for name, vs := range req.params {
		back[name] = vs
	}
	back.Set(paramAuthSince, strconv.FormatInt(now.UnixMilli(), 10))
	http.Redirect(w, r, web.SignInURL("/authorize?"+back.Encode()), http.StatusSeeOther)
	return web.Session{}, store.User{}, false
}

// currentUser returns the session of r and its user. The user is zero when
// nobody is signed in or the account was disabled since; err is a store
// failure.
func (p *Pages) currentUser(r *http.Request) (web.Session, store.User, error) {
	sess, ok, err := p.Site.Session(r)
	if err != nil || !ok || !sess.SignedIn() {
		return sess, store.User{}, err
	}
	user, err := p.Store.User(r.Context(), sess.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && user.Disabled):
		return sess, store.User{}, nil
	case err != nil:
		return sess, store.User{}, err
	}
	return sess, user, nil
}

// needsSignIn reports whether a user who authenticated at authTime must
// sign in again for req: prompt=login, max_age=0 (the same, OpenID Connect
// Core §3.1.2.1) or an older authentication than max_age allows. A sign-in
// made for this very request, after its auth_since marker, satisfies all.
func needsSignIn(req *request, authTime, now time.Time) bool {
	since := req.authSince
	if !since.IsZero() && !since.After(now) && now.Sub(since) <= signInWindow && !authTime.Before(since) {
		return false
	}
	if req.prompt.login || req.maxAge == 0 {
		return true
	}
	return req.maxAge > 0 && now.Sub(authTime) > req.maxAge
}

// issue is step 5: it stores the hash of a fresh code, bound to everything
// its redemption must match (AZ-21), and sends the code to the client. A
// store failure gets the 503 page, never a redirect (docs/SECURITY.md INV-01).
func (p *Pages) issue(w http.ResponseWriter, r *http.Request, req *request, sess web.Session, user store.User) {
	code, err := secret.NewToken(p.rand())
	if err != nil {
		p.Site.Log().ErrorContext(r.Context(), "draw authorization code", "err", err)
		p.Site.Unavailable(w, r)
		return
	}
	now := p.Site.CurrentTime()
	c := store.AuthorizationCode{
		Hash:          secret.Hash(code),
		ClientID:      req.client.ID,
		UserID:        user.ID,
		RedirectURI:   req.params.Get(paramRedirectURI), // as sent; "" when omitted (AZ-05)
		Scopes:        req.scopes,
		Nonce:         req.params.Get(paramNonce),
		CodeChallenge: req.params.Get(paramChallenge),
		Resource:      req.params.Get(paramResource),
		AuthTime:      sess.AuthTime,
		CreatedAt:     now,
		ExpiresAt:     now.Add(p.codeTTL()),
	}
	if err := p.Store.CreateAuthorizationCode(r.Context(), c); err != nil {
		p.Site.Log().ErrorContext(r.Context(), "store authorization code", "client_id", req.client.ID, "err", err)
		p.Site.Unavailable(w, r)
		return
	}
	p.Site.Log().InfoContext(r.Context(), "authorization code issued", "client_id", req.client.ID, "user_id", user.ID)
	p.redirect(w, req, url.Values{"code": {code}})
}

// redirectError sends a protocol error to the validated redirect URI with
// a fixed description that never echoes the request (RFC 6749 §4.1.2.1).
func (p *Pages) redirectError(w http.ResponseWriter, r *http.Request, req *request, e *oauth.Error) {
	p.Site.Log().InfoContext(r.Context(), "authorization request answered with an error",
		"client_id", req.client.ID, "error", string(e.Code))
	p.redirect(w, req, url.Values{"error": {string(e.Code)}, "error_description": {e.Description}})
}

// redirect answers with 303 to the validated redirect URI: its registered
// query kept as it is, then v, state when it was sent, and iss (RFC 6749
// §4.1.2, RFC 9207 §2). 303 makes the browser GET it even after a POST
// (AZ-18).
func (p *Pages) redirect(w http.ResponseWriter, req *request, v url.Values) {
	if req.hasState {
		v.Set("state", req.state)
	}
	v.Set("iss", p.issuer())
	base, sep := req.redirectURI, "?"
	if strings.Contains(base, "?") {
		sep = "&"
		if strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&") {
			sep = ""
		}
	}
	w.Header().Set("Location", base+sep+v.Encode())
	w.WriteHeader(http.StatusSeeOther)
}
