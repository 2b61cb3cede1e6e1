package metrics

import (
	"context"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/ratelimit"
)

// Limiter returns l counting the attempts it refuses by budget
// (grantd_rate_limited_total), or l itself when r is nil.
func Limiter(l ratelimit.Limiter, r *Recorder) ratelimit.Limiter {
	if r == nil {
		return l
	}
	return &limiter{next: l, r: r}
}

type limiter struct {
	next ratelimit.Limiter
	r    *Recorder
}

// Take implements ratelimit.Limiter.
func (l *limiter) Take(ctx context.Context, key string, b ratelimit.Budget, now time.Time) (bool, time.Duration, error) {
	ok, retry, err := l.next.Take(ctx, key, b, now)
	if err == nil && !ok {
		l.r.rateLimited.WithLabelValues(budgetOf(key)).Inc()
	}
	return ok, retry, err
}

// Refund implements ratelimit.Limiter.
func (l *limiter) Refund(ctx context.Context, key string, b ratelimit.Budget) error {
	return l.next.Refund(ctx, key, b)
}

// budgets are the attempt budgets by the prefix of their keys (the rest
// names an IP, an account or a client, which is no label): the
// "KIND:SCOPE:..." keys of the sign-in and user-code budgets, and the
// "NAME:..." keys of the others.
var budgets = map[string]string{
	"signin:ip": "signin_ip", "signin:account": "signin_account", "signin:global": "signin_global",
	"signin:browser": "signin_browser",
	"usercode:ip":    "usercode_ip", "usercode:account": "usercode_account", "usercode:global": "usercode_global",
	"client-auth": "client_auth", "device-auth-ip": "device_authorization_ip",
	"device-auth-client": "device_authorization_client", "introspect": "introspect", "revoke": "revoke",
}

// budgetOf names the budget of key; "other" for a key of no known budget.
func budgetOf(key string) string {
	first, rest, _ := strings.Cut(key, ":")
	second, _, _ := strings.Cut(rest, ":")
	if b, ok := budgets[first+":"+second]; ok {
		return b
	}
	if b, ok := budgets[first]; ok {
		return b
	}
	return "other"
}
