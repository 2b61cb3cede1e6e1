package oauth

// Grant types (RFC 6749 §4.1.3, §6; RFC 8628 §3.4), as clients send them in
// grant_type and as clients are registered for them.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)
