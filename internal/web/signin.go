package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

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
const signInFailed = "Incorrect username or password."

// maxUsernameKey bounds the per-account rate-limit key.
const maxUsernameKey = 256

// dummyPasswordHash is checked when the user name is unknown, so that an
// unknown user costs the same argon2id work as a known one (UI-06). It has
// the parameters of secret.HashPassword; no password matches it in practice.
const dummyPasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$Z3JhbnRkLWR1bW15LXNhbA$IEvD7CauDrOq+Kk3YdR/6gzFke68w2+fr7J/NyhEFzc"

// errBadCredentials covers every failed password check.
var errBadCredentials = errors.New("bad credentials")

// signInForm is the data of the sign-in page.
type signInForm struct {
	CSRF     string
	ReturnTo string
	Username string
	Message  string
}

func (s *Site) getSignIn(w http.ResponseWriter, r *http.Request) {
	sess, err := s.EnsureSession(w, r)
	if err != nil {
		s.logger().ErrorContext(r.Context(), "start session", "err", err)
		s.Unavailable(w, r)
		return
	}
	s.RenderForm(w, http.StatusOK, s.pages().signin, signInForm{
		CSRF:     s.CSRFToken(sess, purposeSignIn, ""),
		ReturnTo: LocalPath(r.URL.Query().Get("return_to")),
	}, FormActionAny)
}

// postSignIn checks the CSRF token, spends the sign-in budgets before the
// password is looked at (UI-07), checks the password, and on success
// rotates the session and returns to the local return_to path.
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
	username := strings.TrimSpace(r.PostForm.Get("username"))
	form := signInForm{
		CSRF:     s.CSRFToken(sess, purposeSignIn, ""),
		ReturnTo: LocalPath(r.PostForm.Get("return_to")),
		Username: username,
	}
	account := strings.ToLower(username)
	if len(account) > maxUsernameKey {
		account = account[:maxUsernameKey]
	}
	budgets := s.SignInBudgets.WithDefaults(DefaultSignInBudgets())
	allowed, retryAfter, err := s.Spend(r.Context(), s.Charges(r, "signin", account, budgets)...)
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
	user, err := s.authenticate(r.Context(), username, r.PostForm.Get("password"))
	if errors.Is(err, errBadCredentials) {
		s.logger().InfoContext(r.Context(), "sign-in failed", "ip", s.ClientIP(r).String())
		form.Message = signInFailed
		s.RenderForm(w, http.StatusBadRequest, s.pages().signin, form, FormActionAny)
		return
	}
	if err == nil {
		_, err = s.SignIn(w, r, sess, user, s.now())
	}
	if err != nil {
		s.logger().ErrorContext(r.Context(), "sign-in failed on the store", "err", err)
		s.Unavailable(w, r)
		return
	}
	s.logger().InfoContext(r.Context(), "signed in", "user_id", user.ID)
	http.Redirect(w, r, form.ReturnTo, http.StatusSeeOther)
}

// authenticate checks a user name and password. It returns
// errBadCredentials for an unknown user, a wrong password or a disabled
// account alike, after the same argon2id work in each case, and another
// error only when the store fails.
func (s *Site) authenticate(ctx context.Context, username, password string) (store.User, error) {
	user, err := s.Store.UserByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		_ = secret.CheckPassword(dummyPasswordHash, password)
		return store.User{}, errBadCredentials
	}
	if err != nil {
		return store.User{}, fmt.Errorf("look up user: %w", err)
	}
	err = secret.CheckPassword(user.PasswordHash, password)
	if err != nil && !errors.Is(err, secret.ErrMismatch) {
		s.logger().ErrorContext(ctx, "stored password hash unusable", "user_id", user.ID, "err", err)
	}
	if err != nil || user.Disabled {
		return store.User{}, errBadCredentials
	}
	return user, nil
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
