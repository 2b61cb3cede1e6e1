package memstore

import (
	"fmt"

	"github.com/grantd/grantd/internal/store"
)

// The three redemptions — RedeemDeviceGrant, RedeemAuthorizationCode and
// RotateRefreshToken — run the same steps under the store's lock (see
// store/redeem.go): find the record (another client's is not found),
// refuse it unless it is redeemable (store.ErrConflict, with the record),
// re-check its user and client (activeParties), ask the caller's IssueFunc
// what to issue, check that it fits (store.CheckNewGrant,
// store.CheckCodeGrant, store.CheckSuccessor), and store it with the record consumed. Every step
// before the last changes nothing, so a refusal at any of them leaves the
// store as it was.

// activeParties returns the user userID when it and the client clientID
// are present and enabled: the re-check of a redemption. It returns
// store.ErrUserInactive when the user is gone or disabled (DEV-18), and
// otherwise store.ErrClientInactive when the client is (RT-07).
func (s *Store) activeParties(userID, clientID string) (store.User, error) {
	u, ok := s.users[userID]
	if !ok || u.Disabled {
		return store.User{}, store.ErrUserInactive
	}
	if c, ok := s.clients[clientID]; !ok || c.Disabled {
		return store.User{}, store.ErrClientInactive
	}
	return u, nil
}

// insertIssuance stores what a redemption issues — its grant, refresh
// token and passthrough record, each when not nil — all or none. It
// returns an error, store.ErrAlreadyExists when a key is taken, and stores
// nothing unless every record can be stored. The caller has checked that
// the issuance fits the redemption.
func (s *Store) insertIssuance(op string, iss store.Issuance) error {
	if g := iss.Grant; g != nil {
		if err := required(op, g.CreatedAt, g.ExpiresAt); err != nil {
			return err
		}
		if _, taken := s.grants[g.ID]; taken {
			return fmt.Errorf("%s: grant %q: %w", op, g.ID, store.ErrAlreadyExists)
		}
	}
	if rt := iss.RefreshToken; rt != nil {
		if err := s.checkRefresh(op, *rt); err != nil {
			return err
		}
	}
	if p := iss.Passthrough; p != nil {
		if err := s.checkPassthrough(op, *p); err != nil {
			return err
		}
	}
	if g := iss.Grant; g != nil {
		s.grants[g.ID] = grantIn(*g)
	}
	if rt := iss.RefreshToken; rt != nil {
		s.refresh[rt.Hash] = generation{t: refreshIn(*rt)}
	}
	if p := iss.Passthrough; p != nil {
		s.passthrough[p.Hash] = passthroughIn(*p)
	}
	return nil
}
