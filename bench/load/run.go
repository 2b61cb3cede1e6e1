package load

import (
	"context"
	"math"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Outcomes every scenario may see besides its own.
const (
	OutcomeOK        = "ok"
	OutcomeTransport = "transport_error"
)

// Step is one connection's loop body: it sends at most one request through
// c, counts its outcome with c.Count, and returns false when it has no work
// left. Time a Step spends waiting (pacing) before c.Do is not latency.
type Step func(ctx context.Context, c *Client) bool

// Options describe one closed-loop run.
type Options struct {
	// Addr is host:port to connect to; Host is the Host header.
	Addr, Host string
	// Conns is the number of connections, each driven by one worker.
	Conns int
	// Warmup runs before measuring; Duration is the measured time. A run
	// ends earlier when every worker's Step returns false.
	Warmup, Duration time.Duration
	// Timeout bounds one request (default 10 s).
	Timeout time.Duration
	// NewStep returns worker i's Step.
	NewStep func(i int) Step
	// OnMeasure, when set, is called as measuring starts and again as it
	// ends (begin false), for taking server CPU and memory readings.
	OnMeasure func(begin bool)
}

// Result is what a run measured.
type Result struct {
	Requests int64
	Elapsed  time.Duration
	// Latency percentiles of every measured request, errors included.
	P50, P95, P99, Max time.Duration
	// Outcomes counts requests by outcome: OutcomeOK, an OAuth error code,
	// "http_NNN" or OutcomeTransport.
	Outcomes map[string]int64
	// GeneratorCPU is the CPU time the generator process used while
	// measuring (user + system), over all its threads.
	GeneratorCPU time.Duration
	// Dials is how many TCP connections were opened in all.
	Dials int
	// LastError is one transport error, for diagnosis.
	LastError string
}

// Rate is requests per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Client is a worker's connection plus its measurements.
type Client struct {
	conn     *Conn
	timeout  time.Duration
	run      *runState
	recorded bool
	lat      []time.Duration
	outcomes map[string]int64
	lastErr  error
	// Worker is the worker's index.
	Worker int
}

type runState struct{ recording atomic.Bool }

// Do sends req and returns the response, timing it. On a transport error
// it counts OutcomeTransport itself; the Step should then return.
func (c *Client) Do(req *Request) (Response, error) {
	start := time.Now()
	resp, err := c.conn.Do(req, start.Add(c.timeout))
	d := time.Since(start)
	c.recorded = c.run.recording.Load()
	if c.recorded {
		c.lat = append(c.lat, d)
	}
	if err != nil {
		c.lastErr = err
		c.Count(OutcomeTransport)
	}
	return resp, err
}

// Count records the outcome of the request Do just sent, if it was measured.
func (c *Client) Count(outcome string) {
	if c.recorded {
		c.outcomes[outcome]++
	}
}

// Run drives o.Conns connections in a closed loop and measures them.
func Run(ctx context.Context, o Options) Result {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := &runState{}
	clients := make([]*Client, o.Conns)
	var wg sync.WaitGroup
	for i := range clients {
		c := &Client{conn: NewConn(o.Addr, o.Host), timeout: o.Timeout, run: st,
			outcomes: map[string]int64{}, Worker: i, lat: make([]time.Duration, 0, 1<<14)}
		clients[i] = c
		step := o.NewStep(i)
		wg.Go(func() {
			defer c.conn.Close()
			for ctx.Err() == nil && step(ctx, c) {
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	var t0 time.Time
	var cpu0 time.Duration
	begin := func() {
		if o.OnMeasure != nil {
			o.OnMeasure(true)
		}
		cpu0 = ProcessCPU()
		t0 = time.Now()
		st.recording.Store(true)
	}
	if o.Warmup > 0 {
		select {
		case <-time.After(o.Warmup):
		case <-done:
		case <-ctx.Done():
		}
	}
	begin()
	select {
	case <-time.After(o.Duration):
	case <-done:
	case <-ctx.Done():
	}
	st.recording.Store(false)
	elapsed := time.Since(t0)
	cpu := ProcessCPU() - cpu0
	if o.OnMeasure != nil {
		o.OnMeasure(false)
	}
	cancel()
	<-done
	return collect(clients, elapsed, cpu)
}

func collect(clients []*Client, elapsed, cpu time.Duration) Result {
	r := Result{Elapsed: elapsed, GeneratorCPU: cpu, Outcomes: map[string]int64{}}
	var all []time.Duration
	for _, c := range clients {
		all = append(all, c.lat...)
		for k, v := range c.outcomes {
			r.Outcomes[k] += v
		}
		r.Dials += c.conn.Dials()
		if c.lastErr != nil {
			r.LastError = c.lastErr.Error()
		}
	}
	r.Requests = int64(len(all))
	slices.Sort(all)
	r.P50, r.P95, r.P99 = Percentile(all, 0.50), Percentile(all, 0.95), Percentile(all, 0.99)
	if len(all) > 0 {
		r.Max = all[len(all)-1]
	}
	return r
}

// Percentile returns the nearest-rank p-quantile of sorted durations.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Sleep waits for d or until ctx is done; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ProcessCPU is the user plus system CPU time of this process.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// IsLoopback reports whether host (a name or an address, without port) is
// on this machine's loopback.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
