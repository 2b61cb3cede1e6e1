// Package oauth is grantd's protocol vocabulary: the error codes of RFC 6749
// §5.2 and RFC 8628 §3.5 as values of one type, request parsing (done once,
// strictly, into typed values), client authentication (RFC 6749 §2.3) and the
// writing of JSON responses. Endpoint packages depend on it; it depends on
// nothing of theirs.
package oauth
