//go:build unix

package sqlstore

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// noDescriptors lowers the process's open-file limit so that no file can
// be opened (EMFILE), until the function it returns restores it.
func noDescriptors(t *testing.T) (restore func()) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// The lowest free descriptor is the next one open would return.
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	next := uint64(f.Fd())
	f.Close()
	tight := lim
	tight.Cur = next
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &tight); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore = func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(restore)
	return restore
}

// TestWriteHealsWithoutDescriptors is the fault of issue 16: a process out
// of file descriptors (a burst of connections) must not fail the store for
// good. A write whose connection cannot be opened fails with an error that
// is not fatal: Health stays nil, and once descriptors are free again the
// next write succeeds, with no restart.
func TestWriteHealsWithoutDescriptors(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	// The writer's connection is closed after each write, so that the next
	// write must open one, as after database/sql drops a broken one.
	s.w.SetMaxIdleConns(0)
	if err := s.CreateDeviceGrant(ctx, grant(0)); err != nil {
		t.Fatal(err)
	}
	restore := noDescriptors(t)
	err := s.CreateDeviceGrant(ctx, grant(1))
	restore()
	if err == nil {
		t.Fatal("a write that needed a new connection succeeded without a descriptor to open it")
	}
	t.Logf("write without descriptors: %v", err)
	if err := s.Health(); err != nil {
		t.Errorf("Health after a write failed for want of descriptors: %v, want nil (it heals)", err)
	}
	s.w.SetMaxIdleConns(1)
	if err := s.CreateDeviceGrant(ctx, grant(2)); err != nil {
		t.Errorf("write once descriptors are free: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping once descriptors are free: %v", err)
	}
}
