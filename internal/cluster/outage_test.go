package cluster

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/web/webtest"
)

// outageEnv configures the instances of the outage tests. The refresh
// grace is at its maximum, so that a refresh whose answer was lost to the
// outage can be retried afterwards and get the same successor (RT-04): a
// commit whose acknowledgement the cut swallowed is indistinguishable from
// one that never happened, and the grace is what makes the retry safe.
var outageEnv = map[string]string{
	"POLLING_INTERVAL":           "1",
	"GRANTD_REFRESH_TOKEN_GRACE": "60s",
}

// Bounds of the outage tests.
const (
	// answerWithin is how soon grantd must answer every request, the
	// database up or not (REL-01: no hang).
	answerWithin = 10 * time.Second
	// outageHold is how long the database stays cut once both instances
	// report it.
	outageHold = 3 * time.Second
	// recoverWithin bounds how long after the database is back every
	// endpoint must work again, without a restart.
	recoverWithin = 20 * time.Second
	// maxRounds bounds each traffic stream.
	maxRounds = 500
)

// TestDatabaseOutage is docs/SECURITY.md REL-01 with the database stopped: the
// proxy in front of PostgreSQL closes every connection and refuses new
// ones while two instances serve steady traffic.
func TestDatabaseOutage(t *testing.T) { testOutage(t, Down, outageHold) }

// TestDatabasePartition is docs/SECURITY.md REL-01 with the database
// partitioned away, as toxiproxy or a lost route would: connections stay
// open but nothing comes back, for longer than answerWithin. The server's
// statement_timeout cannot end a query it never received, and TCP takes
// minutes to give up, so only a deadline grantd sets itself bounds a
// request whose connection was taken from the pool before the partition.
func TestDatabasePartition(t *testing.T) { testOutage(t, Partitioned, answerWithin) }

// testOutage runs traffic against two instances, cuts the database with
// the proxy in the given mode, restores it, and checks every answer:
//
//   - every request is answered within answerWithin; none gets a 500;
//   - while the database is out, stateful endpoints answer 503 with
//     Retry-After; never a false success (tokens for a code nobody
//     approved) nor a definitive negative (invalid_grant, expired_token,
//     access_denied, active:false) that a client would act on for good;
//   - /readyz turns 503 while /healthz, the metadata and the JWKS keep
//     answering 200 from memory;
//   - once the database is back, everything works again without a
//     restart, and a code approved before the outage yields its tokens
//     exactly once.
func testOutage(t *testing.T, mode Mode, hold time.Duration) {
	c := newCluster(t, clusterOptions{instances: 2, proxy: true, env: outageEnv, users: []string{"dana"}})
	a, b := c.nodes[0].URL, c.nodes[1].URL
	br := c.browser(t, "203.0.113.10")
	signIn(t, at(br, a), at(br, b), "dana")
	streams := append(c.streams(t, br, c.nodes[0]), c.streams(t, br, c.nodes[1])...)
	kept := c.authorize(t, a, "lights:read")
	approve(t, at(br, b), at(br, b), at(br, b), kept.UserCode)

	defer c.proxy.Set(Up) // so that the instances can stop even if the test fails early
	tr := startTraffic(streams)
	defer tr.stop()
	time.Sleep(time.Second) // steady traffic on a healthy database
	cut := time.Now()
	c.proxy.Set(mode)
	for _, n := range c.nodes {
		took := c.waitReadiness(t, n.URL, http.StatusServiceUnavailable, answerWithin+2*time.Second)
		t.Logf("%s: /readyz 503 %v after the database went %s", n.name, took.Round(time.Millisecond), mode)
	}
	down := time.Now()
	time.Sleep(hold) // the outage, in real time: the instances and the fault proxy are processes
	restored := time.Now()
	c.proxy.Set(Up)
	for _, n := range c.nodes {
		took := c.waitReadiness(t, n.URL, http.StatusOK, recoverWithin)
		t.Logf("%s: /readyz 200 %v after the database came back", n.name, took.Round(time.Millisecond))
	}
	ok := tr.waitRecovered(time.Now(), recoverWithin)
	probes := tr.stop()
	t.Logf("%d requests; database out for %v", len(probes), restored.Sub(cut).Round(time.Millisecond))
	checkProbes(t, probes, down, restored)
	if !ok {
		t.Errorf("not every endpoint worked again within %v of the database coming back", recoverWithin)
	}

	// No approved grant is lost, and it is redeemed once.
	tk := tokensOf(t, "poll after the outage of a code approved before it", c.poll(a, kept.DeviceCode))
	if tk.RefreshToken == "" {
		t.Errorf("tokens %+v: want a refresh token", tk)
	}
	// A decided code is answered by its state however soon it is polled.
	sameTokenSet(t, "second poll of that code, on B, within the grace window", c.poll(b, kept.DeviceCode), tk)
}

// waitReadiness polls base's /readyz until it answers want, within d, and
// returns how long that took. base is another process, polled every 50
// ms of real time.
func (c *cluster) waitReadiness(t *testing.T, base string, want int, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last reply
	for time.Since(start) < d {
		last = c.get(base, "/readyz")
		if last.status == want {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s/readyz: %s after %v; want %d", base, last, d, want)
	return 0
}

// stream sends one kind of request to one instance, again and again.
type stream struct {
	node, kind string // the instance's name, the request's
	send       func() reply
}

// streams returns the traffic for one instance: each request kind, with a
// token set and a pending device code of its own, made from a completed
// flow approved through br.
func (c *cluster) streams(t *testing.T, br *webtest.Browser, n *instance) []stream {
	t.Helper()
	base, name := n.URL, n.name
	tk := c.completedFlow(t, br, base)
	pending := c.authorize(t, base, "lights:read").DeviceCode
	rt := tk.RefreshToken // owned by the refresh stream's goroutine
	return []stream{
		{name, "device_authorization", func() reply { return c.deviceAuthorization(base, "lights:read") }},
		{name, "poll", func() reply { return c.poll(base, pending) }},
		{name, "refresh", func() reply {
			r := c.refresh(base, rt)
			if r.status == http.StatusOK {
				rt = r.field("refresh_token")
			}
			return r
		}},
		// Rotation leaves earlier access tokens active until they expire.
		{name, "introspect", func() reply { return c.introspect(base, tk.AccessToken) }},
		{name, "page", func() reply { return do(br.Client, http.MethodGet, base+"/device", nil, nil) }},
		{name, "jwks", func() reply { return c.get(base, "/.well-known/jwks.json") }},
		{name, "metadata", func() reply { return c.get(base, "/.well-known/oauth-authorization-server") }},
		{name, "healthz", func() reply { return c.get(base, "/healthz") }},
		{name, "readyz", func() reply { return c.get(base, "/readyz") }},
	}
}

// probe is one request of the traffic and its answer.
type probe struct {
	node, kind string
	start, end time.Time
	r          reply
}

// stateful reports whether the request needs the database.
func (p probe) stateful() bool {
	switch p.kind {
	case "jwks", "metadata", "healthz":
		return false
	}
	return true
}

// traffic runs streams concurrently until stopped.
type traffic struct {
	mu      sync.Mutex
	probes  []probe
	streams int
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

// startTraffic starts one goroutine per stream, each sending at most
// maxRounds requests, one every 100 ms or so.
func startTraffic(streams []stream) *traffic {
	tr := &traffic{done: make(chan struct{}), streams: len(streams)}
	for _, s := range streams {
		tr.wg.Go(func() {
			for range maxRounds {
				select {
				case <-tr.done:
					return
				case <-time.After(100 * time.Millisecond):
				}
				p := probe{node: s.node, kind: s.kind, start: time.Now()}
				p.r = s.send()
				p.end = time.Now()
				tr.mu.Lock()
				tr.probes = append(tr.probes, p)
				tr.mu.Unlock()
			}
		})
	}
	return tr
}

// stop ends the traffic and returns every probe. It may be called again.
func (tr *traffic) stop() []probe {
	tr.once.Do(func() { close(tr.done) })
	tr.wg.Wait()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.probes
}

// waitRecovered waits up to d until every stream has succeeded with a
// request sent after since.
func (tr *traffic) waitRecovered(since time.Time, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		tr.mu.Lock()
		ok := map[string]bool{}
		for _, p := range tr.probes {
			if p.start.After(since) && succeeded(p) {
				ok[p.node+" "+p.kind] = true
			}
		}
		tr.mu.Unlock()
		if len(ok) == tr.streams {
			return true
		}
		time.Sleep(100 * time.Millisecond) // the traffic's goroutines probe other processes meanwhile
	}
	return false
}

// succeeded reports whether a probe got the answer of a healthy server.
func succeeded(p probe) bool {
	if p.kind == "poll" {
		return p.r.status == http.StatusBadRequest &&
			(p.r.field("error") == "authorization_pending" || p.r.field("error") == "slow_down")
	}
	if p.kind == "introspect" {
		var active bool
		return p.r.status == http.StatusOK && p.r.jsonField("active", &active) && active
	}
	return p.r.status == http.StatusOK
}

// checkProbes checks every answer of the traffic against REL-01 (see
// testOutage); down and restored bound the time when the database was
// surely out.
func checkProbes(t *testing.T, probes []probe, down, restored time.Time) {
	t.Helper()
	inOutage := map[string]int{}
	for _, p := range probes {
		what := fmt.Sprintf("%s on %s at +%v", p.kind, p.node, p.start.Sub(probes[0].start).Round(time.Millisecond))
		if msg := verdict(p); msg != "" {
			t.Errorf("%s: %s: %s", what, msg, p.r)
			continue
		}
		if p.stateful() && !p.start.Before(down) && p.end.Before(restored) {
			inOutage[p.kind]++
			if p.r.status != http.StatusServiceUnavailable {
				t.Errorf("%s, with the database out: %s; want 503", what, p.r)
			}
		}
	}
	for _, kind := range []string{"device_authorization", "poll", "refresh", "introspect", "page", "readyz"} {
		if inOutage[kind] == 0 {
			t.Errorf("no %s request was answered while the database was out", kind)
		}
	}
	t.Logf("answered while the database was out: %v", inOutage)
}

// verdict returns why an answer breaks REL-01 whatever the database's
// state, or "".
func verdict(p probe) string {
	r := p.r
	switch {
	case r.err != nil:
		return "no answer"
	case r.took > answerWithin:
		return fmt.Sprintf("answered after %v, over %v", r.took.Round(time.Millisecond), answerWithin)
	case r.status == http.StatusServiceUnavailable && !p.stateful():
		return "503 from an endpoint that needs no database"
	case r.status == http.StatusServiceUnavailable && r.header.Get("Retry-After") == "":
		return "503 without Retry-After"
	case r.status == http.StatusServiceUnavailable:
		return ""
	case r.status >= 500:
		return "server error"
	case !succeeded(p):
		return "neither the healthy answer nor 503: a false success or a definitive negative"
	}
	return ""
}
