// Package secret makes and checks grantd's credentials: random opaque tokens,
// the hashes under which they are stored, and password hashes.
//
// High-entropy values (device codes, refresh tokens, session ids, generated
// client secrets) are stored as SHA-256: a 128-bit-or-better secret cannot be
// brute-forced from its hash, and lookups stay O(1). Passwords and secrets an
// operator typed are stored with argon2id (RFC 9106); bcrypt hashes are
// accepted for imported accounts. Every comparison is constant-time (TOK-03).
package secret

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
)

// TokenBytes is the number of random bytes in an opaque token: 256 bits,
// twice what RFC 6749 §10.10 and GEN-02 require.
const TokenBytes = 32

// NewToken returns a fresh opaque token of TokenBytes random bytes from r
// (crypto/rand.Reader in production), base64url encoded without padding.
func NewToken(r io.Reader) (string, error) {
	b := make([]byte, TokenBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash returns the storage key of a high-entropy secret: hex SHA-256.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Equal compares two strings in constant time.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
