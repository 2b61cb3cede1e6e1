package micro

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// BenchmarkFsync is the disk's floor under every durable write: one 4 KiB
// page written and fdatasync'ed in the same temporary directory as the
// store benchmarks. Serialised writers cannot commit faster than this.
// Linux only: fdatasync is what SQLite calls there.
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	for i := 0; b.Loop(); i++ {
		if _, err := f.WriteAt(page, int64(i%256)*4096); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
}
