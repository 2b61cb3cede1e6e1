// Package introspect implements the token introspection endpoint,
// POST /introspect (RFC 7662), for grantd's resource servers and connectors.
//
// The rules it follows (docs/SECURITY.md, introspection):
//
//   - POST only (RFC 7662 §2.1 lets the server refuse GET): any other method
//     gets 405 (INT-05).
//   - The caller authenticates as a confidential client, as at the token
//     endpoint (INT-01). A bad credential, or a public client that only
//     names itself, gets 401 invalid_client: a public client cannot prove
//     who it is, so it is not authenticated.
//   - Which tokens a caller sees (INT-02; RFC 7662 §4 leaves the policy to
//     the server): every client sees the tokens issued to itself, so that a
//     connector can learn the user of the token it holds. Other clients'
//     tokens only a client allowed to introspect (store.Client.Introspect)
//     sees. To any other caller they are what an unknown token is —
//     {"active":false}, decided without asking the store whether they are
//     live, and one attempt of the caller's budget — so it learns nothing
//     of them.
//   - token_type_hint only orders the search (RFC 7662 §2.1): access tokens
//     and refresh tokens are both tried, the hinted kind first.
//   - An access token is active when package bearer says so (signature, typ
//     at+jwt, issuer, expiry, revoked jti, live grant, user and client;
//     INT-04, JWT-08, JWT-09) and, when it is another client's and the
//     caller has an Audience, its aud equals that audience. A refresh token
//     is active when its generation is (store.RefreshToken.Active) and its
//     grant, user and client are live. A caller with an Audience is a
//     resource server bound to that resource; refresh tokens are never
//     presented to a resource server (RFC 6749 §1.5), so such a caller sees
//     no other client's refresh token active.
//   - Anything inactive gets exactly {"active":false}, whatever the reason
//     (RFC 7662 §2.2, INT-03).
//   - A store that cannot answer gets 503 with Retry-After, never
//     {"active":false} (docs/SECURITY.md INV-01).
//   - Token scanning is throttled per calling client (INT-05): every inactive
//     answer spends one attempt of the client's Budget; active answers spend
//     nothing, so a busy resource server introspecting real tokens is not
//     slowed. Once the budget is spent the client gets 429 with Retry-After
//     for every token, active or not, until the budget refills: answering
//     active tokens while refusing inactive ones would let a scanner tell
//     them apart.
package introspect
