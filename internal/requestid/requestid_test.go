package requestid

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestHandler: records logged with a request's context carry its id; others
// do not, and attributes and groups still work.
func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(Handler(slog.NewTextHandler(&buf, nil))).With("component", "test")
	ctx := With(context.Background(), "ab12-3")
	tests := []struct {
		log  func()
		want string
	}{
		{func() { logger.InfoContext(ctx, "with id", "user_id", "u1") }, `msg="with id" component=test user_id=u1 request_id=ab12-3`},
		{func() { logger.InfoContext(context.Background(), "without") }, `msg=without component=test`},
		{func() { logger.WithGroup("g").InfoContext(ctx, "grouped", "k", "v") }, `msg=grouped component=test g.k=v g.request_id=ab12-3`},
	}
	for _, tt := range tests {
		buf.Reset()
		tt.log()
		if got := strings.TrimSpace(buf.String()); !strings.HasSuffix(got, tt.want) {
			t.Errorf("logged %q, want it to end with %q", got, tt.want)
		}
	}
	if From(context.Background()) != "" || From(ctx) != "ab12-3" {
		t.Error("From does not return what With stored")
	}
}

// escaped keeps a context on the heap, as a request's is.
var escaped context.Context

// TestWithAllocatesOnce: carrying the id costs a request one allocation,
// and reading it none.
func TestWithAllocatesOnce(t *testing.T) {
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { escaped = With(ctx, "ab12-3") }); n != 1 {
		t.Errorf("With: %v allocations, want 1", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = From(escaped) }); n != 0 {
		t.Errorf("From: %v allocations, want 0", n)
	}
}
