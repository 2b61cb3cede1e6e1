// Package clientip finds the address of the client behind a request, for
// rate limits and logs. X-Forwarded-For is believed only as far as it was
// written by proxies the operator trusts: a header sent by anyone else is
// ignored, so a client cannot pick its own rate-limit bucket (docs/SECURITY.md
// GEN-06, RFC 9700 §4.13).
package clientip

import (
	"net/http"
	"net/netip"
	"strings"
)

// From returns the client address of r. It starts from the peer address in
// r.RemoteAddr. Only when that peer is in trusted does it walk
// X-Forwarded-For from right to left, skipping hops that are themselves
// trusted, and return the first untrusted hop: the address the nearest
// trusted proxy saw. When every hop is trusted it returns the leftmost one.
// A malformed hop stops the walk at the last address known good. From
// returns the zero Addr when r.RemoteAddr cannot be parsed.
func From(r *http.Request, trusted []netip.Prefix) netip.Addr {
	addr, ok := parse(r.RemoteAddr)
	if !ok {
		return netip.Addr{}
	}
	if !contains(trusted, addr) {
		return addr
	}
	hops := forwardedFor(r.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parse(hops[i])
		if !ok {
			return addr
		}
		addr = hop
		if !contains(trusted, hop) {
			return hop
		}
	}
	return addr
}

// forwardedFor returns every X-Forwarded-For entry, in order, across all
// the header's lines (a proxy may append a line instead of extending one).
func forwardedFor(h http.Header) []string {
	var hops []string
	for _, line := range h.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(line, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	return hops
}

// parse reads "ip", "ip:port" or "[ipv6]:port" and returns the address
// without zone and with IPv4-mapped IPv6 unmapped, so one client has one key.
func parse(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	return netip.Addr{}, false
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Default prefix lengths of a rate-limit key: one IPv4 address, and one
// IPv6 /64, which belongs to one subscriber (RFC 6177) who can otherwise
// take a fresh address, and a fresh budget, for every attempt.
const (
	DefaultIPv4Bits = 32
	DefaultIPv6Bits = 64
)

// Resolver finds the client address of requests, believing X-Forwarded-For
// from Trusted proxies only (see From), and the key their attempts are
// counted under: the address's network of IPv4Bits or IPv6Bits (zero:
// DefaultIPv4Bits, DefaultIPv6Bits).
type Resolver struct {
	Trusted            []netip.Prefix
	IPv4Bits, IPv6Bits int
}

// Addr returns the client address of r.
func (c Resolver) Addr(r *http.Request) netip.Addr { return From(r, c.Trusted) }

// Key returns the rate-limit key of r's client: "203.0.113.7" for an IPv4
// client with 32 bits, "2001:db8:1:2::/64" for an IPv6 one with 64, the
// zero address's "invalid IP" when r's peer cannot be parsed.
func (c Resolver) Key(r *http.Request) string {
	a := c.Addr(r)
	bits := c.IPv4Bits
	if bits <= 0 {
		bits = DefaultIPv4Bits
	}
	if a.Is6() {
		bits = c.IPv6Bits
		if bits <= 0 {
			bits = DefaultIPv6Bits
		}
	}
	if !a.IsValid() || bits >= a.BitLen() {
		return a.String()
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return a.String()
	}
	return p.String()
}
