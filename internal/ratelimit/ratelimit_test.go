package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseBudget(t *testing.T) {
	tests := []struct {
		in      string
		want    Budget
		wantErr bool
	}{
		{"10/10m", Budget{10, 10 * time.Minute}, false},
		{" 1000/1s ", Budget{1000, time.Second}, false},
		{"10", Budget{}, true},
		{"0/1m", Budget{}, true},
		{"-1/1m", Budget{}, true},
		{"5/0s", Budget{}, true},
		{"x/1m", Budget{}, true},
		{"5/soon", Budget{}, true},
	}
	for _, tt := range tests {
		got, err := ParseBudget(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseBudget(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestMemoryBudgetAndRefill(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	b := Budget{N: 3, Per: 3 * time.Minute}
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 3 {
		if ok, _, _ := m.Take(ctx, "ip:1", b, t0); !ok {
			t.Fatalf("attempt %d refused within budget", i+1)
		}
	}
	ok, retry, _ := m.Take(ctx, "ip:1", b, t0)
	if ok {
		t.Fatal("attempt 4 allowed; budget is 3")
	}
	if retry < 59*time.Second || retry > 61*time.Second {
		t.Errorf("retryAfter = %v, want about 1m (one attempt refills per minute)", retry)
	}
	if ok, _, _ := m.Take(ctx, "ip:2", b, t0); !ok {
		t.Error("another key shares ip:1's budget")
	}
	if ok, _, _ := m.Take(ctx, "ip:1", b, t0.Add(61*time.Second)); !ok {
		t.Error("no attempt refilled after one refill period")
	}
	if ok, _, _ := m.Take(ctx, "ip:1", b, t0.Add(61*time.Second)); ok {
		t.Error("more than one attempt refilled after one refill period")
	}
}

// TestMemoryConcurrentNoOvershoot is REL-05: attempts fired at once never
// exceed the budget.
func TestMemoryConcurrentNoOvershoot(t *testing.T) {
	m := NewMemory()
	b := Budget{N: 25, Per: time.Hour}
	now := time.Unix(1_700_000_000, 0)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 200 {
		wg.Go(func() {
			<-start
			if ok, _, _ := m.Take(context.Background(), "global", b, now); ok {
				allowed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := allowed.Load(); got != 25 {
		t.Errorf("allowed %d of 200 concurrent attempts, want exactly 25", got)
	}
}

func TestMemorySweepKeepsLongWindows(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	long := Budget{N: 1, Per: time.Hour}
	short := Budget{N: 1, Per: time.Second}
	t0 := time.Unix(1_700_000_000, 0)
	m.Take(ctx, "account:a", long, t0)
	// A later call with a short window triggers a sweep; the hour-long bucket
	// must survive it.
	m.Take(ctx, "ip:x", short, t0.Add(2*time.Minute))
	if ok, _, _ := m.Take(ctx, "account:a", long, t0.Add(2*time.Minute)); ok {
		t.Error("sweep dropped a bucket whose window had not passed")
	}
	m.Take(ctx, "ip:y", short, t0.Add(2*time.Hour))
	if len(m.buckets) > 2 {
		t.Errorf("%d buckets after every window passed, want idle ones swept", len(m.buckets))
	}
}

// TestMemoryRefund: an attempt given back can be taken again, and a budget
// given back too often is no fuller than full.
func TestMemoryRefund(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	b := Budget{N: 2, Per: time.Hour}
	t0 := time.Unix(1_700_000_000, 0)
	m.Take(ctx, "signin:account:a", b, t0)
	m.Take(ctx, "signin:account:a", b, t0)
	if err := m.Refund(ctx, "signin:account:a", b); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := m.Take(ctx, "signin:account:a", b, t0); !ok {
		t.Error("the attempt given back could not be taken")
	}
	for range 5 {
		m.Refund(ctx, "signin:account:a", b)
	}
	for i := range 2 {
		if ok, _, _ := m.Take(ctx, "signin:account:a", b, t0); !ok {
			t.Errorf("attempt %d of a full budget refused", i)
		}
	}
	if ok, _, _ := m.Take(ctx, "signin:account:a", b, t0); ok {
		t.Error("a budget given back too often allowed more than N")
	}
}
