//go:build !(linux && (amd64 || arm64))

package sqlstore

import (
	"log/slog"
	"os"
)

// newFsyncer returns nil and no error: here a blocking fsync is the only
// kind, and no reason to report.
func newFsyncer(*slog.Logger) (fsyncer, error) { return nil, nil }

// writeBackChunk is Linux's chunk (fsync_linux.go); here only tests read it.
const writeBackChunk = 256 << 10

// writeBack fsyncs f. On Linux (amd64, arm64) it first writes the file
// back a chunk at a time (see fsync_linux.go).
func writeBack(f *os.File) error { return f.Sync() }
