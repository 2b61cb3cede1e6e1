package federation

import (
	"encoding/json"
	"fmt"

	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/upstream"
)

// Held is what a sign-in at an upstream holds for a passthrough client's
// device: the upstream's tokens, and whose they are. It is kept sealed in
// the session, then in the approved device grant, until the device collects
// it (store.Session.UpstreamTokens, store.DeviceGrant.UpstreamTokens).
type Held struct {
	Upstream string          `json:"upstream"`
	Subject  string          `json:"sub"`
	Tokens   upstream.Tokens `json:"tokens"`
}

// Seal seals h for the row key of kind (store.SealedSessionTokens or
// store.SealedDeviceTokens).
func (d *Directory) Seal(h Held, kind, key string) (string, error) {
	if d.Sealer == nil {
		return "", errNoKey
	}
	b, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("encode upstream tokens: %w", err)
	}
	return d.Sealer.Seal(b, store.SealedAAD(kind, key))
}

// Open opens what Seal sealed for the row key of kind.
func (d *Directory) Open(sealed, kind, key string) (Held, error) {
	if d.Sealer == nil {
		return Held{}, errNoKey
	}
	b, err := d.Sealer.Open(sealed, store.SealedAAD(kind, key))
	if err != nil {
		return Held{}, fmt.Errorf("open upstream tokens: %w", err)
	}
	var h Held
	if err := json.Unmarshal(b, &h); err != nil {
		return Held{}, fmt.Errorf("decode upstream tokens: %w", err)
	}
	return h, nil
}

// Move opens tokens sealed for one row and seals them for another: from
// the session that signed in to the device grant it approves.
func (d *Directory) Move(sealed, fromKind, fromKey, toKind, toKey string) (string, error) {
	h, err := d.Open(sealed, fromKind, fromKey)
	if err != nil {
		return "", err
	}
	return d.Seal(h, toKind, toKey)
}
