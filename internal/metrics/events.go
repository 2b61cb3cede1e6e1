package metrics

import "time"

// Outcomes of a device poll (grantd_device_polls_total): the RFC 8628 §3.5
// answers, issued for tokens, invalid_request for a malformed request,
// and error for a 5xx.
const (
	PollPending        = "authorization_pending"
	PollSlowDown       = "slow_down"
	PollDenied         = "access_denied"
	PollExpired        = "expired_token"
	PollIssued         = "issued"
	PollInvalidGrant   = "invalid_grant"
	PollInvalidRequest = "invalid_request"
	PollError          = "error"
)

// Reasons a client authentication fails
// (grantd_client_authentication_failures_total).
const (
	AuthUnknownClient  = "unknown_client"
	AuthDisabledClient = "disabled_client"
	AuthBadSecret      = "bad_secret"
	AuthNoSecret       = "no_secret"    // a confidential client sent none
	AuthWrongMethod    = "wrong_method" // not its registered method, or a public client with a secret
	AuthMalformed      = "malformed"    // an unreadable Authorization header, or no client at all
)

// DeviceAuthorized records a device authorization issued to clientID.
func (r *Recorder) DeviceAuthorized(clientID string) {
	if r == nil {
		return
	}
	r.deviceAuthorizations.WithLabelValues(r.clientLabel(clientID)...).Inc()
}

// DevicePoll records a device access token request by clientID and its
// outcome, one of the Poll constants.
func (r *Recorder) DevicePoll(clientID, outcome string) {
	if r == nil {
		return
	}
	r.devicePolls.WithLabelValues(r.clientLabel(clientID, outcome)...).Inc()
}

// DeviceDecided records a user's decision on a device code, since after
// the device authorization.
func (r *Recorder) DeviceDecided(approved bool, since time.Duration) {
	if r == nil {
		return
	}
	decision := "denied"
	if approved {
		decision = "approved"
	}
	r.deviceDecisions.WithLabelValues(decision).Inc()
	r.decisionSeconds.WithLabelValues(decision).Observe(since.Seconds())
}

// DeviceRedeemed records an approved device code redeemed for tokens, since
// after its device authorization.
func (r *Recorder) DeviceRedeemed(since time.Duration) {
	if r == nil {
		return
	}
	r.redemptionSeconds.Observe(since.Seconds())
}

// TokensIssued records a token response to clientID for grantType.
func (r *Recorder) TokensIssued(clientID, grantType string) {
	if r == nil {
		return
	}
	r.tokensIssued.WithLabelValues(r.clientLabel(clientID, grantType)...).Inc()
}

// RefreshReuse records a rotated refresh token presented again, which
// revoked its grant.
func (r *Recorder) RefreshReuse() {
	if r == nil {
		return
	}
	r.refreshReuse.Inc()
}

// ClientAuthFailed records a failed client authentication, for reason,
// one of the Auth constants.
func (r *Recorder) ClientAuthFailed(reason string) {
	if r == nil {
		return
	}
	r.clientAuthFailures.WithLabelValues(reason).Inc()
}

// clientLabel returns the label values values, followed by clientID when
// client ids are labels.
func (r *Recorder) clientLabel(clientID string, values ...string) []string {
	if r.clientLabels {
		return append(values, clientID)
	}
	return values
}
