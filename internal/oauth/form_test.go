package oauth

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestParseForm is RFC 6749 §3.2's request rules, one line per case.
func TestParseForm(t *testing.T) {
	poll := "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=abc"
	cases := []struct {
		name, method, target, contentType, body string
		wantStatus                              int // 0: parsed
		wantDesc                                string
	}{
		{"poll", "POST", "/token", "application/x-www-form-urlencoded", poll, 0, ""},
		{"content type with charset", "POST", "/token", "application/x-www-form-urlencoded; charset=UTF-8", poll, 0, ""},
		{"content type in capitals", "POST", "/token", "Application/X-WWW-Form-Urlencoded", poll, 0, ""},
		{"GET", "GET", "/token", "application/x-www-form-urlencoded", poll, 405, "The method must be POST."},
		{"query", "POST", "/token?a=b", "application/x-www-form-urlencoded", poll, 400,
			"Parameters must be sent in the request body, not in the URI."},
		{"JSON", "POST", "/token", "application/json", `{}`, 400,
			"The content type must be application/x-www-form-urlencoded."},
		{"no content type", "POST", "/token", "", poll, 400,
			"The content type must be application/x-www-form-urlencoded."},
		{"bad escape", "POST", "/token", "application/x-www-form-urlencoded", "a=%zz", 400,
			"The request body is not valid form encoding."},
		{"semicolon", "POST", "/token", "application/x-www-form-urlencoded", "a=1;b=2", 400,
			"The request body is not valid form encoding."},
		{"repeated", "POST", "/token", "application/x-www-form-urlencoded", "a=1&device_code=x&device_code=y", 400,
			"A parameter is repeated: device_code."},
		{"repeated, odd name", "POST", "/token", "application/x-www-form-urlencoded", "%3Cx%3E=1&%3Cx%3E=2", 400,
			"A parameter is repeated: (unnamed)."},
		{"repeated in a long body", "POST", "/token", "application/x-www-form-urlencoded",
			"a=&b=&c=&d=&e=&f=&g=&h=&i=&scope=x&scope=y", 400, "A parameter is repeated: scope."},
		{"too large", "POST", "/token", "application/x-www-form-urlencoded", "a=" + strings.Repeat("x", MaxFormBytes), 413,
			"The request body is too large."},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
		if tc.contentType != "" {
			r.Header.Set("Content-Type", tc.contentType)
		}
		f, err := ParseForm(httptest.NewRecorder(), r)
		if tc.wantStatus == 0 {
			if err != nil || f.Get("device_code") != "abc" || !f.Has("grant_type") || f.Has("scope") {
				t.Errorf("%s: got %v, %+v; want the poll's parameters", tc.name, err, f)
			}
			continue
		}
		e, ok := err.(*Error)
		if !ok || e.Status != tc.wantStatus || e.Code != InvalidRequest || e.Description != tc.wantDesc {
			t.Errorf("%s: got %v, want %d invalid_request %q", tc.name, err, tc.wantStatus, tc.wantDesc)
		}
	}
}

// FuzzParseParams: parseParams decodes a body as url.ParseQuery does.
func FuzzParseParams(f *testing.F) {
	for _, s := range []string{"", "a=1&b=2", "a=1&a=2", "a&b=&=c&&", "a=%41%zz", "a=1;b=2", "+%20=+",
		"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=abc",
		"a=&b=&c=&d=&e=&f=&g=&h=&i=&a=", "=&=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		params, ok := parseParams(body)
		v, err := url.ParseQuery(body)
		if ok != (err == nil) {
			t.Fatalf("parseParams(%q): ok %t; url.ParseQuery: %v", body, ok, err)
		}
		if !ok {
			return
		}
		got := url.Values{}
		for _, p := range params {
			got[p.name] = append(got[p.name], p.value)
		}
		for _, vs := range v { // the order of a name's values aside
			slices.Sort(vs)
		}
		for _, vs := range got {
			slices.Sort(vs)
		}
		if !reflect.DeepEqual(got, v) && len(v) > 0 {
			t.Fatalf("parseParams(%q) = %v; url.ParseQuery: %v", body, params, v)
		}
		name, dup := repeated(params)
		if dup != (len(v[name]) > 1) {
			t.Errorf("parseParams(%q): repeated %q, %t; url.ParseQuery: %v", body, name, dup, v)
		}
	})
}

// TestParseFormQuery is the AWS sample's way of sending parameters
// (GRANTD_AWS_SAMPLE_COMPAT): the named ones may come in the query string,
// the body's win over the query's, and a parameter repeated in either, or
// any other in the query, is refused.
func TestParseFormQuery(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	allowed := []string{"client_id", "device_code", "grant_type", "scope"}
	cases := []struct {
		name, target, contentType, body string
		want                            map[string]string // parsed; nil: refused
		wantDesc                        string
	}{
		{"sample's device authorization, no body, no content type", "/token?client_id=tv", "", "",
			map[string]string{"client_id": "tv"}, ""},
		{"sample's poll", "/token?client_id=tv&device_code=abc&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code", "", "",
			map[string]string{"client_id": "tv", "device_code": "abc", "grant_type": "urn:ietf:params:oauth:grant-type:device_code"}, ""},
		{"query and body together", "/token?client_id=tv&scope=openid", form, "device_code=abc",
			map[string]string{"client_id": "tv", "scope": "openid", "device_code": "abc"}, ""},
		{"the body wins", "/token?device_code=from-query&client_id=tv", form, "device_code=from-body",
			map[string]string{"client_id": "tv", "device_code": "from-body"}, ""},
		{"no query: as ParseForm", "/token", form, "device_code=abc", map[string]string{"device_code": "abc"}, ""},
		{"repeated in the query", "/token?device_code=a&device_code=b", "", "", nil, "A parameter is repeated: device_code."},
		{"repeated in the body", "/token?client_id=tv", form, "scope=a&scope=b", nil, "A parameter is repeated: scope."},
		{"a secret in the query", "/token?client_id=tv&client_secret=s", "", "", nil,
			"The parameter client_secret must be sent in the request body, not in the URI."},
		{"a refresh token in the query", "/token?refresh_token=r", "", "", nil,
			"The parameter refresh_token must be sent in the request body, not in the URI."},
		{"bad escape in the query", "/token?client_id=%zz", "", "", nil, "The query string is not valid form encoding."},
		{"a body with no content type", "/token?client_id=tv", "", "device_code=abc", nil,
			"The content type must be application/x-www-form-urlencoded."},
		{"JSON", "/token?client_id=tv", "application/json", "{}", nil,
			"The content type must be application/x-www-form-urlencoded."},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("POST", tc.target, strings.NewReader(tc.body))
		if tc.contentType != "" {
			r.Header.Set("Content-Type", tc.contentType)
		}
		f, err := ParseFormQuery(httptest.NewRecorder(), r, allowed...)
		if tc.want == nil {
			e, ok := err.(*Error)
			if !ok || e.Status != 400 || e.Code != InvalidRequest || e.Description != tc.wantDesc {
				t.Errorf("%s: got %v, want 400 invalid_request %q", tc.name, err, tc.wantDesc)
			}
			continue
		}
		got := map[string]string{}
		for _, p := range f.params {
			got[p.name] = p.value
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	// Without GRANTD_AWS_SAMPLE_COMPAT a query is refused, and says so.
	r := httptest.NewRequest("POST", "/token?client_id=tv", nil)
	if _, err := ParseForm(httptest.NewRecorder(), r); !errors.Is(err, ErrQueryString) {
		t.Errorf("ParseForm with a query: %v, want ErrQueryString as the cause", err)
	}
}
