// Package upstream signs users in through an upstream OpenID Connect
// provider (Amazon Cognito, Keycloak, Auth0, …): grantd as the relying
// party, with the authorization code flow, PKCE S256 and a nonce. It knows
// nothing of grantd's store, sessions or pages.
//
// One Provider per configured upstream:
//
//	a, _ := upstream.NewAuthRequest(rand.Reader)      // keep in the browser session
//	u, _ := p.AuthCodeURL(ctx, callbackURL, a)         // redirect the browser there
//	// GET /callback: check state against the session, consume it, then
//	code, err := p.Callback(ctx, r.URL.Query())        // *Error for error=access_denied
//	id, tokens, err := p.Exchange(ctx, callbackURL, code, a)
//	tokens, err = p.Refresh(ctx, tokens.RefreshToken, id.Subject) // passthrough
//	err = p.Revoke(ctx, tokens.RefreshToken, "refresh_token")
//
// Contracts:
//
//   - Errors classify (errors.Is / errors.As): *Error is an OAuth error the
//     upstream answered (invalid_grant means a dead code or refresh token,
//     and nothing else does); ErrUnavailable is a network error, timeout,
//     5xx or 429, or a malformed or oversized answer — retry later, change
//     no state; ErrInvalidIDToken is a token that failed validation (the
//     reason is wrapped for logs); ErrInvalidCallback; ErrNoRevocation.
//   - Every upstream call is bounded by Options.Timeout (at most
//     MaxTimeout) and every response body by MaxResponseBytes; redirects
//     are not followed.
//   - Discovery is fetched on first use and cached; a failure is not
//     cached, the next call tries again. Concurrent callers share one
//     fetch. The issuer must equal the configured one byte for byte.
//   - The JWKS is cached; a token with an unknown key id causes at most one
//     refetch per JWKSRefetchInterval (go-oidc's RemoteKeySet has no such
//     limit, so this package keeps its own key set), and keys are refetched
//     after JWKSMaxAge.
//   - ID tokens (FED-02, JWT-08): signed with an allowed asymmetric
//     algorithm (never none or HMAC) by a JWKS key; iss exact; aud contains
//     the client id, azp equals it when present and is required with
//     several audiences; exp and iat required, and with nbf checked against
//     the injected clock within ClockSkew; nonce equal to the one sent;
//     Cognito's token_use, when present, "id"; at_hash, when present,
//     matching. A refreshed ID token must keep the original sub.
//   - Identities are (upstream id, sub); Username comes from the
//     configured claim, else preferred_username, email, sub.
//
// Check runs the tests of `grantd upstream test` against the live provider
// and says, for each finding, what to fix.
package upstream
