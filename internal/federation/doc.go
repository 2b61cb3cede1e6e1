// Package federation is what grantd keeps of its upstream OpenID Connect
// providers while it runs: the Directory of providers the store lists
// (their client secrets opened with the secret key, each with an
// upstream.Provider that caches discovery and keys), and the sealing of the
// upstream tokens a sign-in holds for a passthrough client until its
// device collects them. Package callback serves the sign-in round trip;
// the token and revocation endpoints refresh and revoke passthrough tokens
// through the Directory.
package federation
