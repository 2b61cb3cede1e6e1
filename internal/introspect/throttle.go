package introspect

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/grantd/grantd/internal/oauth"
)

// spend charges one inactive answer to the calling client's budget (INT-05).
// When the budget is spent the answer becomes 429, and the client is
// remembered as spent until the budget has an attempt again, so that its
// next requests are refused before any token is looked at.
func (h *Handler) spend(r *http.Request, clientID string, now time.Time) error {
	if h.Limiter == nil {
		return nil
	}
	ok, retry, err := h.Limiter.Take(r.Context(), "introspect:"+clientID, h.Budget, now)
	if err != nil {
		return oauth.Unavailable(fmt.Errorf("introspection budget: %w", err))
	}
	if !ok {
		h.spent.mark(clientID, now.Add(retry))
		return oauth.TooManyRequests(retry)
	}
	return nil
}

// spentBudgets remembers, per client, until when its budget is spent. Only
// authenticated clients allowed to introspect are ever entered, and expired
// entries are dropped when met, so the map stays as small as the set of
// resource servers.
//
// The record is per instance. With several instances sharing one Limiter,
// each learns that a budget is spent on its own first refusal, and requests
// already in flight when the budget runs out are still answered: the
// overshoot is bounded by instances and concurrency, not by the budget.
type spentBudgets struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// check reports whether clientID's budget is spent at now, and for how long.
func (s *spentBudgets) check(clientID string, now time.Time) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.until[clientID]
	if !ok {
		return 0, false
	}
	if !now.Before(until) {
		delete(s.until, clientID)
		return 0, false
	}
	return until.Sub(now), true
}

// mark records clientID's budget as spent until until.
func (s *spentBudgets) mark(clientID string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.until == nil {
		s.until = make(map[string]time.Time)
	}
	if until.After(s.until[clientID]) {
		s.until[clientID] = until
	}
}
