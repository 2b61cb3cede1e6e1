package httpserver

import (
	"net"
	"sync"
)

// limitListener holds at most limit connections open at once. Past it,
// Accept waits until one closes, so further connections wait in the
// kernel's backlog instead of taking file descriptors: a burst of them once
// left the store none to open its files with. Connections already served,
// such as a polling device's keep-alive connection, go on being served.
type limitListener struct {
	net.Listener
	slots chan struct{} // one token per open connection
	done  chan struct{}
	once  sync.Once
}

func newLimitListener(l net.Listener, limit int) *limitListener {
	return &limitListener{Listener: l, slots: make(chan struct{}, limit), done: make(chan struct{})}
}

// Accept waits for a free slot, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

// Close closes the listener and wakes an Accept waiting for a slot.
func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back when it is first closed.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
