package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// anonymousTTL is the lifetime of a session before sign-in: long enough to
// fill in a form.
const anonymousTTL = time.Hour

// anonymousPrefix marks the cookie of a session before sign-in. Such a
// session is nothing but its random id, which keys the CSRF tokens of the
// sign-in form; it is never stored, so a visitor who never signs in costs
// the store nothing (a flood of cookieless GET /signin once wrote a row
// each, 1.7 GB an hour). The store holds sessions from sign-in on.
const anonymousPrefix = "a."

// Session is the browser session of a request. The cookie holds a random
// 256-bit id; the store holds only its hash, and only once a user signed in.
type Session struct {
	store.Session
	// id is the raw session id from the cookie. It keys the CSRF tokens and
	// is never logged or stored.
	id string
}

// SignedIn reports whether a user has signed in to the session.
func (s Session) SignedIn() bool { return s.UserID != "" }

// CookieName is the session cookie's name: __Host-grantd_session when the
// issuer is https (the prefix demands Secure, Path=/ and no Domain), else
// grantd_session.
func (s *Site) CookieName() string {
	if s.secure() {
		return "__Host-grantd_session"
	}
	return "grantd_session"
}

// Secure reports whether the site's cookies are Secure and __Host-
// prefixed: its issuer is https.
func (s *Site) Secure() bool { return s.secure() }

func (s *Site) secure() bool {
	return strings.HasPrefix(strings.ToLower(s.Issuer), "https://")
}

// Session returns the live session of r. It reports ok false when r has no
// cookie or the session is unknown or expired; err is a store failure.
func (s *Site) Session(r *http.Request) (sess Session, ok bool, err error) {
	c, err := r.Cookie(s.CookieName())
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return Session{}, false, nil
	}
	if anonymous(c.Value) {
		return Session{id: c.Value}, true, nil
	}
	got, err := s.Store.Session(r.Context(), secret.Hash(c.Value), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("look up session: %w", err)
	}
	return Session{Session: got, id: c.Value}, true, nil
}

// anonymous reports whether a session cookie's value is that of a session
// before sign-in, which is not stored.
func anonymous(value string) bool {
	return strings.HasPrefix(value, anonymousPrefix) && len(value) >= len(anonymousPrefix)+secret.TokenBytes
}

// EnsureSession returns the session of r, starting an anonymous one (and
// setting its cookie) when there is none. Every form-rendering GET calls it
// first, so that the form's CSRF token has a session to be bound to. An
// anonymous session is not stored.
func (s *Site) EnsureSession(w http.ResponseWriter, r *http.Request) (Session, error) {
	sess, ok, err := s.Session(r)
	if err != nil || ok {
		return sess, err
	}
	raw, err := secret.NewToken(s.rand())
	if err != nil {
		return Session{}, fmt.Errorf("new session id: %w", err)
	}
	id := anonymousPrefix + raw
	http.SetCookie(w, s.cookie(id, s.now().Add(anonymousTTL), int(anonymousTTL/time.Second)))
	return Session{id: id}, nil
}

// SignIn starts a new session for user and ends old: the session id is
// rotated at sign-in, so an id planted before sign-in is worthless after it
// (UI-05, session fixation). authTime is when the user authenticated.
func (s *Site) SignIn(w http.ResponseWriter, r *http.Request, old Session, user store.User, authTime time.Time) (Session, error) {
	return s.SignInHolding(w, r, old, user, authTime, nil)
}

// SignInHolding is SignIn for a sign-in at an upstream provider whose
// tokens the session holds for a passthrough client (store.Session.
// UpstreamTokens): seal, when not nil, returns them sealed for the new
// session's id hash.
func (s *Site) SignInHolding(w http.ResponseWriter, r *http.Request, old Session, user store.User, authTime time.Time,
	seal func(idHash string) (string, error)) (Session, error) {
	sess, err := s.startSession(r.Context(), w, user.ID, authTime, s.sessionTTL(), seal)
	if err != nil {
		return Session{}, err
	}
	if old.IDHash != "" {
		if err := s.Store.DeleteSession(r.Context(), old.IDHash); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.logger().WarnContext(r.Context(), "delete rotated session", "err", err)
		}
	}
	return sess, nil
}

// SignOut deletes the session and clears its cookie.
func (s *Site) SignOut(w http.ResponseWriter, r *http.Request, sess Session) error {
	s.clearCookie(w)
	if sess.IDHash == "" {
		return nil
	}
	if err := s.Store.DeleteSession(r.Context(), sess.IDHash); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

func (s *Site) startSession(ctx context.Context, w http.ResponseWriter, userID string, authTime time.Time, ttl time.Duration,
	seal func(idHash string) (string, error)) (Session, error) {
	id, err := secret.NewToken(s.rand())
	if err != nil {
		return Session{}, fmt.Errorf("new session id: %w", err)
	}
	now := s.now()
	st := store.Session{
		IDHash:    secret.Hash(id),
		UserID:    userID,
		AuthTime:  authTime,
		CreatedAt: now,
		ExpiresAt: now.Add(ttl),
	}
	if seal != nil {
		if st.UpstreamTokens, err = seal(st.IDHash); err != nil {
			return Session{}, fmt.Errorf("seal the session's upstream tokens: %w", err)
		}
	}
	if err := s.Store.CreateSession(ctx, st); err != nil {
		return Session{}, fmt.Errorf("create session: %w", err)
	}
	http.SetCookie(w, s.cookie(id, st.ExpiresAt, int(ttl/time.Second)))
	return Session{Session: st, id: id}, nil
}

func (s *Site) cookie(value string, expires time.Time, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     s.CookieName(),
		Value:    value,
		Path:     "/",
		Expires:  expires,
		MaxAge:   maxAge,
		Secure:   s.secure(),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

func (s *Site) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, s.cookie("", time.Unix(0, 0), -1))
}

// RequireUser returns the signed-in session and user of r. When nobody is
// signed in (or the user was since disabled) it redirects with 303 to the
// sign-in page, which returns here afterwards, and reports ok false; on a
// store failure it writes the 503 page and reports ok false.
func (s *Site) RequireUser(w http.ResponseWriter, r *http.Request) (Session, store.User, bool) {
	sess, ok, err := s.Session(r)
	if err != nil {
		s.logger().ErrorContext(r.Context(), "session lookup failed", "err", err)
		s.Unavailable(w, r)
		return Session{}, store.User{}, false
	}
	if ok && sess.SignedIn() {
		user, err := s.Store.User(r.Context(), sess.UserID)
		switch {
		case err == nil && !user.Disabled:
			return sess, user, true
		case err != nil && !errors.Is(err, store.ErrNotFound):
			s.logger().ErrorContext(r.Context(), "user lookup failed", "err", err)
			s.Unavailable(w, r)
			return Session{}, store.User{}, false
		}
	}
	back := r.URL.RequestURI()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// A form post cannot be replayed after sign-in; return to the page
		// it came from, the route's first segment (/device/decision →
		// /device, /account/revoke → /account).
		first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		back = "/" + first
	}
	http.Redirect(w, r, SignInURL(back), http.StatusSeeOther)
	return Session{}, store.User{}, false
}

// SignInURL returns the sign-in page's URL that returns to returnTo.
func SignInURL(returnTo string) string {
	return "/signin?" + url.Values{"return_to": {LocalPath(returnTo)}}.Encode()
}

// DefaultReturnTo is where sign-in leads when return_to is absent or unsafe.
const DefaultReturnTo = "/device"

// LocalPath returns p when it is a path on this site, else DefaultReturnTo.
// A local path starts with a single "/", and has no "//" or "/\" prefix
// (both mean another host to a browser), no backslash, no control character
// (browsers drop tabs and newlines, so "/\t/evil" becomes "//evil"), and no
// scheme or host. This is what keeps return_to from being an open
// redirector (RFC 6819 §4.2.4).
func LocalPath(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\') {
		return DefaultReturnTo
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return DefaultReturnTo
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return DefaultReturnTo
	}
	return p
}
