package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// deviceOut returns a stored device grant as the lookups return it: with a
// list of its own, and without its sealed upstream tokens, which only a
// passthrough redemption hands out.
func deviceOut(g store.DeviceGrant) store.DeviceGrant {
	g.Scopes = list(g.Scopes)
	g.UpstreamTokens = ""
	return g
}

// deleteDevice deletes the device grant with the given hash.
func (s *Store) deleteDevice(hash string) {
	if g, ok := s.devices[hash]; ok {
		delete(s.userCodes, g.UserCode)
		delete(s.devices, hash)
	}
}

// CreateDeviceGrant stores g pending, undecided and never polled; g's
// State, UserID, AuthTime, LastPolledAt, DecidedAt and UpstreamTokens are
// ignored. It returns store.ErrAlreadyExists when the device code hash or
// the user code is in use, including by an expired grant not yet purged.
func (s *Store) CreateDeviceGrant(ctx context.Context, g store.DeviceGrant) error {
	op := fmt.Sprintf("create device grant for client %q", g.ClientID)
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	if err := required(op, g.CreatedAt, g.ExpiresAt); err != nil {
		return err
	}
	_, hashTaken := s.devices[g.DeviceCodeHash]
	_, codeTaken := s.userCodes[g.UserCode]
	if hashTaken || codeTaken {
		return fmt.Errorf("%s: %w", op, store.ErrAlreadyExists)
	}
	s.devices[g.DeviceCodeHash] = store.DeviceGrant{
		DeviceCodeHash: g.DeviceCodeHash, UserCode: g.UserCode, ClientID: g.ClientID, Scopes: list(g.Scopes),
		State: store.DevicePending, Interval: g.Interval, CreatedAt: stamp(g.CreatedAt), ExpiresAt: stamp(g.ExpiresAt),
	}
	s.userCodes[g.UserCode] = g.DeviceCodeHash
	return nil
}

// DeviceGrantByDeviceCode returns the grant with the given device code
// hash, or store.ErrNotFound. An expired grant is returned until it is
// purged.
func (s *Store) DeviceGrantByDeviceCode(ctx context.Context, deviceCodeHash string) (store.DeviceGrant, error) {
	if err := s.lock(ctx); err != nil {
		return store.DeviceGrant{}, fmt.Errorf("device grant by device code: %w", err)
	}
	defer s.mu.Unlock()
	g, ok := s.devices[deviceCodeHash]
	if !ok {
		return store.DeviceGrant{}, fmt.Errorf("device grant by device code: %w", store.ErrNotFound)
	}
	return deviceOut(g), nil
}

// DeviceGrantByUserCode returns the grant with the given normalised user
// code, or store.ErrNotFound. An expired grant is returned until it is
// purged.
func (s *Store) DeviceGrantByUserCode(ctx context.Context, userCode string) (store.DeviceGrant, error) {
	if err := s.lock(ctx); err != nil {
		return store.DeviceGrant{}, fmt.Errorf("device grant by user code: %w", err)
	}
	defer s.mu.Unlock()
	hash, ok := s.userCodes[userCode]
	if !ok {
		return store.DeviceGrant{}, fmt.Errorf("device grant by user code: %w", store.ErrNotFound)
	}
	return deviceOut(s.devices[hash]), nil
}

// PollDeviceGrant finds the grant with the given device code hash, or
// store.ErrNotFound, and records a poll at now when the grant is
// clientID's; another client's poll is not recorded (DEV-16). A poll of a
// pending, unexpired grant that comes too soon after the one before
// (store.PollTooSoon) raises the interval by store.SlowDownStep and
// reports SlowDown; the first poll is never slow (RFC 8628 §3.5). The poll
// record lives in the grant, under the store's lock, so no poll is lost.
func (s *Store) PollDeviceGrant(ctx context.Context, deviceCodeHash, clientID string, now time.Time) (store.PollResult, error) {
	if err := s.lock(ctx); err != nil {
		return store.PollResult{}, fmt.Errorf("poll device grant: %w", err)
	}
	defer s.mu.Unlock()
	g, ok := s.devices[deviceCodeHash]
	if !ok {
		return store.PollResult{}, fmt.Errorf("poll device grant: %w", store.ErrNotFound)
	}
	p := store.PollResult{ClientID: g.ClientID, State: g.State, ExpiresAt: g.ExpiresAt}
	if g.ClientID != clientID {
		return p, nil
	}
	now = stamp(now)
	judged := g.State == store.DevicePending && alive(g.ExpiresAt, now) && !g.LastPolledAt.IsZero()
	if judged && store.PollTooSoon(now.Sub(g.LastPolledAt), g.Interval) {
		g.Interval += store.SlowDownStep
		p.SlowDown = true
	}
	g.LastPolledAt = now
	s.devices[deviceCodeHash] = g
	p.Interval = g.Interval
	return p, nil
}

// DecideDeviceGrant moves a pending grant that has not expired at now to
// approved or denied, recording the user, the authentication time, the
// sealed upstream tokens and now. It returns store.ErrNotFound for an
// unknown user code and store.ErrConflict when the grant is no longer
// pending or has expired.
func (s *Store) DecideDeviceGrant(ctx context.Context, userCode string, d store.Decision, now time.Time) (store.DeviceGrant, error) {
	state := store.DeviceDenied
	if d.Approve {
		state = store.DeviceApproved
	}
	op := fmt.Sprintf("decide device grant (%s)", state)
	if err := s.lock(ctx); err != nil {
		return store.DeviceGrant{}, fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	hash, ok := s.userCodes[userCode]
	if !ok {
		return store.DeviceGrant{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	g := s.devices[hash]
	if g.State != store.DevicePending || !alive(g.ExpiresAt, now) {
		return store.DeviceGrant{}, fmt.Errorf("%s: %w", op, store.ErrConflict)
	}
	g.State, g.UserID, g.AuthTime, g.DecidedAt = state, d.UserID, stamp(d.AuthTime), stamp(now)
	g.UpstreamTokens = d.UpstreamTokens
	s.devices[hash] = g
	return deviceOut(g), nil
}

// RedeemDeviceGrant redeems an approved grant of clientID that has not
// expired at now (store.DeviceGrants): it moves the grant to issued,
// clearing its sealed upstream tokens, and stores what issue returns for
// the grant as it was, tokens included, at once; it returns that grant.
// An unknown hash, or another client's grant, gives store.ErrNotFound and
// changes nothing (DEV-16); a grant that is not approved, or has expired,
// gives store.ErrConflict with the grant as lookups return it. When the
// grant's user or the client is gone or disabled
// (store.ErrUserInactive, store.ErrClientInactive), issue fails, or what
// it returns does not fit or cannot be stored, nothing changes: the grant
// stays approved. issue runs under the store's lock.
func (s *Store) RedeemDeviceGrant(ctx context.Context, deviceCodeHash, clientID string, now time.Time, issue store.IssueFunc[store.DeviceGrant]) (store.DeviceGrant, error) {
	op := fmt.Sprintf("redeem device grant of client %q", clientID)
	if err := s.lock(ctx); err != nil {
		return store.DeviceGrant{}, fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	g, ok := s.devices[deviceCodeHash]
	switch {
	case !ok || g.ClientID != clientID:
		return store.DeviceGrant{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	case g.State != store.DeviceApproved || !alive(g.ExpiresAt, now):
		return deviceOut(g), fmt.Errorf("%s: %w", op, store.ErrConflict)
	}
	user, err := s.activeParties(g.UserID, clientID)
	if err != nil {
		return store.DeviceGrant{}, fmt.Errorf("%s: %w", op, err)
	}
	was := g
	was.Scopes = list(g.Scopes)
	iss, err := issue(was, user)
	if err != nil {
		return store.DeviceGrant{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := store.CheckNewGrant(clientID, g.UserID, iss); err != nil {
		return store.DeviceGrant{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := s.insertIssuance(op, iss); err != nil {
		return store.DeviceGrant{}, err
	}
	g.State, g.UpstreamTokens = store.DeviceIssued, ""
	s.devices[deviceCodeHash] = g
	was.Scopes = list(g.Scopes)
	return was, nil
}
