package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// CSRFField is the form field that carries the CSRF token.
const CSRFField = "csrf_token"

// CSRFToken returns the token of a form with the given purpose (e.g.
// "signin", "device.decision") and binding (e.g. the user code the form
// decides; "" when the form is not about one request). The token is
// base64url(HMAC-SHA256(key = raw session id, purpose NUL binding)): it is
// valid only for this session, this kind of form and this request
// (DEV-13, RFC 6749 §10.12), and a stolen database, which holds only the
// hash of the session id, does not yield it.
func (s *Site) CSRFToken(sess Session, purpose, binding string) string {
	mac := hmac.New(sha256.New, []byte(sess.id))
	mac.Write([]byte(purpose))
	mac.Write([]byte{0})
	mac.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// CheckCSRF reports, in constant time, whether token is the CSRF token of
// sess for purpose and binding. A session without an id (none in the
// request) never matches.
func (s *Site) CheckCSRF(sess Session, purpose, binding, token string) bool {
	if sess.id == "" || token == "" {
		return false
	}
	want := s.CSRFToken(sess, purpose, binding)
	return hmac.Equal([]byte(want), []byte(token))
}

// CheckForm checks the CSRF token posted in r's form (already parsed) for
// purpose and binding. On failure it writes the 403 page and returns false;
// the caller must then change nothing.
func (s *Site) CheckForm(w http.ResponseWriter, r *http.Request, sess Session, purpose, binding string) bool {
	if s.CheckCSRF(sess, purpose, binding, r.PostForm.Get(CSRFField)) {
		return true
	}
	s.logger().InfoContext(r.Context(), "csrf check failed", "purpose", purpose, "path", r.URL.Path)
	s.Forbidden(w, r)
	return false
}

// AccountOf returns the "account" template data for a signed-in session.
func (s *Site) AccountOf(sess Session, username string) *Account {
	return &Account{Username: username, CSRF: s.CSRFToken(sess, purposeSignOut, "")}
}
