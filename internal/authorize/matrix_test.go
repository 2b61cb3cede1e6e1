package authorize_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/grantd/grantd/internal/web/webtest"
)

// pkceParams returns the PKCE parameters of a state of the matrix.
func pkceParams(state string) (challengeValue, method string) {
	const absent = "\x00"
	switch state {
	case "none":
		return absent, absent
	case "S256":
		return challenge, "S256"
	case "plain":
		return verifier, "plain"
	case "bad syntax":
		return challenge[:42] + "+", "S256"
	case "short":
		return challenge[:42], "S256"
	case "method only":
		return absent, "S256"
	case "challenge only":
		return challenge, absent
	}
	panic("unknown PKCE state " + state)
}

// mutate returns the redirect_uri a mutation of the registered URI sends;
// "\x00" leaves it out.
func mutate(kind, registered string) string {
	u, err := url.Parse(registered)
	if err != nil {
		panic(err)
	}
	rest := strings.TrimPrefix(registered, "https://"+u.Host)
	switch kind {
	case "exact":
		return registered
	case "omitted":
		return "\x00"
	case "trailing slash":
		return "https://" + u.Host + u.Path + "/" + strings.TrimPrefix(rest, u.Path)
	case "host case":
		return "https://" + strings.ToUpper(u.Host) + rest
	case "path case":
		return "https://" + u.Host + strings.ToUpper(rest)
	case "extra query":
		if u.RawQuery != "" {
			return registered + "&x=1"
		}
		return registered + "?x=1"
	case "fragment":
		return registered + "#f"
	case "empty fragment":
		return registered + "#"
	case "port":
		return "https://" + u.Host + ":444" + rest
	case "default port":
		return "https://" + u.Host + ":443" + rest
	case "http":
		return "http://" + u.Host + rest
	case "//evil":
		return "//evil.example" + rest
	case "@evil":
		return "https://" + u.Host + "@evil.example" + rest
	case "percent":
		return "https://" + u.Host + strings.Replace(rest, "c", "%63", 1)
	case "subdomain":
		return "https://evil." + u.Host + rest
	case "dot segment":
		return "https://" + u.Host + u.Path + "/../cb" + strings.TrimPrefix(rest, u.Path)
	case "empty":
		return ""
	}
	panic("unknown mutation " + kind)
}

// Outcomes of a line of the matrix besides an error code.
const (
	wantPage = "page" // an error page, no redirect
	wantCode = "code" // a code sent to the registered URI
)

// matrix is the error matrix of the authorization endpoint: client type ×
// PKCE state × redirect_uri mutation × response_type → outcome.
var matrix = []struct {
	client, pkce, redirect, responseType string
	want                                 string // page, code, or the error code
}{
	// PKCE (AZ-07, AZ-08, AZ-09).
	{"pub", "S256", "exact", "code", wantCode},
	{"pub", "S256", "omitted", "code", wantCode},
	{"pub", "none", "exact", "code", "invalid_request"},
	{"pub", "plain", "exact", "code", "invalid_request"},
	{"pub", "bad syntax", "exact", "code", "invalid_request"},
	{"pub", "short", "exact", "code", "invalid_request"},
	{"pub", "method only", "exact", "code", "invalid_request"},
	{"pub", "challenge only", "exact", "code", "invalid_request"},
	{"pub", "none", "omitted", "code", "invalid_request"},
	{"conf", "none", "exact", "code", wantCode},
	{"conf", "none", "omitted", "code", wantCode},
	{"conf", "S256", "exact", "code", wantCode},
	{"conf", "plain", "exact", "code", "invalid_request"},
	{"conf", "bad syntax", "exact", "code", "invalid_request"},
	{"conf", "short", "omitted", "code", "invalid_request"},
	{"conf", "method only", "exact", "code", "invalid_request"},
	{"conf", "challenge only", "exact", "code", "invalid_request"},
	// response_type (AZ-16).
	{"pub", "S256", "exact", "", "invalid_request"},
	{"pub", "S256", "exact", "token", "unsupported_response_type"},
	{"pub", "S256", "exact", "id_token", "unsupported_response_type"},
	{"pub", "S256", "exact", "code token", "unsupported_response_type"},
	{"pub", "S256", "exact", "code id_token", "unsupported_response_type"},
	{"pub", "S256", "exact", "CODE", "unsupported_response_type"},
	{"conf", "none", "omitted", "token", "unsupported_response_type"},
	{"conf", "plain", "exact", "token", "unsupported_response_type"},
	// redirect_uri mutations (AZ-01): an error page, whatever else is wrong.
	{"pub", "S256", "trailing slash", "code", wantPage},
	{"pub", "S256", "host case", "code", wantPage},
	{"pub", "S256", "path case", "code", wantPage},
	{"pub", "S256", "extra query", "code", wantPage},
	{"pub", "S256", "fragment", "code", wantPage},
	{"pub", "S256", "empty fragment", "code", wantPage},
	{"pub", "S256", "port", "code", wantPage},
	{"pub", "S256", "default port", "code", wantPage},
	{"pub", "S256", "http", "code", wantPage},
	{"pub", "S256", "//evil", "code", wantPage},
	{"pub", "S256", "@evil", "code", wantPage},
	{"pub", "S256", "percent", "code", wantPage},
	{"pub", "S256", "subdomain", "code", wantPage},
	{"pub", "S256", "dot segment", "code", wantPage},
	{"pub", "S256", "empty", "code", wantPage},
	{"conf", "none", "trailing slash", "code", wantPage},
	{"conf", "none", "host case", "code", wantPage},
	{"conf", "none", "path case", "code", wantPage},
	{"conf", "none", "extra query", "code", wantPage},
	{"conf", "none", "fragment", "code", wantPage},
	{"conf", "none", "port", "code", wantPage},
	{"conf", "none", "http", "code", wantPage},
	{"conf", "none", "//evil", "code", wantPage},
	{"conf", "none", "@evil", "code", wantPage},
	{"conf", "none", "percent", "code", wantPage},
	{"conf", "none", "subdomain", "code", wantPage},
	{"pub", "none", "trailing slash", "code", wantPage},
	{"pub", "plain", "@evil", "token", wantPage},
	{"conf", "method only", "//evil", "", wantPage},
}

// TestAuthorizeMatrix runs the matrix: an error page (AZ-01, AZ-03), an
// error redirect to the registered URI with state and iss, or a code. Each
// line is one request by a signed-in user who consented before.
func TestAuthorizeMatrix(t *testing.T) {
	f := newFixture(t)
	f.consent("u-alice", "pub", allScopes...)
	f.consent("u-alice", "conf", allScopes...)
	b := f.signedIn("alice")
	registered := map[string]string{"pub": pubURI, "conf": confURI}
	for _, tt := range matrix {
		name := strings.Join([]string{tt.client, tt.pkce, tt.redirect, tt.responseType}, " × ")
		ch, method := pkceParams(tt.pkce)
		params := with(url.Values{"client_id": {tt.client}, "scope": {"openid"}, "state": {"s-" + tt.client}},
			"response_type", tt.responseType, "code_challenge", ch, "code_challenge_method", method,
			"redirect_uri", mutate(tt.redirect, registered[tt.client]))
		if tt.responseType == "" {
			params.Del("response_type")
		}
		resp := b.Get(authz(params))
		switch tt.want {
		case wantPage:
			errorPage(t, name, resp, http.StatusBadRequest)
			continue
		case wantCode:
			q := f.clientRedirect(t, name, resp, registered[tt.client])
			if q.Get("code") == "" || q.Has("error") || q.Get("state") != "s-"+tt.client {
				t.Errorf("%s: response %v, want a code and state", name, q)
			}
		default:
			q := f.clientRedirect(t, name, resp, registered[tt.client])
			if q.Get("error") != tt.want || q.Has("code") || q.Get("state") != "s-"+tt.client || q.Get("error_description") == "" {
				t.Errorf("%s: response %v, want error=%s with state and a description", name, q, tt.want)
			}
		}
		webtest.CheckSecurityHeaders(t, name, resp)
	}
}

// TestAuthorizeClientErrors checks AZ-01, AZ-03, AZ-04 and AZ-15 for the
// parameters that decide where a response may go: every problem is an
// error page, never a redirect.
func TestAuthorizeClientErrors(t *testing.T) {
	valid := pubRequest()
	tests := []struct {
		name  string
		query string
	}{
		{"no client_id", authz(with(valid, "client_id", "\x00"))},
		{"empty client_id", authz(with(valid, "client_id", ""))},
		{"unknown client_id", authz(with(valid, "client_id", "nobody"))},
		{"disabled client", authz(with(valid, "client_id", "off", "redirect_uri", "https://off.example/cb"))},
		{"AZ-15 repeated client_id", authz(valid) + "&client_id=conf"},
		{"AZ-15 repeated client_id, same value", authz(valid) + "&client_id=pub"},
		{"AZ-15 repeated redirect_uri", authz(valid) + "&redirect_uri=" + url.QueryEscape(pubURI)},
		{"AZ-04 omitted with two registered", authz(with(valid, "client_id", "multi", "redirect_uri", "\x00"))},
		{"another client's URI", authz(with(valid, "redirect_uri", confURI))},
		{"malformed query", "/authorize?client_id=pub&redirect_uri=%zz"},
		{"empty query", "/authorize"},
	}
	f := newFixture(t)
	f.consent("u-alice", "pub", allScopes...)
	for _, who := range []string{"signed out", "signed in"} {
		b := f.browser()
		if who == "signed in" {
			b = f.signedIn("alice")
		}
		for _, tt := range tests {
			errorPage(t, who+": "+tt.name, b.Get(tt.query), http.StatusBadRequest)
		}
	}
}

// TestAuthorizeRequestErrors checks the errors redirected once the client
// and redirect URI are known: AZ-15, AZ-26, RFC 8707 and OpenID Connect
// Core's prompt and max_age. state is echoed unless it was repeated.
func TestAuthorizeRequestErrors(t *testing.T) {
	valid := pubRequest()
	tests := []struct {
		name, query, want string
		state             bool
	}{
		{"AZ-15 repeated scope", authz(valid) + "&scope=openid", "invalid_request", true},
		{"AZ-15 repeated state", authz(valid) + "&state=other", "invalid_request", false},
		{"AZ-15 repeated response_type", authz(valid) + "&response_type=code", "invalid_request", true},
		{"AZ-15 repeated resource", authz(with(valid, "resource", "https://api.example/")) + "&resource=https://b.example/", "invalid_request", true},
		{"client without the grant", authz(with(valid, "client_id", "devonly", "redirect_uri", "https://dev.example/cb")), "unauthorized_client", true},
		{"AZ-26 unknown scope", authz(with(valid, "scope", "openid admin")), "invalid_scope", true},
		{"AZ-26 malformed scope", authz(with(valid, "scope", "openid \"x\"")), "invalid_scope", true},
		{"relative resource", authz(with(valid, "resource", "/api")), "invalid_target", true},
		{"resource with fragment", authz(with(valid, "resource", "https://api.example/#x")), "invalid_target", true},
		{"empty resource", authz(with(valid, "resource", "")), "invalid_target", true},
		{"prompt=select_account", authz(with(valid, "prompt", "select_account")), "invalid_request", true},
		{"prompt=none login", authz(with(valid, "prompt", "none login")), "invalid_request", true},
		{"prompt=none consent", authz(with(valid, "prompt", "consent none")), "invalid_request", true},
		{"max_age=-1", authz(with(valid, "max_age", "-1")), "invalid_request", true},
		{"max_age=+5", authz(with(valid, "max_age", "+5")), "invalid_request", true},
		{"max_age=1.5", authz(with(valid, "max_age", "1.5")), "invalid_request", true},
		{"max_age empty", authz(with(valid, "max_age", "")), "invalid_request", true},
		{"request object", authz(with(valid, "request", "eyJhbGciOiJub25lIn0.e30.")), "request_not_supported", true},
		{"request_uri", authz(with(valid, "request_uri", "https://evil.example/r")), "request_uri_not_supported", true},
		{"response_mode=fragment", authz(with(valid, "response_mode", "fragment")), "invalid_request", true},
		{"response_mode=form_post", authz(with(valid, "response_mode", "form_post")), "invalid_request", true},
		{"order: response_type before scope", authz(with(valid, "response_type", "token", "scope", "admin")), "unsupported_response_type", true},
		{"order: scope before PKCE", authz(with(valid, "scope", "admin", "code_challenge_method", "plain")), "invalid_scope", true},
		{"order: PKCE before resource", authz(with(valid, "code_challenge", "\x00", "resource", "/api")), "invalid_request", true},
	}
	f := newFixture(t)
	b := f.signedIn("alice")
	for _, tt := range tests {
		resp := b.Get(tt.query)
		registered := pubURI
		if strings.Contains(tt.query, "devonly") {
			registered = "https://dev.example/cb"
		}
		q := f.clientRedirect(t, tt.name, resp, registered)
		if q.Get("error") != tt.want || q.Has("code") {
			t.Errorf("%s: error=%q (code %q), want %s", tt.name, q.Get("error"), q.Get("code"), tt.want)
		}
		if tt.state && q.Get("state") != "st-123" || !tt.state && q.Has("state") {
			t.Errorf("%s: state %q, echoed want %v", tt.name, q["state"], tt.state)
		}
	}
}

// TestAuthorizeAccepted checks requests that must succeed: the default
// scopes, a resource, a prompt with unknown parameters beside it, and an
// empty registered query.
func TestAuthorizeAccepted(t *testing.T) {
	valid := pubRequest()
	tests := []struct {
		name   string
		params url.Values
	}{
		{"no scope: every allowed scope", with(valid, "scope", "\x00")},
		{"resource", with(valid, "resource", "https://api.example/lights")},
		{"unknown parameters ignored", with(valid, "login_hint", "alice", "ui_locales", "de")},
		{"response_mode=query", with(valid, "response_mode", "query")},
		{"no state", with(valid, "state", "\x00")},
		{"max_age large", with(valid, "max_age", "99999999999999999999")},
	}
	f := newFixture(t)
	f.consent("u-alice", "pub", allScopes...)
	b := f.signedIn("alice")
	for _, tt := range tests {
		q := f.clientRedirect(t, tt.name, b.Get(authz(tt.params)), pubURI)
		if q.Get("code") == "" {
			t.Errorf("%s: no code in %v", tt.name, q)
		}
		if tt.params.Has("state") != q.Has("state") {
			t.Errorf("%s: state %q, want sent back only if sent", tt.name, q["state"])
		}
	}
}

// TestLoopbackRedirectAnyPort is RFC 8252 §7.3 (AZ-01's one exception): a
// native client's loopback redirect URI matches with any port, the port
// sent being where the response goes; everything else about it must match
// byte for byte, and nothing but a loopback IP literal over http gets the
// exception.
func TestLoopbackRedirectAnyPort(t *testing.T) {
	f := newFixture(t)
	f.consent("u-alice", "loopback", "openid")
	b := f.signedIn("alice")
	req := func(uri string) url.Values {
		return with(pubRequest(), "client_id", "loopback", "redirect_uri", uri, "scope", "openid")
	}
	for _, uri := range []string{"http://127.0.0.1:51004/cb", "http://127.0.0.1/cb", "http://[::1]:8400/cb?x=1",
		"http://[::1]:1/cb?x=1", "http://[::1]/cb?x=1"} {
		q := f.clientRedirect(t, uri, b.Get(authz(req(uri))), uri)
		if q.Get("code") == "" {
			t.Errorf("%s: no code", uri)
		}
	}
	for _, uri := range []string{"http://127.0.0.1:51004/cb/", "http://127.0.0.1:51004/CB", "http://127.0.0.2:51004/cb",
		"http://[::1]:51004/cb", "http://localhost:51004/cb", "https://127.0.0.1:51004/cb", "http://127.0.0.1:51004/cb?x=1",
		"http://127.0.0.1:http/cb", "http://127.0.0.1:99999/cb", "http://user@127.0.0.1:51004/cb", "http://[::1]:8400/cb?x=2"} {
		errorPage(t, uri, b.Get(authz(req(uri))), http.StatusBadRequest)
	}
}
