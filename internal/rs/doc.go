// Package rs is the resource server's side of grantd: it decides whether a
// bearer token presented to an API is one of grantd's access tokens for
// that API, and says who it belongs to. It uses only grantd's public HTTP
// interface — the metadata (RFC 8414), the JWKS and, when configured, the
// introspection endpoint (RFC 7662) — so it works the same against any
// RFC 9068 authorization server.
//
// Two Checkers:
//
//   - Verifier validates a JWT access token locally (RFC 9068 §4): the
//     signature with a key from the issuer's JWKS, found through the
//     metadata and cached (KeySet: refetched once its max-age is over, and
//     on an unknown kid at most once per MinRefetch); an allowlist of
//     asymmetric algorithms, so alg none and HS256 keyed with a public key
//     never verify; typ at+jwt, so an ID token is not an access token; iss
//     byte-equal to the issuer; aud containing the resource server's own
//     identifier; exp present and not passed, nbf and iat not in the future
//     (each with the configured leeway); no jwk, jku or x5u header (JWT-08,
//     JWT-09, JWT-13). A token revoked at grantd stays valid here until it
//     expires (JWT-07): that is the price of not asking grantd.
//   - Introspector asks grantd's /introspect as a confidential client
//     created with --introspect (and, to bind answers to this API, with
//     --audience), for opaque tokens or to see revocations at once.
//
// Guard turns a Checker's answer into RFC 6750 §3 responses: 401 with a
// WWW-Authenticate challenge (no error code when the request had no token,
// invalid_token otherwise), 403 insufficient_scope naming the scope, and
// 503 when grantd cannot be reached.
package rs
