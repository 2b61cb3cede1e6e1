package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// KeySize is the length of a key file: 32 random bytes.
const KeySize = 32

// keyIDBytes is the length of a key id before encoding: 64 bits, so two
// random keys practically never share one.
const keyIDBytes = 8

// Key is a loaded key, ready to seal and open. Its bytes are never printed:
// String and GoString show only its id.
type Key struct {
	id   string
	aead cipher.AEAD
}

// NewKey derives a Key from KeySize random bytes.
func NewKey(b []byte) (Key, error) {
	if len(b) != KeySize {
		return Key{}, fmt.Errorf("seal: a key is %d bytes, got %d", KeySize, len(b))
	}
	enc, err := hkdf.Key(sha256.New, b, nil, "grantd seal v1 AES-256-GCM key", 32)
	if err != nil {
		return Key{}, fmt.Errorf("seal: derive key: %w", err)
	}
	id, err := hkdf.Key(sha256.New, b, nil, "grantd seal v1 key id", keyIDBytes)
	if err != nil {
		return Key{}, fmt.Errorf("seal: derive key id: %w", err)
	}
	block, err := aes.NewCipher(enc)
	if err != nil {
		return Key{}, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Key{}, fmt.Errorf("seal: %w", err)
	}
	return Key{id: base64.RawURLEncoding.EncodeToString(id), aead: aead}, nil
}

// ID is the key's public id, as it appears in the values it seals.
func (k Key) ID() string { return k.id }

// String names the key by its id only.
func (k Key) String() string { return "seal.Key(" + k.id + ")" }

// GoString names the key by its id only, so %#v does not print its state.
func (k Key) GoString() string { return k.String() }

// LoadKey reads the key file at path. It refuses, with a message naming the
// file and the fix, anything but a regular file of exactly KeySize bytes
// that gives no permission to group or others. A missing file gives an
// error that matches fs.ErrNotExist.
func LoadKey(path string) (Key, error) {
	fi, err := os.Stat(path) // follows symbolic links, as mounted secrets use
	if err != nil {
		return Key{}, fmt.Errorf("seal: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Key{}, fmt.Errorf("seal: key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return Key{}, fmt.Errorf("seal: key file %s is accessible to group or others (mode %04o): run chmod 600 %s", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("seal: key file: %w", err)
	}
	if len(b) != KeySize {
		return Key{}, fmt.Errorf("seal: key file %s holds %d bytes, want exactly %d random bytes "+
			"(make one with: head -c %d /dev/urandom > FILE && chmod 600 FILE)", path, len(b), KeySize, KeySize)
	}
	return NewKey(b)
}

// CreateKey writes a new key of KeySize bytes read from r (crypto/rand.Reader
// in production) to path, with mode 0600, and returns it. The file appears
// whole or not at all: it is written to a temporary file in the same folder,
// synced, and linked into place, which fails if path exists. An existing
// file is never replaced; that error matches fs.ErrExist.
func CreateKey(path string, r io.Reader) (Key, error) {
	b := make([]byte, KeySize)
	if _, err := io.ReadFull(r, b); err != nil {
		return Key{}, fmt.Errorf("seal: read random bytes: %w", err)
	}
	k, err := NewKey(b)
	if err != nil {
		return Key{}, err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".grantd-key-*") // mode 0600
	if err != nil {
		return Key{}, fmt.Errorf("seal: create key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Key{}, fmt.Errorf("seal: write key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Key{}, fmt.Errorf("seal: key file %s already exists; it is never replaced: %w", path, fs.ErrExist)
		}
		return Key{}, fmt.Errorf("seal: create key file: %w", err)
	}
	syncDir(dir)
	return k, nil
}

// syncDir makes a new directory entry durable. Failure is not an error:
// some file systems cannot sync a directory, and the file itself is synced.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// LoadOrCreateKey loads the key file at path, or creates it (as CreateKey)
// when it does not exist; created reports which. When several processes
// race to create it, one creates it and the others load that one.
func LoadOrCreateKey(path string, r io.Reader) (k Key, created bool, err error) {
	k, err = LoadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	k, err = CreateKey(path, r)
	if errors.Is(err, fs.ErrExist) {
		k, err = LoadKey(path)
		return k, false, err
	}
	return k, err == nil, err
}
