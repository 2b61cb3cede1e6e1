package cluster

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/grantd/grantd/internal/web/webtest"
)

// requestTimeout is how long a test client waits for any answer: more than
// the 10 s within which grantd must answer even when its database does not
// (REL-01), so that a hang shows as a slow answer or a timeout.
const requestTimeout = 15 * time.Second

// deviceCodeGrant is the device grant's grant_type (RFC 8628 §3.4).
const deviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code"

// reply is one HTTP exchange as a test sees it.
type reply struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
	err    error // the transport's, when there was no answer
}

// field returns a top-level string field of a JSON body, or "".
func (r reply) field(name string) string {
	var m map[string]any
	if json.Unmarshal(r.body, &m) != nil {
		return ""
	}
	s, _ := m[name].(string)
	return s
}

// jsonField decodes a top-level field of a JSON body into v and reports
// whether it was there.
func (r reply) jsonField(name string, v any) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(r.body, &m) != nil {
		return false
	}
	raw, ok := m[name]
	return ok && json.Unmarshal(raw, v) == nil
}

func (r reply) String() string {
	if r.err != nil {
		return "no answer after " + r.took.Round(time.Millisecond).String() + ": " + r.err.Error()
	}
	body := string(r.body)
	if len(body) > 200 || strings.HasPrefix(body, "<!") {
		body = body[:min(len(body), 80)] + "…"
	}
	return http.StatusText(r.status) + " " + strings.TrimSpace(body)
}

// do sends one request and reads the whole answer. form, when not nil, is
// the urlencoded body; client, when set, authenticates with HTTP Basic.
func do(h *http.Client, method, target string, form url.Values, client *oauthClient) reply {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		return reply{err: err}
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if client != nil {
		req.SetBasicAuth(url.QueryEscape(client.id), url.QueryEscape(client.secret))
	}
	start := time.Now()
	resp, err := h.Do(req)
	if err != nil {
		return reply{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b, took: time.Since(start), err: err}
}

// oauthClient is a confidential client's credentials.
type oauthClient struct{ id, secret string }

// deviceAuthorization is the answer of POST /device_authorization.
type deviceAuthorization struct {
	DeviceCode      string `json:"device_code"`
	UserCode        string `json:"user_code"`
	VerificationURI string `json:"verification_uri"`
	Interval        int    `json:"interval"`
}

// tokens is a token endpoint success.
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
}

// authorize starts a device flow at base (RFC 8628 §3.1).
func (c *cluster) authorize(t *testing.T, base, scope string) deviceAuthorization {
	t.Helper()
	r := c.deviceAuthorization(base, scope)
	var d deviceAuthorization
	if r.status != http.StatusOK || json.Unmarshal(r.body, &d) != nil || d.DeviceCode == "" || d.UserCode == "" {
		t.Fatalf("POST %s/device_authorization: %s", base, r)
	}
	return d
}

func (c *cluster) deviceAuthorization(base, scope string) reply {
	return do(c.http, http.MethodPost, base+"/device_authorization", url.Values{"scope": {scope}}, &deviceClient)
}

// poll asks base for the device code's tokens (RFC 8628 §3.4).
func (c *cluster) poll(base, deviceCode string) reply {
	return do(c.http, http.MethodPost, base+"/token",
		url.Values{"grant_type": {deviceCodeGrant}, "device_code": {deviceCode}}, &deviceClient)
}

// refresh redeems a refresh token at base (RFC 6749 §6).
func (c *cluster) refresh(base, refreshToken string) reply {
	return do(c.http, http.MethodPost, base+"/token",
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}, &deviceClient)
}

// introspect asks base about a token, as the resource server (RFC 7662).
func (c *cluster) introspect(base, token string) reply {
	return do(c.http, http.MethodPost, base+"/introspect", url.Values{"token": {token}}, &resourceServer)
}

// get fetches a path of base without credentials.
func (c *cluster) get(base, path string) reply {
	return do(c.http, http.MethodGet, base+path, nil, nil)
}

// tokensOf decodes a token endpoint success, failing t on anything else.
func tokensOf(t *testing.T, what string, r reply) tokens {
	t.Helper()
	var tk tokens
	if r.status != http.StatusOK || json.Unmarshal(r.body, &tk) != nil || tk.AccessToken == "" {
		t.Fatalf("%s: %s; want tokens", what, r)
	}
	return tk
}

// sameTokenSet fails t unless r carries the token set first got: a code
// polled again within GRANTD_REFRESH_TOKEN_GRACE of its redemption is
// redelivered the one token set it yields, never a second one.
func sameTokenSet(t *testing.T, what string, r reply, first tokens) {
	t.Helper()
	if got := tokensOf(t, what, r); got.RefreshToken != first.RefreshToken {
		t.Errorf("%s: refresh token %q, want the first poll's %q (one token set per code)", what, got.RefreshToken, first.RefreshToken)
	}
}

// wantError fails t unless r is a 400 with the OAuth error code.
func wantError(t *testing.T, what string, r reply, code string) {
	t.Helper()
	if r.status != http.StatusBadRequest || r.field("error") != code {
		t.Errorf("%s: %s; want 400 %s", what, r, code)
	}
}

// browser is a test browser (package webtest) whose requests say they come
// from ip, through the trusted load balancer's X-Forwarded-For, so that each
// test spends the per-IP budgets of an address of its own. Its cookie jar is
// keyed by host, not port, like a browser's: one session cookie for every
// instance on 127.0.0.1.
func (c *cluster) browser(t *testing.T, ip string) *webtest.Browser {
	t.Helper()
	b := webtest.NewBrowser(t, c.issuer, forwardedFor{ip: ip, next: c.http.Transport})
	b.Client.Timeout = requestTimeout
	return b
}

// at returns b aimed at base, sharing its cookie jar.
func at(b *webtest.Browser, base string) *webtest.Browser {
	c := *b
	c.Base = base
	return &c
}

// forwardedFor adds X-Forwarded-For: ip to every request.
type forwardedFor struct {
	ip   string
	next http.RoundTripper
}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.ip)
	return f.next.RoundTrip(r)
}

// signIn signs b in as user through GET /signin on first and POST /signin
// on second, so that the anonymous session first starts is the one second
// signs in.
func signIn(t *testing.T, first, second *webtest.Browser, user string) {
	t.Helper()
	page := first.Get("/signin")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/signin: %d", first.Base, page.StatusCode)
	}
	resp := second.Post("/signin", url.Values{
		"csrf_token": {webtest.CSRF(page.Body)},
		"username":   {user},
		"password":   {userPassword},
	})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST %s/signin as %s with the session of %s: %d, want 303", second.Base, user, first.Base, resp.StatusCode)
	}
}

// approve enters userCode on the code-entry page that entry renders, posts
// it to confirm, and approves on the page confirm answers with, posting the
// decision to decide (RFC 8628 §3.3).
func approve(t *testing.T, entry, confirm, decide *webtest.Browser, userCode string) {
	t.Helper()
	page := entry.Get("/device")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/device: %d", entry.Base, page.StatusCode)
	}
	conf := confirm.Post("/device", url.Values{"csrf_token": {webtest.CSRF(page.Body)}, "user_code": {userCode}})
	if conf.StatusCode != http.StatusOK || !strings.Contains(conf.Body, "Approve") {
		t.Fatalf("POST %s/device with a form of %s: %d, want the confirmation page", confirm.Base, entry.Base, conf.StatusCode)
	}
	done := decide.Post("/device/decision", url.Values{
		"csrf_token": {webtest.CSRF(conf.Body)},
		"user_code":  {webtest.Hidden(conf.Body, "user_code")},
		"action":     {"approve"},
	})
	if done.StatusCode != http.StatusOK {
		t.Fatalf("POST %s/device/decision with a form of %s: %d, want 200", decide.Base, confirm.Base, done.StatusCode)
	}
}

// completedFlow runs a device flow on base, approved with br (signed in
// already), and returns its tokens.
func (c *cluster) completedFlow(t *testing.T, br *webtest.Browser, base string) tokens {
	t.Helper()
	d := c.authorize(t, base, "lights:read")
	approve(t, at(br, base), at(br, base), at(br, base), d.UserCode)
	return tokensOf(t, "poll of an approved code", c.poll(base, d.DeviceCode))
}

// accessTokenClaims are the RFC 9068 claims the tests look at.
type accessTokenClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience any    `json:"aud"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Expiry   int64  `json:"exp"`
	ID       string `json:"jti"`
}

// verifyAccessToken checks an access token against the JWKS that base
// publishes, as a resource server that knows nothing but that document
// would: signature, typ at+jwt (RFC 9068 §2.1), issuer and expiry.
func (c *cluster) verifyAccessToken(t *testing.T, base, token string) accessTokenClaims {
	t.Helper()
	r := c.get(base, "/.well-known/jwks.json")
	var set jose.JSONWebKeySet
	if r.status != http.StatusOK || json.Unmarshal(r.body, &set) != nil || len(set.Keys) == 0 {
		t.Fatalf("GET %s/.well-known/jwks.json: %s", base, r)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil || len(jws.Signatures) != 1 {
		t.Fatalf("parse access token: %v", err)
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "at+jwt" {
		t.Errorf("access token typ %q, want at+jwt", typ)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in the JWKS of %s, want 1", h.KeyID, len(keys), base)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("access token does not verify with the JWKS of %s: %v", base, err)
	}
	var claims accessTokenClaims
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Issuer != c.issuer || claims.Expiry <= time.Now().Unix() {
		t.Errorf("access token iss %q exp %d; want %q and a future expiry", claims.Issuer, claims.Expiry, c.issuer)
	}
	return claims
}
