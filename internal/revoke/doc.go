// Package revoke implements the token revocation endpoint, POST /revoke
// (RFC 7009).
//
// The rules it follows (docs/SECURITY.md, introspection and revocation):
//
//   - The client authenticates as at the token endpoint: a confidential
//     client with its secret, a public client by its client_id (RFC 7009
//     §2.1, REV-01), through the same clientauth.Authenticator and so the
//     same throttling of secret checks (REV-05).
//   - token_type_hint only orders the search; refresh tokens and access
//     tokens are both tried (§2.1, REV-02).
//   - Revoking one of the client's refresh tokens revokes its whole grant:
//     every refresh token generation and, through the grant_id claim that
//     package bearer checks, every access token issued under it (§2.1,
//     REV-03).
//   - Revoking one of the client's access tokens records its jti as revoked
//     until its exp, and nothing more. §2.1 lets the server also revoke the
//     refresh token; by default we do not, so a client can drop an access
//     token it no longer needs (or leaked) and keep refreshing. To end
//     everything, it revokes the refresh token.
//   - A client created with --revoke-ends-grant (store.Client.
//     RevokeEndsGrant) ends everything with either token: revoking one of
//     its access tokens also revokes the grant the token's grant_id names,
//     every refresh token and access token of it. This is for a client that
//     holds only an access token when the user unlinks, such as a
//     cloud-to-cloud connector answering AWS.DeactivateUser while the
//     platform keeps the refresh token.
//   - A token of another client is not revoked, and the answer is the same
//     200 an unknown or malformed token gets (§2.2). §2.1 says the server
//     "refuses the request", which would tell the caller that the token
//     exists and whose it is not; REV-01 leaves the choice to us, and we
//     choose not to reveal it.
//   - The 200 goes out only after the store has committed the revocation; a
//     store that fails gets 503 with Retry-After (§2.2.1), never 200 (REV-04,
//     docs/SECURITY.md INV-01).
//   - Revoking is idempotent: a token of the client's that is already
//     revoked, rotated or expired is revoked again, harmlessly, and gets 200.
//   - Tokens that are not the client's — unknown, malformed, or another
//     client's — spend one attempt of the client's Budget (REV-05); once it
//     is spent such requests get 429 with Retry-After, alike for unknown and
//     foreign tokens. A client revoking its own tokens spends nothing.
package revoke
