package proc

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func TestParseStatFields(t *testing.T) {
	tests := []struct {
		name, line string
		want       stat
		wantErr    bool
	}{
		{name: "grantd", line: "1234 (grantd) S 1200 1234 1200 0 -1 4194560 500 0 0 0 250 50 7 3 20 0 9 0 100 1 2",
			want: stat{comm: "grantd", ppid: 1200, cpu: 300 * clockTick, reapedCPU: 10 * clockTick}},
		{name: "name with spaces and parentheses", line: "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 1 2 3 4 20",
			want: stat{comm: "a (b) c", ppid: 1, cpu: 3 * clockTick, reapedCPU: 7 * clockTick}},
		{name: "no name", line: "7 a R 1", wantErr: true},
		{name: "cut short", line: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 1 2", wantErr: true},
		{name: "bad time", line: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 x 2 3 4 20", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatFields([]byte(tt.line))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseStatFields(%q) = %+v, %v; want %+v, error %v", tt.line, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestFamily: a child process is in its parent's family, and its CPU time
// counts in the family's.
func TestFamily(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	self := os.Getpid()
	var family []int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if family = Family(self); len(family) > 1 {
			break
		}
	}
	if len(family) < 2 || family[0] != self || !slices.Contains(family[1:], cmd.Process.Pid) {
		t.Fatalf("Family(%d) = %v; want it first, then its child %d", self, family, cmd.Process.Pid)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		child, err := CPU(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		own, _ := CPU(self)
		all, err := FamilyCPU(self)
		if err != nil {
			t.Fatal(err)
		}
		if child > 0 {
			if all < own+child {
				t.Errorf("FamilyCPU = %v, less than own %v plus the child's %v", all, own, child)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child used no CPU time")
		}
	}
	// With a child, the family's memory is the sum of proportional set
	// sizes: more than the process's own share, no more than the sum of
	// the RSSs, which count shared pages twice.
	m, err := FamilyMemory(self)
	if err != nil {
		t.Fatal(err)
	}
	ownPss, err := readPss(self)
	if err != nil {
		t.Fatal(err)
	}
	own, _ := ReadMemory(self)
	child, _ := ReadMemory(cmd.Process.Pid)
	if m.RSS <= ownPss || m.RSS > own.RSS+child.RSS+8<<20 {
		t.Errorf("FamilyMemory RSS = %d; want above the process's Pss %d and at most the RSSs' sum %d",
			m.RSS, ownPss, own.RSS+child.RSS)
	}
	if m.Peak < own.Peak+child.Peak-8<<20 {
		t.Errorf("FamilyMemory Peak = %d; want the sum of the peaks %d", m.Peak, own.Peak+child.Peak)
	}
}
