package secret

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2id parameters: RFC 9106 §4's second recommended option (64 MiB,
// 3 passes) is too heavy for a 2-core server under a sign-in flood, so we use
// OWASP's argon2id profile of 19 MiB, 2 passes, 1 lane.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// sha256Prefix marks a client secret stored as plain SHA-256: only secrets
// grantd generated itself (256 random bits) are stored that way.
const sha256Prefix = "sha256$"

// ErrMismatch reports a wrong password or secret.
var ErrMismatch = errors.New("secret: mismatch")

// HashPassword returns an argon2id PHC string for pw, salted from r.
func HashPassword(r io.Reader, pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches hash, an argon2id PHC string or a
// bcrypt hash. It returns ErrMismatch on a wrong password and another error
// when hash is malformed.
func CheckPassword(hash, pw string) error {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		return checkArgon2id(hash, pw)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return ErrMismatch
		}
		return err
	case strings.HasPrefix(hash, sha256Prefix):
		if Equal(Hash(pw), strings.TrimPrefix(hash, sha256Prefix)) {
			return nil
		}
		return ErrMismatch
	default:
		return errors.New("secret: unknown hash format")
	}
}

func checkArgon2id(hash, pw string) error {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 {
		return errors.New("secret: malformed argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("secret: unsupported argon2id version")
	}
	var mem uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil || mem == 0 || t == 0 || p == 0 {
		return errors.New("secret: malformed argon2id parameters")
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return fmt.Errorf("secret: argon2id salt: %w", err)
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return errors.New("secret: malformed argon2id key")
	}
	got := argon2.IDKey([]byte(pw), salt, t, mem, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// HashClientSecret returns the stored form of a client secret. A secret grantd
// generated (generated true: 256 random bits) is stored as SHA-256, which is
// as strong for such a value and cheap to check on every poll; a secret an
// operator chose may be guessable and is stored with argon2id.
func HashClientSecret(r io.Reader, s string, generated bool) (string, error) {
	if generated {
		return sha256Prefix + Hash(s), nil
	}
	return HashPassword(r, s)
}
