package oauth

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// Client authentication methods (RFC 6749 §2.3.1, RFC 8414 §2).
const (
	AuthBasic = "client_secret_basic"
	AuthPost  = "client_secret_post"
	AuthNone  = "none"
)

// ClientCredentials are what a request presents to identify its client
// (RFC 6749 §2.3.1): an id, a secret, and the method they came by.
type ClientCredentials struct {
	ID     string
	Secret string // empty for AuthNone
	Method string // AuthBasic, AuthPost or AuthNone
}

// ParseClientCredentials extracts the client's credentials from a request
// whose form is f. It accepts exactly one method (TOK-04): HTTP Basic,
// client_id and client_secret in the body, or client_id alone. A malformed
// Authorization header, or no client id at all, is invalid_client (with a
// Basic challenge when Basic was tried, RFC 6749 §5.2); mixing methods is
// invalid_request. It checks nothing against registered clients.
func ParseClientCredentials(r *http.Request, f Form) (ClientCredentials, error) {
	bodyID := f.Get("client_id")
	if authz := r.Header.Get("Authorization"); authz != "" {
		id, sec, ok := parseBasic(authz)
		if !ok {
			e := NewError(InvalidClient, "The Authorization header is malformed.")
			e.Challenge = true
			return ClientCredentials{}, e
		}
		if f.Has("client_secret") {
			return ClientCredentials{}, NewError(InvalidRequest, "Use exactly one client authentication method.")
		}
		if f.Has("client_id") && bodyID != id {
			return ClientCredentials{}, NewError(InvalidRequest, "The client_id does not match the authenticated client.")
		}
		return ClientCredentials{ID: id, Secret: sec, Method: AuthBasic}, nil
	}
	if bodyID == "" {
		return ClientCredentials{}, NewError(InvalidClient, "The client is not identified.")
	}
	if f.Has("client_secret") {
		return ClientCredentials{ID: bodyID, Secret: f.Get("client_secret"), Method: AuthPost}, nil
	}
	return ClientCredentials{ID: bodyID, Method: AuthNone}, nil
}

// parseBasic decodes HTTP Basic credentials. RFC 6749 §2.3.1 has the client
// form-urlencode its id and secret before base64, so both are unescaped.
func parseBasic(h string) (id, sec string, ok bool) {
	scheme, payload, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if err != nil {
		return "", "", false
	}
	rawID, rawSecret, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	if id, err = url.QueryUnescape(rawID); err != nil || id == "" {
		return "", "", false
	}
	if sec, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", false
	}
	return id, sec, true
}
