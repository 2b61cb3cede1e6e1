package memstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// clientIn returns c as the store keeps it: its lists copied, its times
// stamped, and local as its token mode when it names none.
func clientIn(c store.Client) store.Client {
	c.RedirectURIs, c.GrantTypes, c.Scopes = list(c.RedirectURIs), list(c.GrantTypes), list(c.Scopes)
	c.CreatedAt, c.PreviousSecretExpiresAt = stamp(c.CreatedAt), stamp(c.PreviousSecretExpiresAt)
	if c.TokenMode == "" {
		c.TokenMode = store.TokenModeLocal
	}
	return c
}

// clientOut returns a stored client with lists of its own.
func clientOut(c store.Client) store.Client {
	c.RedirectURIs, c.GrantTypes, c.Scopes = list(c.RedirectURIs), list(c.GrantTypes), list(c.Scopes)
	return c
}

// CreateClient stores c. It returns store.ErrAlreadyExists when the id is
// taken.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	op := fmt.Sprintf("create client %q", c.ID)
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	if err := required(op, c.CreatedAt); err != nil {
		return err
	}
	if _, ok := s.clients[c.ID]; ok {
		return fmt.Errorf("%s: %w", op, store.ErrAlreadyExists)
	}
	s.clients[c.ID] = clientIn(c)
	return nil
}

// Client returns the client with the given id, or store.ErrNotFound.
func (s *Store) Client(ctx context.Context, id string) (store.Client, error) {
	if err := s.lock(ctx); err != nil {
		return store.Client{}, fmt.Errorf("client %q: %w", id, err)
	}
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return store.Client{}, fmt.Errorf("client %q: %w", id, store.ErrNotFound)
	}
	return clientOut(c), nil
}

// ListClients returns every client, ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	if err := s.lock(ctx); err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	defer s.mu.Unlock()
	var cs []store.Client
	for _, id := range sortedKeys(s.clients) {
		cs = append(cs, clientOut(s.clients[id]))
	}
	return cs, nil
}

// UpdateClient replaces every setting of the client c.ID but its secrets
// and creation time. It returns store.ErrNotFound when there is no such
// client.
func (s *Store) UpdateClient(ctx context.Context, c store.Client) error {
	op := fmt.Sprintf("update client %q", c.ID)
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	old, ok := s.clients[c.ID]
	if !ok {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	c.SecretHash, c.PreviousSecretHash, c.PreviousSecretExpiresAt = old.SecretHash, old.PreviousSecretHash, old.PreviousSecretExpiresAt
	c.CreatedAt = old.CreatedAt
	s.clients[c.ID] = clientIn(c)
	return nil
}

// RotateClientSecret makes newHash the client's secret, and the secret it
// replaces its previous one until oldUntil (none when oldUntil is zero).
// It returns store.ErrNotFound when there is no such client.
func (s *Store) RotateClientSecret(ctx context.Context, id, newHash string, oldUntil time.Time) error {
	op := fmt.Sprintf("rotate the secret of client %q", id)
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	c.PreviousSecretHash = ""
	if !oldUntil.IsZero() {
		c.PreviousSecretHash = c.SecretHash
	}
	c.PreviousSecretExpiresAt, c.SecretHash = stamp(oldUntil), newHash
	s.clients[id] = c
	return nil
}

// DeleteClient deletes the client, revokes its grants and every refresh
// token of it at now, and deletes its consents, device grants and
// authorization codes, at once. It returns store.ErrNotFound when there is
// no such client.
func (s *Store) DeleteClient(ctx context.Context, id string, now time.Time) error {
	op := fmt.Sprintf("delete client %q", id)
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; !ok {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	delete(s.clients, id)
	now = stamp(now)
	for gid, g := range s.grants {
		if g.ClientID == id && g.RevokedAt.IsZero() {
			g.RevokedAt = now
			s.grants[gid] = g
		}
	}
	s.revokeTokens(now, func(t store.RefreshToken) bool { return t.ClientID == id })
	for k := range s.consents {
		if k.client == id {
			delete(s.consents, k)
		}
	}
	for hash, g := range s.devices {
		if g.ClientID == id {
			s.deleteDevice(hash)
		}
	}
	for hash, c := range s.codes {
		if c.ClientID == id {
			delete(s.codes, hash)
		}
	}
	return nil
}

// CreateUser stores u. It returns store.ErrAlreadyExists when the id or the
// user name is taken, or the id was a deleted user's.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	op := fmt.Sprintf("create user %q", u.ID)
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	if err := required(op, u.CreatedAt); err != nil {
		return err
	}
	_, deleted := s.deleted[u.ID]
	_, taken := s.users[u.ID]
	_, named := s.usernames[u.Username]
	if deleted || taken || named {
		return fmt.Errorf("%s: %w", op, store.ErrAlreadyExists)
	}
	s.putUser(u)
	return nil
}

// putUser stores u, whose id and user name are free or its own.
func (s *Store) putUser(u store.User) {
	u.CreatedAt = stamp(u.CreatedAt)
	s.users[u.ID] = u
	s.usernames[u.Username] = u.ID
}

// User returns the user with the given id, or store.ErrNotFound.
func (s *Store) User(ctx context.Context, id string) (store.User, error) {
	if err := s.lock(ctx); err != nil {
		return store.User{}, fmt.Errorf("user %q: %w", id, err)
	}
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return store.User{}, fmt.Errorf("user %q: %w", id, store.ErrNotFound)
	}
	return u, nil
}

// UserByUsername returns the user with the given user name, compared
// exactly, or store.ErrNotFound.
func (s *Store) UserByUsername(ctx context.Context, username string) (store.User, error) {
	if err := s.lock(ctx); err != nil {
		return store.User{}, fmt.Errorf("user by name: %w", err)
	}
	defer s.mu.Unlock()
	id, ok := s.usernames[username]
	if !ok {
		return store.User{}, fmt.Errorf("user by name: %w", store.ErrNotFound)
	}
	return s.users[id], nil
}

// ListUsers returns a page of users ordered by id: at most limit (all when
// limit is not positive) whose ids sort after after.
func (s *Store) ListUsers(ctx context.Context, after string, limit int) ([]store.User, error) {
	if err := s.lock(ctx); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer s.mu.Unlock()
	var us []store.User
	for _, id := range sortedKeys(s.users) {
		if limit > 0 && len(us) == limit {
			break
		}
		if id > after {
			us = append(us, s.users[id])
		}
	}
	return us, nil
}

// SetUserDisabled enables or disables a user. It returns store.ErrNotFound
// when the user does not exist.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool) error {
	return s.updateUser(ctx, fmt.Sprintf("set user %q disabled=%t", id, disabled), id,
		func(u *store.User) { u.Disabled = disabled })
}

// SetPassword replaces the user's password hash. It returns
// store.ErrNotFound when the user does not exist.
func (s *Store) SetPassword(ctx context.Context, id, passwordHash string) error {
	return s.updateUser(ctx, fmt.Sprintf("set the password of user %q", id), id,
		func(u *store.User) { u.PasswordHash = passwordHash })
}

// updateUser applies change to the user id, or returns store.ErrNotFound.
func (s *Store) updateUser(ctx context.Context, op, id string, change func(*store.User)) error {
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	change(&u)
	s.users[id] = u
	return nil
}

// DeleteUser deletes the user, remembers the id, revokes the user's grants
// and refresh tokens, and deletes the user's sessions, consents and
// authorization codes, at once. It returns store.ErrNotFound when there is
// no such user.
func (s *Store) DeleteUser(ctx context.Context, id string, now time.Time) error {
	op := fmt.Sprintf("delete user %q", id)
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	delete(s.users, id)
	delete(s.usernames, u.Username)
	s.deleted[id] = struct{}{}
	s.revokeUserGrants(id, stamp(now))
	for hash, sess := range s.sessions {
		if sess.UserID == id {
			delete(s.sessions, hash)
		}
	}
	for hash, c := range s.codes {
		if c.UserID == id {
			delete(s.codes, hash)
		}
	}
	return nil
}

// SignInFederated returns the user with u's upstream and subject, its
// display name and e-mail updated to u's, or stores u as that user when
// there is none.
func (s *Store) SignInFederated(ctx context.Context, u store.User) (store.User, error) {
	if u.UpstreamID == "" || u.UpstreamSubject == "" {
		return store.User{}, errors.New("sign in federated user: no upstream or subject")
	}
	op := fmt.Sprintf("sign in federated user of %q", u.UpstreamID)
	if err := s.lock(ctx); err != nil {
		return store.User{}, fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	u.Username = store.FederatedUsername(u.UpstreamID, u.UpstreamSubject)
	u.PasswordHash = ""
	if id, ok := s.usernames[u.Username]; ok {
		got := s.users[id]
		got.DisplayName, got.Email, got.EmailVerified = u.DisplayName, u.Email, u.EmailVerified
		s.users[id] = got
		return got, nil
	}
	if err := required(op, u.CreatedAt); err != nil {
		return store.User{}, err
	}
	// As in the SQL store, only the id's own row is checked: the ids of
	// deleted users are CreateUser's to refuse.
	if _, taken := s.users[u.ID]; taken {
		return store.User{}, fmt.Errorf("%s: %w", op, store.ErrAlreadyExists)
	}
	s.putUser(u)
	return s.users[u.ID], nil
}
