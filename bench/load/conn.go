// Package load is the harness's load generator: a lean HTTP/1.1 keep-alive
// client, closed-loop workers over a fixed number of connections, and exact
// latency percentiles.
//
// It speaks HTTP/1.1 over raw TCP rather than through net/http's client,
// whose per-request cost (header maps, goroutines per connection, context
// plumbing) is several times that of the servers it measures. Each worker
// owns one connection and sends one request at a time; there is no
// pipelining.
package load

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Request is one HTTP request. Path is origin-form ("/token?x=y"). Header
// holds extra header lines, each "Name: value" without CRLF. The Host,
// Content-Length and Connection headers are written by the client.
type Request struct {
	Method string
	Path   string
	Header []string
	Body   []byte
}

// Response is the part of an HTTP response the harness looks at. Body is
// only valid until the next call on the same Conn.
type Response struct {
	Status int
	Body   []byte
	// SetCookie is not parsed: the load generator never needs cookies.
}

// Conn is one keep-alive HTTP/1.1 connection to addr. It reconnects on the
// next request after the server closes or an error occurs. A Conn is not
// safe for concurrent use.
type Conn struct {
	addr  string
	host  string
	nc    net.Conn
	br    *bufio.Reader
	wbuf  []byte
	body  []byte
	dials int
}

// NewConn returns a Conn to addr (host:port) that sends host as Host.
func NewConn(addr, host string) *Conn {
	return &Conn{addr: addr, host: host}
}

// Dials reports how many TCP connections the Conn has opened.
func (c *Conn) Dials() int { return c.dials }

// Close closes the connection.
func (c *Conn) Close() error {
	if c.nc == nil {
		return nil
	}
	err := c.nc.Close()
	c.nc = nil
	return err
}

func (c *Conn) dial() error {
	nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
	if err != nil {
		return err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c.nc = nc
	c.dials++
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, 32<<10)
	} else {
		c.br.Reset(nc)
	}
	return nil
}

// Do sends req and reads the whole response. A request that fails on a
// reused connection before any byte of the response arrived is retried once
// on a fresh one, as browsers and net/http do for idempotent requests; the
// harness's POSTs are safe to retry only because nothing was received, and
// a retry is rare enough (the server closed an idle connection) not to skew
// a run.
func (c *Conn) Do(req *Request, deadline time.Time) (Response, error) {
	fresh := c.nc == nil
	if fresh {
		if err := c.dial(); err != nil {
			return Response{}, err
		}
	}
	resp, got, err := c.roundTrip(req, deadline)
	if err != nil && !fresh && !got {
		c.Close()
		if err := c.dial(); err != nil {
			return Response{}, err
		}
		resp, _, err = c.roundTrip(req, deadline)
	}
	if err != nil {
		c.Close()
	}
	return resp, err
}

func (c *Conn) roundTrip(req *Request, deadline time.Time) (resp Response, got bool, err error) {
	c.nc.SetDeadline(deadline)
	b := c.wbuf[:0]
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, req.Path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.host...)
	b = append(b, "\r\n"...)
	for _, h := range req.Header {
		b = append(b, h...)
		b = append(b, "\r\n"...)
	}
	if req.Body != nil || req.Method == "POST" {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(req.Body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, req.Body...)
	c.wbuf = b
	if _, err := c.nc.Write(b); err != nil {
		return Response{}, false, err
	}
	return c.readResponse(req.Method == "HEAD")
}

var (
	errMalformed = errors.New("malformed HTTP response")
	crlf         = []byte("\r\n")
)

// readResponse reads a status line, headers and a body delimited by
// Content-Length or chunked encoding. 1xx responses are skipped.
func (c *Conn) readResponse(head bool) (Response, bool, error) {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return Response{}, len(line) > 0, err
		}
		// "HTTP/1.1 200 OK"
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
			return Response{}, true, errMalformed
		}
		status, err := strconv.Atoi(string(line[9:12]))
		if err != nil {
			return Response{}, true, errMalformed
		}
		length, chunked, closing, err := c.readHeaders()
		if err != nil {
			return Response{}, true, err
		}
		if status >= 100 && status < 200 {
			continue
		}
		body, err := c.readBody(head || status == 204 || status == 304, length, chunked, closing)
		if err != nil {
			return Response{}, true, err
		}
		if closing {
			c.Close()
		}
		return Response{Status: status, Body: body}, true, nil
	}
}

func (c *Conn) readHeaders() (length int, chunked, closing bool, err error) {
	length = -1
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, false, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return length, chunked, closing, nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, false, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 {
				return 0, false, false, errMalformed
			}
			length = n
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case asciiEqualFold(name, "connection"):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
}

func (c *Conn) readBody(none bool, length int, chunked, closing bool) ([]byte, error) {
	c.body = c.body[:0]
	switch {
	case none:
		return c.body, nil
	case chunked:
		return c.readChunked()
	case length >= 0:
		if cap(c.body) < length {
			c.body = make([]byte, length)
		}
		c.body = c.body[:length]
		_, err := io.ReadFull(c.br, c.body)
		return c.body, err
	case closing:
		b, err := io.ReadAll(c.br)
		c.body = append(c.body, b...)
		return c.body, err
	default:
		return nil, fmt.Errorf("%w: no length", errMalformed)
	}
}

func (c *Conn) readChunked() ([]byte, error) {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 32)
		if err != nil || n < 0 {
			return nil, errMalformed
		}
		if n == 0 {
			// Trailers, then the final CRLF.
			for {
				t, err := c.br.ReadSlice('\n')
				if err != nil {
					return nil, err
				}
				if len(bytes.TrimRight(t, "\r\n")) == 0 {
					return c.body, nil
				}
			}
		}
		start := len(c.body)
		c.body = append(c.body, make([]byte, n)...)
		if _, err := io.ReadFull(c.br, c.body[start:]); err != nil {
			return nil, err
		}
		var end [2]byte
		if _, err := io.ReadFull(c.br, end[:]); err != nil || !bytes.Equal(end[:], crlf) {
			return nil, errMalformed
		}
	}
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x := b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != s[i] {
			return false
		}
	}
	return true
}
