package device

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/scopes"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/usercode"
	"github.com/grantd/grantd/internal/web"
)

//go:embed templates/*.html
var pageTemplates embed.FS

// CSRF purposes of the verification forms.
const (
	purposeEnterCode = "device.enter"
	purposeDecide    = "device.decision"
)

// maxPrefill bounds a user_code taken from the query to pre-fill the form.
const maxPrefill = 64

// errInvalidCode covers every code the user may not decide.
var errInvalidCode = errors.New("invalid user code")

// DefaultUserCodeBudgets returns the budgets that apply where
// Pages.UserCodeBudgets leaves one zero: 20 per account and 50 per IP in 10
// minutes, 1000 a minute in all. Each evaluation of a code, at entry and at
// decision, spends one attempt.
func DefaultUserCodeBudgets() web.Budgets {
	return web.Budgets{
		PerAccount: ratelimit.Budget{N: 20, Per: 10 * time.Minute},
		PerIP:      ratelimit.Budget{N: 50, Per: 10 * time.Minute},
		Global:     ratelimit.Budget{N: 1000, Per: time.Minute},
	}
}

// Pages serves the verification pages where a signed-in user enters a user
// code and approves or denies the device (RFC 8628 §3.3). Set the fields,
// then call Mount once.
type Pages struct {
	// Site provides sessions, CSRF tokens, rate limits and rendering.
	Site *web.Site
	// Store holds the device grants and clients.
	Store PagesStore
	// Scopes describes the scopes the confirm page lists; nil knows the
	// built-in descriptions only.
	Scopes *scopes.Catalog
	// UserCodeFormat and UserCodeLength are those of the codes issued by
	// the device authorization endpoint (required: a code of another length
	// or alphabet is refused without a lookup).
	UserCodeFormat usercode.Format
	UserCodeLength int
	// UserCodeBudgets limit code guesses per account, per IP and globally
	// (DEV-06); zero budgets take DefaultUserCodeBudgets().
	UserCodeBudgets web.Budgets
	// Tokens hands a passthrough client's device the upstream tokens of the
	// approving user's sign-in (package federation); nil when no upstream
	// can be used.
	Tokens TokenMover
	// AWSSampleCompat makes the AWS sample's verification link,
	// /device?code=X&authorize=true, show the approve-or-deny page for X
	// at once (GRANTD_AWS_SAMPLE_COMPAT). It approves nothing: the user
	// still presses Approve (RFC 8628 §5.4, DEV-12).
	AWSSampleCompat bool

	once  sync.Once
	enter *web.Page
	conf  *web.Page
	done  *web.Page
}

// PagesStore is the part of the store the verification pages use: the
// device grants they decide, the clients they name, and the sessions whose
// upstream tokens a passthrough grant takes.
type PagesStore interface {
	store.DeviceGrants
	store.Clients
	store.Sessions
}

// TokenMover moves sealed upstream tokens from one row to another: from the
// session that signed in at the upstream to the device grant it approves.
type TokenMover interface {
	Move(sealed, fromKind, fromKey, toKind, toKey string) (string, error)
}

// entryPage is the data of the code-entry page.
type entryPage struct {
	Account *web.Account
	CSRF    string
	Code    string
	// Heading and Lead say what to do; Problem marks Lead as an alert
	// (a code that did not work).
	Heading, Lead web.Message
	Problem       bool
}

// How the code-entry page is shown.
type entryState int

const (
	entryNew     entryState = iota // a code to type
	entryInvalid                   // the one answer of DEV-09, the typed code kept in the field
	entryExpired                   // a code that expired while its confirm page was open
)

// confirmPage is the data of the approve-or-deny page.
type confirmPage struct {
	Account  *web.Account
	CSRF     string
	UserCode string // normalised, posted back
	Display  string // grouped for comparison with the device
	Client   string
	Scopes   []scopes.Described
}

// resultPage is the data of the page after a decision: the application,
// and what happens next.
type resultPage struct {
	Account  *web.Account
	Approved bool
	Client   string
}

func (p *Pages) setup() {
	p.once.Do(func() {
		p.enter = web.MustParsePage(pageTemplates, "templates/enter.html")
		p.conf = web.MustParsePage(pageTemplates, "templates/confirm.html")
		p.done = web.MustParsePage(pageTemplates, "templates/result.html")
	})
}

// Mount registers the verification pages on mux:
//
//	GET  /device           code entry (?user_code= or ?code= pre-fills it;
//	                       with AWSSampleCompat, ?code=X&authorize=… shows
//	                       the approve-or-deny page for X)
//	POST /device           check the code, show the approve-or-deny page
//	POST /device/decision  approve or deny the device
func (p *Pages) Mount(mux *http.ServeMux) {
	p.setup()
	mux.Handle("GET /device", p.Site.Handler(http.HandlerFunc(p.showEntry)))
	mux.Handle("POST /device", p.Site.Handler(http.HandlerFunc(p.enterCode)))
	mux.Handle("POST /device/decision", p.Site.Handler(http.HandlerFunc(p.decide)))
}

// showEntry shows the code-entry form to a signed-in user; anyone else is
// sent to sign in first and brought back, the query kept (DEV-11). A code in
// the query only pre-fills the form: nothing is approved without the user's
// explicit decision (DEV-12). The AWS sample's link, with authorize, goes
// on to the approve-or-deny page, which still waits for that decision.
func (p *Pages) showEntry(w http.ResponseWriter, r *http.Request) {
	sess, user, ok := p.Site.RequireUser(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	if p.AWSSampleCompat && q.Get("authorize") != "" && q.Get("code") != "" {
		// Looking the code up is a guess like a typed one: it spends the
		// same budgets (DEV-06).
		if p.spend(w, r, user) {
			p.showConfirm(w, r, sess, user, q.Get("code"))
		}
		return
	}
	code := q.Get("user_code")
	if code == "" {
		code = q.Get("code")
	}
	if len(code) > maxPrefill {
		code = ""
	}
	p.renderEntry(w, r, http.StatusOK, sess, user, code, entryNew)
}

// enterCode spends the user-code budgets, then looks the typed code up and
// shows the approve-or-deny page for a pending one.
func (p *Pages) enterCode(w http.ResponseWriter, r *http.Request) {
	if !p.Site.ParseForm(w, r) {
		return
	}
	sess, user, ok := p.Site.RequireUser(w, r)
	if !ok || !p.Site.CheckForm(w, r, sess, purposeEnterCode, "") || !p.spend(w, r, user) {
		return
	}
	p.showConfirm(w, r, sess, user, r.PostForm.Get("user_code"))
}

// showConfirm looks typed up, the budgets spent, and shows the
// approve-or-deny page for a pending code, or the entry page again with
// the one answer for every other (DEV-09).
func (p *Pages) showConfirm(w http.ResponseWriter, r *http.Request, sess web.Session, user store.User, typed string) {
	grant, client, err := p.pendingGrant(r.Context(), typed)
	switch {
	case errors.Is(err, errInvalidCode):
		p.renderEntry(w, r, http.StatusBadRequest, sess, user, typed, entryInvalid)
		return
	case err != nil:
		p.Site.Log().ErrorContext(r.Context(), "user code lookup failed", "err", err)
		p.Site.Unavailable(w, r)
		return
	}
	p.Site.Render(w, r, http.StatusOK, p.conf, confirmPage{
		Account:  p.Site.AccountOf(sess, user.Name()),
		CSRF:     p.Site.CSRFToken(sess, purposeDecide, grant.UserCode),
		UserCode: grant.UserCode,
		Display:  usercode.Group(grant.UserCode),
		Client:   clientName(client),
		Scopes:   p.Scopes.Describe(grant.Scopes),
	})
}

// decide records the user's approval or denial of the device whose code
// the form is bound to (DEV-13). Only a pending, unexpired grant can be
// decided, once, by one user (DEV-04).
func (p *Pages) decide(w http.ResponseWriter, r *http.Request) {
	if !p.Site.ParseForm(w, r) {
		return
	}
	sess, user, ok := p.Site.RequireUser(w, r)
	if !ok {
		return
	}
	code := p.UserCodeFormat.Normalize(r.PostForm.Get("user_code"))
	if !p.Site.CheckForm(w, r, sess, purposeDecide, code) {
		return
	}
	var approve bool
	switch r.PostForm.Get("action") {
	case "approve":
		approve = true
	case "deny":
	default:
		p.Site.Error(w, r, http.StatusBadRequest, web.Msg("error.choose"))
		return
	}
	// The token proves the form came from this session, but its owner can
	// compute tokens for codes of their choice: every decision is a guess
	// and spends the same budgets as entry (DEV-06).
	if !p.spend(w, r, user) {
		return
	}
	if !p.wellFormed(code) {
		p.renderEntry(w, r, http.StatusBadRequest, sess, user, code, entryInvalid)
		return
	}
	decision := store.Decision{Approve: approve, UserID: user.ID, AuthTime: sess.AuthTime}
	if approve {
		var ok bool
		if decision.UpstreamTokens, ok = p.passthrough(w, r, sess, user, code); !ok {
			return
		}
	}
	grant, err := p.Store.DecideDeviceGrant(r.Context(), code, decision, p.Site.CurrentTime())
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict):
		p.renderUndecidable(w, r, sess, user, code)
		return
	case err != nil:
		p.Site.Log().ErrorContext(r.Context(), "device decision failed", "err", err)
		p.Site.Unavailable(w, r)
		return
	}
	p.Site.Log().InfoContext(r.Context(), "device grant decided",
		"client_id", grant.ClientID, "user_id", user.ID, "approved", approve)
	name := grant.ClientID
	if c, err := p.Store.Client(r.Context(), grant.ClientID); err == nil {
		name = clientName(c)
	}
	p.Site.Render(w, r, http.StatusOK, p.done, resultPage{
		Account:  p.Site.AccountOf(sess, user.Name()),
		Approved: approve,
		Client:   name,
	})
}

// renderUndecidable answers a decision on a code that cannot be decided.
// A code that expired while its confirm page was open — still pending,
// past its expiry — gets a page that says so and asks for a new code: the
// user saw it pending, and an expired code is of no use to anyone. Every
// other code gets the one answer of DEV-09.
func (p *Pages) renderUndecidable(w http.ResponseWriter, r *http.Request, sess web.Session, user store.User, code string) {
	g, err := p.Store.DeviceGrantByUserCode(r.Context(), code)
	if err == nil && g.State == store.DevicePending && g.Expired(p.Site.CurrentTime()) {
		p.renderEntry(w, r, http.StatusBadRequest, sess, user, "", entryExpired)
		return
	}
	p.renderEntry(w, r, http.StatusBadRequest, sess, user, usercode.Group(code), entryInvalid)
}

// passthrough returns, for the approval of a passthrough client's device,
// the upstream tokens of the user's sign-in, taken from the session and
// sealed for the device grant; "" for any other client. A local user gets a
// page saying such a device needs a sign-in at an upstream; a session that
// holds no tokens (they went to another device) is sent to sign in at its
// upstream again and back to the code. ok false means the page is written.
func (p *Pages) passthrough(w http.ResponseWriter, r *http.Request, sess web.Session, user store.User, code string) (string, bool) {
	ctx := r.Context()
	g, client, err := p.pendingGrant(ctx, code)
	switch {
	case errors.Is(err, errInvalidCode):
		p.renderUndecidable(w, r, sess, user, code)
		return "", false
	case err != nil:
		p.Site.Log().ErrorContext(ctx, "device decision failed", "err", err)
		p.Site.Unavailable(w, r)
		return "", false
	case !client.Passthrough():
		return "", true
	case user.UpstreamID == "" || p.Tokens == nil:
		p.Site.Problem(w, r, http.StatusBadRequest, web.Msg("error.title_signin"),
			web.Msg("error.passthrough", "app", clientName(client)))
		return "", false
	}
	sealed, err := p.Store.TakeUpstreamTokens(ctx, sess.IDHash)
	if errors.Is(err, store.ErrNotFound) {
		http.Redirect(w, r, web.UpstreamSignInURL(user.UpstreamID, "/device?user_code="+url.QueryEscape(code)), http.StatusSeeOther)
		return "", false
	}
	if err == nil {
		sealed, err = p.Tokens.Move(sealed, store.SealedSessionTokens, sess.IDHash, store.SealedDeviceTokens, g.DeviceCodeHash)
	}
	if err != nil {
		p.Site.Log().ErrorContext(ctx, "hand the upstream tokens to the device", "client_id", client.ID, "err", err)
		p.Site.Unavailable(w, r)
		return "", false
	}
	return sealed, true
}

// clientName is how pages name a client.
func clientName(c store.Client) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// spend takes one attempt from the per-IP, per-account and global user-code
// budgets before any code is evaluated. Unknown codes count; nothing is
// refunded on success (DEV-06, DEV-07). It writes the 429 or 503 page and
// returns false when the attempt may not go on.
func (p *Pages) spend(w http.ResponseWriter, r *http.Request, user store.User) bool {
	budgets := p.UserCodeBudgets.WithDefaults(DefaultUserCodeBudgets())
	ok, retryAfter, err := p.Site.Spend(r.Context(), p.Site.Charges(r, "usercode", user.ID, budgets)...)
	switch {
	case err != nil:
		p.Site.Log().ErrorContext(r.Context(), "rate limiter failed", "err", err)
		p.Site.Unavailable(w, r)
		return false
	case !ok:
		p.Site.Log().InfoContext(r.Context(), "user code attempts rate limited",
			"user_id", user.ID, "ip", p.Site.ClientIP(r).String())
		p.Site.TooManyRequests(w, r, retryAfter)
		return false
	}
	return true
}

// wellFormed reports whether a normalised code has the issued length and
// only characters of the issued alphabet.
func (p *Pages) wellFormed(code string) bool {
	return len(code) == p.UserCodeLength && p.UserCodeFormat.Valid(code)
}

// pendingGrant returns the pending, unexpired grant for what the user typed
// (normalised first: case, dashes and spaces do not matter, DEV-08) and its
// client. Every reason the code cannot be decided is errInvalidCode; any
// other error is a store failure.
func (p *Pages) pendingGrant(ctx context.Context, typed string) (store.DeviceGrant, store.Client, error) {
	code := p.UserCodeFormat.Normalize(typed)
	if !p.wellFormed(code) {
		return store.DeviceGrant{}, store.Client{}, errInvalidCode
	}
	grant, err := p.Store.DeviceGrantByUserCode(ctx, code)
	if errors.Is(err, store.ErrNotFound) {
		return store.DeviceGrant{}, store.Client{}, errInvalidCode
	}
	if err != nil {
		return store.DeviceGrant{}, store.Client{}, fmt.Errorf("device grant by user code: %w", err)
	}
	if grant.State != store.DevicePending || grant.Expired(p.Site.CurrentTime()) {
		return store.DeviceGrant{}, store.Client{}, errInvalidCode
	}
	client, err := p.Store.Client(ctx, grant.ClientID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && client.Disabled) {
		return store.DeviceGrant{}, store.Client{}, errInvalidCode
	}
	if err != nil {
		return store.DeviceGrant{}, store.Client{}, fmt.Errorf("client of device grant: %w", err)
	}
	return grant, client, nil
}

// renderEntry shows the code-entry page in state st, with code in the
// field: a code from the link, or the one the user typed, so that a typing
// mistake can be mended rather than typed again. The invalid state is the
// same page for every undecidable code (DEV-09); only the field differs,
// holding what the user typed.
func (p *Pages) renderEntry(w http.ResponseWriter, r *http.Request, status int, sess web.Session, user store.User, code string,
	st entryState) {
	if len(code) > maxPrefill {
		code = ""
	}
	page := entryPage{
		Account: p.Site.AccountOf(sess, user.Name()),
		CSRF:    p.Site.CSRFToken(sess, purposeEnterCode, ""),
		Code:    code,
		Heading: web.Msg("enter.title"),
		Lead:    web.Msg("enter.lead"),
	}
	switch st {
	case entryInvalid:
		page.Heading, page.Lead, page.Problem = web.Msg("enter.invalid_title"), web.Msg("enter.invalid_lead"), true
	case entryExpired:
		page.Heading, page.Lead, page.Problem = web.Msg("enter.expired_title"), web.Msg("enter.expired_lead"), true
	}
	p.Site.Render(w, r, status, p.enter, page)
}
