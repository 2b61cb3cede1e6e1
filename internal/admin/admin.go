// Package admin holds the operator's actions on grantd's state — clients,
// users and grants created, listed, changed, disabled and deleted, client
// secrets rotated, a demo prepared — with the validation they need and
// their errors in the operator's words. The command line and tests call
// it; it knows nothing of flags or HTTP.
//
// Every change takes effect on running servers without a restart: they read
// users, grants and sessions from the store on each request, and a client
// at most 2 seconds after it changed (the servers' client cache, package
// httpserver).
package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// Operator carries out the operator's actions on Store and logs each change
// as an audit event (event, the client or user changed, and Actor).
type Operator struct {
	Store store.Store
	Rand  io.Reader
	Now   func() time.Time
	// Logger receives the audit events; nil discards them.
	Logger *slog.Logger
	// Actor says who made the changes, e.g. "cli:alice" for a command run
	// by the local user alice.
	Actor string
}

// audit logs a change.
func (o *Operator) audit(ctx context.Context, msg, event string, attrs ...any) {
	if o.Logger == nil {
		return
	}
	o.Logger.InfoContext(ctx, msg, append([]any{"event", event, "actor", o.Actor}, attrs...)...)
}

// Error is a failure in the operator's words: its message names the client,
// user or grant as the operator does, and errors.Is finds the store's
// sentinel it stands for (store.ErrNotFound, store.ErrAlreadyExists).
type Error struct {
	msg string
	err error
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the store's sentinel.
func (e *Error) Unwrap() error { return e.err }

// explain turns err, from a store verb on the thing kind named name (a
// client, user or grant), into the operator's words: `client "tv" not
// found`, `user "alice" already exists`. Other errors are wrapped with
// doing, e.g. "update client".
func explain(err error, kind, name, doing string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return &Error{msg: fmt.Sprintf("%s %q not found", kind, name), err: store.ErrNotFound}
	case errors.Is(err, store.ErrAlreadyExists):
		return &Error{msg: fmt.Sprintf("%s %q already exists", kind, name), err: store.ErrAlreadyExists}
	}
	return fmt.Errorf("%s %q: %w", doing, name, err)
}
