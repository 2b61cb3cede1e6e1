// Package userinfo implements the OpenID Connect UserInfo endpoint,
// GET and POST /userinfo (OpenID Connect Core 1.0 §5.3).
//
// The endpoint is a protected resource of grantd (RFC 6750):
//
//   - The access token comes in the Authorization header with the Bearer
//     scheme (RFC 6750 §2.1) or, on a POST, as the form-encoded body
//     parameter access_token (§2.2). A token in the query string (§2.3) is
//     refused: URIs end up in logs and Referer headers. A request carrying
//     the token in two places is refused too (§2: exactly one method).
//   - The token must be active as package bearer decides (signature, typ
//     at+jwt, issuer, expiry, revocation, live grant, user and client), and,
//     when Audience is set, carry that aud (JWT-13).
//   - Its scope must include openid (OpenID Connect Core §5.3.1); the answer
//     is sub, plus preferred_username when the scope includes profile
//     (§5.4).
//   - Errors follow RFC 6750 §3: no token → 401 with a bare Bearer
//     challenge and no error code (§3.1 says a request without credentials
//     gets none); a malformed request → 400 invalid_request; an inactive or
//     malformed token → 401 invalid_token; a token without openid → 403
//     insufficient_scope. Each challenge names the error in
//     WWW-Authenticate; the body repeats it as an OAuth JSON error.
//   - A store that cannot answer gets 503 with Retry-After, never
//     invalid_token (docs/SECURITY.md INV-01): a client that is told its token is
//     bad throws it away.
//   - Every answer carries Cache-Control: no-store.
package userinfo
