package browsertest

import (
	"testing"
	"time"
)

// cleanups is a testing.TB that keeps its cleanups for the test to run.
type cleanups struct {
	testing.TB
	fns []func()
}

func (c *cleanups) Cleanup(fn func()) { c.fns = append(c.fns, fn) }

// TestCleanupOfUnusedBrowser: a test that fails before its first browser
// action still ends: closing a browser that never started must not wait
// for ever (it once did, and a test hung until go test's timeout).
func TestCleanupOfUnusedBrowser(t *testing.T) {
	c := &cleanups{TB: t}
	New(c)
	done := make(chan struct{})
	go func() {
		for i := len(c.fns) - 1; i >= 0; i-- {
			c.fns[i]()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("closing a browser that never started did not return within 20s")
	}
}
