package sqlstore

import "os"

// fsyncer makes a file durable without holding the Go scheduler's P through
// the disk's flush, where the platform allows (see aioSyncer).
type fsyncer interface {
	fsync(f *os.File) error
	close() error
}

// writeBackSyncer is the fsyncer of the copier's step 2: writeBack, which
// blocks its thread (see fsync_linux.go) and is for the copier's process.
type writeBackSyncer struct{}

func (writeBackSyncer) fsync(f *os.File) error { return writeBack(f) }
func (writeBackSyncer) close() error           { return nil }
