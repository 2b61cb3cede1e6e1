//go:build unix

package httpserver

import "syscall"

// raiseFileLimit raises the process's soft limit of open files to its hard
// limit, as far as the kernel allows, and returns the soft limit in force.
// (The Go runtime does the same at start on Linux; this makes it so
// everywhere and tells the limit.)
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = raised.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			return uint64(lim.Cur), err
		}
		lim = raised
	}
	return uint64(lim.Cur), nil
}
