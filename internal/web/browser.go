package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/secret"
)

// A browser that has signed in as a user before carries a device cookie
// (OWASP's "device cookies" against online guessing): the user's id, a
// random id of its own and when it was issued, signed with the site's
// BrowserKey. Sign-ins from it are not held up by the budgets an attacker
// can spend — the account's, the client IP's, everyone's — but by a budget
// of the cookie's own, so that a user whose account is under attack still
// signs in from a browser they used before.
const (
	browserCookieTTL     = 365 * 24 * time.Hour
	browserCookieVersion = "v1"
)

// BrowserCookieName is the device cookie's name: __Host-grantd_browser when
// the issuer is https, else grantd_browser.
func (s *Site) BrowserCookieName() string {
	if s.secure() {
		return "__Host-grantd_browser"
	}
	return "grantd_browser"
}

// knownBrowser returns the id of r's device cookie when the site issued it
// at a sign-in of userID within browserCookieTTL, and ok false otherwise.
func (s *Site) knownBrowser(r *http.Request, userID string) (id string, ok bool) {
	if len(s.BrowserKey) == 0 || userID == "" {
		return "", false
	}
	c, err := r.Cookie(s.BrowserCookieName())
	if err != nil || len(c.Value) > 256 {
		return "", false
	}
	payload, mac, found := strings.Cut(c.Value, "~")
	if !found || !hmac.Equal([]byte(mac), []byte(s.browserMAC(payload))) {
		return "", false
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 4 || parts[0] != browserCookieVersion || parts[1] != userID {
		return "", false
	}
	issued, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || s.now().Sub(time.Unix(issued, 0)) > browserCookieTTL {
		return "", false
	}
	return parts[2], true
}

// rememberBrowser gives the browser of a successful sign-in of userID a
// fresh device cookie.
func (s *Site) rememberBrowser(w http.ResponseWriter, userID string) error {
	if len(s.BrowserKey) == 0 {
		return nil
	}
	id, err := secret.NewToken(s.rand())
	if err != nil {
		return err
	}
	payload := strings.Join([]string{browserCookieVersion, userID, id, strconv.FormatInt(s.now().Unix(), 10)}, ".")
	http.SetCookie(w, &http.Cookie{
		Name:     s.BrowserCookieName(),
		Value:    payload + "~" + s.browserMAC(payload),
		Path:     "/",
		MaxAge:   int(browserCookieTTL / time.Second),
		Secure:   s.secure(),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func (s *Site) browserMAC(payload string) string {
	m := hmac.New(sha256.New, s.BrowserKey)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
