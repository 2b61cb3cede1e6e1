package seal_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/grantd/grantd/internal/seal"
)

func key(t *testing.T, fill byte) seal.Key {
	t.Helper()
	k, err := seal.NewKey(bytes.Repeat([]byte{fill}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestRoundTrip: a sealed value opens to its plaintext and shows nothing of
// it, so a copy of the database yields no usable secret (GEN-03).
func TestRoundTrip(t *testing.T) {
	s := seal.New(rand.Reader, key(t, 1))
	for _, plain := range []string{"", "s3cret", strings.Repeat("token.", 2000)} {
		sealed, err := s.Seal([]byte(plain), []byte("upstream-secret:cognito"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(sealed, plain) && plain != "" {
			t.Errorf("sealed value %q shows the plaintext", sealed)
		}
		got, err := s.Open(sealed, []byte("upstream-secret:cognito"))
		if err != nil || string(got) != plain {
			t.Errorf("Open(Seal(%.20q)) = %.20q, %v", plain, got, err)
		}
	}
}

func TestSealUsesAFreshNonce(t *testing.T) {
	s := seal.New(rand.Reader, key(t, 1))
	a, _ := s.Seal([]byte("same"), nil)
	b, _ := s.Seal([]byte("same"), nil)
	if a == b {
		t.Errorf("two seals of one value are equal: %s", a)
	}
}

func TestSealReportsARandomFailure(t *testing.T) {
	s := seal.New(iotest.ErrReader(errors.New("no entropy")), key(t, 1))
	if _, err := s.Seal([]byte("x"), nil); err == nil || !strings.Contains(err.Error(), "no entropy") {
		t.Errorf("Seal with a failing reader: %v", err)
	}
}

// TestOpenRefuses is the tamper matrix (GEN-05): each altered part of a
// sealed value, a value moved to another row, and a value under another key.
func TestOpenRefuses(t *testing.T) {
	k1, k2 := key(t, 1), key(t, 2)
	s := seal.New(rand.Reader, k1)
	aad := []byte("upstream-token:cognito:42")
	sealed, err := s.Seal([]byte("refresh-token-value"), aad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) string { // flips one base64url character of the body
		b := []byte(sealed)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	body := strings.LastIndexByte(sealed, '.') + 1
	tests := []struct {
		name   string
		sealed string
		aad    []byte
		opener *seal.Sealer
		want   error
	}{
		{"nonce altered", flip(body + 1), aad, s, seal.ErrTampered},
		{"ciphertext altered", flip(body + 20), aad, s, seal.ErrTampered},
		{"tag altered", flip(len(sealed) - 2), aad, s, seal.ErrTampered},
		{"truncated", sealed[:len(sealed)-4], aad, s, seal.ErrTampered},
		{"another row", sealed, []byte("upstream-token:cognito:43"), s, seal.ErrTampered},
		{"no aad", sealed, nil, s, seal.ErrTampered},
		{"another key", sealed, aad, seal.New(rand.Reader, k2), seal.ErrWrongKey},
		{"key id altered", strings.Replace(sealed, k1.ID(), k2.ID(), 1), aad, seal.New(rand.Reader, k1, k2), seal.ErrTampered},
		{"version altered", "v2" + sealed[2:], aad, s, seal.ErrMalformed},
		{"not base64", sealed[:body] + "!!!", aad, s, seal.ErrMalformed},
		{"too short", sealed[:body] + "AAAA", aad, s, seal.ErrMalformed},
		{"plain text", "s3cret", aad, s, seal.ErrMalformed},
		{"empty", "", aad, s, seal.ErrMalformed},
	}
	for _, tt := range tests {
		got, err := tt.opener.Open(tt.sealed, tt.aad)
		if !errors.Is(err, tt.want) || got != nil {
			t.Errorf("%s: Open = %q, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestWrongKeySaysWhichKeyFile(t *testing.T) {
	k1, k2 := key(t, 1), key(t, 2)
	sealed, _ := seal.New(rand.Reader, k1).Seal([]byte("x"), nil)
	_, err := seal.New(rand.Reader, k2).Open(sealed, nil)
	for _, want := range []string{"key file does not match", k1.ID(), k2.ID()} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}

func TestResealMovesValuesToTheNewKey(t *testing.T) {
	oldKey, newKey := key(t, 1), key(t, 2)
	aad := []byte("upstream-secret:cognito")
	before, _ := seal.New(rand.Reader, oldKey).Seal([]byte("s3cret"), aad)

	rekey := seal.New(rand.Reader, newKey, oldKey)
	after, changed, err := rekey.Reseal(before, aad)
	if err != nil || !changed {
		t.Fatalf("Reseal = %v, %v", changed, err)
	}
	if id, _ := seal.KeyID(after); id != newKey.ID() {
		t.Errorf("resealed under %s, want %s", id, newKey.ID())
	}
	again, changed, err := rekey.Reseal(after, aad)
	if err != nil || changed || again != after {
		t.Errorf("second Reseal changed a value already under the new key: %v, %v", changed, err)
	}
	got, err := seal.New(rand.Reader, newKey).Open(after, aad)
	if err != nil || string(got) != "s3cret" {
		t.Errorf("Open with the new key alone = %q, %v", got, err)
	}
	if _, _, err := rekey.Reseal(before, []byte("upstream-secret:other")); !errors.Is(err, seal.ErrTampered) {
		t.Errorf("Reseal with the wrong aad: %v, want ErrTampered", err)
	}
}

// TestKeyNeverPrintsItsBytes: a key that reaches a log line shows its id
// only (GEN-04).
func TestKeyNeverPrintsItsBytes(t *testing.T) {
	k := key(t, 0x41) // "AAAA…"
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(format, k); strings.Contains(got, "AAAA") || !strings.Contains(got, k.ID()) {
			t.Errorf("%s of a key = %q", format, got)
		}
	}
}

func TestNewKeyRefusesAWrongSize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := seal.NewKey(make([]byte, n)); err == nil {
			t.Errorf("NewKey accepted %d bytes", n)
		}
	}
}
