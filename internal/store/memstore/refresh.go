package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// refreshIn returns t as the store keeps it. GrantKind is not kept: it is
// read from the grant with every generation returned.
func refreshIn(t store.RefreshToken) store.RefreshToken {
	t.Scopes = list(t.Scopes)
	t.AuthTime, t.CreatedAt, t.ExpiresAt = stamp(t.AuthTime), stamp(t.CreatedAt), stamp(t.ExpiresAt)
	t.FamilyExpiresAt, t.RotatedAt, t.RevokedAt = stamp(t.FamilyExpiresAt), stamp(t.RotatedAt), stamp(t.RevokedAt)
	t.GrantKind = ""
	return t
}

// refreshOut returns a stored generation as it is read: with a list of
// its own and its grant's kind ("" for a family without a grant record).
func (s *Store) refreshOut(t store.RefreshToken) store.RefreshToken {
	t.Scopes = list(t.Scopes)
	t.GrantKind = s.grants[t.GrantID].Kind
	return t
}

// checkRefresh returns an error, store.ErrAlreadyExists when the hash is
// taken, unless t can be stored.
func (s *Store) checkRefresh(op string, t store.RefreshToken) error {
	if err := required(op, t.CreatedAt, t.ExpiresAt, t.FamilyExpiresAt); err != nil {
		return err
	}
	if _, taken := s.refresh[t.Hash]; taken {
		return fmt.Errorf("%s: %w", op, store.ErrAlreadyExists)
	}
	return nil
}

// CreateRefreshToken stores the first generation of a family. It returns
// store.ErrAlreadyExists when the hash is taken.
func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	op := fmt.Sprintf("create refresh token of grant %q", t.GrantID)
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	if err := s.checkRefresh(op, t); err != nil {
		return err
	}
	s.refresh[t.Hash] = generation{t: refreshIn(t)}
	return nil
}

// RefreshToken returns the generation with the given hash, or
// store.ErrNotFound. Rotated, revoked and expired generations are returned
// too, so that the caller can detect reuse.
func (s *Store) RefreshToken(ctx context.Context, hash string) (store.RefreshToken, error) {
	if err := s.lock(ctx); err != nil {
		return store.RefreshToken{}, fmt.Errorf("refresh token: %w", err)
	}
	defer s.mu.Unlock()
	gen, ok := s.refresh[hash]
	if !ok {
		return store.RefreshToken{}, fmt.Errorf("refresh token: %w", store.ErrNotFound)
	}
	return s.refreshOut(gen.t), nil
}

// RefreshSuccessor returns the generation that replaced the one with the
// given hash, or store.ErrNotFound when that one was not rotated or is
// unknown.
func (s *Store) RefreshSuccessor(ctx context.Context, hash string) (store.RefreshToken, error) {
	if err := s.lock(ctx); err != nil {
		return store.RefreshToken{}, fmt.Errorf("refresh successor: %w", err)
	}
	defer s.mu.Unlock()
	next, ok := s.refresh[s.refresh[hash].successor]
	if !ok {
		return store.RefreshToken{}, fmt.Errorf("refresh successor: %w", store.ErrNotFound)
	}
	return s.refreshOut(next.t), nil
}

// RotateRefreshToken redeems the generation oldHash of clientID at now
// (store.RefreshTokens): it marks the generation rotated, records the
// successor issue returns for it and stores it, at once, and moves the
// grant's last use when it is more than store.LastUsedStep old. It returns
// the generation as read with every outcome but store.ErrNotFound, which
// an unknown hash or another client's generation gives, changing nothing
// (RT-01). A rotated, revoked or expired generation, or one whose grant is
// revoked, gives store.ErrConflict; exactly one of concurrent rotations
// succeeds. When the generation's user or the client is gone or disabled
// (store.ErrUserInactive, store.ErrClientInactive), issue fails, or what
// it returns does not continue the family (store.CheckSuccessor) or cannot
// be stored, nothing changes. issue runs under the store's lock.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash, clientID string, now time.Time, issue store.IssueFunc[store.RefreshToken]) (store.RefreshToken, error) {
	op := fmt.Sprintf("rotate refresh token of client %q", clientID)
	if err := s.lock(ctx); err != nil {
		return store.RefreshToken{}, fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	gen, ok := s.refresh[oldHash]
	if !ok || gen.t.ClientID != clientID {
		return store.RefreshToken{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	old := s.refreshOut(gen.t)
	if !s.rotatable(old, now) {
		return old, fmt.Errorf("%s: %w", op, store.ErrConflict)
	}
	user, err := s.activeParties(old.UserID, clientID)
	if err != nil {
		return old, fmt.Errorf("%s: %w", op, err)
	}
	iss, err := issue(s.refreshOut(gen.t), user)
	if err != nil {
		return old, fmt.Errorf("%s: %w", op, err)
	}
	if err := store.CheckSuccessor(old, iss); err != nil {
		return old, fmt.Errorf("%s: %w", op, err)
	}
	succ := *iss.RefreshToken
	if err := s.checkRefresh(op, succ); err != nil {
		return old, err
	}
	gen.t.RotatedAt, gen.successor = stamp(now), succ.Hash
	s.refresh[oldHash] = gen
	s.refresh[succ.Hash] = generation{t: refreshIn(succ)}
	if g, ok := s.grants[old.GrantID]; ok && (g.LastUsedAt.IsZero() || stamp(now).Sub(g.LastUsedAt) > store.LastUsedStep) {
		g.LastUsedAt = stamp(now)
		s.grants[old.GrantID] = g
	}
	return old, nil
}

// rotatable reports whether the generation t may be rotated at now: it is
// neither rotated, revoked nor expired, and its grant, if it has a grant
// record, is not revoked.
func (s *Store) rotatable(t store.RefreshToken, now time.Time) bool {
	g, hasGrant := s.grants[t.GrantID]
	return t.RotatedAt.IsZero() && t.RevokedAt.IsZero() && alive(t.ExpiresAt, now) &&
		alive(t.FamilyExpiresAt, now) && (!hasGrant || g.RevokedAt.IsZero())
}

// RevokeAccessToken records the token id jti as revoked until expiresAt.
// Revoking a jti again is not an error and keeps the first record.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("revoke access token: %w", err)
	}
	defer s.mu.Unlock()
	if _, ok := s.revoked[jti]; !ok {
		s.revoked[jti] = stampNumber(expiresAt)
	}
	return nil
}

// AccessTokenLive reports whether an access token with id jti of grant
// grantID is backed by live state at now, and if so the name of the
// grant's user (store.AccessTokens). A grant id with no grant record is a
// refresh family older than grants: live while one of its generations is
// unrevoked and within the family's lifetime, with that generation's user
// and client.
func (s *Store) AccessTokenLive(ctx context.Context, jti, grantID string, now time.Time) (string, bool, error) {
	if err := s.lock(ctx); err != nil {
		return "", false, fmt.Errorf("access token live: %w", err)
	}
	defer s.mu.Unlock()
	if _, revoked := s.revoked[jti]; revoked {
		return "", false, nil
	}
	userID, clientID, ok := "", "", false
	if g, found := s.grants[grantID]; found {
		userID, clientID = g.UserID, g.ClientID
		ok = g.RevokedAt.IsZero() && alive(g.ExpiresAt, now)
	} else {
		for _, gen := range s.refresh {
			if gen.t.GrantID == grantID && gen.t.RevokedAt.IsZero() && alive(gen.t.FamilyExpiresAt, now) {
				userID, clientID, ok = gen.t.UserID, gen.t.ClientID, true
				break
			}
		}
	}
	u, userOK := s.users[userID]
	c, clientOK := s.clients[clientID]
	if !ok || !userOK || u.Disabled || !clientOK || c.Disabled {
		return "", false, nil
	}
	return u.Name(), true, nil
}

// Consent returns the user's consent to the client, or store.ErrNotFound.
func (s *Store) Consent(ctx context.Context, userID, clientID string) (store.Consent, error) {
	op := fmt.Sprintf("consent of user %q to client %q", userID, clientID)
	if err := s.lock(ctx); err != nil {
		return store.Consent{}, fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	c, ok := s.consents[consentKey{userID, clientID}]
	if !ok {
		return store.Consent{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	c.Scopes = list(c.Scopes)
	return c, nil
}

// SaveConsent stores c, replacing any earlier consent of the user to the
// client.
func (s *Store) SaveConsent(ctx context.Context, c store.Consent) error {
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("save consent of user %q to client %q: %w", c.UserID, c.ClientID, err)
	}
	defer s.mu.Unlock()
	c.Scopes, c.GrantedAt = list(c.Scopes), stampNumber(c.GrantedAt)
	s.consents[consentKey{c.UserID, c.ClientID}] = c
	return nil
}

// EnsureSecret stores value under name unless a secret of that name
// exists, and returns the secret in force.
func (s *Store) EnsureSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	if len(value) == 0 {
		return nil, fmt.Errorf("ensure secret %q: empty value", name)
	}
	if err := s.lock(ctx); err != nil {
		return nil, fmt.Errorf("ensure secret %q: %w", name, err)
	}
	defer s.mu.Unlock()
	got, ok := s.secrets[name]
	if !ok {
		got = append([]byte(nil), value...)
		s.secrets[name] = got
	}
	return append([]byte(nil), got...), nil
}
