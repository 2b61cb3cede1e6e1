package seal

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// version prefixes every sealed value; a future format gets another.
const version = "v1"

var (
	// ErrWrongKey reports a value sealed under a key the Sealer does not
	// hold: the key file is not the one that sealed it.
	ErrWrongKey = errors.New("seal: the secret key file does not match the key that sealed this value")
	// ErrTampered reports a value that does not authenticate under its
	// key: it was altered, or it belongs to another row (other additional
	// data).
	ErrTampered = errors.New("seal: sealed value does not authenticate: altered, or sealed for another row")
	// ErrMalformed reports text that is not a sealed value.
	ErrMalformed = errors.New("seal: not a sealed value")
)

// Sealer seals with its current key and opens values sealed under any of
// its keys. It is safe for concurrent use if its random reader is.
type Sealer struct {
	rand    io.Reader
	current Key
	keys    map[string]Key
}

// New returns a Sealer that seals under current, with nonces read from r
// (crypto/rand.Reader in production), and also opens values sealed under
// the old keys (during a rotation).
func New(r io.Reader, current Key, old ...Key) *Sealer {
	s := &Sealer{rand: r, current: current, keys: map[string]Key{current.id: current}}
	for _, k := range old {
		s.keys[k.id] = k
	}
	return s
}

// Seal encrypts plaintext under the current key, bound to aad (which names
// the row the value belongs to, e.g. "upstream-secret:cognito"; it is not
// stored), and returns the sealed text.
func (s *Sealer) Seal(plaintext, aad []byte) (string, error) {
	k := s.current
	if k.aead == nil {
		return "", errors.New("seal: the Sealer has no key")
	}
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return "", fmt.Errorf("seal: read nonce: %w", err)
	}
	out := k.aead.Seal(nonce, nonce, plaintext, additional(k.id, aad))
	return version + "." + k.id + "." + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value sealed by Seal with the same aad. It fails with
// ErrWrongKey when no key of the Sealer sealed it, ErrTampered when it does
// not authenticate, and ErrMalformed when it is not a sealed value.
func (s *Sealer) Open(sealed string, aad []byte) ([]byte, error) {
	id, body, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	k, ok := s.keys[id]
	if !ok {
		return nil, fmt.Errorf("%w (sealed under key %s; the key file holds key %s)", ErrWrongKey, id, s.current.id)
	}
	n := k.aead.NonceSize()
	if len(body) < n+k.aead.Overhead() {
		return nil, ErrMalformed
	}
	plain, err := k.aead.Open(nil, body[:n], body[n:], additional(id, aad))
	if err != nil {
		return nil, ErrTampered
	}
	return plain, nil
}

// Reseal returns sealed re-encrypted under the current key, and whether it
// changed: a value already under the current key is returned as it is. A
// key rotation runs it over every sealed value with a Sealer made by
// New(r, newKey, oldKey).
func (s *Sealer) Reseal(sealed string, aad []byte) (string, bool, error) {
	id, err := KeyID(sealed)
	if err != nil {
		return "", false, err
	}
	if id == s.current.id {
		return sealed, false, nil
	}
	plain, err := s.Open(sealed, aad)
	if err != nil {
		return "", false, err
	}
	out, err := s.Seal(plain, aad)
	return out, err == nil, err
}

// KeyID returns the id of the key that sealed a value, without opening it.
func KeyID(sealed string) (string, error) {
	id, _, err := parse(sealed)
	return id, err
}

func parse(sealed string) (id string, body []byte, err error) {
	v, rest, ok := strings.Cut(sealed, ".")
	if !ok || v != version {
		return "", nil, ErrMalformed
	}
	id, enc, ok := strings.Cut(rest, ".")
	if !ok || id == "" {
		return "", nil, ErrMalformed
	}
	body, err = base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", nil, ErrMalformed
	}
	return id, body, nil
}

// additional is the GCM additional data: the format version and key id
// (so the header cannot be altered) and the caller's aad.
func additional(id string, aad []byte) []byte {
	b := make([]byte, 0, len(version)+len(id)+2+len(aad))
	b = append(b, version...)
	b = append(b, '.')
	b = append(b, id...)
	b = append(b, 0)
	return append(b, aad...)
}
