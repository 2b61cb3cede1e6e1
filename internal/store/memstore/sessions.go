package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// CreateSession stores sess. It returns store.ErrAlreadyExists when the id
// hash is taken.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	const op = "create session"
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	if err := required(op, sess.CreatedAt, sess.ExpiresAt); err != nil {
		return err
	}
	if _, taken := s.sessions[sess.IDHash]; taken {
		return fmt.Errorf("%s: %w", op, store.ErrAlreadyExists)
	}
	sess.AuthTime, sess.CreatedAt, sess.ExpiresAt = stamp(sess.AuthTime), stamp(sess.CreatedAt), stamp(sess.ExpiresAt)
	s.sessions[sess.IDHash] = sess
	return nil
}

// Session returns the session with the given id hash, or store.ErrNotFound
// when there is none or it has expired at now.
func (s *Store) Session(ctx context.Context, idHash string, now time.Time) (store.Session, error) {
	if err := s.lock(ctx); err != nil {
		return store.Session{}, fmt.Errorf("session: %w", err)
	}
	defer s.mu.Unlock()
	sess, ok := s.sessions[idHash]
	if !ok || !alive(sess.ExpiresAt, now) {
		return store.Session{}, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	return sess, nil
}

// DeleteSession deletes the session with the given id hash. Deleting an
// absent session is not an error, so sign-out is idempotent.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	defer s.mu.Unlock()
	delete(s.sessions, idHash)
	return nil
}

// TakeUpstreamTokens returns the session's sealed upstream tokens and
// clears them. Of concurrent callers exactly one gets them; the others,
// and any caller once they are taken, get store.ErrNotFound, as does an
// unknown session.
func (s *Store) TakeUpstreamTokens(ctx context.Context, idHash string) (string, error) {
	const op = "take session's upstream tokens"
	if err := s.lock(ctx); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	sess, ok := s.sessions[idHash]
	if !ok || sess.UpstreamTokens == "" {
		return "", fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	tokens := sess.UpstreamTokens
	sess.UpstreamTokens = ""
	s.sessions[idHash] = sess
	return tokens, nil
}

// DeleteUserSessions deletes every session of the user. Deleting none is
// not an error.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("delete the sessions of user %q: %w", userID, err)
	}
	defer s.mu.Unlock()
	for hash, sess := range s.sessions {
		if sess.UserID == userID {
			delete(s.sessions, hash)
		}
	}
	return nil
}

// keyOut returns a stored key with a private key of its own.
func keyOut(k store.SigningKey) store.SigningKey {
	k.PrivateKey = append([]byte(nil), k.PrivateKey...)
	return k
}

// keyOrder orders keys by activation, then creation, then id: for each
// algorithm, the key that signs comes last.
func keyOrder(a, b store.SigningKey) int {
	return cmp.Or(a.ActivatesAt.Compare(b.ActivatesAt), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
}

// SigningKeys returns every stored key in the order of store.Keys.
func (s *Store) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	if err := s.lock(ctx); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	defer s.mu.Unlock()
	var keys []store.SigningKey
	for _, k := range s.keys {
		keys = append(keys, keyOut(k))
	}
	slices.SortFunc(keys, keyOrder)
	return keys, nil
}

// newestKey returns the key of alg that signs last, and whether there is
// one.
func (s *Store) newestKey(alg string) (store.SigningKey, bool) {
	var newest store.SigningKey
	found := false
	for _, k := range s.keys {
		if k.Algorithm == alg && (!found || keyOrder(k, newest) > 0) {
			newest, found = k, true
		}
	}
	return newest, found
}

// insertKey stores k, unless its id is taken (store.ErrAlreadyExists). A
// key without an activation time signs from its creation.
func (s *Store) insertKey(op string, k store.SigningKey) (store.SigningKey, error) {
	if err := required(op, k.CreatedAt); err != nil {
		return store.SigningKey{}, err
	}
	if _, taken := s.keys[k.ID]; taken {
		return store.SigningKey{}, fmt.Errorf("%s: %w", op, store.ErrAlreadyExists)
	}
	if k.ActivatesAt.IsZero() {
		k.ActivatesAt = k.CreatedAt
	}
	k.PrivateKey = append([]byte(nil), k.PrivateKey...)
	k.CreatedAt, k.ActivatesAt, k.RetiresAt = stamp(k.CreatedAt), stamp(k.ActivatesAt), stamp(k.RetiresAt)
	s.keys[k.ID] = k
	return k, nil
}

// EnsureSigningKey stores k unless a key for k.Algorithm exists, and
// returns the newest key for that algorithm.
func (s *Store) EnsureSigningKey(ctx context.Context, k store.SigningKey) (store.SigningKey, error) {
	op := fmt.Sprintf("ensure %s signing key", k.Algorithm)
	if err := s.lock(ctx); err != nil {
		return store.SigningKey{}, fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	if newest, ok := s.newestKey(k.Algorithm); ok {
		return keyOut(newest), nil
	}
	stored, err := s.insertKey(op, k)
	if err != nil {
		return store.SigningKey{}, err
	}
	return keyOut(stored), nil
}

// RotateSigningKey stores next and schedules current's retirement at
// retireAt, if current is still the newest key of next.Algorithm;
// otherwise it changes nothing and returns store.ErrConflict.
func (s *Store) RotateSigningKey(ctx context.Context, current string, next store.SigningKey, retireAt time.Time) error {
	op := fmt.Sprintf("rotate %s signing key", next.Algorithm)
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	if newest, ok := s.newestKey(next.Algorithm); !ok || newest.ID != current {
		return fmt.Errorf("%s: %w", op, store.ErrConflict)
	}
	if _, err := s.insertKey(op, next); err != nil {
		return err
	}
	k := s.keys[current]
	k.RetiresAt = stamp(retireAt)
	s.keys[current] = k
	return nil
}

// TakeAttempt spends one attempt of key's budget of n per window at now,
// in the SQL store's GCRA: one number per key, the theoretical arrival
// time (tat), which each attempt moves one emission interval T = window/n
// later, from now when it lies in the past; an attempt is allowed while
// that leaves tat at most n·T ahead of now. A refused attempt changes
// nothing and reports when the next one is allowed.
func (s *Store) TakeAttempt(ctx context.Context, key string, n int, window time.Duration, now time.Time) (bool, time.Duration, error) {
	if n <= 0 || window <= 0 {
		return false, 0, fmt.Errorf("take attempt: budget of %d per %v", n, window)
	}
	if err := s.lock(ctx); err != nil {
		return false, 0, fmt.Errorf("take attempt: %w", err)
	}
	defer s.mu.Unlock()
	emission := int64(max(window/time.Duration(n), 1))
	limit := emission * int64(n)
	t := nanos(now)
	tat, ok := s.attempts[key]
	switch {
	case !ok:
		s.attempts[key] = t + emission
	case tat <= t+limit-emission:
		s.attempts[key] = max(tat, t) + emission
	default:
		return false, max(time.Duration(tat-t+emission-limit), time.Nanosecond), nil
	}
	return true, 0, nil
}

// ReturnAttempt gives one attempt back to key's budget: it moves the
// bucket's theoretical arrival time one emission interval earlier. A time
// in the past counts as now at the next attempt, so the budget is never
// fuller than full.
func (s *Store) ReturnAttempt(ctx context.Context, key string, n int, window time.Duration) error {
	if n <= 0 || window <= 0 {
		return fmt.Errorf("return attempt: budget of %d per %v", n, window)
	}
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("return attempt: %w", err)
	}
	defer s.mu.Unlock()
	if tat, ok := s.attempts[key]; ok {
		s.attempts[key] = tat - int64(max(window/time.Duration(n), 1))
	}
	return nil
}

// SetScope stores sc, replacing any scope of the same name.
func (s *Store) SetScope(ctx context.Context, sc store.Scope) error {
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("set scope %q: %w", sc.Name, err)
	}
	defer s.mu.Unlock()
	sc.UpdatedAt = stampNumber(sc.UpdatedAt)
	s.scopes[sc.Name] = sc
	return nil
}

// Scopes returns every stored scope, ordered by name byte by byte.
func (s *Store) Scopes(ctx context.Context) ([]store.Scope, error) {
	if err := s.lock(ctx); err != nil {
		return nil, fmt.Errorf("scopes: %w", err)
	}
	defer s.mu.Unlock()
	var scopes []store.Scope
	for _, name := range sortedKeys(s.scopes) {
		scopes = append(scopes, s.scopes[name])
	}
	return scopes, nil
}

// DeleteScope removes the scope of that name, or returns
// store.ErrNotFound.
func (s *Store) DeleteScope(ctx context.Context, name string) error {
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("delete scope %q: %w", name, err)
	}
	defer s.mu.Unlock()
	if _, ok := s.scopes[name]; !ok {
		return fmt.Errorf("delete scope %q: %w", name, store.ErrNotFound)
	}
	delete(s.scopes, name)
	return nil
}
