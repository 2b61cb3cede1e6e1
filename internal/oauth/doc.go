// Package oauth is grantd's protocol vocabulary: the error codes of RFC 6749
// §5.2 and RFC 8628 §3.5 as values of one type, request parsing (done once,
// strictly, into typed values, client credentials included), PKCE (RFC
// 7636, all in pkce.go), the claims of grantd's tokens and the writing of
// JSON responses.
// Endpoint packages depend on it; it imports only the standard library
// (internal/deptest checks this), so it holds no state: authenticating a
// client against the registered ones is package clientauth's.
package oauth
