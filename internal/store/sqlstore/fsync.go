package sqlstore

import "os"

// fsyncer makes a file durable without holding the Go scheduler's P through
// the disk's flush, where the platform allows (see aioSyncer).
type fsyncer interface {
	fsync(f *os.File) error
	close() error
}
