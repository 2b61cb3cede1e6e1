package bearertest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
)

// Serve serves what mount registers on a plain ServeMux behind a real HTTP
// server until T ends. Get, Post and PostToken then request path,
// the endpoint under test.
func (f *Fixture) Serve(path string, mount func(*http.ServeMux)) {
	mux := http.NewServeMux()
	mount(mux)
	f.Server = httptest.NewServer(mux)
	f.T.Cleanup(f.Server.Close)
	f.endpoint = path
}

// Reply is an HTTP answer with its body, decoded into Body when it is a
// JSON object.
type Reply struct {
	Status int
	Header http.Header
	Raw    string
	Body   map[string]any
}

// PostToken posts token, and token_type_hint when hint is not empty, to the
// endpoint as client clientID, the way RFC 7009 and RFC 7662 requests are
// made: with Basic authentication when clientSecret is not empty, else by
// client_id (none when clientID is empty too).
func (f *Fixture) PostToken(clientID, clientSecret, token, hint string) Reply {
	f.T.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	if clientID != "" && clientSecret == "" {
		form.Set("client_id", clientID)
	}
	return f.Post(form, func(r *http.Request) {
		if clientSecret != "" {
			r.SetBasicAuth(clientID, clientSecret)
		}
	})
}

// Post sends form to the endpoint; edit, when not nil, may change the
// request first.
func (f *Fixture) Post(form url.Values, edit func(*http.Request)) Reply {
	f.T.Helper()
	req, err := http.NewRequest(http.MethodPost, f.Server.URL+f.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		f.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	return f.Do(req)
}

// Get asks the endpoint; edit, when not nil, may change the request first.
func (f *Fixture) Get(edit func(*http.Request)) Reply {
	f.T.Helper()
	req, err := http.NewRequest(http.MethodGet, f.Server.URL+f.endpoint, nil)
	if err != nil {
		f.T.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	return f.Do(req)
}

// Do sends req with the server's client and reads the whole answer.
func (f *Fixture) Do(req *http.Request) Reply {
	f.T.Helper()
	resp, err := f.Server.Client().Do(req)
	if err != nil {
		f.T.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		f.T.Fatal(err)
	}
	r := Reply{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}
