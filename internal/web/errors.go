package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/locale"
)

// Message is a message of the catalog (package locale) with its
// placeholders' values, said in the language of the page that shows it.
type Message struct {
	Key  locale.Key
	Args []any
}

// Msg returns the message key with args, pairs of a placeholder's name and
// its value. A value may be a Localized, said in the page's language.
func Msg(key locale.Key, args ...any) Message { return Message{Key: key, Args: args} }

// Localized is a placeholder's value that depends on the language, such
// as "in 5 minutes".
type Localized func(locale.Lang) string

// In returns m in language l.
func (m Message) In(l locale.Lang) string {
	args, copied := m.Args, false
	for i, a := range args {
		if f, ok := a.(Localized); ok {
			if !copied {
				args, copied = slices.Clone(args), true
			}
			args[i] = f(l)
		}
	}
	return l.T(m.Key, args...)
}

// Within returns "in N seconds/minutes/hours" for d in the page's language.
func Within(d time.Duration) Localized {
	return func(l locale.Lang) string { return l.In(d) }
}

// errorPage is the data of the error page: a heading in plain words, what
// happened and what to do, and the way on.
type errorPage struct {
	Heading, Message Message
	// Link, when its Href is set, is where the page offers to go on.
	Link errorLink
}

// errorLink is the way on from an error page.
type errorLink struct {
	Href string
	Text Message
}

// errorLinkFor chooses the error page's way on by the page that failed: the
// device pages start over at /device; the account page returns to itself;
// an /authorize request has no safe way back — its redirect URI may be the
// very thing that failed — so its messages send the user back to the app.
func errorLinkFor(r *http.Request) errorLink {
	switch {
	case r == nil:
		return errorLink{"/", Msg("error.home")}
	case r.URL.Path == "/authorize" || strings.HasPrefix(r.URL.Path, "/authorize/"):
		return errorLink{}
	case r.URL.Path == "/account" || strings.HasPrefix(r.URL.Path, "/account/"):
		return errorLink{"/account", Msg("error.back_account")}
	case r.URL.Path == "/device" || strings.HasPrefix(r.URL.Path, "/device/"):
		return errorLink{"/device", Msg("error.start_over")}
	default:
		return errorLink{"/", Msg("error.home")}
	}
}

// headingFor is the error page's heading for a status, in plain words.
func headingFor(status int) Message {
	switch status {
	case http.StatusForbidden:
		return Msg("error.title_denied")
	case http.StatusNotFound:
		return Msg("error.title_not_found")
	case http.StatusRequestEntityTooLarge:
		return Msg("error.title_too_large")
	case http.StatusTooManyRequests:
		return Msg("error.title_too_many")
	case http.StatusServiceUnavailable:
		return Msg("error.title_unavailable")
	}
	if status >= 500 {
		return Msg("error.title_internal")
	}
	return Msg("error.title_bad")
}

// Error writes the error page with status, the heading its status has
// (headingFor) and msg, which tells the user what happened and what to do.
// Never put err.Error() of an internal error in msg. r may be nil.
func (s *Site) Error(w http.ResponseWriter, r *http.Request, status int, msg Message) {
	s.Problem(w, r, status, headingFor(status), msg)
}

// Problem is Error with a heading of the caller's, such as "This code has
// expired".
func (s *Site) Problem(w http.ResponseWriter, r *http.Request, status int, heading, msg Message) {
	s.Render(w, r, status, s.pages().err, errorPage{Heading: heading, Message: msg, Link: errorLinkFor(r)})
}

// retryAfter sets Retry-After to d in whole seconds, rounded up, and
// returns the value set.
func retryAfter(w http.ResponseWriter, d time.Duration) time.Duration {
	secs := max(int64((d+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	return time.Duration(secs) * time.Second
}

// TooManyRequests writes the 429 page with a Retry-After header in whole
// seconds, rounded up, and says when the user can try again.
func (s *Site) TooManyRequests(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	d := retryAfter(w, wait)
	s.Error(w, r, http.StatusTooManyRequests, Msg("error.too_many", "when", Within(d)))
}

// Unavailable writes the 503 page with a Retry-After header, for a failing
// store: the user is told to retry, never that something succeeded.
func (s *Site) Unavailable(w http.ResponseWriter, r *http.Request) {
	d := retryAfter(w, 5*time.Second)
	s.Error(w, r, http.StatusServiceUnavailable, Msg("error.unavailable", "when", Within(d)))
}

// Busy writes the 503 page when too many password checks are under way:
// the user is told to try again in a moment.
func (s *Site) Busy(w http.ResponseWriter, r *http.Request) {
	d := retryAfter(w, 2*time.Second)
	s.Error(w, r, http.StatusServiceUnavailable, Msg("error.busy", "when", Within(d)))
}

// UnavailableFor writes a 503 page with msg, whose {when} placeholder says
// when to try again: after wait, which Retry-After carries too.
func (s *Site) UnavailableFor(w http.ResponseWriter, r *http.Request, wait time.Duration, key locale.Key, args ...any) {
	d := retryAfter(w, wait)
	s.Error(w, r, http.StatusServiceUnavailable, Msg(key, append(args, "when", Within(d))...))
}

// Forbidden writes the 403 page for a failed CSRF or origin check.
func (s *Site) Forbidden(w http.ResponseWriter, r *http.Request) {
	s.Problem(w, r, http.StatusForbidden, Msg("error.title_forbidden"), Msg("error.forbidden"))
}
