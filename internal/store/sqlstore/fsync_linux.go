//go:build linux && (amd64 || arm64)

package sqlstore

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"
)

// aioSyncer fsyncs through Linux's asynchronous I/O: io_submit with
// IOCB_CMD_FSYNC (Linux 4.18 and later), whose completion signals an
// eventfd that the Go runtime's poller waits on. A plain fsync is a
// blocking system call, and its thread keeps the scheduler's P until the
// runtime's monitor takes it back: with grantd on one core (GOMAXPROCS=1),
// an execution trace of the load harness's device authorizations found the
// P held through 272 of 608 log fsyncs in two seconds, 210 ms of a core
// idle while requests waited to run. Waiting on the eventfd parks the
// goroutine instead, and the P serves requests through the flush. The
// kernel runs the fsync itself (vfs_fsync, as fsync(2) does) on a worker
// thread, and reports its error in the completion.
//
// One fsync is in flight at a time: the committer's syncer is the only
// caller, and mu serialises any other. Where the kernel refuses the
// command (EINVAL, ENOSYS, EOPNOTSUPP, as before 4.18 or under a seccomp
// filter), the first fsync falls back to a blocking one, and so do all
// after it; one the kernel cannot queue just then (EAGAIN) blocks once.
type aioSyncer struct {
	mu       sync.Mutex
	ctx      uintptr  // aio_context_t
	done     *os.File // the eventfd, non-blocking, so reads wait in the poller
	blocking bool     // the kernel refused IOCB_CMD_FSYNC: f.Sync instead
	logger   *slog.Logger
}

// aioCommandFsync and aioFlagResFD are IOCB_CMD_FSYNC and IOCB_FLAG_RESFD
// (linux/aio_abi.h).
const (
	aioCommandFsync = 2
	aioFlagResFD    = 1
)

// iocb is struct iocb of linux/aio_abi.h on a little-endian machine.
type iocb struct {
	data      uint64
	key       uint32
	rwFlags   int32
	opcode    uint16
	reqprio   int16
	fd        uint32
	buf       uint64
	nbytes    uint64
	offset    int64
	reserved2 uint64
	flags     uint32
	resfd     uint32
}

// ioEvent is struct io_event.
type ioEvent struct {
	data, obj uint64
	res, res2 int64
}

// newFsyncer returns the asynchronous fsyncer, or nil and why where the
// kernel refuses it (no AIO, or too many contexts: fs.aio-max-nr), and a
// blocking fsync serves. It tells logger if it turns blocking later.
func newFsyncer(logger *slog.Logger) (fsyncer, error) {
	var ctx uintptr
	if _, _, errno := syscall.Syscall(syscall.SYS_IO_SETUP, 1, uintptr(unsafe.Pointer(&ctx)), 0); errno != 0 {
		return nil, fmt.Errorf("io_setup: %w", errno)
	}
	fd, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		_, _, _ = syscall.Syscall(syscall.SYS_IO_DESTROY, ctx, 0, 0)
		return nil, fmt.Errorf("eventfd2: %w", errno)
	}
	return &aioSyncer{ctx: ctx, done: os.NewFile(fd, "fsync-eventfd"), logger: logger}, nil
}

// fsync makes f's data and metadata durable, as f.Sync does.
func (a *aioSyncer) fsync(f *os.File) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done == nil {
		return errors.New("fsyncer is closed")
	}
	if a.blocking {
		return f.Sync()
	}
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var submitErr error
	if err := raw.Control(func(fd uintptr) { submitErr = a.submit(fd) }); err != nil {
		return err
	}
	switch {
	case errors.Is(submitErr, syscall.EINVAL), errors.Is(submitErr, syscall.ENOSYS),
		errors.Is(submitErr, syscall.EOPNOTSUPP):
		a.blocking = true
		a.logger.Warn("the kernel refused an asynchronous fsync; every write-ahead log fsync blocks from now on",
			"err", submitErr)
		return f.Sync()
	case errors.Is(submitErr, syscall.EAGAIN), errors.Is(submitErr, syscall.EINTR):
		// Nothing was queued, and a failed fsync fails the store for
		// good: this one blocks instead.
		return f.Sync()
	case submitErr != nil:
		return submitErr
	}
	var count [8]byte
	if _, err := a.done.Read(count[:]); err != nil {
		return fmt.Errorf("wait for fsync: %w", err)
	}
	// The eventfd is signalled once the event is in the ring, so this
	// returns at once; EINTR is retried all the same.
	var ev ioEvent
	var (
		n     uintptr
		errno syscall.Errno
	)
	for {
		n, _, errno = syscall.Syscall6(syscall.SYS_IO_GETEVENTS, a.ctx, 1, 1, uintptr(unsafe.Pointer(&ev)), 0, 0)
		if errno != syscall.EINTR {
			break
		}
	}
	runtime.KeepAlive(f)
	switch {
	case errno != 0:
		return fmt.Errorf("io_getevents: %w", errno)
	case n != 1:
		return fmt.Errorf("io_getevents: %d events", n)
	case ev.res < 0:
		return &os.PathError{Op: "fsync", Path: f.Name(), Err: syscall.Errno(-ev.res)}
	}
	return nil
}

// submit queues an fsync of fd whose completion signals the eventfd.
func (a *aioSyncer) submit(fd uintptr) error {
	raw, err := a.done.SyscallConn()
	if err != nil {
		return err
	}
	var submitErr error
	err = raw.Control(func(efd uintptr) {
		cb := iocb{opcode: aioCommandFsync, fd: uint32(fd), flags: aioFlagResFD, resfd: uint32(efd)}
		cbs := [1]*iocb{&cb}
		n, _, errno := syscall.Syscall(syscall.SYS_IO_SUBMIT, a.ctx, 1, uintptr(unsafe.Pointer(&cbs[0])))
		runtime.KeepAlive(&cb)
		switch {
		case errno != 0:
			submitErr = fmt.Errorf("io_submit: %w", errno)
		case n != 1:
			submitErr = fmt.Errorf("io_submit: %d queued", n)
		}
	})
	if err != nil {
		return err
	}
	return submitErr
}

// close releases the AIO context and the eventfd.
func (a *aioSyncer) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done == nil {
		return nil
	}
	err := a.done.Close()
	a.done = nil
	if _, _, errno := syscall.Syscall(syscall.SYS_IO_DESTROY, a.ctx, 0, 0); errno != 0 && err == nil {
		err = errno
	}
	return err
}

// Flags of sync_file_range(2).
const (
	syncRangeWaitBefore = 1
	syncRangeWrite      = 2
	syncRangeWaitAfter  = 4
)

// writeBackChunk is how much of a file writeBack hands the disk at a time.
// An fsync of the database file after a checkpoint's copy queues all its
// dirty pages at once (some 190 requests, 2–5 MB, on the load harness's
// virtual disk), and an fsync of the log issued meanwhile waits behind
// them: 12–23 ms instead of 2–3. A quarter of a megabyte at a time kept a
// probe's log fsyncs at a p99 of 2.2 ms, against 10.7 ms beside a plain
// fsync and 4.2 ms at 1 MB; the database file's sync took about twice as
// long, which nothing waits for.
const writeBackChunk = 256 << 10

// writeBack fsyncs f, having first written its dirty pages back to the
// disk writeBackChunk bytes at a time, each chunk waited for before the
// next is queued (sync_file_range), so that other files' fsyncs queue
// behind one chunk at most. The fsync at the end makes it durable: it has
// only the file's metadata and the disk's cache flush left to do. Each
// sync_file_range blocks its thread, holding the Go scheduler's P, so it
// is for the checkpoint copier's process, not grantd's.
//
// An error of sync_file_range is returned as it is: the kernel reports a
// failed write-back once per open file, so the fsync after it would not
// report it again. Only a file system or kernel that refuses the call
// itself (EINVAL, ENOSYS, EOPNOTSUPP, ESPIPE) leaves the fsync to do it all.
func writeBack(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var rangeErr error
	if err := raw.Control(func(fd uintptr) {
		for off := int64(0); off < fi.Size(); off += writeBackChunk {
			_, _, errno := syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, fd, uintptr(off), writeBackChunk,
				syncRangeWaitBefore|syncRangeWrite|syncRangeWaitAfter, 0, 0)
			switch errno {
			case 0:
			case syscall.EINTR:
				off -= writeBackChunk // the same chunk again
			case syscall.EINVAL, syscall.ENOSYS, syscall.EOPNOTSUPP, syscall.ESPIPE:
				return
			default:
				rangeErr = &os.PathError{Op: "sync_file_range", Path: f.Name(), Err: errno}
				return
			}
		}
	}); err != nil {
		return err
	}
	if rangeErr != nil {
		return rangeErr
	}
	return f.Sync()
}
