package clientip

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestFrom checks GEN-06: X-Forwarded-For counts only when the peer is a
// trusted proxy, and then only up to the first untrusted hop.
func TestFrom(t *testing.T) {
	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
	}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"direct peer, no header", "203.0.113.7:5555", nil, trusted, "203.0.113.7"},
		{"GEN-06 spoofed XFF from untrusted peer ignored", "203.0.113.7:5555", []string{"198.51.100.1"}, trusted, "203.0.113.7"},
		{"GEN-06 no trusted proxies configured", "10.0.0.1:80", []string{"198.51.100.1"}, nil, "10.0.0.1"},
		{"trusted proxy, one hop", "10.0.0.1:80", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"trusted proxy, client-prepended spoof skipped", "10.0.0.1:80", []string{"1.2.3.4, 198.51.100.1"}, trusted, "198.51.100.1"},
		{"two trusted proxies", "10.0.0.1:80", []string{"1.2.3.4, 198.51.100.1, 10.0.0.2"}, trusted, "198.51.100.1"},
		{"several header lines", "10.0.0.1:80", []string{"1.2.3.4", "198.51.100.1, 10.0.0.2"}, trusted, "198.51.100.1"},
		{"all hops trusted", "10.0.0.1:80", []string{"10.0.0.3, 10.0.0.2"}, trusted, "10.0.0.3"},
		{"trusted proxy, no header", "10.0.0.1:80", nil, trusted, "10.0.0.1"},
		{"malformed hop stops walk", "10.0.0.1:80", []string{"1.2.3.4, garbage"}, trusted, "10.0.0.1"},
		{"malformed hop after trusted", "10.0.0.1:80", []string{"garbage, 10.0.0.2"}, trusted, "10.0.0.2"},
		{"hop with port", "10.0.0.1:80", []string{"198.51.100.1:4444"}, trusted, "198.51.100.1"},
		{"IPv6 peer", "[2001:db8::1]:443", []string{"198.51.100.1"}, trusted, "2001:db8::1"},
		{"IPv6 trusted proxy, IPv6 hop", "[fd00::1]:443", []string{"[2001:db8::2]:1234"}, trusted, "2001:db8::2"},
		{"IPv4-mapped peer unmapped", "[::ffff:203.0.113.7]:80", nil, trusted, "203.0.113.7"},
		{"IPv4-mapped trusted peer", "[::ffff:10.0.0.1]:80", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"RemoteAddr without port", "203.0.113.7", nil, trusted, "203.0.113.7"},
		{"unparseable RemoteAddr", "pipe", []string{"198.51.100.1"}, trusted, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := From(r, tt.trusted).String(); got != tt.want {
				t.Errorf("From(%q, XFF %q) = %s, want %s", tt.remote, tt.xff, got, tt.want)
			}
		})
	}
}

// TestResolverKey: an IPv4 client is counted by its address, an IPv6 one
// by its /64, unless configured otherwise, so that one subscriber cannot
// take a fresh budget with each of its 2^64 addresses.
func TestResolverKey(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		r      Resolver
		want   string
	}{
		{"ipv4", "203.0.113.7:5000", Resolver{}, "203.0.113.7"},
		{"ipv6 by /64", "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:5000", Resolver{}, "2001:db8:1:2::/64"},
		{"another address of the same /64", "[2001:db8:1:2::1]:5000", Resolver{}, "2001:db8:1:2::/64"},
		{"ipv4-mapped is ipv4", "[::ffff:203.0.113.7]:5000", Resolver{}, "203.0.113.7"},
		{"ipv4 by /24", "203.0.113.7:5000", Resolver{IPv4Bits: 24}, "203.0.113.0/24"},
		{"ipv6 by /128", "[2001:db8:1:2::1]:5000", Resolver{IPv6Bits: 128}, "2001:db8:1:2::1"},
		{"ipv6 by /56", "[2001:db8:1:2ff::1]:5000", Resolver{IPv6Bits: 56}, "2001:db8:1:200::/56"},
		{"unparsable peer", "nonsense", Resolver{}, "invalid IP"},
	}
	for _, tt := range tests {
		r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
		if got := tt.r.Key(r); got != tt.want {
			t.Errorf("%s: Key = %q, want %q", tt.name, got, tt.want)
		}
	}
}
