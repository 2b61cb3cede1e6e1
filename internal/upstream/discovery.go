package upstream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// metadata is the part of an OpenID Provider's discovery document
// (OpenID Connect Discovery 1.0 §3, RFC 8414 §2) that grantd uses.
type metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	IssParameterSupported             bool     `json:"authorization_response_iss_parameter_supported"`
}

// issuerMismatch is a discovery document for another issuer.
type issuerMismatch struct{ Configured, Discovered string }

func (e *issuerMismatch) Error() string {
	return fmt.Sprintf("the discovery document's issuer is %q, the configured issuer %q (they must be equal, byte for byte)",
		e.Discovered, e.Configured)
}

// discoveryURL is where the issuer's discovery document lives (OpenID
// Connect Discovery §4.1: the issuer without a trailing slash, then the
// well-known path).
func discoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// fetchMetadata fetches and checks the discovery document of cfg.Issuer.
func fetchMetadata(ctx context.Context, p *Provider) (*metadata, error) {
	var m metadata
	if err := getJSON(withCall(ctx, CallDiscovery), p.client, discoveryURL(p.cfg.Issuer), &m); err != nil {
		return nil, err
	}
	if m.Issuer != p.cfg.Issuer {
		return nil, &issuerMismatch{Configured: p.cfg.Issuer, Discovered: m.Issuer}
	}
	var errs []error
	for _, e := range []struct{ name, url string }{
		{"authorization_endpoint", m.AuthorizationEndpoint},
		{"token_endpoint", m.TokenEndpoint},
		{"jwks_uri", m.JWKSURI},
	} {
		if e.url == "" {
			errs = append(errs, fmt.Errorf("the discovery document has no %s", e.name))
		} else if err := checkEndpoint(e.name, e.url, p.cfg.Issuer); err != nil {
			errs = append(errs, err)
		}
	}
	if m.RevocationEndpoint != "" {
		if err := checkEndpoint("revocation_endpoint", m.RevocationEndpoint, p.cfg.Issuer); err != nil {
			errs = append(errs, err)
		}
	}
	if len(signingAlgs(m.IDTokenSigningAlgValuesSupported)) == 0 {
		errs = append(errs, fmt.Errorf("no ID token signing algorithm grantd accepts among %q", m.IDTokenSigningAlgValuesSupported))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &m, nil
}

// signingAlgs is the ID token signature allowlist — asymmetric algorithms
// only, never none or HMAC (which a public key could be abused to key) —
// narrowed to what the upstream advertises (all of it when the document
// lists none).
func signingAlgs(advertised []string) []jose.SignatureAlgorithm {
	var out []jose.SignatureAlgorithm
	for _, a := range []jose.SignatureAlgorithm{
		jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
		jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
	} {
		if len(advertised) == 0 || slices.Contains(advertised, string(a)) {
			out = append(out, a)
		}
	}
	return out
}

// revocationURL is the revocation endpoint: discovery's, else the
// configured one.
func (p *Provider) revocationURL(m *metadata) string {
	if m.RevocationEndpoint != "" {
		return m.RevocationEndpoint
	}
	return p.cfg.RevocationURL
}

// basicAuth reports whether to authenticate at the token and revocation
// endpoints with HTTP Basic (client_secret_basic, the default of RFC 8414
// §2) rather than in the form (client_secret_post).
func basicAuth(m *metadata) bool {
	methods := m.TokenEndpointAuthMethodsSupported
	return len(methods) == 0 || slices.Contains(methods, "client_secret_basic") ||
		!slices.Contains(methods, "client_secret_post")
}
