package authorize_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/grantd/grantd/internal/authorize"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/web"
	"github.com/grantd/grantd/internal/web/webtest"
)

// TestConsentShowsClientLogoAndSite: a client's registered logo and home
// page are on the consent page — the logo with its name as alternative
// text, loaded by the browser from the one origin the page's CSP then
// allows for images, the home page a link that sends no referrer — and a
// logo that is not https (stored past registration's check) is left out.
func TestConsentShowsClientLogoAndSite(t *testing.T) {
	f := newFixture(t)
	code := []string{authorize.GrantType}
	for _, c := range []store.Client{
		{ID: "acme", Public: true, Name: "Acme Cloud", RedirectURIs: []string{"https://acme.example/cb"}, GrantTypes: code,
			Scopes: allScopes, LogoURI: "https://cdn.acme.example:8443/logo.png?v=2", ClientURI: "https://acme.example/about"},
		{ID: "plain", Public: true, Name: "Plain App", RedirectURIs: []string{"https://plain.example/cb"}, GrantTypes: code,
			Scopes: allScopes, LogoURI: "http://cdn.plain.example/logo.png", ClientURI: "javascript:alert(1)"},
	} {
		c.CreatedAt = f.clock.Now()
		if err := f.store.CreateClient(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	b := f.signedIn("alice")
	request := func(client, redirect string) *webtest.Response {
		return b.Get(authz(with(pubRequest(), "client_id", client, "redirect_uri", redirect)))
	}
	page := request("acme", "https://acme.example/cb")
	for _, want := range []string{
		`<img src="https://cdn.acme.example:8443/logo.png?v=2" alt="Acme Cloud logo" width="48" height="48">`,
		`<a href="https://acme.example/about" rel="noopener noreferrer" target="_blank">acme.example</a>`,
	} {
		if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, want) {
			t.Errorf("consent page: status %d, lacks %s", page.StatusCode, want)
		}
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://cdn.acme.example:8443;") {
		t.Errorf("consent CSP %q: want the logo's origin in img-src", csp)
	}
	webtest.CheckSecurityHeaders(t, "consent with a logo", page)

	plain := request("plain", "https://plain.example/cb")
	if plain.StatusCode != http.StatusOK || strings.Contains(plain.Body, "<img") || strings.Contains(plain.Body, "javascript:") ||
		!strings.Contains(plain.Header.Get("Content-Security-Policy"), "img-src 'self' data:;") {
		t.Errorf("consent page of a client with an http logo and a javascript: home page shows them")
	}
	webtest.CheckSecurityHeaders(t, "consent without a logo", plain)
}

// TestAuthorizeUILocales: an application's ui_locales chooses the pages'
// language over the browser's Accept-Language, on the sign-in page the
// request leads to, on the consent page and, carried in the consent form,
// on what answers it; without it, Accept-Language chooses.
func TestAuthorizeUILocales(t *testing.T) {
	f := newFixture(t)
	b := webtest.NewBrowser(t, f.srv.URL, acceptLanguage{"de-DE,de;q=0.9"})
	back := signInReturn(t, "signed out", b.Get(authz(with(pubRequest(), "ui_locales", "fr-CA en"))))
	signin := b.Get(web.SignInURL(back))
	for _, want := range []string{`<html lang="fr">`, `<label for="username">Nom d&#39;utilisateur</label>`} {
		if !strings.Contains(signin.Body, want) {
			t.Errorf("sign-in page for a request with ui_locales=fr-CA lacks %s", want)
		}
	}
	consent := signInAndReturn(t, b, "alice", alicePassword, back)
	for _, want := range []string{`<html lang="fr">`, "Autoriser " + pubName + " à utiliser votre compte ?",
		`<input type="hidden" name="ui_locales" value="fr-CA en">`} {
		if !strings.Contains(consent.Body, want) {
			t.Errorf("consent page lacks %s", want)
		}
	}
	form := consentForm(t, consent)
	form.Set("action", "neither")
	if resp := b.Post("/authorize/consent", form); !strings.Contains(resp.Body, "Choisissez Autoriser ou Refuser.") {
		t.Errorf("answer to the consent form: not in French:\n%s", resp.Body)
	}
	if page := b.Get("/account"); !strings.Contains(page.Body, `<html lang="de">`) || !strings.Contains(page.Body, "Ihre Geräte und Apps") {
		t.Errorf("without ui_locales the account page is not in the browser's German")
	}
}

// acceptLanguage sends an Accept-Language header with every request.
type acceptLanguage struct{ value string }

func (a acceptLanguage) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept-Language", a.value)
	return http.DefaultTransport.RoundTrip(r)
}
