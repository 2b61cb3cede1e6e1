// Package cluster tests grantd as it runs in production with PostgreSQL:
// several `grantd serve` processes on one database, driven over real HTTP
// (docs/SECURITY.md REL-01, REL-06, REL-10, REL-14). The tests need the URL of a
// scratch PostgreSQL database in GRANTD_TEST_POSTGRES and skip without it.
//
// The package's only non-test code is FaultProxy, a TCP proxy that stands
// between the instances and the database and can cut or partition it.
package cluster

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// Mode is what a FaultProxy does with traffic.
type Mode int

// The modes of a FaultProxy.
const (
	// Up forwards traffic both ways.
	Up Mode = iota
	// Down closes every open connection and closes new ones as soon as
	// they are accepted, as a stopped database (or a firewall that rejects)
	// looks to a client.
	Down
	// Partitioned stops forwarding without closing anything: bytes already
	// sent wait, new connections are accepted but not connected onwards,
	// as across a network partition that drops packets. Back in Up, held
	// connections go on where they stopped, as TCP would after the
	// partition heals.
	Partitioned
)

func (m Mode) String() string {
	switch m {
	case Up:
		return "up"
	case Down:
		return "down"
	case Partitioned:
		return "partitioned"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// maxLinks bounds the connections a FaultProxy holds at once; beyond it new
// connections are closed at once.
const maxLinks = 128

// dialTimeout bounds connecting to the target.
const dialTimeout = 5 * time.Second

// FaultProxy forwards TCP connections from a loopback port to a loopback
// target, in a Mode the test sets. It is safe for concurrent use.
type FaultProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	mode    Mode
	changed chan struct{} // closed and replaced on every mode change
	links   map[*link]struct{}
	closed  bool
	wg      sync.WaitGroup
}

// link is one proxied connection.
type link struct {
	client   net.Conn
	once     sync.Once
	done     chan struct{}
	mu       sync.Mutex
	upstream net.Conn // nil until connected onwards
}

func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		l.client.Close()
		l.mu.Lock()
		if l.upstream != nil {
			l.upstream.Close()
		}
		l.mu.Unlock()
	})
}

// NewFaultProxy listens on a free port of 127.0.0.1 and forwards to target,
// which must be a loopback host:port. It starts Up.
func NewFaultProxy(target string) (*FaultProxy, error) {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return nil, fmt.Errorf("fault proxy target %q: %w", target, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("fault proxy target %q: only loopback targets are allowed", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fault proxy: %w", err)
	}
	p := &FaultProxy{ln: ln, target: target, changed: make(chan struct{}), links: make(map[*link]struct{})}
	p.wg.Go(p.accept)
	return p, nil
}

// Addr returns the host:port the proxy listens on.
func (p *FaultProxy) Addr() string { return p.ln.Addr().String() }

// Set switches the proxy to m. Switching to Down closes every connection
// before it returns.
func (p *FaultProxy) Set(m Mode) {
	p.mu.Lock()
	p.mode = m
	close(p.changed)
	p.changed = make(chan struct{})
	var drop []*link
	if m == Down {
		for l := range p.links {
			drop = append(drop, l)
		}
	}
	p.mu.Unlock()
	for _, l := range drop {
		l.close()
	}
}

// Close stops the proxy and closes every connection.
func (p *FaultProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	var drop []*link
	for l := range p.links {
		drop = append(drop, l)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	for _, l := range drop {
		l.close()
	}
	p.wg.Wait()
	return err
}

func (p *FaultProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		l := &link{client: c, done: make(chan struct{})}
		p.mu.Lock()
		refuse := p.closed || p.mode == Down || len(p.links) >= maxLinks
		if !refuse {
			p.links[l] = struct{}{}
		}
		p.mu.Unlock()
		if refuse {
			c.Close()
			continue
		}
		p.wg.Go(func() { p.serve(l) })
	}
}

// await blocks while the proxy is Partitioned. It reports false when l
// must end: the proxy is Down or closed, or l was closed.
func (p *FaultProxy) await(l *link) bool {
	for {
		p.mu.Lock()
		mode, changed, closed := p.mode, p.changed, p.closed
		p.mu.Unlock()
		switch {
		case closed || mode == Down:
			return false
		case mode == Up:
			return true
		}
		select {
		case <-changed:
		case <-l.done:
			return false
		}
	}
}

func (p *FaultProxy) serve(l *link) {
	defer func() {
		l.close()
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	if !p.await(l) {
		return
	}
	up, err := net.DialTimeout("tcp", p.target, dialTimeout)
	if err != nil {
		return
	}
	l.mu.Lock()
	l.upstream = up
	l.mu.Unlock()
	select {
	case <-l.done: // closed while dialling
		up.Close()
		return
	default:
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.pump(l, up, l.client); l.close() })
	wg.Go(func() { p.pump(l, l.client, up); l.close() })
	wg.Wait()
}

// pump copies src to dst, holding each chunk while the proxy is
// Partitioned.
func (p *FaultProxy) pump(l *link, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.await(l) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a closed link: either way the link ends
		}
	}
}
