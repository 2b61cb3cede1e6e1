package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/grantd/grantd/internal/httpserver"
	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/store"
)

// listKeys is `grantd keys list`: every stored signing key and its state.
func (e *environment) listKeys(ctx context.Context, args []string) error {
	c := e.command("keys list", `usage: grantd keys list [--output json|table]

Prints {"keys": [...]}: each signing key's kid, alg, state (next, signing,
previous, retired), created_at, activates_at and retires_at.
`)
	database := c.database()
	c.withOutput()
	if _, err := c.parse(args); err != nil {
		return err
	}
	st, err := e.openStore(ctx, *database)
	if err != nil {
		return err
	}
	defer st.Close()
	return e.printKeys(ctx, st, time.Now(), c.table())
}

// rotateKeys is `grantd keys rotate`: it schedules a successor for the key
// of each algorithm in use (or of --alg), which every instance publishes at
// its next reload and signs with once the JWKS caches have caught up; the old
// key is withdrawn once its last token has expired (REL-12). It reads the
// same settings as `serve` (GRANTD_ACCESS_TOKEN_ALG, GRANTD_ID_TOKEN_ALG,
// GRANTD_ACCESS_TOKEN_TTL, GRANTD_KEY_RELOAD_INTERVAL) to compute that
// schedule; --publish-ahead lengthens (or, in tests, shortens) the lead for
// verifiers that cache the JWKS longer than its max-age. --immediately is for a leaked key: the successor signs at once,
// and the old key, and every token it signed, is withdrawn at once.
func (e *environment) rotateKeys(ctx context.Context, args []string) error {
	c := e.command("keys rotate", `usage: grantd keys rotate [--alg RS256|ES256|EdDSA] [--publish-ahead DURATION | --immediately]

Schedules a successor for the signing key of every algorithm in use (or
--alg's) and prints the key list. The new key is published at once and
signs after --publish-ahead; the old key stays published until its last
token has expired. Run it with the servers' settings: it reads the
algorithms and lifetimes from them.
`)
	database := c.database()
	alg := c.String("alg", "", "rotate only this `ALG`'s key: RS256, ES256 or EdDSA (default: every algorithm in use)")
	immediately := c.Bool("immediately", false, "sign with the new key at once and withdraw the old one at once (a leaked key)")
	publishAhead := c.Duration("publish-ahead", 0, "publish the new key this `DURATION` before it signs "+
		"(default: the JWKS max-age, 5m, plus two GRANTD_KEY_RELOAD_INTERVAL; more if verifiers cache the JWKS longer)")
	if _, err := c.parse(args); err != nil {
		return err
	}
	cfg, err := e.adminConfig(*database)
	if err != nil {
		return err
	}
	algs := httpserver.SigningAlgs(cfg)
	if *alg != "" {
		if !slices.Contains([]string{keys.RS256, keys.ES256, keys.EdDSA}, *alg) {
			return usagef(c.Name(), "--alg %q: want RS256, ES256 or EdDSA", *alg)
		}
		algs = []string{*alg}
	}
	rot := httpserver.KeyRotation(cfg)
	switch {
	case *immediately && *publishAhead != 0:
		return usagef(c.Name(), "give --immediately or --publish-ahead, not both")
	case *immediately:
		rot = keys.Rotation{}
	case *publishAhead < 0:
		return usagef(c.Name(), "--publish-ahead %v: must not be negative", *publishAhead)
	case *publishAhead > 0:
		rot.PublishAhead = *publishAhead
	}
	st, err := e.openStore(ctx, *database)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	for _, a := range algs {
		if _, err := keys.Rotate(ctx, st, rand.Reader, now, a, rot); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("keys rotate: %s was rotated by someone else meanwhile; run keys list: %w", a, err)
			}
			return fmt.Errorf("keys rotate: %w", err)
		}
	}
	return e.printKeys(ctx, st, now, false)
}

func (e *environment) printKeys(ctx context.Context, st store.Keys, now time.Time, asTable bool) error {
	stored, err := st.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	described := keys.Describe(stored, now)
	if asTable {
		rows := make([][]string, len(described))
		for i, k := range described {
			rows[i] = []string{k.ID, k.Algorithm, k.State, timestamp(k.CreatedAt), timestamp(k.ActivatesAt), timestamp(k.RetiresAt)}
		}
		return table(e.stdout, []string{"KID", "ALG", "STATE", "CREATED_AT", "ACTIVATES_AT", "RETIRES_AT"}, rows)
	}
	return e.printJSON(struct {
		Keys []keys.Status `json:"keys"`
	}{described})
}

const keysUsage = `usage: grantd keys SUB-COMMAND [--FLAGS]

  list     list the signing keys and their states
  rotate   schedule a successor for the signing keys (--immediately for a leaked key)

Every instance sees a rotation within GRANTD_KEY_RELOAD_INTERVAL.
'grantd keys SUB-COMMAND --help' describes each.
`
