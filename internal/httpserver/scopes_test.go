package httpserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/web/webtest"
)

// scopeItem is how the pages list a scope that has a description.
func scopeItem(description, name string) string {
	return `<li class="described"><span class="scope-description">` + description +
		`</span> <small class="scope-name">` + name + `</small></li>`
}

// TestScopesInWords: once described with `grantd scope set`, a scope is
// shown in words, its name on a small second line, on the device confirm
// page, the consent page and the account page, and the metadata lists
// every scope that is not hidden. (A scope with no description is listed
// by its name alone, as the pages' own tests check.)
func TestScopesInWords(t *testing.T) {
	t.Parallel()
	e := newSQLiteEnv(t, nil) // restarted below
	for _, spec := range []admin.ScopeSpec{
		{Name: "lights:read", Description: "See your lights and their state"},
		{Name: "lights:write", Description: "Switch your lights on and off", Hidden: true},
	} {
		if _, err := admin.SetScope(context.Background(), e.store, e.clock.Now(), spec); err != nil {
			t.Fatal(err)
		}
	}
	e.restart(nil) // a server started after the change; see cmd/grantd for one running
	id, secret := demoClient(e)
	linkingClient(e)
	e.user("alice")
	b := webtest.NewBrowser(t, e.srv.URL, nil)
	b.SignIn("alice", "correct horse battery")

	auth := e.deviceAuthorize(id, secret, "openid lights:read lights:write")
	entry := b.Get("/device?user_code=" + url.QueryEscape(auth.str("user_code")))
	confirm := b.Post("/device", url.Values{"csrf_token": {webtest.CSRF(entry.Body)}, "user_code": {auth.str("user_code")}})
	consent := b.Get("/authorize?" + url.Values{"response_type": {"code"}, "client_id": {"aws-c2c"}, "redirect_uri": {cbURL},
		"scope": {"openid profile lights:read"}, "state": {"s1"}, "code_challenge": {challenge(verifier)},
		"code_challenge_method": {"S256"}}.Encode())
	decided := b.Post("/device/decision", url.Values{"csrf_token": {webtest.CSRF(confirm.Body)},
		"user_code": {webtest.Hidden(confirm.Body, "user_code")}, "action": {"approve"}})
	if decided.StatusCode != http.StatusOK {
		t.Fatalf("approve: status %d", decided.StatusCode)
	}
	if r := e.poll(id, secret, auth.str("device_code")); r.status != http.StatusOK {
		t.Fatalf("poll: %d %s", r.status, r.raw)
	}
	account := b.Get("/account")

	lightsRead := scopeItem("See your lights and their state", "lights:read")
	lightsWrite := scopeItem("Switch your lights on and off", "lights:write")
	openid := scopeItem("Know which account is yours", "openid")
	profile := scopeItem("See your user name", "profile")
	for _, page := range []struct {
		name string
		resp *webtest.Response
		want []string
	}{
		{"device confirm page", confirm, []string{openid, lightsRead, lightsWrite}},
		{"consent page", consent, []string{openid, profile, lightsRead}},
		{"account page", account, []string{openid, lightsRead, lightsWrite}},
	} {
		if page.resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d, want 200", page.name, page.resp.StatusCode)
			continue
		}
		for _, want := range page.want {
			if !strings.Contains(page.resp.Body, want) {
				t.Errorf("%s lacks %s", page.name, want)
			}
		}
	}

	resp, err := http.Get(e.srv.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var meta struct {
		Scopes []string `json:"scopes_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
		t.Fatal(err)
	}
	if want := []string{"email", "lights:read", "offline_access", "openid", "profile"}; !slices.Equal(meta.Scopes, want) {
		t.Errorf("scopes_supported %q, want %q", meta.Scopes, want)
	}
}
