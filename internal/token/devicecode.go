package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/grantd/grantd/internal/metrics"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// deviceCode is the device access token request (RFC 8628 §3.4) and its
// answers (§3.5), counted by outcome.
func (h *Handler) deviceCode(r *http.Request, client store.Client, f oauth.Form) (*Response, error) {
	resp, err := h.poll(r, client, f)
	if h.Metrics != nil { // off, a poll pays no more than this check
		h.Metrics.DevicePoll(client.ID, pollOutcome(err))
	}
	return resp, err
}

// pollOutcome names a poll's answer for Metrics.
func pollOutcome(err error) string {
	if err == nil {
		return metrics.PollIssued
	}
	switch oauth.AsError(err).Code {
	case oauth.AuthorizationPending:
		return metrics.PollPending
	case oauth.SlowDown:
		return metrics.PollSlowDown
	case oauth.AccessDenied:
		return metrics.PollDenied
	case oauth.ExpiredToken:
		return metrics.PollExpired
	case oauth.InvalidGrant:
		return metrics.PollInvalidGrant
	case oauth.ServerError, oauth.TemporarilyUnavailable:
		return metrics.PollError
	}
	return metrics.PollInvalidRequest
}

// poll answers a device access token request. A poll costs one store call
// (PollDeviceGrant); an approved code's costs a second, its redemption.
func (h *Handler) poll(r *http.Request, client store.Client, f oauth.Form) (*Response, error) {
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
		if client.Passthrough() {
			return h.redeemPassthrough(r, client, hash)
		}
		return h.redeemDevice(r, client, code, hash)
	default: // issued: one token set per code (DEV-14)
		return h.redeliverDevice(r, client, code)
	}
}

// redeemDevice redeems an approved code (store.RedeemDeviceGrant): the
// store claims the grant, re-checks its user and client (DEV-18) and stores
// the grant and refresh token that issueDevice computes from it, in one
// transaction, so that exactly one poll of an approved code gets tokens
// (RFC 8628 §3.5, REL-04). The tokens are then minted from what was
// stored. They are derived from the device code (deviceTokens): should
// minting fail after the commit, or the answer be lost, the device's next
// poll within the grace window gets them (redeliverDevice).
func (h *Handler) redeemDevice(r *http.Request, client store.Client, code, hash string) (*Response, error) {
	ctx, now := r.Context(), h.Now()
	withRefresh := h.deviceRefresh(client)
	d := h.deviceTokens(code)
	var info grantInfo
	g, err := h.Store.RedeemDeviceGrant(ctx, hash, client.ID, now, func(g store.DeviceGrant, u store.User) (store.Issuance, error) {
		var grant store.Grant
		info, grant = h.newGrant(d.grantID, GrantDeviceCode, client, g.UserID, g.Scopes, "", g.AuthTime, withRefresh, now)
		info.setUser(u)
		iss := store.Issuance{Grant: &grant}
		if withRefresh {
			iss.RefreshToken = new(h.refreshRecord(info, d.refresh, now))
		}
		return iss, nil
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return h.redeliverDevice(r, client, code) // a concurrent poll redeemed it
	case errors.Is(err, store.ErrNotFound):
		return nil, deviceCodeUsed()
	case err != nil:
		return nil, redeemError("redeem device grant", err)
	}
	resp, err := h.mintAs(info, g.Scopes, h.TokenSet.ID, now, d.jti)
	if err != nil {
		return nil, oauth.Unavailable(err)
	}
	if withRefresh {
		resp.RefreshToken = d.refresh
	}
	h.Logger.InfoContext(ctx, "device grant redeemed", "client_id", client.ID, "user_id", g.UserID)
	if h.DeviceCodeLifetime > 0 {
		h.Metrics.DeviceRedeemed(now.Sub(g.ExpiresAt.Add(-h.DeviceCodeLifetime)))
	}
	return resp, nil
}

// deviceRefresh reports whether a device grant of client comes with a
// refresh token (RESULT_TOKEN_SET, and the client's grant types).
func (h *Handler) deviceRefresh(client store.Client) bool {
	return h.TokenSet.Refresh && client.AllowsGrant(GrantRefreshToken)
}

// redeliverDevice answers a device code presented again after its
// redemption. Within RefreshTokenGrace of the redemption, by the same
// client, while the grant is live, its user active and its refresh token
// unused, it gets the same token set again — the same grant, access token
// claims (jti and iat included) and refresh token — because a device whose
// token response was lost (a crash between commit and answer, a dropped
// connection) would otherwise have to start over. The tokens are derived,
// not stored. Otherwise the code is used (DEV-14).
func (h *Handler) redeliverDevice(r *http.Request, client store.Client, code string) (*Response, error) {
	if h.RefreshTokenGrace <= 0 {
		return nil, deviceCodeUsed()
	}
	ctx, now, d := r.Context(), h.Now(), h.deviceTokens(code)
	g, err := h.Store.Grant(ctx, d.grantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, deviceCodeUsed()
	}
	if err != nil {
		return nil, oauth.Unavailable(fmt.Errorf("load device grant's grant: %w", err))
	}
	if g.ClientID != client.ID || !g.RevokedAt.IsZero() || now.Sub(g.CreatedAt) > h.RefreshTokenGrace {
		return nil, deviceCodeUsed()
	}
	dg, err := h.Store.DeviceGrantByDeviceCode(ctx, secret.Hash(code))
	if err != nil {
		return nil, oauth.Unavailable(fmt.Errorf("reload device grant: %w", err))
	}
	u, err := h.activeUser(r, g.UserID)
	if err != nil {
		return nil, err
	}
	withRefresh := h.deviceRefresh(client)
	if withRefresh {
		rt, err := h.Store.RefreshToken(ctx, secret.Hash(d.refresh))
		if errors.Is(err, store.ErrNotFound) || (err == nil && !rt.Active(now)) {
			return nil, deviceCodeUsed() // the device has its tokens, and used them
		}
		if err != nil {
			return nil, oauth.Unavailable(fmt.Errorf("load device grant's refresh token: %w", err))
		}
	}
	info := grantInfo{GrantID: g.ID, ClientID: client.ID, UserID: g.UserID, Scopes: g.Scopes, AuthTime: dg.AuthTime,
		Audience: h.audience(client, ""), Expires: g.ExpiresAt}
	info.setUser(u)
	resp, err := h.mintAs(info, g.Scopes, h.TokenSet.ID, g.CreatedAt, d.jti)
	if err != nil {
		return nil, oauth.Unavailable(err)
	}
	resp.ExpiresIn -= int64(now.Sub(g.CreatedAt) / time.Second)
	if withRefresh {
		resp.RefreshToken = d.refresh
	}
	h.Logger.InfoContext(ctx, "device grant redelivered", "client_id", client.ID, "user_id", g.UserID)
	return resp, nil
}

// deviceTokens are the identifiers of the token set a device code yields,
// derived from the code with HMAC-SHA256 under the successor key: without
// the key the code tells nothing of them, and with it a retry gets the same
// ones although only their hashes are stored.
type deviceTokens struct{ grantID, jti, refresh string }

func (h *Handler) deviceTokens(code string) deviceTokens {
	derive := func(label string, n int) []byte {
		m := hmac.New(sha256.New, h.SuccessorKey)
		m.Write([]byte("device-code\x00" + label + "\x00"))
		m.Write([]byte(code))
		return m.Sum(nil)[:n]
	}
	return deviceTokens{grantID: idEncoding.EncodeToString(derive("grant", 16)), jti: idEncoding.EncodeToString(derive("jti", 16)),
		refresh: base64.RawURLEncoding.EncodeToString(derive("refresh", 32))}
}

func deviceCodeUsed() error {
	return oauth.NewError(oauth.InvalidGrant, "The device code has been used.")
}
