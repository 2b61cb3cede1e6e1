// Package authorize serves the authorization endpoint of the authorization
// code grant (RFC 6749 §4.1, OpenID Connect Core §3.1), the consent page,
// and the account page where a user sees and revokes what is linked to
// their account (DEV-23).
//
// A request is checked in an order that decides where an error may go.
// First the client and its redirect_uri: any problem there is shown on an
// error page and never redirected, since the redirect target is not yet
// trusted (RFC 6749 §4.1.2.1, RFC 9700 §4.1.3, AZ-01, AZ-03). Every later
// error is redirected to the validated redirect_uri with error, state and
// iss (RFC 9207). Then the user must be signed in, recently enough for
// prompt=login and max_age; then they must have consented to the scopes;
// then a code of 256 random bits is stored as its hash, bound to the
// client, redirect URI, PKCE challenge, user, scopes, nonce and resource,
// and sent to the client.
//
// Sign-in freshness without a loop: when prompt=login or max_age demands
// a new sign-in, the sign-in page returns to the same request with an extra
// auth_since parameter, the time the demand was made. A session whose
// authentication is not older than auth_since (and auth_since at most
// signInWindow old) satisfies the request. A client that forges auth_since
// only waives its own prompt=login, which it could simply have left out.
package authorize
