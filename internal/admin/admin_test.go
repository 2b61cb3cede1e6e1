package admin

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// TestCheckRedirectURIs is AZ-02 and RFC 8252 §7.1 at registration: https,
// http on a loopback IP address, and a native app's private-use scheme in
// reverse domain notation are accepted; every scheme that runs or embeds
// content in a browser, and plain http elsewhere, is refused with a reason.
func TestCheckRedirectURIs(t *testing.T) {
	tests := []struct {
		uri  string
		want string // "" accepted, else a part of the error
	}{
		{"https://app.example/cb", ""},
		{"https://app.example/cb?tenant=1", ""},
		{"http://127.0.0.1/cb", ""},
		{"http://127.0.0.1:8400/cb", ""},
		{"http://[::1]:8400/cb", ""},
		{"com.example.app:/oauth2redirect", ""},
		{"com.example.app:/cb?x=1", ""},
		{"javascript:alert(1)", "private-use scheme"},
		{"JavaScript:alert(1)//", "private-use scheme"},
		{"data:text/html,<script>alert(1)</script>", "private-use scheme"},
		{"vbscript:msgbox(1)", "private-use scheme"},
		{"file:///etc/passwd", "private-use scheme"},
		{"blob:https://app.example/x", "private-use scheme"},
		{"about:blank", "private-use scheme"},
		{"ftp://app.example/cb", "private-use scheme"},
		{"myapp:/cb", "private-use scheme"},
		{".example:/cb", "absolute"}, // not a scheme at all
		{"http://app.example/cb", "loopback"},
		{"http://localhost:8400/cb", "loopback"},
		{"https:///cb", "no host"},
		{"https://app.example/cb#frag", "fragment"},
		{"/relative/cb", "absolute"},
	}
	for _, tt := range tests {
		_, err := checkRedirectURIs([]string{tt.uri})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q refused: %v", tt.uri, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: %v; want an error about %q", tt.uri, err, tt.want)
		}
	}
}

// TestCreateUserEmail: a user may carry an e-mail address, which must be
// one; email_verified needs an address.
func TestCreateUserEmail(t *testing.T) {
	tests := []struct {
		spec    UserSpec
		wantErr bool
	}{
		{UserSpec{Username: "alice", Password: "long enough", Email: "alice@example.com", EmailVerified: true}, false},
		{UserSpec{Username: "bob", Password: "long enough"}, false},
		{UserSpec{Username: "carol", Password: "long enough", Email: "not an address"}, true},
		{UserSpec{Username: "dave", Password: "long enough", Email: "Dave <dave@example.com>"}, true},
		{UserSpec{Username: "erin", Password: "long enough", EmailVerified: true}, true},
	}
	for _, tt := range tests {
		u, err := CreateUser(t.Context(), &users{}, rand.Reader, now, tt.spec)
		if (err != nil) != tt.wantErr {
			t.Errorf("%+v: %v, want error %t", tt.spec, err, tt.wantErr)
		}
		if err == nil && (u.Email != tt.spec.Email || u.EmailVerified != tt.spec.EmailVerified) {
			t.Errorf("%+v: stored %q %t", tt.spec, u.Email, u.EmailVerified)
		}
	}
}

var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// users is a store.Users of what CreateUser stores; CreateUser calls no
// other verb (the embedded nil interface would panic).
type users struct {
	store.Users
	byID map[string]store.User
}

func (u *users) CreateUser(_ context.Context, user store.User) error {
	if u.byID == nil {
		u.byID = map[string]store.User{}
	}
	u.byID[user.ID] = user
	return nil
}

func (u *users) User(_ context.Context, id string) (store.User, error) {
	if user, ok := u.byID[id]; ok {
		return user, nil
	}
	return store.User{}, store.ErrNotFound
}

func (u *users) UserByUsername(context.Context, string) (store.User, error) {
	return store.User{}, store.ErrNotFound
}
