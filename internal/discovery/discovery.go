// Package discovery serves the authorization server metadata (RFC 8414, and
// the same document as OpenID Connect Discovery 1.0) and the JWKS. Both are
// served from memory, already encoded, so they stay up when the store does
// not (REL-01): the metadata is encoded at start-up and again when the
// scopes supported change, the JWKS each time the signing keys change.
package discovery

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"
)

// Metadata is the RFC 8414 §2 document, with the OpenID Connect Discovery
// fields a relying party needs.
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint,omitempty"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint,omitempty"`
	RevocationEndpoint                string   `json:"revocation_endpoint,omitempty"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported,omitempty"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported,omitempty"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported,omitempty"`
	PromptValuesSupported             []string `json:"prompt_values_supported,omitempty"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	AccessTokenSigningAlgValues       []string `json:"access_token_signing_alg_values_supported,omitempty"`
	ClaimsSupported                   []string `json:"claims_supported,omitempty"`
	// ISSParameterSupported says authorization responses carry iss (RFC 9207).
	ISSParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
}

// Where the documents are served: the metadata under both well-known
// names (RFC 8414 §3, OpenID Connect Discovery 1.0 §4), and the JWKS.
const (
	MetadataPath     = "/.well-known/oauth-authorization-server"
	OIDCMetadataPath = "/.well-known/openid-configuration"
	JWKSPath         = "/.well-known/jwks.json"
)

// Paths are the paths Mount serves. Their answers come from memory.
func Paths() []string { return []string{MetadataPath, OIDCMetadataPath, JWKSPath} }

// JWKSMaxAge is how long verifiers may cache the JWKS. Short enough that a
// new signing key, published this long (plus the instances' reload period)
// before it signs, is seen by every verifier first (REL-12); long enough
// that resource servers rarely ask.
const JWKSMaxAge = 300 * time.Second

// Handler serves the metadata and JWKS documents.
type Handler struct {
	meta     Metadata
	metadata atomic.Pointer[[]byte] // meta, encoded
	jwks     func() []byte
}

// New encodes the metadata; jwks returns the current JWKS, encoded.
func New(m Metadata, jwks func() []byte) (*Handler, error) {
	h := &Handler{meta: m, jwks: jwks}
	if err := h.encode(m); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *Handler) encode(m Metadata) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode metadata: %w", err)
	}
	h.metadata.Store(&b)
	return nil
}

// SetScopesSupported makes the metadata's scopes_supported scopes from now
// on, encoding the document again; the scopes given to New are replaced.
// Safe to call while the handler serves.
func (h *Handler) SetScopesSupported(scopes []string) error {
	m := h.meta
	m.ScopesSupported = slices.Clone(scopes)
	return h.encode(m)
}

// Mount registers the well-known documents on mux (RFC 8414 §3).
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+MetadataPath, h.serveMetadata)
	mux.HandleFunc("GET "+OIDCMetadataPath, h.serveMetadata)
	mux.HandleFunc("GET "+JWKSPath, h.serveJWKS)
}

func (h *Handler) serveMetadata(w http.ResponseWriter, _ *http.Request) {
	write(w, "application/json", *h.metadata.Load())
}

func (h *Handler) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	write(w, "application/jwk-set+json", h.jwks())
}

var cacheControl = fmt.Sprintf("public, max-age=%d", int(JWKSMaxAge.Seconds()))

func write(w http.ResponseWriter, contentType string, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Cache-Control", cacheControl)
	w.Write(body)
}
