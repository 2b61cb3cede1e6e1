package sqlstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// copierNice is how much nicer than grantd the copier runs: its copy then
// takes the core when the server leaves it idle, and about a tenth of it
// when the server is busy (Linux weighs two tasks 10 nice values apart as
// about 1 to 9). A checkpoint's copy needs about 5% of a core at the load
// harness's write rates, so it keeps up under any load, and the log stays
// bounded.
const copierNice = 10

// copierStop bounds how long close waits for the copier to exit once its
// input is closed, before it is killed.
const copierStop = 5 * time.Second

// copierReply bounds how long the checkpointer waits for a copy's answer.
// A copy takes milliseconds, or a few seconds starved of CPU; a copier
// that takes longer is stuck, and the copies are better made here.
const copierReply = 30 * time.Second

// The copier's protocol: one request line, answered by one line, "ioerr
// MESSAGE" for an I/O error or "err MESSAGE" for any other, else:
//   - "copy" (step 1): "ok LOG COPIED", the log's length and how much of it
//     is now copied, in pages;
//   - "sync" (step 2): "ok", once the database file is written back and
//     fsynced (writeBack).
const (
	copyRequest = "copy"
	syncRequest = "sync"
)

// copier is the process that runs a checkpoint's copy and the database
// file's fsync after it (steps 1 and 2) for the checkpointer, at a lower
// CPU priority than grantd's (see doc.go, "the copy in a process of its
// own"). It serves one request at a time; the
// checkpointer asks it from a single goroutine.
type copier struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	// outDeadline sets the read deadline of the copier's output (an
	// *os.File pipe), or is nil where the pipe has none.
	outDeadline interface{ SetReadDeadline(time.Time) error }
	exited      chan struct{}
}

// startCopier starts cmd, a command that runs ServeCopies on the store's
// file, with its standard input and output as the protocol's pipes. Its
// standard error is grantd's unless cmd sets one.
func startCopier(cmd *exec.Cmd) (*copier, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	c := &copier{cmd: cmd, in: in, out: bufio.NewReader(out), exited: make(chan struct{})}
	c.outDeadline, _ = out.(interface{ SetReadDeadline(time.Time) error })
	go func() { cmd.Wait(); close(c.exited) }()
	return c, nil
}

// errCopierGone reports that the copier cannot be asked: it exited, or its
// pipes broke. The checkpointer then copies in its own process.
var errCopierGone = errors.New("checkpoint copier is gone")

// copy asks the copier for one copy (step 1) and returns its answer, which
// must come within reply.
func (c *copier) copy(reply time.Duration) (logPages, copiedPages int64, err error) {
	rest, err := c.ask(copyRequest, reply)
	if err != nil {
		return 0, 0, err
	}
	if _, err := fmt.Sscanf(rest, "%d %d", &logPages, &copiedPages); err != nil {
		return 0, 0, fmt.Errorf("%w: answered %q", errCopierGone, "ok "+rest)
	}
	return logPages, copiedPages, nil
}

// sync asks the copier to write back and fsync the database file (step 2),
// within reply.
func (c *copier) sync(reply time.Duration) error {
	rest, err := c.ask(syncRequest, reply)
	if err == nil && rest != "" {
		err = fmt.Errorf("%w: answered %q", errCopierGone, "ok "+rest)
	}
	return err
}

// ask sends the copier one request and returns what follows "ok" in its
// answer, which must come within reply; an answer of "ioerr" or "err" is
// the error it names.
func (c *copier) ask(request string, reply time.Duration) (string, error) {
	if _, err := io.WriteString(c.in, request+"\n"); err != nil {
		return "", fmt.Errorf("%w: %v", errCopierGone, err)
	}
	if c.outDeadline != nil {
		if err := c.outDeadline.SetReadDeadline(time.Now().Add(reply)); err != nil {
			return "", fmt.Errorf("%w: %v", errCopierGone, err)
		}
	}
	line, err := c.out.ReadString('\n')
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "", fmt.Errorf("%w: no answer within %v", errCopierGone, reply)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %v", errCopierGone, err)
	}
	line = strings.TrimSuffix(line, "\n")
	kind, rest, _ := strings.Cut(line, " ")
	switch kind {
	case "ok":
		return rest, nil
	case "ioerr":
		return "", &ioFailure{errors.New(rest)}
	case "err":
		return "", errors.New(rest)
	}
	return "", fmt.Errorf("%w: answered %q", errCopierGone, line)
}

// close ends the copier: it closes its input, on which the copier exits
// once the copy under way, if any, is done, and kills it if it has not
// exited within copierStop.
func (c *copier) close() {
	c.in.Close()
	select {
	case <-c.exited:
	case <-time.After(copierStop):
		c.cmd.Process.Kill()
		<-c.exited
	}
}

// ServeCopies is the checkpoint copier's main loop (see Options.Copier):
// it lowers its own CPU priority, opens the SQLite database at path, and
// answers each request read from in until in ends: "copy" with a PASSIVE
// checkpoint on its connection, "sync" with writeBack of the database
// file. grantd runs it in a process of its own.
func ServeCopies(ctx context.Context, path string, in io.Reader, out io.Writer) error {
	if err := checkPath(path); err != nil {
		return err
	}
	if err := lowerPriority(copierNice); err != nil {
		fmt.Fprintf(os.Stderr, "grantd checkpoint copier: cannot lower its priority: %v\n", err)
	}
	db, err := openSQLitePool(ctx, sqliteDSN(path, false), 1)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	requests := bufio.NewScanner(in)
	for requests.Scan() {
		var (
			answer = "ok"
			err    error
		)
		switch req := requests.Text(); req {
		case copyRequest:
			var logPages, copied int64
			logPages, copied, err = passive(db)
			answer = fmt.Sprintf("ok %d %d", logPages, copied)
		case syncRequest:
			err = syncDatabase(path)
		default:
			err = fmt.Errorf("unknown request %q", req)
		}
		switch {
		case ioError(err):
			answer = "ioerr " + oneLine(err.Error())
		case err != nil:
			answer = "err " + oneLine(err.Error())
		}
		if _, err := io.WriteString(out, answer+"\n"); err != nil {
			return err
		}
	}
	return requests.Err()
}

// syncDatabase is the copier's step 2: writeBack of the database file at
// path. Any error of it is an I/O error, as the checkpointer's own fsync's
// is (syncStep): what the kernel could not write may be gone.
func syncDatabase(path string) error {
	if err := syncPath(path, writeBackSyncer{})(); err != nil {
		return &ioFailure{err}
	}
	return nil
}

// oneLine keeps a message on one line of the protocol.
func oneLine(s string) string {
	return strings.ReplaceAll(s, "\n", " ")
}
