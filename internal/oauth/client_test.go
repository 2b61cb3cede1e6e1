package oauth

import (
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestParseClientCredentials is RFC 6749 §2.3.1 and TOK-04: one method per
// request, Basic credentials form-decoded, one line per case.
func TestParseClientCredentials(t *testing.T) {
	basic := func(raw string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(raw)) }
	cases := []struct {
		name, authorization, body string
		want                      ClientCredentials
		wantCode                  ErrorCode // "": parsed
		wantChallenge             bool
	}{
		{"basic", basic("tv:s3cret"), "", ClientCredentials{"tv", "s3cret", AuthBasic}, "", false},
		{"basic, form-encoded", basic("tv%3A1:s3cret%3A+with%2Fodd%2Bchars"), "",
			ClientCredentials{"tv:1", "s3cret: with/odd+chars", AuthBasic}, "", false},
		{"basic, scheme in lower case", "basic " + base64.StdEncoding.EncodeToString([]byte("tv:s")), "",
			ClientCredentials{"tv", "s", AuthBasic}, "", false},
		{"basic, the same client_id in the body", basic("tv:s"), "client_id=tv",
			ClientCredentials{"tv", "s", AuthBasic}, "", false},
		{"basic, empty secret", basic("tv:"), "", ClientCredentials{"tv", "", AuthBasic}, "", false},
		{"post", "", "client_id=tv&client_secret=s", ClientCredentials{"tv", "s", AuthPost}, "", false},
		{"post, empty secret", "", "client_id=tv&client_secret=", ClientCredentials{"tv", "", AuthPost}, "", false},
		{"none", "", "client_id=tv", ClientCredentials{"tv", "", AuthNone}, "", false},
		{"no client", "", "grant_type=x", ClientCredentials{}, InvalidClient, false},
		{"empty client_id", "", "client_id=", ClientCredentials{}, InvalidClient, false},
		{"bearer scheme", "Bearer abc", "", ClientCredentials{}, InvalidClient, true},
		{"not base64", "Basic !!!", "", ClientCredentials{}, InvalidClient, true},
		{"no colon", basic("tv"), "", ClientCredentials{}, InvalidClient, true},
		{"empty id", basic(":s"), "", ClientCredentials{}, InvalidClient, true},
		{"bad escape", basic("tv:%zz"), "", ClientCredentials{}, InvalidClient, true},
		{"basic and client_secret", basic("tv:s"), "client_secret=s", ClientCredentials{}, InvalidRequest, false},
		{"basic and another client_id", basic("tv:s"), "client_id=radio", ClientCredentials{}, InvalidRequest, false},
	}
	for _, c := range cases {
		r := httptest.NewRequest("POST", "/token", strings.NewReader(c.body))
		r.Header.Set("Content-Type", formContentType)
		if c.authorization != "" {
			r.Header.Set("Authorization", c.authorization)
		}
		f, err := ParseForm(httptest.NewRecorder(), r)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := ParseClientCredentials(r, f)
		if c.wantCode == "" {
			if err != nil || got != c.want {
				t.Errorf("%s: got %+v, %v; want %+v", c.name, got, err, c.want)
			}
			continue
		}
		e := AsError(err)
		if err == nil || e.Code != c.wantCode || e.Challenge != c.wantChallenge {
			t.Errorf("%s: got %+v, %v; want %s, challenge %t", c.name, got, err, c.wantCode, c.wantChallenge)
		}
	}
}
