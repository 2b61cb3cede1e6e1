package token

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// deviceCode is the device access token request (RFC 8628 §3.4) and its
// answers (§3.5). A poll costs one store call (PollDeviceGrant), which also
// tells an approved code's user, scope and authentication time; its
// redemption then re-checks the user and claims the grant.
func (h *Handler) deviceCode(r *http.Request, client store.Client, f oauth.Form) (*Response, error) {
	ctx := r.Context()
	code := f.Get("device_code")
	if code == "" {
		return nil, oauth.NewError(oauth.InvalidRequest, "The device_code parameter is missing.")
	}
	hash := secret.Hash(code)
	now := h.Now()
	p, err := h.Store.PollDeviceGrant(ctx, hash, client.ID, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth.NewError(oauth.InvalidGrant, "The device code is invalid.")
	}
	if err != nil {
		return nil, oauth.Unavailable(fmt.Errorf("poll device grant: %w", err))
	}
	// A code is bound to the client it was issued to; another client's poll
	// neither uses it up nor counts as a poll (RFC 8628 §3.4, DEV-16): the
	// store did not record it.
	if p.ClientID != client.ID {
		return nil, oauth.NewError(oauth.InvalidGrant, "The device code is invalid.")
	}
	if p.Expired(now) {
		return nil, oauth.NewError(oauth.ExpiredToken, "The device code has expired.")
	}
	switch p.State {
	case store.DevicePending:
		// Polling too soon earns slow_down, and the store has raised this
		// code's interval by 5 seconds (RFC 8628 §3.5). A decided code is
		// answered by its state however soon it is polled.
		if p.SlowDown {
			return nil, oauth.NewError(oauth.SlowDown, fmt.Sprintf("Poll less often: wait at least %d seconds between polls.",
				int64(p.Interval/time.Second)))
		}
		return nil, oauth.NewError(oauth.AuthorizationPending, "The user has not yet decided.")
	case store.DeviceDenied:
		return nil, oauth.NewError(oauth.AccessDenied, "The user denied the request.")
	case store.DeviceApproved:
		return h.redeemDevice(r, client, store.DeviceGrant{DeviceCodeHash: hash, UserID: p.UserID,
			Scopes: p.Scopes, AuthTime: p.AuthTime})
	default: // issued: one token set per code (DEV-14)
		return nil, oauth.NewError(oauth.InvalidGrant, "The device code has been used.")
	}
}

// redeemDevice mints the token set of an approved grant, then claims the
// grant and stores the refresh token in one atomic step, so exactly one poll
// of an approved code gets tokens (RFC 8628 §3.5, REL-04). Minting first means
// a signing failure leaves the grant approved and redeemable. The claim also
// re-checks the approving user (DEV-18): tokens minted for a user disabled
// since the approval are never sent.
func (h *Handler) redeemDevice(r *http.Request, client store.Client, g store.DeviceGrant) (*Response, error) {
	ctx := r.Context()
	now := h.Now()
	withRefresh := h.TokenSet.Refresh && client.AllowsGrant(GrantRefreshToken)
	info, grant, err := h.newGrant(GrantDeviceCode, client, g.UserID, g.Scopes, "", g.AuthTime, withRefresh, now)
	if err != nil {
		return nil, oauth.Unavailable(err)
	}
	resp, rt, err := h.newTokenSet(info, g.Scopes, h.TokenSet.ID, withRefresh, now)
	if err != nil {
		return nil, err
	}
	err = h.Store.RedeemDeviceGrant(ctx, g.DeviceCodeHash, client.ID, now, grant, rt)
	switch {
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		return nil, oauth.NewError(oauth.InvalidGrant, "The device code has been used.")
	case errors.Is(err, store.ErrUserInactive):
		return nil, inactiveUser()
	}
	if err != nil {
		return nil, oauth.Unavailable(fmt.Errorf("redeem device grant: %w", err))
	}
	h.Logger.InfoContext(ctx, "device grant redeemed", "client_id", client.ID, "sub", g.UserID)
	return resp, nil
}

// checkUser refuses a grant whose user is gone or disabled.
func (h *Handler) checkUser(r *http.Request, userID string) error {
	u, err := h.Store.User(r.Context(), userID)
	return userError(userID, u, err)
}

// userError is checkUser's verdict on the user userID as read: u, or err.
func userError(userID string, u store.User, err error) error {
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return inactiveUser()
	}
	if err != nil {
		return oauth.Unavailable(fmt.Errorf("load user %q: %w", userID, err))
	}
	return nil
}

// inactiveUser answers a grant whose user is gone or disabled.
func inactiveUser() error {
	return oauth.NewError(oauth.InvalidGrant, "The authorization is no longer valid.")
}
