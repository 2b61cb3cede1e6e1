// Package token implements the token endpoint (RFC 6749 §3.2): a dispatcher
// on grant_type and one file per grant — devicecode.go (RFC 8628 §3.4–3.5),
// authcode.go (RFC 6749 §4.1.3, RFC 7636) and refresh.go (RFC 6749 §6,
// RFC 9700 §4.14.2) — sharing the minting of token sets in issue.go and
// the answers to a failed redemption in redeem.go.
package token

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/grantd/grantd/internal/clientauth"
	"github.com/grantd/grantd/internal/federation"
	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/metrics"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/store"
)

// Grant types (RFC 6749 §4, RFC 8628 §3.4).
const (
	GrantDeviceCode        = oauth.GrantDeviceCode
	GrantRefreshToken      = oauth.GrantRefreshToken
	GrantAuthorizationCode = oauth.GrantAuthorizationCode
)

// TokenSet says which tokens a grant yields (the seed's RESULT_TOKEN_SET).
type TokenSet struct{ Access, Refresh, ID bool }

// Store is the part of the store the token endpoint uses: the grants it
// redeems (device codes, authorization codes, refresh tokens), the grants
// and users it re-checks, and passthrough clients' upstream tokens.
type Store interface {
	store.DeviceGrants
	store.AuthorizationCodes
	store.RefreshTokens
	store.Grants
	store.Users
	store.PassthroughTokens
}

// Handler serves POST /token.
type Handler struct {
	Store  Store
	Auth   *clientauth.Authenticator
	Keys   *keys.Set
	Issuer string
	// Audience is the aud of access tokens (RFC 9068 §3 default resource).
	Audience       string
	AccessTokenAlg string
	IDTokenAlg     string
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is a refresh family's absolute lifetime;
	// RefreshTokenIdleTTL ends a generation that is not used (RT-06).
	RefreshTokenTTL     time.Duration
	RefreshTokenIdleTTL time.Duration
	// RefreshTokenGrace is how long a rotated refresh token, presented
	// again, gets the same successor (RT-04); zero disables it.
	RefreshTokenGrace time.Duration
	// SuccessorKey derives refresh token successors; shared by instances.
	SuccessorKey []byte
	// TokenSet is what a device grant yields (RESULT_TOKEN_SET).
	TokenSet TokenSet
	// Upstreams opens the upstream tokens a passthrough client's device
	// collects and refreshes them at their upstream; nil when there are
	// none.
	Upstreams *federation.Directory
	// AWSSampleCompat accepts devices written against the AWS sample
	// unchanged (GRANTD_AWS_SAMPLE_COMPAT): a request with neither
	// grant_type nor device_code is a device authorization request, which
	// DeviceAuthorization (then required) answers, and client_id,
	// device_code, grant_type and scope may come in the query string. Off,
	// such requests are refused with a hint at /device_authorization.
	AWSSampleCompat     bool
	DeviceAuthorization FormHandler
	// DeviceCodeLifetime is CODE_EXPIRATION: a device code was issued this
	// long before it expires, which times its redemption for Metrics.
	DeviceCodeLifetime time.Duration
	// Metrics counts polls, token responses and refresh token reuse; nil
	// counts nothing.
	Metrics *metrics.Recorder
	Now     func() time.Time
	Rand    io.Reader
	Logger  *slog.Logger
}

// FormHandler answers a request whose parameters are parsed already.
type FormHandler interface {
	ServeForm(w http.ResponseWriter, r *http.Request, f oauth.Form)
}

// Mount registers the token endpoint on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle("/token", h)
}

// ServeHTTP authenticates the client and dispatches on grant_type.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, err := h.parseForm(w, r)
	if err == nil && h.AWSSampleCompat && !f.Has("grant_type") && !f.Has("device_code") {
		h.DeviceAuthorization.ServeForm(w, r, f) // the AWS sample's device authorization request
		return
	}
	var resp *Response
	if err == nil {
		resp, err = h.serve(r, f)
	}
	if err != nil {
		oauth.WriteError(w, r, h.Logger, err)
		return
	}
	oauth.WriteJSON(w, http.StatusOK, resp)
}

// Hints for devices written against the AWS sample, which request codes
// with POST /token and poll with parameters in the query string.
const (
	hintMissingGrantType = "The grant_type parameter is missing. A device requests its codes with POST /device_authorization " +
		"(RFC 8628); GRANTD_AWS_SAMPLE_COMPAT=true also accepts the AWS sample's POST /token without grant_type."
	hintQueryString = "Parameters must be sent in the request body, not in the URI. A device requests its codes with " +
		"POST /device_authorization (RFC 8628); GRANTD_AWS_SAMPLE_COMPAT=true also accepts the AWS sample's requests on /token."
)

// parseForm parses the request's parameters, from the query string too
// for the AWS sample's devices, and otherwise refuses them there with a
// hint at the device authorization endpoint.
func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request) (oauth.Form, error) {
	if h.AWSSampleCompat {
		// What the sample's devices send in the query string: client_id
		// and scope to request codes, with device_code and grant_type to
		// poll. A secret or a refresh token never.
		return oauth.ParseFormQuery(w, r, "client_id", "device_code", "grant_type", "scope")
	}
	f, err := oauth.ParseForm(w, r)
	if errors.Is(err, oauth.ErrQueryString) {
		return f, oauth.NewError(oauth.InvalidRequest, hintQueryString)
	}
	return f, err
}

func (h *Handler) serve(r *http.Request, f oauth.Form) (*Response, error) {
	grantType := f.Get("grant_type")
	if grantType == "" && h.AWSSampleCompat {
		return nil, oauth.NewError(oauth.InvalidRequest, "The grant_type parameter is missing.")
	}
	if grantType == "" {
		return nil, oauth.NewError(oauth.InvalidRequest, hintMissingGrantType)
	}
	client, err := h.Auth.Authenticate(r.Context(), r, f)
	if err != nil {
		return nil, err
	}
	var grant func(*http.Request, store.Client, oauth.Form) (*Response, error)
	switch grantType {
	case GrantDeviceCode:
		grant = h.deviceCode
	case GrantRefreshToken:
		grant = h.refresh
	case GrantAuthorizationCode:
		grant = h.authorizationCode
	default:
		// The password grant is never offered (RFC 9700 §2.4, TOK-08).
		return nil, oauth.NewError(oauth.UnsupportedGrantType, "The grant type is not supported.")
	}
	if !client.AllowsGrant(grantType) {
		return nil, oauth.NewError(oauth.UnauthorizedClient, "The client is not allowed this grant type.")
	}
	resp, err := grant(r, client, f)
	if err == nil {
		h.Metrics.TokensIssued(client.ID, grantType)
	}
	return resp, err
}
