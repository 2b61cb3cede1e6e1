package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// grantIn returns g as the store keeps it.
func grantIn(g store.Grant) store.Grant {
	g.Scopes = list(g.Scopes)
	g.CreatedAt, g.ExpiresAt, g.RevokedAt, g.LastUsedAt = stamp(g.CreatedAt), stamp(g.ExpiresAt), stamp(g.RevokedAt), stamp(g.LastUsedAt)
	return g
}

// grantOut returns a stored grant with a list of its own.
func grantOut(g store.Grant) store.Grant {
	g.Scopes = list(g.Scopes)
	return g
}

// Grant returns the grant with the given id, or store.ErrNotFound. Revoked
// and expired grants are returned until they are purged.
func (s *Store) Grant(ctx context.Context, id string) (store.Grant, error) {
	if err := s.lock(ctx); err != nil {
		return store.Grant{}, fmt.Errorf("grant %q: %w", id, err)
	}
	defer s.mu.Unlock()
	g, ok := s.grants[id]
	if !ok {
		return store.Grant{}, fmt.Errorf("grant %q: %w", id, store.ErrNotFound)
	}
	return grantOut(g), nil
}

// GrantsByUser returns the user's grants that are neither revoked nor
// expired at now, newest first.
func (s *Store) GrantsByUser(ctx context.Context, userID string, now time.Time) ([]store.Grant, error) {
	return s.liveGrants(ctx, fmt.Sprintf("grants of user %q", userID), now,
		func(g store.Grant) bool { return g.UserID == userID })
}

// GrantsByClient returns the client's grants that are neither revoked nor
// expired at now, newest first.
func (s *Store) GrantsByClient(ctx context.Context, clientID string, now time.Time) ([]store.Grant, error) {
	return s.liveGrants(ctx, fmt.Sprintf("grants of client %q", clientID), now,
		func(g store.Grant) bool { return g.ClientID == clientID })
}

// liveGrants returns the grants of which returns true that are neither
// revoked nor expired at now, ordered by creation, then id, newest first.
func (s *Store) liveGrants(ctx context.Context, op string, now time.Time, of func(store.Grant) bool) ([]store.Grant, error) {
	if err := s.lock(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	var gs []store.Grant
	for _, g := range s.grants {
		if of(g) && g.RevokedAt.IsZero() && alive(g.ExpiresAt, now) {
			gs = append(gs, grantOut(g))
		}
	}
	slices.SortFunc(gs, func(a, b store.Grant) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	return gs, nil
}

// RevokeGrant revokes the grant and every refresh token of it not yet
// revoked at now; a second revocation keeps the grant's first time. A
// refresh family older than grants has no grant record: its generations
// are revoked all the same. It returns store.ErrNotFound for an id that is
// neither a grant nor such a family.
func (s *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	op := fmt.Sprintf("revoke grant %q", id)
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	now = stamp(now)
	if g, ok := s.grants[id]; ok {
		if g.RevokedAt.IsZero() {
			g.RevokedAt = now
			s.grants[id] = g
		}
	} else if !s.hasFamily(id) {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	s.revokeTokens(now, func(t store.RefreshToken) bool { return t.GrantID == id })
	return nil
}

// hasFamily reports whether a refresh token of the grant id is stored.
func (s *Store) hasFamily(id string) bool {
	for _, gen := range s.refresh {
		if gen.t.GrantID == id {
			return true
		}
	}
	return false
}

// revokeTokens revokes at now every refresh token not yet revoked for
// which of returns true.
func (s *Store) revokeTokens(now time.Time, of func(store.RefreshToken) bool) {
	for hash, gen := range s.refresh {
		if gen.t.RevokedAt.IsZero() && of(gen.t) {
			gen.t.RevokedAt = now
			s.refresh[hash] = gen
		}
	}
}

// RevokeUserGrant revokes the grant id of userID and its refresh tokens,
// and deletes the user's consent to its client unless another grant of the
// user to that client is live at now, at once. It returns the grant as
// revoked, or store.ErrNotFound when id is unknown or another user's.
func (s *Store) RevokeUserGrant(ctx context.Context, userID, id string, now time.Time) (store.Grant, error) {
	op := fmt.Sprintf("revoke grant %q of user %q", id, userID)
	if err := s.lock(ctx); err != nil {
		return store.Grant{}, fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	g, ok := s.grants[id]
	if !ok || g.UserID != userID {
		return store.Grant{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	now = stamp(now)
	if g.RevokedAt.IsZero() {
		g.RevokedAt = now
		s.grants[id] = g
	}
	s.revokeTokens(now, func(t store.RefreshToken) bool { return t.GrantID == id })
	for _, other := range s.grants {
		if other.UserID == userID && other.ClientID == g.ClientID && other.RevokedAt.IsZero() && alive(other.ExpiresAt, now) {
			return grantOut(g), nil
		}
	}
	delete(s.consents, consentKey{userID, g.ClientID})
	return grantOut(g), nil
}

// RevokeUserGrants revokes every grant of the user and every refresh token
// issued to the user, and deletes the user's consents, at once. It returns
// how many grants it revoked.
func (s *Store) RevokeUserGrants(ctx context.Context, userID string, now time.Time) (int, error) {
	if err := s.lock(ctx); err != nil {
		return 0, fmt.Errorf("revoke grants of user %q: %w", userID, err)
	}
	defer s.mu.Unlock()
	return s.revokeUserGrants(userID, stamp(now)), nil
}

// revokeUserGrants revokes the user's grants and refresh tokens at now and
// deletes the user's consents; it returns how many grants it revoked.
func (s *Store) revokeUserGrants(userID string, now time.Time) int {
	n := 0
	for id, g := range s.grants {
		if g.UserID == userID && g.RevokedAt.IsZero() {
			g.RevokedAt = now
			s.grants[id] = g
			n++
		}
	}
	s.revokeTokens(now, func(t store.RefreshToken) bool { return t.UserID == userID })
	for k := range s.consents {
		if k.user == userID {
			delete(s.consents, k)
		}
	}
	return n
}

// codeOut returns a stored authorization code with a list of its own.
func codeOut(c store.AuthorizationCode) store.AuthorizationCode {
	c.Scopes = list(c.Scopes)
	return c
}

// CreateAuthorizationCode stores c unredeemed; c's RedeemedAt and GrantID
// are ignored. It returns store.ErrAlreadyExists when the hash is taken.
func (s *Store) CreateAuthorizationCode(ctx context.Context, c store.AuthorizationCode) error {
	op := fmt.Sprintf("create authorization code for client %q", c.ClientID)
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	if err := required(op, c.CreatedAt, c.ExpiresAt); err != nil {
		return err
	}
	if _, taken := s.codes[c.Hash]; taken {
		return fmt.Errorf("%s: %w", op, store.ErrAlreadyExists)
	}
	c.Scopes = list(c.Scopes)
	c.AuthTime, c.CreatedAt, c.ExpiresAt = stamp(c.AuthTime), stamp(c.CreatedAt), stamp(c.ExpiresAt)
	c.RedeemedAt, c.GrantID = time.Time{}, ""
	s.codes[c.Hash] = c
	return nil
}

// AuthorizationCode returns the code with the given hash, or
// store.ErrNotFound. Redeemed and expired codes are returned until they
// are purged.
func (s *Store) AuthorizationCode(ctx context.Context, hash string) (store.AuthorizationCode, error) {
	if err := s.lock(ctx); err != nil {
		return store.AuthorizationCode{}, fmt.Errorf("authorization code: %w", err)
	}
	defer s.mu.Unlock()
	c, ok := s.codes[hash]
	if !ok {
		return store.AuthorizationCode{}, fmt.Errorf("authorization code: %w", store.ErrNotFound)
	}
	return codeOut(c), nil
}

// RedeemAuthorizationCode redeems an unredeemed code of clientID that has
// not expired at now (store.AuthorizationCodes): it stores what issue
// returns for the code, which must include a grant, and marks the code
// redeemed by that grant, at once, returning the code as redeemed. An
// unknown hash, or another client's code, gives store.ErrNotFound and
// changes nothing. A redeemed or expired code gives store.ErrConflict with
// the code as stored, whose GrantID names the winner's grant (empty when
// the code expired unredeemed). When the code's user or the client is gone
// or disabled (store.ErrUserInactive, store.ErrClientInactive), issue
// fails, or what it returns does not fit or cannot be stored, nothing
// changes. issue runs under the store's lock.
func (s *Store) RedeemAuthorizationCode(ctx context.Context, hash, clientID string, now time.Time, issue store.IssueFunc[store.AuthorizationCode]) (store.AuthorizationCode, error) {
	op := fmt.Sprintf("redeem authorization code of client %q", clientID)
	if err := s.lock(ctx); err != nil {
		return store.AuthorizationCode{}, fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	c, ok := s.codes[hash]
	switch {
	case !ok || c.ClientID != clientID:
		return store.AuthorizationCode{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	case !c.RedeemedAt.IsZero() || !alive(c.ExpiresAt, now):
		return codeOut(c), fmt.Errorf("%s: %w", op, store.ErrConflict)
	}
	user, err := s.activeParties(c.UserID, clientID)
	if err != nil {
		return store.AuthorizationCode{}, fmt.Errorf("%s: %w", op, err)
	}
	iss, err := issue(codeOut(c), user)
	if err != nil {
		return store.AuthorizationCode{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := store.CheckCodeGrant(clientID, c.UserID, iss); err != nil {
		return store.AuthorizationCode{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := s.insertIssuance(op, iss); err != nil {
		return store.AuthorizationCode{}, err
	}
	c.RedeemedAt, c.GrantID = stamp(now), iss.Grant.ID
	s.codes[hash] = c
	return codeOut(c), nil
}
