// Package lightctl is what a TV or bulb app does with grantd, behind the
// lightctl command: sign in with the device authorization grant (RFC 8628,
// through golang.org/x/oauth2), keep the tokens in a file of the user's,
// call lightsd with the access token, refreshing it when it has expired,
// and sign out by revoking at grantd.
package lightctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/oauth2"
)

// Session is what the token file keeps: where the user signed in and the
// tokens. The file holds a refresh token, so it is the user's alone (0600
// in a 0700 directory).
type Session struct {
	Issuer    string        `json:"issuer"`
	ClientID  string        `json:"client_id"`
	LightsURL string        `json:"lights_url"`
	Token     *oauth2.Token `json:"token"`
}

// TokenFileName is the session file's name in the config directory.
const TokenFileName = "session.json"

// ErrNoSession means nobody is signed in.
var ErrNoSession = errors.New("not signed in: run lightctl login")

// Load reads the session in dir.
func Load(dir string) (Session, error) {
	b, err := os.ReadFile(filepath.Join(dir, TokenFileName))
	if errors.Is(err, os.ErrNotExist) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("read session: %w", err)
	}
	var s Session
	if err := json.Unmarshal(b, &s); err != nil || s.Token == nil {
		return Session{}, fmt.Errorf("read session %s: the file is damaged; run lightctl login", filepath.Join(dir, TokenFileName))
	}
	return s, nil
}

// Save writes s to dir atomically: a temporary file in the same directory,
// written and fsynced, renamed over the old file, and the directory
// fsynced. A crash at any point leaves either the old session or the new
// one, never a torn file, so a rotated refresh token is never lost
// half-written (the old one is dead once the server has rotated it).
func Save(dir string, s Session) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".session-*") // created 0600
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save session: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save session: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save session: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, TokenFileName)); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("save session: sync %s: %w", dir, err)
	}
	return nil
}

// Remove deletes the session file.
func Remove(dir string) error {
	err := os.Remove(filepath.Join(dir, TokenFileName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove session: %w", err)
	}
	return nil
}
