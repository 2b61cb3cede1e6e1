package oauth

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// MaxFormBytes caps a protocol request body (GEN-07).
const MaxFormBytes = 64 << 10

// Form holds the parameters of a protocol request, each present at most once.
type Form struct{ v url.Values }

// Get returns the parameter's value, or "" when absent.
func (f Form) Get(name string) string {
	if vs := f.v[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// Has reports whether the parameter was sent.
func (f Form) Has(name string) bool { return len(f.v[name]) > 0 }

// ParseForm reads a POST request's application/x-www-form-urlencoded body as
// RFC 6749 §3.2 and §3.1 require: POST only, parameters in the body and not
// in the URI (§2.3.1 forbids credentials there), none repeated, body at most
// MaxFormBytes (413 beyond).
func ParseForm(w http.ResponseWriter, r *http.Request) (Form, error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return Form{}, &Error{Code: InvalidRequest, Description: "The method must be POST.", Status: http.StatusMethodNotAllowed}
	}
	if r.URL.RawQuery != "" {
		return Form{}, NewError(InvalidRequest, "Parameters must be sent in the request body, not in the URI.")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return Form{}, NewError(InvalidRequest, "The content type must be application/x-www-form-urlencoded.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxFormBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return Form{}, &Error{Code: InvalidRequest, Description: "The request body is too large.", Status: http.StatusRequestEntityTooLarge}
		}
		return Form{}, NewError(InvalidRequest, "The request body could not be read.")
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return Form{}, NewError(InvalidRequest, "The request body is not valid form encoding.")
	}
	for name, vs := range v {
		if len(vs) > 1 {
			return Form{}, NewError(InvalidRequest, "A parameter is repeated: "+safeName(name)+".")
		}
	}
	return Form{v: v}, nil
}

// safeName returns a parameter name fit to echo in error_description (RFC 6749
// §5.2 limits it to %x20-21 / %x23-5B / %x5D-7E): well-known names as they
// are, anything else replaced, so raw input is never echoed (TOK-07).
func safeName(name string) string {
	if len(name) <= 32 && strings.Trim(name, "abcdefghijklmnopqrstuvwxyz_") == "" {
		return name
	}
	return "(unnamed)"
}
