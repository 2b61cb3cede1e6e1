package discovery_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/grantd/grantd/internal/discovery"
)

const issuer = "https://as.example"

// full is a document with every field set.
var full = discovery.Metadata{
	Issuer:                            issuer,
	AuthorizationEndpoint:             issuer + "/authorize",
	TokenEndpoint:                     issuer + "/token",
	DeviceAuthorizationEndpoint:       issuer + "/device_authorization",
	JWKSURI:                           issuer + discovery.JWKSPath,
	UserinfoEndpoint:                  issuer + "/userinfo",
	IntrospectionEndpoint:             issuer + "/introspect",
	RevocationEndpoint:                issuer + "/revoke",
	ResponseTypesSupported:            []string{"code"},
	ResponseModesSupported:            []string{"query"},
	GrantTypesSupported:               []string{"authorization_code", "urn:ietf:params:oauth:grant-type:device_code", "refresh_token"},
	TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post", "none"},
	IntrospectionAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
	RevocationAuthMethodsSupported:    []string{"client_secret_basic", "client_secret_post", "none"},
	CodeChallengeMethodsSupported:     []string{"S256"},
	PromptValuesSupported:             []string{"none", "login", "consent"},
	ScopesSupported:                   []string{"openid", "lights:read"},
	SubjectTypesSupported:             []string{"public"},
	IDTokenSigningAlgValuesSupported:  []string{"RS256"},
	AccessTokenSigningAlgValues:       []string{"ES256"},
	ClaimsSupported:                   []string{"iss", "sub"},
	ISSParameterSupported:             true,
}

// serve mounts a handler of m whose JWKS is *jwks, and returns its base URL.
func serve(t *testing.T, m discovery.Metadata, jwks *atomic.Pointer[[]byte]) (*discovery.Handler, string) {
	t.Helper()
	h, err := discovery.New(m, func() []byte { return *jwks.Load() })
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return h, srv.URL
}

func someJWKS(body string) *atomic.Pointer[[]byte] {
	var p atomic.Pointer[[]byte]
	b := []byte(body)
	p.Store(&b)
	return &p
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func get(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

func getURL(t *testing.T, u string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return get(t, req)
}

// TestMetadataFields: each field has the name RFC 8414 §2 (and OpenID
// Connect Discovery 1.0 §3, RFC 9207 §3 for iss) gives it, and the
// document is served as set.
func TestMetadataFields(t *testing.T) {
	_, base := serve(t, full, someJWKS(`{"keys":[]}`))
	var doc map[string]any
	if err := json.Unmarshal(getURL(t, base+discovery.MetadataPath).body, &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want any
	}{
		{"issuer", issuer},
		{"authorization_endpoint", issuer + "/authorize"},
		{"token_endpoint", issuer + "/token"},
		{"device_authorization_endpoint", issuer + "/device_authorization"}, // RFC 8628 §4, DEV-21
		{"jwks_uri", issuer + "/.well-known/jwks.json"},
		{"userinfo_endpoint", issuer + "/userinfo"},
		{"introspection_endpoint", issuer + "/introspect"},
		{"revocation_endpoint", issuer + "/revoke"},
		{"response_types_supported", []any{"code"}},
		{"response_modes_supported", []any{"query"}},
		{"grant_types_supported", []any{"authorization_code", "urn:ietf:params:oauth:grant-type:device_code", "refresh_token"}},
		{"token_endpoint_auth_methods_supported", []any{"client_secret_basic", "client_secret_post", "none"}},
		{"introspection_endpoint_auth_methods_supported", []any{"client_secret_basic", "client_secret_post"}},
		{"revocation_endpoint_auth_methods_supported", []any{"client_secret_basic", "client_secret_post", "none"}},
		{"code_challenge_methods_supported", []any{"S256"}}, // MD-02
		{"prompt_values_supported", []any{"none", "login", "consent"}},
		{"scopes_supported", []any{"openid", "lights:read"}},
		{"subject_types_supported", []any{"public"}},
		{"id_token_signing_alg_values_supported", []any{"RS256"}},
		{"access_token_signing_alg_values_supported", []any{"ES256"}},
		{"claims_supported", []any{"iss", "sub"}},
		{"authorization_response_iss_parameter_supported", true}, // AZ-14
	}
	for _, tt := range tests {
		if got, ok := doc[tt.name]; !ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s = %v (present %t), want %v", tt.name, got, ok, tt.want)
		}
	}
	if len(doc) != len(tests) {
		t.Errorf("%d fields, want %d: %v", len(doc), len(tests), doc)
	}
}

// TestMetadataRequiredFields: a document with only what RFC 8414 §2 and
// OpenID Connect Discovery require still has those fields, empty lists
// included, and omits the optional ones; the iss parameter's flag is
// always stated (RFC 9207 §3 defaults it to false).
func TestMetadataRequiredFields(t *testing.T) {
	_, base := serve(t, discovery.Metadata{Issuer: issuer, TokenEndpoint: issuer + "/token", JWKSURI: issuer + "/jwks"},
		someJWKS(`{"keys":[]}`))
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(getURL(t, base+discovery.MetadataPath).body, &doc); err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range doc {
		names = append(names, k)
	}
	slices.Sort(names)
	want := []string{"authorization_response_iss_parameter_supported", "device_authorization_endpoint", "grant_types_supported",
		"id_token_signing_alg_values_supported", "issuer", "jwks_uri", "response_types_supported", "subject_types_supported",
		"token_endpoint", "token_endpoint_auth_methods_supported"}
	if !slices.Equal(names, want) {
		t.Errorf("fields %q, want %q", names, want)
	}
	if string(doc["authorization_response_iss_parameter_supported"]) != "false" {
		t.Errorf("authorization_response_iss_parameter_supported = %s, want false", doc["authorization_response_iss_parameter_supported"])
	}
}

// TestDocumentsServed: both well-known names serve the same metadata and
// the JWKS is served with its own media type (RFC 7517 §8.5), each with the
// cache lifetime of JWKSMaxAge; only GET (and HEAD) are answered.
func TestDocumentsServed(t *testing.T) {
	const jwks = `{"keys":[{"kty":"EC","kid":"k1"}]}`
	_, base := serve(t, full, someJWKS(jwks))
	want, _ := json.Marshal(full)
	tests := []struct {
		path, contentType, body string
	}{
		{discovery.MetadataPath, "application/json", string(want)},
		{discovery.OIDCMetadataPath, "application/json", string(want)},
		{discovery.JWKSPath, "application/jwk-set+json", jwks},
	}
	for _, tt := range tests {
		a := getURL(t, base+tt.path)
		if a.status != http.StatusOK || string(a.body) != tt.body {
			t.Errorf("GET %s: %d %s, want 200 %s", tt.path, a.status, a.body, tt.body)
		}
		if got := a.header.Get("Content-Type"); got != tt.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tt.path, got, tt.contentType)
		}
		if got := a.header.Get("Cache-Control"); got != "public, max-age=300" {
			t.Errorf("GET %s: Cache-Control %q, want public, max-age=300 (JWKSMaxAge)", tt.path, got)
		}
		req, _ := http.NewRequest(http.MethodPost, base+tt.path, nil)
		if a := get(t, req); a.status != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d, want 405", tt.path, a.status)
		}
		req, _ = http.NewRequest(http.MethodHead, base+tt.path, nil)
		if a := get(t, req); a.status != http.StatusOK {
			t.Errorf("HEAD %s: %d, want 200", tt.path, a.status)
		}
	}
	if got := discovery.Paths(); !slices.Equal(got, []string{discovery.MetadataPath, discovery.OIDCMetadataPath, discovery.JWKSPath}) {
		t.Errorf("Paths() = %q, want the three documents", got)
	}
}

// TestMetadataIgnoresRequestHost is MD-04: the document names the
// configured issuer whatever Host or forwarding headers say.
func TestMetadataIgnoresRequestHost(t *testing.T) {
	_, base := serve(t, full, someJWKS(`{"keys":[]}`))
	plain := getURL(t, base+discovery.MetadataPath)
	req, _ := http.NewRequest(http.MethodGet, base+discovery.MetadataPath, nil)
	req.Host = "evil.example"
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("X-Forwarded-Proto", "http")
	req.Header.Set("Forwarded", "host=evil.example;proto=http")
	if a := get(t, req); string(a.body) != string(plain.body) {
		t.Errorf("metadata with other Host and forwarding headers:\n%s\nwant\n%s", a.body, plain.body)
	}
}

// TestJWKSFollowsKeys: each answer is the JWKS of the moment, so a key
// rotation is published at once (REL-12).
func TestJWKSFollowsKeys(t *testing.T) {
	jwks := someJWKS(`{"keys":[{"kid":"old"}]}`)
	_, base := serve(t, full, jwks)
	if a := getURL(t, base+discovery.JWKSPath); string(a.body) != `{"keys":[{"kid":"old"}]}` {
		t.Fatalf("JWKS: %s", a.body)
	}
	next := []byte(`{"keys":[{"kid":"old"},{"kid":"new"}]}`)
	jwks.Store(&next)
	if a := getURL(t, base+discovery.JWKSPath); string(a.body) != string(next) {
		t.Errorf("JWKS after the keys changed: %s, want %s", a.body, next)
	}
}

// TestSetScopesSupported: scopes_supported changes for every later
// request, alone among the fields, without a later change to the caller's
// slice showing through; it is safe while requests are served.
func TestSetScopesSupported(t *testing.T) {
	h, base := serve(t, full, someJWKS(`{"keys":[]}`))
	scopes := []string{"email", "lights:write", "openid"}
	if err := h.SetScopesSupported(scopes); err != nil {
		t.Fatal(err)
	}
	scopes[0] = "changed-afterwards"
	var got discovery.Metadata
	if err := json.Unmarshal(getURL(t, base+discovery.OIDCMetadataPath).body, &got); err != nil {
		t.Fatal(err)
	}
	want := full
	want.ScopesSupported = []string{"email", "lights:write", "openid"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after SetScopesSupported:\n%+v\nwant\n%+v", got, want)
	}
	if err := h.SetScopesSupported(nil); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.Unmarshal(getURL(t, base+discovery.MetadataPath).body, &doc)
	if _, ok := doc["scopes_supported"]; ok {
		t.Errorf("scopes_supported after setting none: %v, want it left out", doc["scopes_supported"])
	}

	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 20 {
				if i == 0 {
					h.SetScopesSupported([]string{"s", string(rune('a' + j))})
					continue
				}
				resp, err := http.Get(base + discovery.MetadataPath)
				if err != nil {
					t.Error(err)
					return
				}
				var m discovery.Metadata
				err = json.NewDecoder(resp.Body).Decode(&m)
				resp.Body.Close()
				if err != nil || m.Issuer != issuer {
					t.Errorf("metadata while the scopes change: %+v, %v", m, err)
				}
			}
		})
	}
	wg.Wait()
}
