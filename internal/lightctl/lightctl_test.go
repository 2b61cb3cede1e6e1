package lightctl_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"

	"github.com/grantd/grantd/internal/lightctl"
	"github.com/grantd/grantd/internal/lightsapi"
)

const issuer = "https://grantd.example"

// handlerTransport serves requests with a handler, in memory, so that the
// tests run inside a synctest bubble whose clock only moves when every
// goroutine waits.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// server is a stand-in grantd and lightsd: polls answers the token
// endpoint's device-code polls in turn; refresh answers refreshes.
type server struct {
	mu       sync.Mutex
	polls    []string // error codes, "" for success
	pollTime []time.Time
	start    time.Time
	revoked  []string
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "device_authorization_endpoint": issuer + "/device_authorization",
			"token_endpoint": issuer + "/token", "revocation_endpoint": issuer + "/revoke"})
	})
	mux.HandleFunc("POST /device_authorization", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.start = time.Now()
		s.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"device_code": "dc", "user_code": "WDJB-MJHT", "verification_uri": issuer + "/device",
			"verification_uri_complete": issuer + "/device?user_code=WDJB-MJHT", "expires_in": 600, "interval": 1})
	})
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /revoke", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		s.mu.Lock()
		s.revoked = append(s.revoked, r.PostForm.Get("token")+" by "+r.PostForm.Get("client_id"))
		s.mu.Unlock()
	})
	mux.HandleFunc("GET /v1/bulbs", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at-2" {
			http.Error(w, "{}", http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(lightsapi.BulbList{Bulbs: []lightsapi.Bulb{{ID: "bulb-1", Name: "Kitchen", On: true, Brightness: 80}}})
	})
	return mux
}

func (s *server) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	if r.PostForm.Get("grant_type") == "refresh_token" {
		if r.PostForm.Get("refresh_token") != "rt-1" || r.PostForm.Get("client_id") != "tv" {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		fmt.Fprint(w, `{"access_token":"at-2","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-2"}`)
		return
	}
	s.mu.Lock()
	s.pollTime = append(s.pollTime, time.Now())
	code := s.polls[0]
	s.polls = s.polls[1:]
	s.mu.Unlock()
	if code != "" {
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"error":%q}`, code)
		return
	}
	fmt.Fprint(w, `{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1"}`)
}

func newApp(t *testing.T, s *server, out *strings.Builder) *lightctl.App {
	return &lightctl.App{Dir: filepath.Join(t.TempDir(), "lightctl"), Issuer: issuer, ClientID: "tv", LightsURL: issuer,
		HTTPClient: &http.Client{Transport: handlerTransport{s.handler()}}, Out: out}
}

// TestLoginPolling: login waits interval before each poll and 5 seconds
// more after every slow_down (RFC 8628 §3.5), then saves the tokens in a
// file only the user may read.
func TestLoginPolling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &server{polls: []string{"authorization_pending", "slow_down", "authorization_pending", ""}}
		var out strings.Builder
		app := newApp(t, s, &out)
		if err := app.Login(t.Context()); err != nil {
			t.Fatalf("login: %v", err)
		}
		var gaps []time.Duration
		prev := s.start
		for _, at := range s.pollTime {
			gaps = append(gaps, at.Sub(prev))
			prev = at
		}
		if want := []time.Duration{time.Second, time.Second, 6 * time.Second, 6 * time.Second}; fmt.Sprint(gaps) != fmt.Sprint(want) {
			t.Errorf("polls after %v; want %v (interval 1 s, 6 s after slow_down)", gaps, want)
		}
		for _, want := range []string{"WDJB-MJHT", issuer + "/device", "█", "Signed in"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("login output lacks %q:\n%s", want, out.String())
			}
		}
		fi, err := os.Stat(filepath.Join(app.Dir, lightctl.TokenFileName))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("session file: %v, %v; want mode 0600", fi, err)
		}
		if di, err := os.Stat(app.Dir); err != nil || di.Mode().Perm() != 0o700 {
			t.Errorf("session directory: %v, %v; want mode 0700", di, err)
		}
	})
}

// TestLoginRefused shows a clear message when the user denies or the code
// expires, and saves nothing.
func TestLoginRefused(t *testing.T) {
	for code, want := range map[string]string{
		"access_denied": "the sign-in was denied on the other device",
		"expired_token": "the code expired before it was approved",
	} {
		synctest.Test(t, func(t *testing.T) {
			s := &server{polls: []string{"authorization_pending", code}}
			var out strings.Builder
			app := newApp(t, s, &out)
			err := app.Login(t.Context())
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v; want %q", code, err, want)
			}
			if _, err := lightctl.Load(app.Dir); !errors.Is(err, lightctl.ErrNoSession) {
				t.Errorf("%s: a session was saved: %v", code, err)
			}
		})
	}
}

// TestRefreshAndLogout: an expired access token is refreshed before a
// call and the rotated tokens are saved; logout revokes the refresh token
// and deletes the file.
func TestRefreshAndLogout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &server{}
		var out strings.Builder
		app := newApp(t, s, &out)
		expired := &oauth2.Token{AccessToken: "at-1", TokenType: "Bearer", RefreshToken: "rt-1", Expiry: time.Now().Add(-time.Minute)}
		if err := lightctl.Save(app.Dir, lightctl.Session{Issuer: issuer, ClientID: "tv", LightsURL: issuer, Token: expired}); err != nil {
			t.Fatal(err)
		}
		if err := app.Bulbs(t.Context()); err != nil || !strings.Contains(out.String(), "Kitchen") {
			t.Fatalf("bulbs: %v\n%s", err, out.String())
		}
		saved, err := lightctl.Load(app.Dir)
		if err != nil || saved.Token.AccessToken != "at-2" || saved.Token.RefreshToken != "rt-2" {
			t.Errorf("after refresh the file holds %+v, %v; want the rotated tokens", saved.Token, err)
		}
		if err := app.Logout(t.Context()); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(s.revoked) != "[rt-2 by tv]" {
			t.Errorf("revoked %v; want the refresh token, by the client", s.revoked)
		}
		if _, err := lightctl.Load(app.Dir); !errors.Is(err, lightctl.ErrNoSession) {
			t.Errorf("after logout: %v; want no session", err)
		}
	})
}

// TestSaveIsAtomic: a crash while writing leaves a temporary file beside
// the session, never a torn session file; the previous session is read
// until a later save completes.
func TestSaveIsAtomic(t *testing.T) {
	dir := t.TempDir()
	first := lightctl.Session{Issuer: issuer, ClientID: "tv", Token: &oauth2.Token{AccessToken: "a1", RefreshToken: "r1"}}
	if err := lightctl.Save(dir, first); err != nil {
		t.Fatal(err)
	}
	// What a crash in the middle of the next Save leaves behind.
	if err := os.WriteFile(filepath.Join(dir, ".session-crashed"), []byte(`{"issuer":"https://gr`), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := lightctl.Load(dir); err != nil || s.Token.RefreshToken != "r1" {
		t.Fatalf("after a crash: %+v, %v; want the previous session", s, err)
	}
	second := first
	second.Token = &oauth2.Token{AccessToken: "a2", RefreshToken: "r2"}
	if err := lightctl.Save(dir, second); err != nil {
		t.Fatal(err)
	}
	if s, err := lightctl.Load(dir); err != nil || s.Token.RefreshToken != "r2" {
		t.Errorf("after the next save: %+v, %v; want the new session", s, err)
	}
}
