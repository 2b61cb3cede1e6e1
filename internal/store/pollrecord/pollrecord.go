package pollrecord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// Versioner is what an inner store implements to let the record answer
// polls of pending grants without reading them: a number that changes
// whenever another process has written to the database since the last
// call. It returns errors.ErrUnsupported when the database has no such
// number; the record then never answers from what it knows.
type Versioner interface {
	DataVersion(ctx context.Context) (int64, error)
}

// Store is a store.Store whose device polls are recorded in memory (see
// the package comment). Every other verb is the inner store's.
type Store struct {
	store.Store
	book      *book
	versioner Versioner // nil when the inner store is not one
	logger    *slog.Logger
}

var _ store.Store = (*Store)(nil)

// Option configures New.
type Option func(*Store)

// WithLogger makes the store log to l the failed checks for other
// writers; by default it logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) { s.logger = l }
}

// New returns inner with its device polls recorded in memory. Every write
// to inner's device grants made by this process must go through the
// returned Store, which learns from them what it knows; writes by other
// processes reach it through Versioner, when inner implements it.
func New(inner store.Store, opts ...Option) *Store {
	return newStore(inner, defaultLimit, opts...)
}

func newStore(inner store.Store, limit int, opts ...Option) *Store {
	v, _ := inner.(Versioner)
	s := &Store{Store: inner, versioner: v, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	s.book = newBook(limit, v != nil)
	return s
}

// CreateDeviceGrant stores g, pending, in the inner store, and then knows
// it pending and never polled. A check for other writers that is due runs
// first, as a poll would run it: the book knows nothing pending before a
// first check, and a server that creates its grants before their first
// polls (any server that has just started) would otherwise read every one
// of them at its first poll.
func (s *Store) CreateDeviceGrant(ctx context.Context, g store.DeviceGrant) error {
	if t := nanos(g.CreatedAt); s.book.checkDue(t) {
		s.check(ctx, t)
	}
	seen := s.book.generation()
	if err := s.Store.CreateDeviceGrant(ctx, g); err != nil {
		return err
	}
	s.book.created(g, seen)
	return nil
}

// PollDeviceGrant is store.DeviceGrants.PollDeviceGrant, with the poll
// recorded in memory and never written. A poll of a grant known pending is
// answered from memory alone; any other reads the grant from the inner
// store (DeviceGrantByDeviceCode), and a pending grant read so becomes
// known pending. When the record is full, the inner store polls.
func (s *Store) PollDeviceGrant(ctx context.Context, deviceCodeHash, clientID string, now time.Time) (store.PollResult, error) {
	t := nanos(now)
	p, v, check := s.book.poll(deviceCodeHash, clientID, t)
	if check {
		s.check(ctx, t)
	}
	switch v {
	case answered:
		return p, nil
	case full:
		return s.Store.PollDeviceGrant(ctx, deviceCodeHash, clientID, now)
	}
	seen := s.book.generation()
	g, err := s.Store.DeviceGrantByDeviceCode(ctx, deviceCodeHash)
	if err != nil {
		return store.PollResult{}, fmt.Errorf("poll device grant: %w", err)
	}
	p = store.PollResult{ClientID: g.ClientID, State: g.State, ExpiresAt: g.ExpiresAt}
	if g.ClientID != clientID { // not recorded (DEV-16)
		return p, nil
	}
	g.DeviceCodeHash = deviceCodeHash
	slowDown, interval, ok := s.book.record(g, t, seen)
	if !ok {
		return s.Store.PollDeviceGrant(ctx, deviceCodeHash, clientID, now)
	}
	p.SlowDown, p.Interval = slowDown, interval
	return p, nil
}

// check asks the inner store whether another process has written since
// the last check, and tells the book.
func (s *Store) check(ctx context.Context, t int64) {
	v, err := s.versioner.DataVersion(ctx)
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		s.logger.WarnContext(ctx, "cannot check for other writers; polls read their grants", "err", err)
	}
	s.book.checked(t, v, err)
}

// DeviceGrantByDeviceCode returns the inner store's grant with the
// interval and last poll recorded in memory, when there are.
func (s *Store) DeviceGrantByDeviceCode(ctx context.Context, deviceCodeHash string) (store.DeviceGrant, error) {
	g, err := s.Store.DeviceGrantByDeviceCode(ctx, deviceCodeHash)
	if err != nil {
		return store.DeviceGrant{}, err
	}
	s.book.overlay(&g)
	return g, nil
}

// DeviceGrantByUserCode is DeviceGrantByDeviceCode by user code.
func (s *Store) DeviceGrantByUserCode(ctx context.Context, userCode string) (store.DeviceGrant, error) {
	g, err := s.Store.DeviceGrantByUserCode(ctx, userCode)
	if err != nil {
		return store.DeviceGrant{}, err
	}
	s.book.overlay(&g)
	return g, nil
}

// DecideDeviceGrant decides the grant in the inner store and forgets that
// it is pending. Any failure but store.ErrNotFound forgets which grants
// are pending: ErrConflict means the grant was no longer pending, decided
// by a writer the record did not hear of, and a fault may hide a decision
// made.
func (s *Store) DecideDeviceGrant(ctx context.Context, userCode string, d store.Decision, now time.Time) (store.DeviceGrant, error) {
	g, err := s.Store.DecideDeviceGrant(ctx, userCode, d, now)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.book.newEpoch()
		}
		return store.DeviceGrant{}, err
	}
	s.book.decided(g.DeviceCodeHash)
	s.book.overlay(&g)
	return g, nil
}

// RedeemDeviceGrant redeems the grant in the inner store and, when it
// succeeds, forgets the grant's record: an issued grant's polls are
// answered by its state. The grant it returns, as it was or, with
// ErrConflict, as it stands, carries the interval and last poll recorded
// in memory, as DeviceGrantByDeviceCode's does.
func (s *Store) RedeemDeviceGrant(ctx context.Context, deviceCodeHash, clientID string, now time.Time, issue store.IssueFunc[store.DeviceGrant]) (store.DeviceGrant, error) {
	g, err := s.Store.RedeemDeviceGrant(ctx, deviceCodeHash, clientID, now, issue)
	if g.DeviceCodeHash != "" {
		s.book.overlay(&g)
	}
	if err != nil {
		return g, err
	}
	s.book.forget(deviceCodeHash)
	return g, nil
}

// DeleteClient deletes the client, with its device grants, in the inner
// store, and forgets their records and which grants are pending.
func (s *Store) DeleteClient(ctx context.Context, id string, now time.Time) error {
	err := s.Store.DeleteClient(ctx, id, now)
	if errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.book.forgetClient(id)
	return err
}
