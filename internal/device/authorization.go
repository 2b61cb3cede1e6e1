package device

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/grantd/grantd/internal/clientauth"
	"github.com/grantd/grantd/internal/clientip"
	"github.com/grantd/grantd/internal/metrics"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/usercode"
)

// GrantType is the device grant's grant_type (RFC 8628 §3.4).
const GrantType = oauth.GrantDeviceCode

// createAttempts bounds retries when a drawn user code is already in use.
const createAttempts = 5

// Authorization serves the device authorization endpoint (RFC 8628 §3.1–3.2).
type Authorization struct {
	Store store.DeviceGrants
	Auth  *clientauth.Authenticator
	// VerificationURI is the page where the user enters the code (§3.2).
	VerificationURI  string
	DeviceCodeFormat usercode.Format
	DeviceCodeLength int
	UserCodeFormat   usercode.Format
	UserCodeLength   int
	CodeExpiration   time.Duration
	PollingInterval  time.Duration
	// Limiter with LimitIP and LimitClient bounds how fast codes are made,
	// per client IP and per client (DEV-20): every pending code is one more
	// target for a user-code guesser (docs/SECURITY.md DEV-05). Nil: no limit.
	Limiter     ratelimit.Limiter
	LimitIP     ratelimit.Budget
	LimitClient ratelimit.Budget
	ClientIP    clientip.Resolver
	// Metrics counts the device authorizations issued; nil counts nothing.
	Metrics *metrics.Recorder
	Now     func() time.Time
	Rand    io.Reader
	Logger  *slog.Logger
}

// authorizationResponse is RFC 8628 §3.2's response.
type authorizationResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// Mount registers the endpoint on mux.
func (a *Authorization) Mount(mux *http.ServeMux) {
	mux.Handle("/device_authorization", a)
}

// ServeHTTP answers a device authorization request.
func (a *Authorization) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, err := oauth.ParseForm(w, r)
	if err != nil {
		oauth.WriteError(w, r, a.Logger, err)
		return
	}
	a.ServeForm(w, r, f)
}

// ServeForm answers a device authorization request whose parameters f are
// parsed already: the token endpoint hands it the AWS sample's requests
// (GRANTD_AWS_SAMPLE_COMPAT), which are answered exactly as here.
func (a *Authorization) ServeForm(w http.ResponseWriter, r *http.Request, f oauth.Form) {
	resp, err := a.serve(r, f)
	if err != nil {
		oauth.WriteError(w, r, a.Logger, err)
		return
	}
	oauth.WriteJSON(w, http.StatusOK, resp)
}

func (a *Authorization) serve(r *http.Request, f oauth.Form) (*authorizationResponse, error) {
	// The client authenticates as it would at the token endpoint; a public
	// client is identified by its client_id (§3.1, DEV-01).
	client, err := a.Auth.Authenticate(r.Context(), r, f)
	if err != nil {
		return nil, err
	}
	if !client.AllowsGrant(GrantType) {
		return nil, oauth.NewError(oauth.UnauthorizedClient, "The client is not allowed the device grant.")
	}
	if err := a.spend(r, client.ID); err != nil {
		return nil, err
	}
	requested, perr := oauth.ParseScope(f.Get("scope"))
	if perr != nil {
		return nil, perr
	}
	scopes, perr := oauth.GrantScopes(requested, client.Scopes)
	if perr != nil {
		return nil, perr
	}
	now := a.Now()
	for range createAttempts {
		deviceCode, userCode, err := a.drawCodes()
		if err != nil {
			return nil, oauth.Unavailable(err)
		}
		err = a.Store.CreateDeviceGrant(r.Context(), store.DeviceGrant{
			DeviceCodeHash: secret.Hash(deviceCode), UserCode: userCode, ClientID: client.ID,
			Scopes: scopes, State: store.DevicePending, Interval: a.PollingInterval,
			CreatedAt: now, ExpiresAt: now.Add(a.CodeExpiration),
		})
		if errors.Is(err, store.ErrAlreadyExists) {
			continue // a live code already has this user code: draw again
		}
		if err != nil {
			return nil, oauth.Unavailable(fmt.Errorf("create device grant: %w", err))
		}
		a.Metrics.DeviceAuthorized(client.ID)
		display := usercode.Group(userCode)
		return &authorizationResponse{
			DeviceCode:              deviceCode,
			UserCode:                display,
			VerificationURI:         a.VerificationURI,
			VerificationURIComplete: a.VerificationURI + "?user_code=" + url.QueryEscape(display),
			ExpiresIn:               int64(a.CodeExpiration / time.Second),
			Interval:                int64(a.PollingInterval / time.Second),
		}, nil
	}
	return nil, oauth.Unavailable(errors.New("no free user code after several draws; raise USER_CODE_LENGTH"))
}

// spend takes one request from the client IP's and the client's budgets.
func (a *Authorization) spend(r *http.Request, clientID string) error {
	if a.Limiter == nil {
		return nil
	}
	now := a.Now()
	for _, c := range []struct {
		key    string
		budget ratelimit.Budget
	}{
		{"device-auth-ip:" + a.ClientIP.Key(r), a.LimitIP},
		{"device-auth-client:" + clientID, a.LimitClient},
	} {
		ok, retry, err := a.Limiter.Take(r.Context(), c.key, c.budget, now)
		if err != nil {
			return oauth.Unavailable(fmt.Errorf("device authorization budget: %w", err))
		}
		if !ok {
			return oauth.TooManyRequests(retry)
		}
	}
	return nil
}

// drawCodes draws a device code and a user code from crypto-grade randomness
// with no modulo bias (package usercode).
func (a *Authorization) drawCodes() (deviceCode, userCode string, err error) {
	deviceCode, err = a.DeviceCodeFormat.Generate(a.Rand, a.DeviceCodeLength)
	if err != nil {
		return "", "", fmt.Errorf("draw device code: %w", err)
	}
	userCode, err = a.UserCodeFormat.Generate(a.Rand, a.UserCodeLength)
	if err != nil {
		return "", "", fmt.Errorf("draw user code: %w", err)
	}
	return deviceCode, userCode, nil
}
