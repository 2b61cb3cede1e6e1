// Package proc reads a process's CPU time and memory from Linux's /proc, and
// pins processes to cores with taskset.
package proc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/PID/stat times; 100 on every
// Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// CPU returns the user plus system CPU time process pid has used.
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	_, cpu, err := parseStat(b)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return cpu, nil
}

// Family returns pid followed by its live children, so that a server that
// runs helper processes is measured whole.
func Family(pid int) []int {
	family := []int{pid}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		child, err := strconv.Atoi(d.Name())
		if err != nil || child == pid {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		if st, err := parseStatFields(b); err == nil && st.ppid == pid {
			family = append(family, child)
		}
	}
	return family
}

// FamilyCPU returns the user plus system CPU time process pid, its live
// children, and the children it has reaped have used.
func FamilyCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	st, err := parseStatFields(b)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	sum := st.cpu + st.reapedCPU
	for _, child := range Family(pid)[1:] {
		if c, err := CPU(child); err == nil {
			sum += c
		}
	}
	return sum, nil
}

// FamilyMemory is ReadMemory for Family(pid): the memory pid and its
// children hold. A lone process's RSS is its VmRSS. With children, whose
// RSS would count twice the pages they share with pid (a child that runs
// the same executable, say), it is the sum of their proportional set
// sizes (Pss), which counts each page once. Peak is the sum of their
// peaks, an upper bound of their peak together.
func FamilyMemory(pid int) (Memory, error) {
	family := Family(pid)
	var sum Memory
	for i, p := range family {
		m, err := ReadMemory(p)
		if err == nil && len(family) > 1 {
			m.RSS, err = readPss(p)
		}
		if err != nil {
			if i == 0 {
				return Memory{}, err
			}
			continue // a child that just exited
		}
		sum.RSS += m.RSS
		sum.Peak += m.Peak
	}
	return sum, nil
}

// readPss reads the proportional set size of pid from smaps_rollup.
func readPss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Pss:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/smaps_rollup: Pss %q: %w", pid, v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/smaps_rollup: no Pss", pid)
}

// ResetFamilyPeak is ResetPeak for each of Family(pid).
func ResetFamilyPeak(pid int) error {
	var first error
	for i, p := range Family(pid) {
		if err := ResetPeak(p); err != nil && i == 0 {
			first = err
		}
	}
	return first
}

// CPUOf returns the CPU time used so far by every running process whose
// command name is name (as in /proc/PID/comm): e.g. all of PostgreSQL's
// server processes. Processes that ended meanwhile are not counted, so
// compare two readings only over a short interval.
func CPUOf(name string) time.Duration {
	dirs, _ := os.ReadDir("/proc")
	var sum time.Duration
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		if comm, cpu, err := parseStat(b); err == nil && comm == name {
			sum += cpu
		}
	}
	return sum
}

// parseStat reads the command name and user plus system CPU time of a
// /proc/PID/stat line.
func parseStat(b []byte) (string, time.Duration, error) {
	st, err := parseStatFields(b)
	return st.comm, st.cpu, err
}

// stat is what the harness reads of a /proc/PID/stat line.
type stat struct {
	comm      string
	ppid      int
	cpu       time.Duration // utime + stime
	reapedCPU time.Duration // cutime + cstime: children waited for
}

func parseStatFields(b []byte) (stat, error) {
	// The command name, field 2, is in parentheses and may hold spaces.
	i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return stat{}, fmt.Errorf("malformed")
	}
	f := strings.Fields(string(b[j+1:]))
	// After the name, from f[0]: state (field 3), ppid (4), …, utime (14),
	// stime (15), cutime (16), cstime (17).
	if len(f) < 15 {
		return stat{}, fmt.Errorf("too few fields")
	}
	var n [5]int64
	for k, field := range []int{1, 11, 12, 13, 14} {
		v, err := strconv.ParseInt(f[field], 10, 64)
		if err != nil {
			return stat{}, fmt.Errorf("bad field %d: %q", field+3, f[field])
		}
		n[k] = v
	}
	return stat{comm: string(b[i+1 : j]), ppid: int(n[0]), cpu: time.Duration(n[1]+n[2]) * clockTick,
		reapedCPU: time.Duration(n[3]+n[4]) * clockTick}, nil
}

// Memory is a process's resident set, in bytes.
type Memory struct {
	RSS  int64 // VmRSS: resident now
	Peak int64 // VmHWM: the high-water mark since start or ResetPeak
}

// ReadMemory reads VmRSS and VmHWM of pid.
func ReadMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	for line := range strings.Lines(string(b)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb := func() int64 {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
			return n << 10
		}
		switch name {
		case "VmRSS":
			m.RSS = kb()
		case "VmHWM":
			m.Peak = kb()
		}
	}
	return m, nil
}

// ResetPeak resets pid's VmHWM to its current RSS (clear_refs value 5), so
// that the next ReadMemory's Peak covers only what follows.
func ResetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// Cores returns the number of online CPUs this process may run on.
func Cores() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return 0
	}
	n := 0
	for part := range strings.SplitSeq(strings.TrimSpace(string(b)), ",") {
		lo, hi, found := strings.Cut(part, "-")
		a, _ := strconv.Atoi(lo)
		z := a
		if found {
			z, _ = strconv.Atoi(hi)
		}
		n += z - a + 1
	}
	return n
}

// Taskset is the path of taskset(1), or "" when it is not installed.
func Taskset() string {
	p, err := exec.LookPath("taskset")
	if err != nil {
		return ""
	}
	return p
}

// Pin moves every thread of pid to the given CPU list ("0", "1", "0-1").
func Pin(pid int, cpus string) error {
	ts := Taskset()
	if ts == "" {
		return fmt.Errorf("taskset not installed")
	}
	out, err := exec.Command(ts, "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset -a -p -c %s %d: %v: %s", cpus, pid, err, out)
	}
	return nil
}

// Niceness is the scheduling priority the harness gives the server and the
// generator, so that other work on the machine (a build, a test run)
// disturbs a measurement less. Raising priority needs root; without it the
// processes keep their niceness.
const Niceness = -10

// Command returns cmd wrapped in taskset -c cpus when cpus is not empty and
// taskset is installed (pinned reports whether it was), and in nice -n
// Niceness when nice is installed.
func Command(cpus string, name string, args ...string) (cmd *exec.Cmd, pinned bool) {
	argv := append([]string{name}, args...)
	if ts := Taskset(); cpus != "" && ts != "" {
		argv, pinned = append([]string{ts, "-c", cpus}, argv...), true
	}
	if n, err := exec.LookPath("nice"); err == nil {
		argv = append([]string{n, "-n", strconv.Itoa(Niceness)}, argv...)
	}
	return exec.Command(argv[0], argv[1:]...), pinned
}

// Renice sets the niceness of every thread of this process; threads
// started later inherit it from their creators.
func Renice(nice int) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	var first error
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// MachineCPU returns the busy and total CPU time of all cores together
// since boot, from /proc/stat (busy excludes idle and iowait).
func MachineCPU() (busy, total time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: malformed")
	}
	for i, v := range f[1:9] { // user nice system idle iowait irq softirq steal
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		total += time.Duration(n) * clockTick
		if i != 3 && i != 4 {
			busy += time.Duration(n) * clockTick
		}
	}
	return busy, total, nil
}
