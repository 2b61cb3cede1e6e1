// Package token implements the token endpoint (RFC 6749 §3.2): a dispatcher
// on grant_type and one file per grant — devicecode.go (RFC 8628 §3.4–3.5),
// authcode.go (RFC 6749 §4.1.3, RFC 7636) and refresh.go (RFC 6749 §6,
// RFC 9700 §4.14.2) — sharing the minting of token sets in issue.go.
package token

import (
	"io"
	"log/slog"
	"net/http"
	"time"

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

// Handler serves POST /token.
type Handler struct {
	Store  store.Store
	Auth   *oauth.ClientAuthenticator
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

// Mount registers the token endpoint on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle("/token", h)
}

// ServeHTTP authenticates the client and dispatches on grant_type.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp, err := h.serve(r, w)
	if err != nil {
		oauth.WriteError(w, r, h.Logger, err)
		return
	}
	oauth.WriteJSON(w, http.StatusOK, resp)
}

func (h *Handler) serve(r *http.Request, w http.ResponseWriter) (*Response, error) {
	f, err := oauth.ParseForm(w, r)
	if err != nil {
		return nil, err
	}
	grantType := f.Get("grant_type")
	if grantType == "" {
		return nil, oauth.NewError(oauth.InvalidRequest, "The grant_type parameter is missing.")
	}
	client, _, err := h.Auth.Authenticate(r.Context(), r, f)
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
