package cluster

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// echoServer accepts on loopback and echoes every line back, until the test
// ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip writes line to c and reads one line back within wait.
func roundTrip(c net.Conn, r *bufio.Reader, line string, wait time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(wait))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := r.ReadString('\n')
	return got, err
}

func TestFaultProxyModes(t *testing.T) {
	p, err := NewFaultProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if got, err := roundTrip(c, r, "one", 2*time.Second); err != nil || got != "one\n" {
		t.Fatalf("up: %q, %v; want the echo", got, err)
	}

	// Partitioned: nothing comes back, nothing is closed; after healing the
	// held bytes arrive.
	p.Set(Partitioned)
	if got, err := roundTrip(c, r, "two", 200*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("partitioned: %q, %v; want a timeout", got, err)
	}
	held, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("partitioned: a new connection is refused (%v); want it held", err)
	}
	defer held.Close()
	p.Set(Up)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "two\n" {
		t.Fatalf("healed: %q, %v; want the held echo", got, err)
	}
	hr := bufio.NewReader(held)
	if got, err := roundTrip(held, hr, "three", 2*time.Second); err != nil || got != "three\n" {
		t.Fatalf("healed: held connection %q, %v; want the echo", got, err)
	}

	// Down: open connections end, new ones are closed at once.
	p.Set(Down)
	if _, err := roundTrip(c, r, "four", 2*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("down: %v; want the connection closed", err)
	}
	if d, err := net.Dial("tcp", p.Addr()); err == nil {
		_, err = roundTrip(d, bufio.NewReader(d), "five", 2*time.Second)
		d.Close()
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("down: new connection %v; want it closed", err)
		}
	}
	p.Set(Up)
	d, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got, err := roundTrip(d, bufio.NewReader(d), "six", 2*time.Second); err != nil || got != "six\n" {
		t.Fatalf("up again: %q, %v; want the echo", got, err)
	}
}

func TestFaultProxyLoopbackOnly(t *testing.T) {
	for _, target := range []string{"192.0.2.1:5432", "example.com:5432", "5432"} {
		if p, err := NewFaultProxy(target); err == nil {
			p.Close()
			t.Errorf("NewFaultProxy(%q) succeeded; want only loopback targets", target)
		}
	}
}
