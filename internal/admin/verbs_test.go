package admin

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/seal"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/storetest"
)

// TestClientSpecRefused: a client whose settings cannot be stored is
// refused with a message that names the setting and the value given, and
// says what would do.
func TestClientSpecRefused(t *testing.T) {
	o, _ := newOperator(t)
	tests := []struct {
		name string
		spec ClientSpec
		want string
	}{
		{"empty id", ClientSpec{ID: ""}, `client id "": use 1-128 characters`},
		{"id with a space", ClientSpec{ID: "my tv"}, `client id "my tv": use 1-128 characters`},
		{"id with a slash", ClientSpec{ID: "tv/1"}, `client id "tv/1"`},
		{"id too long", ClientSpec{ID: strings.Repeat("a", 129)}, "use 1-128 characters"},
		{"public with a secret", ClientSpec{ID: "tv", Public: true, Secret: "a long secret"}, "a public client has no secret"},
		{"short secret", ClientSpec{ID: "tv", Secret: "short"}, "client secret: at least 8 characters"},
		{"none for a confidential client", ClientSpec{ID: "tv", AuthMethod: "none"},
			`auth method "none": use client_secret_basic (HTTP_BASIC) or client_secret_post (REQUEST_BODY_CREDENTIALS)`},
		{"a secret method for a public client", ClientSpec{ID: "tv", Public: true, AuthMethod: "HTTP_BASIC"},
			`auth method "client_secret_basic": a public client uses none`},
		{"unknown auth method", ClientSpec{ID: "tv", AuthMethod: "private_key_jwt"}, `auth method "private_key_jwt"`},
		{"unknown grant type", ClientSpec{ID: "tv", GrantTypes: []string{"client_credentials"}},
			`grant type "client_credentials": use urn:ietf:params:oauth:grant-type:device_code, refresh_token or authorization_code`},
		{"password grant", ClientSpec{ID: "tv", GrantTypes: []string{"password"}}, `grant type "password"`},
		{"unknown token mode", ClientSpec{ID: "tv", TokenMode: "remote"}, `token mode "remote": use local or passthrough`},
		{"relative audience", ClientSpec{ID: "tv", Audience: "/api"}, `audience "/api": must be an absolute URI without a fragment`},
		{"audience with a fragment", ClientSpec{ID: "tv", Audience: "https://api.example/#x"}, `audience "https://api.example/#x"`},
		{"repeated scope", ClientSpec{ID: "tv", Scopes: []string{"openid", "openid"}}, "each must be one distinct scope token"},
		{"two scopes in one", ClientSpec{ID: "tv", Scopes: []string{"openid profile"}}, "each must be one distinct scope token"},
		{"empty scope", ClientSpec{ID: "tv", Scopes: []string{""}}, "each must be one distinct scope token"},
	}
	for _, tt := range tests {
		_, err := o.CreateClient(t.Context(), tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want an error saying %q", tt.name, err, tt.want)
		}
	}
	if list, err := o.Store.ListClients(t.Context()); err != nil || len(list) != 0 {
		t.Errorf("clients after refusals: %v, %v; want none stored", list, err)
	}
}

// TestClientSpecStored: what CreateClient stores for the operator's
// words — AWS's names of the auth methods, the default grants, a public
// client's method — and how it stores the secret (TOK-03): a generated
// one as SHA-256 and shown once, a chosen one as argon2id and not shown.
func TestClientSpecStored(t *testing.T) {
	o, _ := newOperator(t)
	tests := []struct {
		spec                ClientSpec
		method              string
		grants              string
		hash                *regexp.Regexp
		generated, hasLogin bool
	}{
		{ClientSpec{ID: "aws-basic", AuthMethod: "HTTP_BASIC"}, "client_secret_basic", GrantDeviceCode + " refresh_token",
			regexp.MustCompile(`^sha256\$`), true, false},
		{ClientSpec{ID: "aws-post", AuthMethod: "REQUEST_BODY_CREDENTIALS", Secret: "chosen-secret"}, "client_secret_post",
			GrantDeviceCode + " refresh_token", regexp.MustCompile(`^\$argon2id\$`), false, false},
		{ClientSpec{ID: "either", GrantTypes: []string{GrantAuthorizationCode}, RedirectURIs: []string{"https://a.example/cb"}},
			"", "authorization_code", regexp.MustCompile(`^sha256\$`), true, false},
		{ClientSpec{ID: "bulb", Public: true}, "none", GrantDeviceCode + " refresh_token", regexp.MustCompile(`^$`), false, false},
	}
	for _, tt := range tests {
		created, err := o.CreateClient(t.Context(), tt.spec)
		if err != nil {
			t.Errorf("%s: %v", tt.spec.ID, err)
			continue
		}
		c, err := ShowClient(t.Context(), o.Store, tt.spec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.AuthMethod != tt.method || strings.Join(c.GrantTypes, " ") != tt.grants || !tt.hash.MatchString(c.SecretHash) ||
			c.TokenMode != store.TokenModeLocal || !c.CreatedAt.Equal(now) {
			t.Errorf("%s stored as %+v; want method %q, grants %q, a secret hash like %v", tt.spec.ID, c, tt.method, tt.grants, tt.hash)
		}
		if (created.GeneratedSecret != "") != tt.generated {
			t.Errorf("%s: generated secret %q, want one %t", tt.spec.ID, created.GeneratedSecret, tt.generated)
		}
		sec := created.GeneratedSecret
		if tt.spec.Secret != "" {
			sec = tt.spec.Secret
		}
		if sec != "" && secret.CheckPassword(c.SecretHash, sec) != nil {
			t.Errorf("%s: the stored hash does not check against its secret", tt.spec.ID)
		}
	}
}

// TestNewUserID: a user id is 128 random bits in 26 lower-case base32
// characters, fit for AWS IoT managed integrations' userId.
func TestNewUserID(t *testing.T) {
	id, err := NewUserID(bytes.NewReader(make([]byte, 16)))
	if err != nil || id != strings.Repeat("a", 26) {
		t.Errorf("NewUserID of zero bytes = %q, %v; want 26 a's", id, err)
	}
	aws := regexp.MustCompile(`^[a-z2-7]{26}$`)
	seen := map[string]bool{}
	for range 100 {
		id, err := NewUserID(rand.Reader)
		if err != nil || !aws.MatchString(id) || seen[id] {
			t.Fatalf("NewUserID = %q, %v; want 26 new characters of a-z 2-7", id, err)
		}
		seen[id] = true
	}
	if _, err := NewUserID(io.LimitReader(rand.Reader, 15)); err == nil {
		t.Error("NewUserID with 15 random bytes: no error")
	}
}

// TestUserSpecRefused: a user name or password that cannot be used is
// refused with the rule it breaks, and nothing is stored.
func TestUserSpecRefused(t *testing.T) {
	o, _ := newOperator(t)
	tests := []struct {
		spec UserSpec
		want string
	}{
		{UserSpec{Username: "", Password: "long enough"}, `username "": use 1-64 characters of A-Z a-z 0-9 . _ @ + -`},
		{UserSpec{Username: "alice smith", Password: "long enough"}, `username "alice smith"`},
		{UserSpec{Username: "zoë", Password: "long enough"}, `username "zoë"`},
		{UserSpec{Username: strings.Repeat("a", 65), Password: "long enough"}, "use 1-64 characters"},
		{UserSpec{Username: "alice", Password: "7 chars"}, "password: at least 8 characters"},
	}
	for _, tt := range tests {
		if _, err := o.CreateUser(t.Context(), tt.spec); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v; want an error saying %q", tt.spec, err, tt.want)
		}
	}
	if page, err := ListUsers(t.Context(), o.Store, "", 0); err != nil || len(page.Users) != 0 {
		t.Errorf("users after refusals: %+v, %v; want none", page, err)
	}
}

// TestFindUser: an operator names a user by id or by user name, and an id
// wins over a user name equal to it.
func TestFindUser(t *testing.T) {
	o, _ := newOperator(t)
	bob, err := o.CreateUser(t.Context(), UserSpec{Username: "bob", Password: "long enough"})
	if err != nil {
		t.Fatal(err)
	}
	impostor, err := o.CreateUser(t.Context(), UserSpec{Username: bob.ID, Password: "long enough"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, by string
		want     string // the id found; "" for not found
	}{
		{"by id", bob.ID, bob.ID},
		{"by user name", "bob", bob.ID},
		{"by the impostor's id", impostor.ID, impostor.ID},
		{"unknown", "carol", ""},
	}
	for _, tt := range tests {
		u, err := FindUser(t.Context(), o.Store, tt.by)
		switch {
		case tt.want == "" && (err == nil || err.Error() != `user "carol" not found` || !errors.Is(err, store.ErrNotFound)):
			t.Errorf("%s: %+v, %v; want not found in the operator's words", tt.name, u, err)
		case tt.want != "" && (err != nil || u.ID != tt.want):
			t.Errorf("%s: %s, %v; want %s", tt.name, u.ID, err, tt.want)
		}
	}
}

// fixture is an operator's store with a web client and alice, who has
// a session and a grant with a refresh token.
type fixture struct {
	o     *Operator
	logs  *bytes.Buffer
	alice store.User
	grant store.Grant
	rt    string // the grant's refresh token hash
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	o, logs := newOperator(t)
	ctx := t.Context()
	if _, err := o.CreateClient(ctx, ClientSpec{ID: "web", GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken},
		RedirectURIs: []string{"https://web.example/cb"}, Scopes: []string{"openid"}}); err != nil {
		t.Fatal(err)
	}
	alice, err := o.CreateUser(ctx, UserSpec{Username: "alice", Password: "long enough"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{o: o, logs: logs, alice: alice}
	if err := o.Store.CreateSession(ctx, store.Session{IDHash: secret.Hash("alice's browser"), UserID: alice.ID, AuthTime: now,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	f.grant, f.rt = f.newGrant(t, alice)
	logs.Reset()
	return f
}

// newGrant gives web a grant of u, with a refresh token, as redeeming an
// authorization code does, and returns it with its refresh token's hash.
func (f *fixture) newGrant(t *testing.T, u store.User) (store.Grant, string) {
	t.Helper()
	ctx := t.Context()
	n, _ := NewUserID(rand.Reader) // any fresh random name
	code := store.AuthorizationCode{Hash: secret.Hash("code " + n), ClientID: "web", UserID: u.ID, RedirectURI: "https://web.example/cb",
		Scopes: []string{"openid"}, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := f.o.Store.CreateAuthorizationCode(ctx, code); err != nil {
		t.Fatal(err)
	}
	g := store.Grant{ID: "grant-" + n, ClientID: "web", UserID: u.ID, Scopes: code.Scopes, Kind: GrantAuthorizationCode,
		CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour), LastUsedAt: now}
	rt := store.RefreshToken{Hash: secret.Hash("rt " + n), GrantID: g.ID, ClientID: "web", UserID: u.ID, Scopes: code.Scopes,
		AuthTime: now, CreatedAt: now, ExpiresAt: g.ExpiresAt, FamilyExpiresAt: g.ExpiresAt}
	if _, err := f.o.Store.RedeemAuthorizationCode(ctx, code.Hash, code.ClientID, now, storetest.Issue[store.AuthorizationCode](&g, &rt)); err != nil {
		t.Fatal(err)
	}
	return g, rt.Hash
}

// state is what acts for alice: her sessions, grant and refresh token.
func (f *fixture) state(t *testing.T) (session, grant, refresh bool) {
	t.Helper()
	ctx := t.Context()
	_, err := f.o.Store.Session(ctx, secret.Hash("alice's browser"), now)
	session = err == nil
	g, err := f.o.Store.Grant(ctx, f.grant.ID)
	grant = err == nil && g.RevokedAt.IsZero()
	rt, err := f.o.Store.RefreshToken(ctx, f.rt)
	refresh = err == nil && rt.Active(now)
	return session, grant, refresh
}

// TestUserVerbsEnd: each verb on a user ends what it says it ends — her
// browser sessions, her grants and refresh tokens — and keeps the rest.
func TestUserVerbsEnd(t *testing.T) {
	tests := []struct {
		name                    string
		do                      func(f *fixture) error
		session, grant, refresh bool
		disabled                bool
	}{
		{"set password: signed out, devices keep their grants", func(f *fixture) error {
			_, err := f.o.SetPassword(t.Context(), "alice", "a new password")
			return err
		}, false, true, true, false},
		{"disable: everything ends (RT-07)", func(f *fixture) error {
			_, n, err := f.o.DisableUser(t.Context(), "alice")
			if err == nil && n != 1 {
				err = fmt.Errorf("%d grants revoked, want 1", n)
			}
			return err
		}, false, false, false, true},
		{"disable then enable: nothing comes back", func(f *fixture) error {
			if _, _, err := f.o.DisableUser(t.Context(), "alice"); err != nil {
				return err
			}
			_, err := f.o.EnableUser(t.Context(), f.alice.ID)
			return err
		}, false, false, false, false},
		{"revoke grants: signed in still", func(f *fixture) error {
			_, n, err := f.o.RevokeUserGrants(t.Context(), "alice")
			if err == nil && n != 1 {
				err = fmt.Errorf("%d grants revoked, want 1", n)
			}
			return err
		}, true, false, false, false},
		{"revoke the grant", func(f *fixture) error {
			g, err := f.o.RevokeGrant(t.Context(), f.grant.ID)
			if err == nil && (!g.RevokedAt.Equal(now) || g.UserID != f.alice.ID) {
				err = fmt.Errorf("revoked grant %+v", g)
			}
			return err
		}, true, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if err := tt.do(f); err != nil {
				t.Fatal(err)
			}
			session, grant, refresh := f.state(t)
			if session != tt.session || grant != tt.grant || refresh != tt.refresh {
				t.Errorf("session %t, grant %t, refresh token %t; want %t, %t, %t", session, grant, refresh, tt.session, tt.grant, tt.refresh)
			}
			if u, err := FindUser(t.Context(), f.o.Store, "alice"); err != nil || u.Disabled != tt.disabled {
				t.Errorf("alice disabled %t (%v), want %t", u.Disabled, err, tt.disabled)
			}
		})
	}
}

// TestSetPassword: the new password checks, the old one no longer does;
// a short one changes nothing.
func TestSetPassword(t *testing.T) {
	f := newFixture(t)
	if _, err := f.o.SetPassword(t.Context(), "alice", "short"); err == nil || err.Error() != "password: at least 8 characters" {
		t.Errorf("short password: %v", err)
	}
	if session, _, _ := f.state(t); !session {
		t.Error("a refused password change signed alice out")
	}
	if _, err := f.o.SetPassword(t.Context(), "alice", "a new password"); err != nil {
		t.Fatal(err)
	}
	u, _ := FindUser(t.Context(), f.o.Store, "alice")
	if secret.CheckPassword(u.PasswordHash, "a new password") != nil || secret.CheckPassword(u.PasswordHash, "long enough") == nil {
		t.Error("after set-password: want the new password to check and the old one not")
	}
	if _, err := f.o.SetPassword(t.Context(), "nobody", "a new password"); err == nil || err.Error() != `user "nobody" not found` {
		t.Errorf("unknown user: %v", err)
	}
}

// TestRevokeGrantKeepsFirstTime: revoking a revoked grant succeeds and
// keeps the time of the first revocation.
func TestRevokeGrantKeepsFirstTime(t *testing.T) {
	f := newFixture(t)
	if _, err := RevokeGrant(t.Context(), f.o.Store, now, f.grant.ID); err != nil {
		t.Fatal(err)
	}
	g, err := RevokeGrant(t.Context(), f.o.Store, now.Add(time.Hour), f.grant.ID)
	if err != nil || !g.RevokedAt.Equal(now) {
		t.Errorf("second revocation: revoked at %v (%v), want %v", g.RevokedAt, err, now)
	}
}

// TestListGrants: the live grants of a user (by id or name) or of a
// client, exactly one of the two named.
func TestListGrants(t *testing.T) {
	f := newFixture(t)
	later, _ := f.newGrant(t, f.alice)
	if _, err := RevokeGrant(t.Context(), f.o.Store, now, later.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, client string
		want               string // the grant ids, or a part of the error
	}{
		{"by user name", "alice", "", f.grant.ID},
		{"by user id", f.alice.ID, "", f.grant.ID},
		{"by client", "", "web", f.grant.ID},
		{"neither", "", "", "give a user or a client, not both"},
		{"both", "alice", "web", "give a user or a client, not both"},
		{"unknown user", "bob", "", `user "bob" not found`},
	}
	for _, tt := range tests {
		gs, err := ListGrants(t.Context(), f.o.Store, now, tt.user, tt.client)
		var ids []string
		for _, g := range gs {
			ids = append(ids, g.ID)
		}
		got := strings.Join(ids, " ")
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tt.want) || (err == nil && got != tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	if gs, _ := ListGrants(t.Context(), f.o.Store, f.grant.ExpiresAt, "alice", ""); len(gs) != 0 {
		t.Errorf("grants at their expiry: %v, want none", gs)
	}
}

// TestRotateClientSecret: the replaced secret authenticates the client for
// the grace given and not after; a rotation that cannot be made is refused
// in the operator's words.
func TestRotateClientSecret(t *testing.T) {
	f := newFixture(t)
	before, _ := ShowClient(t.Context(), f.o.Store, "web")
	r, err := f.o.RotateClientSecret(t.Context(), "web", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ShowClient(t.Context(), f.o.Store, "web")
	if r.GeneratedSecret == "" || !r.PreviousValidUntil.Equal(now.Add(time.Hour)) || secret.CheckPassword(c.SecretHash, r.GeneratedSecret) != nil {
		t.Errorf("rotation with a grace: %+v; want a generated secret that checks and the old one valid an hour", r)
	}
	for _, tc := range []struct {
		at   time.Time
		want []string
	}{
		{now.Add(time.Hour - time.Second), []string{c.SecretHash, before.SecretHash}},
		{now.Add(time.Hour), []string{c.SecretHash}},
	} {
		if got := c.SecretHashes(tc.at); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("secrets at %v: %q, want %q", tc.at, got, tc.want)
		}
	}
	if r, err := f.o.RotateClientSecret(t.Context(), "web", "chosen-secret", 0); err != nil || r.GeneratedSecret != "" || !r.PreviousValidUntil.IsZero() {
		t.Errorf("rotation to a chosen secret without grace: %+v, %v", r, err)
	}
	if c, _ := ShowClient(t.Context(), f.o.Store, "web"); len(c.SecretHashes(now)) != 1 {
		t.Errorf("secrets after a rotation without grace: %d, want 1", len(c.SecretHashes(now)))
	}
	if _, err := f.o.RotateClientSecret(t.Context(), "web", "", -time.Second); err == nil || err.Error() != "grace -1s: must not be negative" {
		t.Errorf("negative grace: %v", err)
	}
}

// TestDeleteClientEndsGrants: deleting a client revokes its grants.
func TestDeleteClientEndsGrants(t *testing.T) {
	f := newFixture(t)
	if err := f.o.DeleteClient(t.Context(), "web"); err != nil {
		t.Fatal(err)
	}
	if _, grant, refresh := f.state(t); grant || refresh {
		t.Errorf("after deleting the client: grant live %t, refresh token active %t; want neither", grant, refresh)
	}
	if _, err := ShowClient(t.Context(), f.o.Store, "web"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("show after delete: %v", err)
	}
}

// TestEnsureDemo: the first start creates the demo client and user and
// tells their secret and password, which work; a later start finds them
// and tells neither.
func TestEnsureDemo(t *testing.T) {
	o, _ := newOperator(t)
	first, err := EnsureDemo(t.Context(), o.Store, rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ShowClient(t.Context(), o.Store, DemoClientID)
	if err != nil || first.ClientSecret == "" || secret.CheckPassword(c.SecretHash, first.ClientSecret) != nil {
		t.Fatalf("demo client %+v (%v) with secret %q", c, err, first.ClientSecret)
	}
	u, err := FindUser(t.Context(), o.Store, DemoUsername)
	if err != nil || first.UserID != u.ID || len(first.Password) != 16 || secret.CheckPassword(u.PasswordHash, first.Password) != nil {
		t.Fatalf("demo user %+v (%v), outputs %+v", u, err, first)
	}
	again, err := EnsureDemo(t.Context(), o.Store, rand.Reader, now.Add(time.Hour))
	if err != nil || again != (DemoOutputs{ClientID: DemoClientID, Username: DemoUsername, UserID: u.ID}) {
		t.Errorf("second start: %+v, %v; want the same user and no secret or password", again, err)
	}
}

// TestCreateUpstreamSealsSecret: an upstream's client secret is stored
// only sealed, which needs the secret key; without one the operator is
// told which setting to make.
func TestCreateUpstreamSealsSecret(t *testing.T) {
	o, _ := newOperator(t)
	spec := UpstreamSpec{ID: "cognito", Issuer: "https://idp.example", ClientID: "grantd", ClientSecret: "upstream-secret"}
	if _, err := o.CreateUpstream(t.Context(), nil, spec); err == nil || !strings.Contains(err.Error(), "set GRANTD_SECRET_KEY_FILE") {
		t.Errorf("a secret and no key: %v", err)
	}
	key, err := seal.NewKey(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealer := seal.New(rand.Reader, key)
	u, err := o.CreateUpstream(t.Context(), sealer, spec)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := sealer.Open(u.ClientSecret, store.SealedAAD(store.SealedUpstreamSecret, "cognito"))
	if strings.Contains(u.ClientSecret, "upstream-secret") || err != nil || string(opened) != "upstream-secret" {
		t.Errorf("stored secret %q opens to %q (%v); want it sealed", u.ClientSecret, opened, err)
	}
	if strings.Join(u.Scopes, " ") != "openid" {
		t.Errorf("scopes %q, want openid by default", u.Scopes)
	}
	// The operator's message names the upstream once and says what to fix.
	if _, err := o.CreateUpstream(t.Context(), nil, UpstreamSpec{ID: "plain", Issuer: "http://idp.example", ClientID: "x"}); err == nil ||
		!strings.Contains(err.Error(), "must use https") || strings.Count(err.Error(), `upstream "plain"`) != 1 {
		t.Errorf("an http issuer: %v", err)
	}
}

// TestEveryChangeAudited: each of the operator's changes logs its event
// once, with the actor; a refused one logs nothing.
func TestEveryChangeAudited(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	name := "Web"
	key, _ := seal.NewKey(bytes.Repeat([]byte{2}, 32))
	tests := []struct {
		event string
		do    func() error
	}{
		{"client.updated", func() error { _, _, err := f.o.UpdateClient(ctx, "web", ClientUpdate{Name: &name}); return err }},
		{"client.disabled", func() error { _, err := f.o.SetClientDisabled(ctx, "web", true); return err }},
		{"client.enabled", func() error { _, err := f.o.SetClientDisabled(ctx, "web", false); return err }},
		{"client.secret_rotated", func() error { _, err := f.o.RotateClientSecret(ctx, "web", "", time.Minute); return err }},
		{"user.password_set", func() error { _, err := f.o.SetPassword(ctx, "alice", "a new password"); return err }},
		{"user.enabled", func() error { _, err := f.o.EnableUser(ctx, "alice"); return err }},
		{"grant.revoked", func() error { _, err := f.o.RevokeGrant(ctx, f.grant.ID); return err }},
		{"grant.revoked", func() error { _, _, err := f.o.RevokeUserGrants(ctx, "alice"); return err }},
		{"upstream.created", func() error {
			_, err := f.o.CreateUpstream(ctx, seal.New(rand.Reader, key), UpstreamSpec{ID: "idp", Issuer: "https://idp.example", ClientID: "x"})
			return err
		}},
		{"upstream.deleted", func() error { return f.o.DeleteUpstream(ctx, "idp") }},
		{"scope.set", func() error {
			_, err := f.o.SetScope(ctx, ScopeSpec{Name: "lights:read", Description: "See your lights"})
			return err
		}},
		{"scope.deleted", func() error { return f.o.DeleteScope(ctx, "lights:read") }},
		{"client.deleted", func() error { return f.o.DeleteClient(ctx, "web") }},
		{"", func() error { _, err := f.o.SetClientDisabled(ctx, "web", true); return err }},
		{"", func() error { return f.o.DeleteScope(ctx, "lights:read") }},
		{"", func() error { _, err := f.o.RevokeGrant(ctx, "g-unknown"); return err }},
		{"", func() error { _, err := f.o.EnableUser(ctx, "nobody"); return err }},
	}
	for _, tt := range tests {
		f.logs.Reset()
		err := tt.do()
		logged := strings.TrimSpace(f.logs.String())
		switch {
		case tt.event == "" && (err == nil || logged != ""):
			t.Errorf("a refused change: %v, logged %q; want an error and nothing logged", err, logged)
		case tt.event != "" && err != nil:
			t.Errorf("%s: %v", tt.event, err)
		case tt.event != "" && (strings.Count(logged, "\n") != 0 || !strings.Contains(logged, "event="+tt.event) ||
			!strings.Contains(logged, "actor=cli:test")):
			t.Errorf("%s logged %q; want one line with the event and the actor", tt.event, logged)
		}
	}
}
