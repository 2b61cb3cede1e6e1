package rs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Errors a Checker returns, wrapped with the reason.
var (
	// ErrInvalidToken means the token is not a valid access token for this
	// resource server: answer 401 invalid_token (RFC 6750 §3.1).
	ErrInvalidToken = errors.New("invalid token")
	// ErrUnavailable means the authorization server could not be asked (its
	// metadata, JWKS or introspection endpoint): answer 503, never 401.
	ErrUnavailable = errors.New("authorization server unavailable")
)

// Claims is what a valid access token says.
type Claims struct {
	Issuer   string
	Subject  string // the user's id at grantd
	ClientID string
	Audience []string
	Scopes   []string
	ID       string // jti
	GrantID  string
	// ExpiresAt is the token's exp.
	ExpiresAt time.Time
}

// HasScope reports whether the token carries scope.
func (c Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// Checker validates a bearer token. It returns an error wrapping
// ErrInvalidToken or ErrUnavailable.
type Checker interface {
	Check(ctx context.Context, raw string) (Claims, error)
}

// Metadata is the part of the authorization server metadata (RFC 8414 §2) a
// resource server uses.
type Metadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	DeviceEndpoint        string `json:"device_authorization_endpoint"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
}

// MetadataPath is where RFC 8414 §3 puts the metadata under the issuer.
const MetadataPath = "/.well-known/oauth-authorization-server"

// maxDocument bounds the metadata, JWKS and introspection answers read.
const maxDocument = 1 << 20

// Discover fetches issuer's metadata and checks that it names issuer
// exactly (RFC 8414 §3.3). Failures wrap ErrUnavailable.
func Discover(ctx context.Context, client *http.Client, issuer string) (Metadata, error) {
	var m Metadata
	if err := getJSON(ctx, client, strings.TrimSuffix(issuer, "/")+MetadataPath, &m); err != nil {
		return Metadata{}, fmt.Errorf("metadata of %q: %w", issuer, err)
	}
	if m.Issuer != issuer {
		return Metadata{}, fmt.Errorf("metadata of %q names issuer %q: %w", issuer, m.Issuer, ErrUnavailable)
	}
	return m, nil
}

// getJSON GETs url and decodes a 200 answer into v. Failures wrap
// ErrUnavailable.
func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := httpClient(client).Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: GET %s: status %d", ErrUnavailable, url, resp.StatusCode)
	}
	if err := decodeLimited(resp.Body, v); err != nil {
		return fmt.Errorf("%w: GET %s: %v", ErrUnavailable, url, err)
	}
	return nil
}

// httpClient is c, or a client that bounds every call to the authorization
// server to 5 seconds.
func httpClient(c *http.Client) *http.Client {
	if c == nil {
		return &http.Client{Timeout: 5 * time.Second}
	}
	return c
}

// invalid returns an error wrapping ErrInvalidToken with reason, a fixed
// text safe to show a client.
func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalidToken, reason) }

// Reason returns the text after the sentinel of an ErrInvalidToken error,
// for an error_description.
func Reason(err error) string {
	_, r, ok := strings.Cut(err.Error(), ErrInvalidToken.Error()+": ")
	if !ok || !errors.Is(err, ErrInvalidToken) {
		return "The access token is not valid."
	}
	return r
}

// decodeLimited decodes one JSON document of at most maxDocument bytes.
func decodeLimited(r io.Reader, v any) error {
	return json.NewDecoder(io.LimitReader(r, maxDocument)).Decode(v)
}
