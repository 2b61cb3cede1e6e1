// Package requestid carries a request's id in its context and adds it to
// every log record made with that context, so that all the lines one
// request logged — the access log's, an audit event's, an error's — can be
// found together.
package requestid

import (
	"context"
	"log/slog"
)

type key struct{}

// withID is a context carrying a request id: one allocation per request,
// where context.WithValue takes two (its context, and the id boxed).
type withID struct {
	context.Context
	id string
}

// Value returns the withID itself for key{}, so that From reads the id
// without boxing it.
func (c *withID) Value(k any) any {
	if k == (key{}) {
		return c
	}
	return c.Context.Value(k)
}

// With returns ctx carrying the request id id.
func With(ctx context.Context, id string) context.Context {
	return &withID{ctx, id}
}

// From returns the request id ctx carries, or "".
func From(ctx context.Context) string {
	if c, ok := ctx.Value(key{}).(*withID); ok {
		return c.id
	}
	return ""
}

// Handler returns h adding a request_id attribute to every record logged
// with a context that carries a request id.
func Handler(h slog.Handler) slog.Handler { return handler{h} }

type handler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if id := From(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h handler) WithGroup(name string) slog.Handler {
	return handler{h.Handler.WithGroup(name)}
}
