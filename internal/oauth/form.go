package oauth

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// MaxFormBytes caps a protocol request body (GEN-07).
const MaxFormBytes = 64 << 10

// Form holds the parameters of a protocol request, each present at most once.
type Form struct{ params []param }

type param struct{ name, value string }

// Get returns the parameter's value, or "" when absent.
func (f Form) Get(name string) string {
	for _, p := range f.params {
		if p.name == name {
			return p.value
		}
	}
	return ""
}

// Has reports whether the parameter was sent.
func (f Form) Has(name string) bool {
	for _, p := range f.params {
		if p.name == name {
			return true
		}
	}
	return false
}

// ErrQueryString is the Cause of the error with which ParseForm refuses
// parameters sent in the URI, so that an endpoint can say more.
var ErrQueryString = errors.New("oauth: parameters in the query string")

// ParseForm reads a POST request's application/x-www-form-urlencoded body as
// RFC 6749 §3.2 and §3.1 require: POST only, parameters in the body and not
// in the URI (§2.3.1 forbids credentials there), none repeated, body at most
// MaxFormBytes (413 beyond).
func ParseForm(w http.ResponseWriter, r *http.Request) (Form, error) {
	return parseForm(w, r, nil)
}

// ParseFormQuery is ParseForm for a request that may also carry the
// parameters named in query in its query string, as devices written
// against the AWS sample send them (GRANTD_AWS_SAMPLE_COMPAT). A parameter
// in the body wins over one of the same name in the query string; one
// repeated within either is refused, as is any other parameter in the
// query string. The body may then be empty and have no content type.
func ParseFormQuery(w http.ResponseWriter, r *http.Request, query ...string) (Form, error) {
	if query == nil {
		query = []string{}
	}
	return parseForm(w, r, query)
}

// parseForm is ParseForm, with the parameters named in query (when not
// nil) also accepted from the query string.
func parseForm(w http.ResponseWriter, r *http.Request, query []string) (Form, error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return Form{}, &Error{Code: InvalidRequest, Description: "The method must be POST.", Status: http.StatusMethodNotAllowed}
	}
	fromQuery, err := queryParams(r, query)
	if err != nil {
		return Form{}, err
	}
	body, err := readBody(w, r, query != nil)
	if err != nil {
		return Form{}, err
	}
	params, ok := parseParams(body)
	if !ok {
		return Form{}, NewError(InvalidRequest, "The request body is not valid form encoding.")
	}
	if name, ok := repeated(params); ok {
		return Form{}, NewError(InvalidRequest, "A parameter is repeated: "+safeName(name)+".")
	}
	inBody := Form{params: params}
	merged := params
	for _, p := range fromQuery {
		if !inBody.Has(p.name) { // the body wins
			merged = append(merged, p)
		}
	}
	return Form{params: merged}, nil
}

// queryParams returns the parameters of r's query string, each of which
// must be named in allowed (nil allows none) and sent once.
func queryParams(r *http.Request, allowed []string) ([]param, error) {
	if r.URL.RawQuery == "" {
		return nil, nil
	}
	refused := &Error{Code: InvalidRequest, Description: "Parameters must be sent in the request body, not in the URI.",
		Status: http.StatusBadRequest, Cause: ErrQueryString}
	if allowed == nil {
		return nil, refused
	}
	params, ok := parseParams(r.URL.RawQuery)
	if !ok {
		return nil, NewError(InvalidRequest, "The query string is not valid form encoding.")
	}
	if name, ok := repeated(params); ok {
		return nil, NewError(InvalidRequest, "A parameter is repeated: "+safeName(name)+".")
	}
	for _, p := range params {
		if !slices.Contains(allowed, p.name) {
			refused.Description = "The parameter " + safeName(p.name) + " must be sent in the request body, not in the URI."
			return nil, refused
		}
	}
	return params, nil
}

// readBody reads the form body of r. With emptyOK, a body that is empty
// may have no content type.
func readBody(w http.ResponseWriter, r *http.Request, emptyOK bool) (string, error) {
	ct := r.Header.Get("Content-Type")
	untyped := emptyOK && ct == ""
	if ct != formContentType && !untyped { // else, as it usually is, no need to parse it
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != formContentType {
			return "", errContentType()
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxFormBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", &Error{Code: InvalidRequest, Description: "The request body is too large.", Status: http.StatusRequestEntityTooLarge}
		}
		return "", NewError(InvalidRequest, "The request body could not be read.")
	}
	if untyped && len(body) > 0 {
		return "", errContentType()
	}
	return string(body), nil
}

func errContentType() *Error {
	return NewError(InvalidRequest, "The content type must be application/x-www-form-urlencoded.")
}

const formContentType = "application/x-www-form-urlencoded"

// maxShortForm is how many parameters a body may have for parseParams to
// decode it itself, as it decodes protocol requests; longer bodies go to
// url.ParseQuery.
const maxShortForm = 8

// parseParams decodes an application/x-www-form-urlencoded body as
// url.ParseQuery does, without its map: every parameter, in order for a
// short body, and ok false when url.ParseQuery would fail.
func parseParams(body string) (params []param, ok bool) {
	if strings.Count(body, "&") >= maxShortForm || strings.Contains(body, ";") {
		return parseLongParams(body)
	}
	params = make([]param, 0, maxShortForm)
	for body != "" {
		var pair string
		pair, body, _ = strings.Cut(body, "&")
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(name)
		if err != nil {
			return nil, false
		}
		if value, err = url.QueryUnescape(value); err != nil {
			return nil, false
		}
		params = append(params, param{name, value})
	}
	return params, true
}

// parseLongParams is parseParams through url.ParseQuery, for any body.
func parseLongParams(body string) (params []param, ok bool) {
	v, err := url.ParseQuery(body)
	if err != nil {
		return nil, false
	}
	for name, vs := range v {
		for _, value := range vs {
			params = append(params, param{name, value})
		}
	}
	return params, true
}

// repeated returns the name of a parameter that params holds more than
// once, if any.
func repeated(params []param) (name string, ok bool) {
	if len(params) <= maxShortForm {
		for i, p := range params {
			for _, q := range params[:i] {
				if p.name == q.name {
					return p.name, true
				}
			}
		}
		return "", false
	}
	seen := make(map[string]bool, len(params))
	for _, p := range params {
		if seen[p.name] {
			return p.name, true
		}
		seen[p.name] = true
	}
	return "", false
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
