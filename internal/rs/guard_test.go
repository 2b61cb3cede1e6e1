package rs_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/rs"
	"github.com/grantd/grantd/internal/rs/rstest"
)

// TestGuard checks the RFC 6750 §3 answers: status, challenge and error
// code for each kind of refusal.
func TestGuard(t *testing.T) {
	as := rstest.New(t)
	now := &clock{t: time.Unix(1_800_000_000, 0)}
	g := &rs.Guard{Checker: newVerifier(as, now), Realm: "lights", Logger: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := g.Authorize(w, r, "lights:write"); ok {
			w.Write([]byte(c.Subject))
		}
	}))
	defer srv.Close()
	write := as.AccessToken(t, "alice", lightsAPI, "lights:read lights:write", now.Now())
	read := as.AccessToken(t, "alice", lightsAPI, "lights:read", now.Now())
	other := as.AccessToken(t, "alice", "https://other.example", "lights:write", now.Now())
	cases := []struct {
		name      string
		header    []string
		query     string
		status    int
		challenge string
	}{
		{"good token", []string{"Bearer " + write}, "", 200, ""},
		{"scheme in lower case", []string{"bearer " + write}, "", 200, ""},
		{"no credentials", nil, "", 401, `Bearer realm="lights"`},
		{"Basic credentials", []string{"Basic YTpi"}, "", 401, `Bearer realm="lights"`},
		{"garbage token", []string{"Bearer garbage"}, "", 401, `Bearer realm="lights", error="invalid_token", error_description="The access token is malformed."`},
		{"JWT-13 another audience", []string{"Bearer " + other}, "", 401, `Bearer realm="lights", error="invalid_token", error_description="The access token is for another audience."`},
		{"without the scope", []string{"Bearer " + read}, "", 403, `Bearer realm="lights", error="insufficient_scope", error_description="The access token lacks the scope lights:write.", scope="lights:write"`},
		{"token in the query", nil, "?access_token=" + write, 400, `Bearer realm="lights", error="invalid_request", error_description="Send the access token in the Authorization header."`},
		{"two headers", []string{"Bearer " + write, "Bearer " + write}, "", 400, `Bearer realm="lights", error="invalid_request", error_description="Send one Authorization header."`},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+tc.query, nil)
		for _, h := range tc.header {
			req.Header.Add("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("WWW-Authenticate") != tc.challenge {
			t.Errorf("%s: got %d %q, want %d %q", tc.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tc.status, tc.challenge)
		}
	}
}

// TestIntrospector checks the answers of introspection as a checker: only
// an active access token for our audience passes; a refresh token, an
// inactive token and a token for another audience are invalid; a failing
// server is unavailable, not a refusal (INT-03, JWT-13).
func TestIntrospector(t *testing.T) {
	as := rstest.New(t)
	answers := map[string]map[string]any{
		"active":  {"active": true, "sub": "alice", "scope": "lights:read", "aud": lightsAPI, "iss": as.Issuer, "token_type": "Bearer", "exp": 1_900_000_000},
		"refresh": {"active": true, "sub": "alice", "scope": "lights:read", "iss": as.Issuer, "token_type": "refresh_token"},
		"other":   {"active": true, "sub": "alice", "aud": "https://other.example", "iss": as.Issuer, "token_type": "Bearer"},
		"dead":    {"active": false},
	}
	as.SetIntrospection(func(tok string) map[string]any { return answers[tok] })
	in := &rs.Introspector{Endpoint: as.URL + "/introspect", ClientID: "lights-api", ClientSecret: "s", Issuer: as.Issuer, Audience: lightsAPI}
	for tok, want := range map[string]error{"active": nil, "refresh": rs.ErrInvalidToken, "other": rs.ErrInvalidToken, "dead": rs.ErrInvalidToken} {
		c, err := in.Check(t.Context(), tok)
		if !errors.Is(err, want) || (want == nil && c.Subject != "alice") {
			t.Errorf("%s: got %+v, %v; want %v", tok, c, err, want)
		}
	}
	broken := &rs.Introspector{Endpoint: as.URL + "/nowhere", ClientID: "x", ClientSecret: "y"}
	if _, err := broken.Check(t.Context(), "active"); !errors.Is(err, rs.ErrUnavailable) {
		t.Errorf("failing endpoint: %v, want ErrUnavailable", err)
	}
}
