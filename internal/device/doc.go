// Package device implements the OAuth 2.0 Device Authorization Grant
// (RFC 8628) on the server side, apart from the token endpoint's redemption
// of the device code (package token):
//
//   - Authorization serves POST /device_authorization (§3.1–3.2): it
//     authenticates the client and issues a device code and a user code.
//   - Pages serves the verification pages (§3.3) at /device: a signed-in
//     user types the user code, sees the client and the scopes it asks for,
//     compares the code with the one on the device, and approves or denies.
//
// The pages follow docs/SECURITY.md (device grant): sign-in comes first
// (DEV-11); a code in the link only pre-fills the form, or, for the AWS
// sample's link with GRANTD_AWS_SAMPLE_COMPAT, shows the approve-or-deny
// page, and either way nothing is approved without an explicit Approve
// (DEV-12); guesses are rate-limited per
// account, per IP and globally before any code is evaluated, with no refund
// on success (DEV-06, DEV-07); typed codes are normalised (DEV-08); unknown,
// expired and decided codes get one identical answer (DEV-09); the decision
// form carries a CSRF token bound to the session and the user code
// (DEV-13); a code is decided once, by one user (DEV-04); and the device
// code never appears on a page (DEV-22). Sessions, CSRF tokens, rendering
// and the security headers come from package web.
package device
