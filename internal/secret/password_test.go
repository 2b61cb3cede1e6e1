package secret

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// phc matches the argon2id PHC string HashPassword writes: version 19 and
// the OWASP profile (19 MiB, 2 passes, 1 lane), a 16-byte salt and a 32-byte
// key, both in unpadded standard base64.
var phc = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$`)

// TestHashPasswordParameters: the stored form names its parameters, its
// salt comes from the reader given, and two hashes of one password differ
// by their salts.
func TestHashPasswordParameters(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, argonSaltLen)
	h, err := HashPassword(bytes.NewReader(salt), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	m := phc.FindStringSubmatch(h)
	if m == nil {
		t.Fatalf("HashPassword = %q, want an argon2id PHC string of the OWASP profile", h)
	}
	if m[1] != base64.RawStdEncoding.EncodeToString(salt) {
		t.Errorf("salt %s, want the reader's bytes", m[1])
	}
	want := argon2.IDKey([]byte("correct horse"), salt, 2, 19*1024, 1, 32)
	if m[2] != base64.RawStdEncoding.EncodeToString(want) {
		t.Errorf("key %s, want argon2id of the password under the stated parameters", m[2])
	}
	again, err := HashPassword(rand.Reader, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := HashPassword(rand.Reader, "correct horse")
	if again == other || again == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if _, err := HashPassword(bytes.NewReader(salt[:3]), "pw"); err == nil {
		t.Error("HashPassword with a reader that runs dry: no error")
	}
}

// TestCheckPassword: every stored form a password or client secret may
// have checks the right one, refuses a wrong one with ErrMismatch, and a
// hash made with other argon2id parameters is checked under its own.
func TestCheckPassword(t *testing.T) {
	argon := mustHash(t, "right horse")
	salt := []byte("0123456789abcdef")
	light := fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=2$%s$%s", base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte("light"), salt, 1, 64, 2, 16)))
	bc, err := bcrypt.GenerateFromPassword([]byte("imported"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	b2b := string(bc)
	b2a, b2y := "$2a$"+b2b[4:], "$2y$"+b2b[4:]
	generated, err := HashClientSecret(rand.Reader, "generated-secret", true)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, hash, pw string
		want           error
	}{
		{"argon2id", argon, "right horse", nil},
		{"argon2id, wrong", argon, "right horse ", ErrMismatch},
		{"argon2id, empty", argon, "", ErrMismatch},
		{"argon2id of other parameters", light, "light", nil},
		{"argon2id of other parameters, wrong", light, "lighT", ErrMismatch},
		{"bcrypt $2b$", b2b, "imported", nil},
		{"bcrypt $2a$", b2a, "imported", nil},
		{"bcrypt $2y$", b2y, "imported", nil},
		{"bcrypt, wrong", b2b, "imported!", ErrMismatch},
		{"generated secret (sha256)", generated, "generated-secret", nil},
		{"generated secret, wrong", generated, "generated-secreT", ErrMismatch},
	}
	for _, tt := range tests {
		if err := CheckPassword(tt.hash, tt.pw); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestCheckPasswordMalformed: a stored hash that cannot be read is an
// error of its own, never ErrMismatch (a wrong password) and never a match.
func TestCheckPasswordMalformed(t *testing.T) {
	good := mustHash(t, "pw")
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=…,t=…,p=…, salt, key
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	tests := []struct{ name, hash string }{
		{"empty", ""},
		{"unknown scheme", "$scrypt$ln=16,r=8,p=1$c2FsdA$a2V5"},
		{"plain text", "pw"},
		{"too few fields", strings.Join(parts[:5], "$")},
		{"too many fields", good + "$extra"},
		{"other version", with(2, "v=16")},
		{"no version", with(2, "version")},
		{"zero memory", with(3, "m=0,t=2,p=1")},
		{"zero passes", with(3, "m=19456,t=0,p=1")},
		{"zero lanes", with(3, "m=19456,t=2,p=0")},
		{"unreadable parameters", with(3, "m=lots")},
		{"salt not base64", with(4, "!!!")},
		{"key not base64", with(5, "!!!")},
		{"empty key", with(5, "")},
		{"bcrypt garbage", "$2b$10$short"},
	}
	for _, tt := range tests {
		err := CheckPassword(tt.hash, "pw")
		if err == nil || errors.Is(err, ErrMismatch) {
			t.Errorf("%s (%q): %v, want an error other than ErrMismatch", tt.name, tt.hash, err)
		}
	}
}

// TestHashClientSecret is TOK-03 and GEN-03 at rest: a secret grantd
// generated is stored as its SHA-256, one an operator chose as argon2id;
// neither holds the secret.
func TestHashClientSecret(t *testing.T) {
	const sec = "operator-chosen-secret"
	tests := []struct {
		generated bool
		form      *regexp.Regexp
	}{
		{true, regexp.MustCompile(`^sha256\$[0-9a-f]{64}$`)},
		{false, phc},
	}
	for _, tt := range tests {
		h, err := HashClientSecret(rand.Reader, sec, tt.generated)
		if err != nil {
			t.Fatal(err)
		}
		if !tt.form.MatchString(h) || strings.Contains(h, sec) {
			t.Errorf("generated %t: stored as %q, want %v without the secret", tt.generated, h, tt.form)
		}
		if err := CheckPassword(h, sec); err != nil {
			t.Errorf("generated %t: the stored form does not check: %v", tt.generated, err)
		}
	}
}

// TestNewToken is GEN-02: an opaque token carries TokenBytes bytes of the
// reader, base64url without padding, and fails when the reader does.
func TestNewToken(t *testing.T) {
	src := bytes.Repeat([]byte{0xfb}, TokenBytes)
	tok, err := NewToken(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := base64.RawURLEncoding.EncodeToString(src); tok != want {
		t.Errorf("NewToken = %q, want %q", tok, want)
	}
	seen := map[string]bool{}
	for range 100 {
		tok, err := NewToken(rand.Reader)
		if err != nil || len(tok) != 43 || strings.ContainsAny(tok, "+/=") || seen[tok] {
			t.Fatalf("NewToken = %q, %v; want 43 new base64url characters", tok, err)
		}
		seen[tok] = true
	}
	if _, err := NewToken(io.LimitReader(rand.Reader, TokenBytes-1)); err == nil {
		t.Error("NewToken with too few random bytes: no error")
	}
}

// TestHashAndEqual: the storage key of a secret is its hex SHA-256, and
// Equal compares strings exactly.
func TestHashAndEqual(t *testing.T) {
	// FIPS 180-2 appendix B.1.
	if got := Hash("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf(`Hash("abc") = %s`, got)
	}
	tests := []struct {
		a, b string
		want bool
	}{
		{"secret", "secret", true},
		{"", "", true},
		{"secret", "Secret", false},
		{"secret", "secret ", false},
		{"secret", "", false},
	}
	for _, tt := range tests {
		if got := Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%q, %q) = %t, want %t", tt.a, tt.b, got, tt.want)
		}
	}
}
