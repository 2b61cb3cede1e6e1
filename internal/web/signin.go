package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/grantd/grantd/internal/locale"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// CSRF purposes of the site's own forms.
const (
	purposeSignIn  = "signin"
	purposeSignOut = "signout"
)

// signInFailed is the one message for an unknown user, a wrong password and
// a disabled account, so user names cannot be enumerated (UI-06).
var signInFailed = Msg("signin.failed")

// maxUsernameKey bounds the per-account rate-limit key.
const maxUsernameKey = 256

// errBadCredentials covers every failed password check.
var errBadCredentials = errors.New("bad credentials")

// signInForm is the data of the sign-in page.
type signInForm struct {
	CSRF     string
	ReturnTo string
	Username string
	Message  Message
	// Local shows the user name and password form; Upstreams are the
	// buttons of the upstream providers.
	Local     bool
	Upstreams []upstreamButton
}

// upstreamButton is one provider's button on the sign-in page: its Name,
// or, for a provider without one, "Sign in with" its id.
type upstreamButton struct{ Name, URL string }

func (s *Site) getSignIn(w http.ResponseWriter, r *http.Request) {
	returnTo := LocalPath(r.URL.Query().Get("return_to"))
	buttons, err := s.upstreamButtons(r.Context(), s.Lang(r), returnTo)
	if err != nil {
		s.logger().ErrorContext(r.Context(), "list upstream providers", "err", err)
		s.Unavailable(w, r)
		return
	}
	// With one provider and no password form there is nothing to choose.
	if s.NoLocalSignIn && len(buttons) == 1 {
		http.Redirect(w, r, buttons[0].URL, http.StatusSeeOther)
		return
	}
	sess, err := s.EnsureSession(w, r)
	if err != nil {
		s.logger().ErrorContext(r.Context(), "start session", "err", err)
		s.Unavailable(w, r)
		return
	}
	form := signInForm{CSRF: s.CSRFToken(sess, purposeSignIn, ""), ReturnTo: returnTo, Local: !s.NoLocalSignIn, Upstreams: buttons}
	if !form.Local && len(buttons) == 0 {
		s.logger().ErrorContext(r.Context(), "no way to sign in: GRANTD_LOCAL_SIGN_IN=false and no upstream provider")
		form.Message = Msg("signin.unavailable")
	}
	s.RenderForm(w, r, http.StatusOK, s.pages().signin, form, FormActionAny)
}

// upstreamButtons returns the sign-in page's buttons, which return to
// returnTo after the upstream sign-in.
func (s *Site) upstreamButtons(ctx context.Context, lang locale.Lang, returnTo string) ([]upstreamButton, error) {
	if s.Upstreams == nil {
		return nil, nil
	}
	ups, err := s.Upstreams(ctx)
	if err != nil {
		return nil, err
	}
	buttons := make([]upstreamButton, len(ups))
	for i, u := range ups {
		name := u.Name
		if name == "" {
			name = lang.T("signin.with", "name", u.ID)
		}
		buttons[i] = upstreamButton{Name: name, URL: UpstreamSignInURL(u.ID, returnTo)}
	}
	return buttons, nil
}

// postSignIn checks the CSRF token, spends the sign-in budgets before the
// password is looked at (UI-07), checks the password, and on success gives
// the attempt back to every budget it spent (only failures count), rotates
// the session and returns to the local return_to path.
func (s *Site) postSignIn(w http.ResponseWriter, r *http.Request) {
	if !s.ParseForm(w, r) {
		return
	}
	sess, ok, err := s.Session(r)
	if err != nil {
		s.logger().ErrorContext(r.Context(), "session lookup failed", "err", err)
		s.Unavailable(w, r)
		return
	}
	if !ok {
		s.Forbidden(w, r)
		return
	}
	if !s.CheckForm(w, r, sess, purposeSignIn, "") {
		return
	}
	if s.NoLocalSignIn {
		s.Error(w, r, http.StatusForbidden, Msg("signin.local_off"))
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	form := signInForm{
		CSRF:     s.CSRFToken(sess, purposeSignIn, ""),
		ReturnTo: LocalPath(r.PostForm.Get("return_to")),
		Username: username,
		Local:    true,
	}
	if form.Upstreams, err = s.upstreamButtons(r.Context(), s.Lang(r), form.ReturnTo); err != nil {
		s.logger().ErrorContext(r.Context(), "list upstream providers", "err", err)
		s.Unavailable(w, r)
		return
	}
	user, found, err := s.findUser(r.Context(), username)
	if err != nil {
		s.logger().ErrorContext(r.Context(), "sign-in failed on the store", "err", err)
		s.Unavailable(w, r)
		return
	}
	charges := s.signInCharges(r, username, user)
	allowed, retryAfter, err := s.Spend(r.Context(), charges...)
	switch {
	case err != nil:
		s.logger().ErrorContext(r.Context(), "rate limiter failed", "err", err)
		s.Unavailable(w, r)
		return
	case !allowed:
		s.logger().InfoContext(r.Context(), "sign-in rate limited", "ip", s.ClientIP(r).String())
		s.TooManyRequests(w, r, retryAfter)
		return
	}
	err = s.checkPassword(r.Context(), user, found, r.PostForm.Get("password"))
	switch {
	case errors.Is(err, errBadCredentials):
		s.logger().InfoContext(r.Context(), "sign-in failed", "event", "signin.failed", "reason", signInFailure(user, found),
			"user_id", user.ID, "ip", s.ClientIP(r).String())
		form.Message = signInFailed
		s.RenderForm(w, r, http.StatusBadRequest, s.pages().signin, form, FormActionAny)
		return
	case errors.Is(err, secret.ErrBusy):
		s.logger().WarnContext(r.Context(), "sign-in refused: too many password checks under way")
		s.Busy(w, r)
		return
	case err != nil:
		s.logger().ErrorContext(r.Context(), "sign-in failed", "err", err)
		s.Unavailable(w, r)
		return
	}
	s.refund(r, charges)
	if err := s.rememberBrowser(w, user.ID); err != nil {
		s.logger().WarnContext(r.Context(), "remember the browser", "err", err)
	}
	if _, err = s.SignIn(w, r, sess, user, s.now()); err != nil {
		s.logger().ErrorContext(r.Context(), "sign-in failed on the store", "err", err)
		s.Unavailable(w, r)
		return
	}
	s.logger().InfoContext(r.Context(), "signed in", "event", "signin", "user_id", user.ID)
	http.Redirect(w, r, form.ReturnTo, http.StatusSeeOther)
}

// signInFailure says, for the operator's log only, why a sign-in failed:
// the page says the same to everyone (UI-06). The name typed is not
// logged: it is sometimes a password typed in the wrong field.
func signInFailure(user store.User, found bool) string {
	switch {
	case !found:
		return "unknown user"
	case user.Disabled:
		return "account disabled"
	}
	return "wrong password"
}

// signInCharges returns the budgets one sign-in attempt spends. From a
// browser that signed in as user before (a device cookie), it is the
// cookie's own budget alone, so that neither a flood of guesses at the
// account nor one from the user's network nor one at everyone keeps the
// rightful user out; from any other browser, the client IP's, the
// account's and everyone's, in that order.
func (s *Site) signInCharges(r *http.Request, username string, user store.User) []Charge {
	budgets := s.SignInBudgets.WithDefaults(DefaultSignInBudgets())
	if id, ok := s.knownBrowser(r, user.ID); ok {
		return []Charge{{Key: "signin:browser:" + id, Budget: budgets.PerAccount}}
	}
	account := strings.ToLower(username)
	if len(account) > maxUsernameKey {
		account = account[:maxUsernameKey]
	}
	return s.Charges(r, "signin", account, budgets)
}

// refund gives back an attempt that did not count (it succeeded) to each
// budget it spent. A failure to is logged: the attempt then counts, which
// errs on the safe side.
func (s *Site) refund(r *http.Request, charges []Charge) {
	for _, c := range charges {
		if err := s.Limiter.Refund(r.Context(), c.Key, c.Budget); err != nil {
			s.logger().WarnContext(r.Context(), "refund a sign-in attempt", "err", err)
		}
	}
}

// findUser looks up a user by name. found is false when there is none; err
// is a store failure.
func (s *Site) findUser(ctx context.Context, username string) (store.User, bool, error) {
	user, err := s.Store.UserByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, false, nil
	}
	if err != nil {
		return store.User{}, false, fmt.Errorf("look up user: %w", err)
	}
	return user, true, nil
}

// checkPassword checks a password for user. It returns errBadCredentials
// for an unknown user, a wrong password or a disabled account alike, after
// the time of a password check in each case (UI-06) — for an unknown user
// without making one (Verifier.Pretend) — and secret.ErrBusy, or another
// error, when no check could be made.
func (s *Site) checkPassword(ctx context.Context, user store.User, found bool, password string) error {
	if !found || user.PasswordHash == "" { // unknown, or federated: no password here
		if err := s.verifier().Pretend(ctx); err != nil {
			return err
		}
		return errBadCredentials
	}
	err := s.verifier().Check(ctx, user.PasswordHash, password)
	switch {
	case errors.Is(err, secret.ErrBusy), ctx.Err() != nil:
		return err
	case err != nil && !errors.Is(err, secret.ErrMismatch):
		s.logger().ErrorContext(ctx, "stored password hash unusable", "user_id", user.ID, "err", err)
	}
	if err != nil || user.Disabled {
		return errBadCredentials
	}
	return nil
}

// postSignOut ends the session (CSRF checked) and goes to the sign-in page.
func (s *Site) postSignOut(w http.ResponseWriter, r *http.Request) {
	if !s.ParseForm(w, r) {
		return
	}
	sess, ok, err := s.Session(r)
	if err != nil {
		s.logger().ErrorContext(r.Context(), "session lookup failed", "err", err)
		s.Unavailable(w, r)
		return
	}
	if ok {
		if !s.CheckForm(w, r, sess, purposeSignOut, "") {
			return
		}
		if err := s.SignOut(w, r, sess); err != nil {
			s.logger().ErrorContext(r.Context(), "sign-out failed", "err", err)
			s.Unavailable(w, r)
			return
		}
	}
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
