package sqlstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// errCannotOpen marks a failure to open (or look up) a file the store
// fsyncs, such as EMFILE when a burst of connections has taken every
// descriptor. Unlike a failed fsync it loses nothing: the pages are still
// in the kernel's cache, unwritten and unreported, so a later fsync that
// succeeds does make them durable. The store retries; it does not fail
// for good (see committer.syncLoop).
var errCannotOpen = errors.New("cannot open the file to fsync")

// heldFile is a file the store fsyncs, opened once and kept open, so that an
// fsync needs no new descriptor: a process that has run out of them (a flood
// of connections) can still make its commits durable. Before each fsync a
// stat of the path, which needs no descriptor, checks that the path still
// names the file held; when it names another (SQLite removed the log when
// its last connection closed and made a new one), the new file is opened.
// Safe for concurrent use.
type heldFile struct {
	path string
	mu   sync.Mutex
	f    *os.File // nil until opened, and after the path went missing
}

// sync fsyncs the file at the path, through sy when it is not nil. It
// returns an error wrapping fs.ErrNotExist when there is no file at the
// path, one wrapping errCannotOpen when the file cannot be opened, and
// the fsync's own error, which may have lost data, otherwise.
func (h *heldFile) sync(sy fsyncer) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.current(); err != nil {
		return err
	}
	if sy != nil {
		return sy.fsync(h.f)
	}
	return h.f.Sync()
}

// current makes h.f the file the path names now, opening it when needed.
func (h *heldFile) current() error {
	info, err := os.Stat(h.path)
	if errors.Is(err, fs.ErrNotExist) {
		h.close()
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: stat %s: %w", errCannotOpen, h.path, err)
	}
	if h.f != nil {
		if held, err := h.f.Stat(); err == nil && os.SameFile(held, info) {
			return nil
		}
		h.close()
	}
	f, err := os.Open(h.path)
	if errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errCannotOpen, err)
	}
	h.f = f
	return nil
}

// close closes the file held, if any. Call with h.mu held, or once nothing
// else uses h.
func (h *heldFile) close() {
	if h.f != nil {
		h.f.Close()
		h.f = nil
	}
}

// Close releases the file held.
func (h *heldFile) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.close()
	return nil
}

// logFiles are the files a SQLite store's commits live in until a
// checkpoint: the write-ahead log, or, while there is none, the database
// file, into which a checkpoint copied every commit before the log was
// removed.
type logFiles struct{ wal, db heldFile }

func newLogFiles(dbPath string) *logFiles {
	return &logFiles{wal: heldFile{path: dbPath + "-wal"}, db: heldFile{path: dbPath}}
}

// sync is the committer's sync: it fsyncs the log, or the database file
// when the log is missing.
func (l *logFiles) sync(sy fsyncer) error {
	err := l.wal.sync(sy)
	if errors.Is(err, fs.ErrNotExist) {
		err = l.db.sync(sy)
	}
	return err
}

// Close releases both files.
func (l *logFiles) Close() error {
	return errors.Join(l.wal.Close(), l.db.Close())
}
