package sqlstore

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// lowerPriority makes every thread of this process by nice values nicer
// than it is, up to 19, the nicest. On Linux a nice value belongs to a
// thread, and a thread the Go runtime starts later inherits it from the
// thread that starts it, so each thread there is now is set, and the walk
// repeated once for a thread started during the first.
func lowerPriority(by int) error {
	// The raw system call answers 20 - nice.
	prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		return err
	}
	nice := min(20-prio+by, 19)
	var errs []error
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("thread %d: %w", tid, err))
			}
		}
	}
	return errors.Join(errs...)
}
