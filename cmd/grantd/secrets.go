package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/config"
	"github.com/grantd/grantd/internal/seal"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore"
)

// loadSealer loads the secret key that seals upstream client secrets and
// tokens at rest (GRANTD_SECRET_KEY_FILE), or, with SQLite and no setting,
// the one beside the database file, created on first use. With PostgreSQL
// and no setting it returns nil: every instance must read one file, which
// only the operator can provide. With the memory database and no setting
// it draws a key that is never written down: nothing it seals outlives the
// process.
func loadSealer(cfg config.Config) (*seal.Sealer, error) {
	path, create := cfg.SecretKeyPath()
	switch {
	case path == "":
		return nil, nil
	case create && cfg.Database == memoryDatabase:
		b := make([]byte, seal.KeySize)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("draw a secret key: %w", err)
		}
		key, err := seal.NewKey(b)
		if err != nil {
			return nil, err
		}
		return seal.New(rand.Reader, key), nil
	case create:
		key, _, err := seal.LoadOrCreateKey(path, rand.Reader)
		if err != nil {
			return nil, err
		}
		return seal.New(rand.Reader, key), nil
	}
	key, err := seal.LoadKey(path)
	if err != nil {
		return nil, err
	}
	return seal.New(rand.Reader, key), nil
}

// needSealer refuses to go on without a secret key when st has upstreams
// that need one.
func needSealer(ctx context.Context, st store.Upstreams, sealer *seal.Sealer) error {
	if sealer != nil {
		return nil
	}
	ups, err := st.Upstreams(ctx)
	if err != nil {
		return fmt.Errorf("list upstreams: %w", err)
	}
	if len(ups) > 0 {
		return errors.New("GRANTD_SECRET_KEY_FILE is required with PostgreSQL once upstream providers exist: " +
			"every instance must read the same key file (32 random bytes, mode 0600)")
	}
	return nil
}

const secretsUsage = `usage: grantd secrets SUB-COMMAND [--FLAGS]

  rekey          seal every sealed value again under the key in force

'grantd secrets SUB-COMMAND --help' describes each.
`

// rekey is `grantd secrets rekey`: every value sealed under the old key
// file is sealed again under the key in force (GRANTD_SECRET_KEY_FILE), in
// one transaction.
func (e *environment) rekey(ctx context.Context, args []string) error {
	c := e.command("secrets rekey", `usage: grantd secrets rekey --old-key-file FILE

Seals every sealed value (upstream client secrets and tokens) again under
the key GRANTD_SECRET_KEY_FILE names, in one transaction; values sealed
under the key in --old-key-file are opened with it. Stop the servers, point
GRANTD_SECRET_KEY_FILE at the new key, run this, start the servers. Prints
{"resealed": N, "key_id": ID}.
`)
	database := c.database()
	oldFile := c.String("old-key-file", "", "the key `FILE` the values are sealed under now (required)")
	if _, err := c.parse(args); err != nil {
		return err
	}
	if err := c.required("old-key-file", *oldFile); err != nil {
		return err
	}
	cfg, err := e.adminConfig(*database)
	if err != nil {
		return err
	}
	oldKey, err := seal.LoadKey(*oldFile)
	if err != nil {
		return fmt.Errorf("old key: %w", err)
	}
	path, _ := cfg.SecretKeyPath()
	if path == "" {
		return errors.New("secrets rekey: set GRANTD_SECRET_KEY_FILE to the new key file")
	}
	newKey, err := seal.LoadKey(path)
	if err != nil {
		return fmt.Errorf("new key: %w", err)
	}
	st, err := e.openStore(ctx, *database)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := reseal(ctx, st, seal.New(rand.Reader, newKey, oldKey))
	if err != nil {
		return err
	}
	return e.printJSON(struct {
		Resealed int    `json:"resealed"`
		KeyID    string `json:"key_id"`
	}{n, newKey.ID()})
}

// reseal seals every sealed value of st again under s's current key.
func reseal(ctx context.Context, st *sqlstore.Store, s *seal.Sealer) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	n, err := st.ResealAll(ctx, func(v store.SealedValue) (string, error) {
		next, _, err := s.Reseal(v.Value, v.AAD())
		return next, err
	})
	if err != nil {
		return 0, fmt.Errorf("reseal: %w", err)
	}
	return n, nil
}
