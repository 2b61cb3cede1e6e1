package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
)

// PKCE (RFC 7636), S256 only: every check of grantd's, as the authorization
// server and as an upstream's client, is here.

// MethodS256 is the one code_challenge_method grantd accepts (RFC 9700
// §2.1.1 recommends it; plain is refused, AZ-08).
const MethodS256 = "S256"

// s256Length is the length of the S256 challenge: base64url, unpadded, of
// a SHA-256 digest (RFC 7636 §4.2).
const s256Length = 43

// S256 returns the S256 code challenge of verifier:
// BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) (RFC 7636 §4.2).
func S256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ValidVerifier reports whether v is a code_verifier as RFC 7636 §4.1
// defines it: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." /
// "_" / "~".
func ValidVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
		if !ok {
			return false
		}
	}
	return true
}

// validS256 reports whether s is something S256 produces: 43 base64url
// characters, canonically encoding 32 bytes (RFC 7636 §4.2, AZ-09).
func validS256(s string) bool {
	if len(s) != s256Length {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// CheckChallenge checks the PKCE parameters of an authorization request
// (RFC 7636 §4.3, §4.4.1; AZ-07 to AZ-09): a method other than S256 (plain
// included), a challenge without a method (whose default would be plain),
// a method without a challenge, or a challenge that is not an S256 one is
// invalid_request, and so is no challenge when required is true.
func CheckChallenge(params url.Values, required bool) *Error {
	hasChallenge, hasMethod := params.Has("code_challenge"), params.Has("code_challenge_method")
	switch {
	case hasMethod && params.Get("code_challenge_method") != MethodS256:
		return NewError(InvalidRequest, "Only code_challenge_method=S256 is supported.")
	case hasChallenge && !hasMethod:
		return NewError(InvalidRequest, "code_challenge_method=S256 is required with a code_challenge.")
	case hasMethod && !hasChallenge:
		return NewError(InvalidRequest, "The code_challenge parameter is missing.")
	case hasChallenge && !validS256(params.Get("code_challenge")):
		return NewError(InvalidRequest, "The code_challenge is not a base64url SHA-256 digest.")
	case !hasChallenge && required:
		return NewError(InvalidRequest, "PKCE is required: send code_challenge and code_challenge_method=S256.")
	}
	return nil
}

// CheckVerifier checks the code_verifier of a token request against the
// challenge its code was bound to, "" for none (RFC 7636 §4.5, §4.6). A
// verifier for a code issued without a challenge is a downgrade and
// invalid_grant (RFC 9700 §4.8.2, AZ-11); a missing or malformed verifier
// is invalid_request; one whose S256 differs from the challenge, compared
// in constant time, is invalid_grant.
func CheckVerifier(challenge, verifier string) *Error {
	switch {
	case challenge == "" && verifier != "":
		return NewError(InvalidGrant, "The code was issued without a PKCE challenge.")
	case challenge == "":
		return nil
	case verifier == "":
		// Missing is as wrong as mismatched (RFC 7636 §4.6; AZ-10): the
		// code cannot be redeemed without it.
		return NewError(InvalidGrant, "The code_verifier parameter is missing.")
	case !ValidVerifier(verifier):
		return NewError(InvalidRequest, "The code_verifier is malformed.")
	case subtle.ConstantTimeCompare([]byte(S256(verifier)), []byte(challenge)) != 1:
		return NewError(InvalidGrant, "The code_verifier does not match the challenge.")
	}
	return nil
}
