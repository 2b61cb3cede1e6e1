package httpserver_test

import (
	"net/url"
	"testing"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/upstream/upstreamtest"
	"github.com/grantd/grantd/internal/web/webtest"
)

// The benchmarks run on SQLite, as the figures in BENCHMARKS.md do.

// BenchmarkUpstreamSignIn times a whole sign-in through the upstream, from
// the start link to the page after /callback: grantd's part (start, the
// code exchange at the upstream, the ID token's checks, the user and
// session) and the test provider's sign-in form.
func BenchmarkUpstreamSignIn(b *testing.B) {
	f := fedEnvOn(b, newSQLiteWallEnv(b, nil))
	for b.Loop() {
		br := webtest.NewBrowser(b, f.srv.URL, nil)
		f.signInUpstream(b, br, "/account", upstreamtest.Alice())
	}
}

// BenchmarkPassthroughRefresh times a passthrough client's refresh through
// grantd's /token: grantd's checks and its refresh at the upstream.
func BenchmarkPassthroughRefresh(b *testing.B) {
	f := fedEnvOn(b, newSQLiteWallEnv(b, nil))
	secret := f.client(admin.ClientSpec{ID: "tv", Scopes: []string{"openid"}, TokenMode: "passthrough"})
	d := f.deviceAuthorize("tv", secret, "openid")
	br := webtest.NewBrowser(b, f.srv.URL, nil)
	approve(b, br, confirmCode(b, br, f.signInUpstream(b, br, "/device?user_code="+d.str("user_code"), upstreamtest.Alice())))
	refresh := f.poll("tv", secret, d.str("device_code")).str("refresh_token")
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
	for b.Loop() {
		if r := f.post("/token", form, basic("tv", secret)); r.status != 200 {
			b.Fatalf("refresh: %d %s", r.status, r.raw)
		}
	}
}
