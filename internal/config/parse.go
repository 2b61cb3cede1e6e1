package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The parsers below read one setting's value. Each error begins with the
// quoted value; Load prefixes the setting's name.

// parseAddr reads a listen address, host:port with a numeric port. The host
// may be empty (every interface).
func parseAddr(v string) (string, error) {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", fmt.Errorf("%q: want host:port: %w", v, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("%q: port %q is not a number 0..65535", v, port)
	}
	return v, nil
}

// parseLoopbackAddr reads an optional host:port that must be a loopback IP:
// profiles reveal memory contents and must not be reachable from outside.
func parseLoopbackAddr(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	host, _, err := net.SplitHostPort(v)
	if err != nil {
		return "", fmt.Errorf("%q: want host:port: %w", v, err)
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return "", fmt.Errorf("%q: must be a loopback address such as 127.0.0.1:6060", v)
	}
	return parseAddr(v)
}

// parsePrivateAddr reads an optional host:port on a loopback or private IP
// address (RFC 1918, RFC 4193): metrics tell request rates and client
// ids, which are for the operator's network, not the internet.
func parsePrivateAddr(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	host, _, err := net.SplitHostPort(v)
	if err != nil {
		return "", fmt.Errorf("%q: want host:port: %w", v, err)
	}
	if ip, err := netip.ParseAddr(host); err != nil || !(ip.IsLoopback() || ip.IsPrivate()) {
		return "", fmt.Errorf("%q: must be a loopback or private IP address, such as 127.0.0.1:9090 or 10.0.0.5:9090", v)
	}
	return parseAddr(v)
}

// parseLogFormat reads text or json.
func parseLogFormat(v string) (string, error) {
	switch f := strings.ToLower(v); f {
	case "text", "json":
		return f, nil
	}
	return "", fmt.Errorf("%q: want text or json", v)
}

// parseIssuer reads the issuer identifier: an absolute http or https URL
// with a host and no query, fragment or user info (RFC 8414 §2 and OpenID
// Connect Discovery §4 allow a path). Trailing '/'s are dropped so that
// endpoint URLs join cleanly and the "iss" claim has one spelling.
func parseIssuer(v string) (string, error) {
	trimmed := strings.TrimRight(v, "/")
	u, err := url.Parse(trimmed)
	switch {
	case err != nil:
		return "", fmt.Errorf("%q: not a URL: %w", v, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%q: want an absolute http:// or https:// URL", v)
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("%q: URL has no host", v)
	case u.User != nil:
		return "", fmt.Errorf("%q: URL must not carry user info", v)
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("%q: URL must not have a query", v)
	case u.Fragment != "" || strings.Contains(trimmed, "#"):
		return "", fmt.Errorf("%q: URL must not have a fragment", v)
	}
	return trimmed, nil
}

// parseInt reads a decimal integer in lo..hi.
func parseInt(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%q: not an integer", v)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%q: must be %d..%d", v, lo, hi)
	}
	return n, nil
}

// parseSeconds reads a whole number of seconds in lo..hi.
func parseSeconds(v string, lo, hi int) (time.Duration, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%q: not an integer number of seconds", v)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%q: must be %d..%d seconds", v, lo, hi)
	}
	return time.Duration(n) * time.Second, nil
}

// parseDuration reads a positive Go duration ("90m", "720h"), in lo..hi
// unless both are 0.
func parseDuration(v string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q: not a duration such as 90m or 720h", v)
	case d <= 0:
		return 0, fmt.Errorf("%q: must be positive", v)
	case (lo != 0 || hi != 0) && (d < lo || d > hi):
		return 0, fmt.Errorf("%q: must be %s..%s", v, formatDuration(lo), formatDuration(hi))
	}
	return d, nil
}

// formatDuration writes d as Duration.String does, without zero minutes and
// seconds: "24h" rather than "24h0m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// parseBool reads true, false, 1 or 0, in any case.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q: want true, false, 1 or 0", v)
}

// parseAlg reads a JWS signing algorithm grantd supports (RFC 7518,
// RFC 8037), in any case, and returns its registered spelling.
func parseAlg(v string) (string, error) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		if strings.EqualFold(v, alg) {
			return alg, nil
		}
	}
	return "", fmt.Errorf("%q: want RS256, ES256 or EdDSA", v)
}

// parsePrefixes reads a comma-separated list of CIDR prefixes and single
// addresses. Host bits of a prefix are cleared; an address is a prefix of
// its full length. The empty string is the empty list.
func parsePrefixes(v string) ([]netip.Prefix, error) {
	if v == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("%q: empty entry", v)
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", v, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", v, err)
		}
		if a.Zone() != "" {
			return nil, fmt.Errorf("%q: %q: IPv6 zones are not allowed", v, item)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// parseSiteName reads the service's name: at most 64 characters, none of
// them a control character.
func parseSiteName(v string) (string, error) {
	if utf8.RuneCountInString(v) > 64 {
		return "", fmt.Errorf("%q: at most 64 characters", v)
	}
	for _, r := range v {
		if unicode.IsControl(r) || !utf8.ValidRune(r) || r == utf8.RuneError {
			return "", fmt.Errorf("%q: has a control or invalid character", v)
		}
	}
	return v, nil
}

// siteHost is the host (and port) an https URL of the pages may name: it
// becomes a source of their Content-Security-Policy.
var siteHost = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$`)

// parseHTTPSURL reads an optional absolute https URL with a host and no
// user info; "" is none.
func parseHTTPSURL(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return "", fmt.Errorf("%q: not a URL: %w", v, err)
	case u.Scheme != "https" || u.Hostname() == "":
		return "", fmt.Errorf("%q: want an absolute https:// URL", v)
	case u.User != nil:
		return "", fmt.Errorf("%q: URL must not carry user info", v)
	case !siteHost.MatchString(u.Host):
		return "", fmt.Errorf("%q: the host has characters a host name cannot have", v)
	}
	return v, nil
}

// accentColour is the one form an accent colour is kept in: it goes into
// the pages' CSS.
var accentColour = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// parseAccent reads an optional CSS hex colour, #rgb or #rrggbb in any
// case, and returns it as lower-case #rrggbb; "" is none.
func parseAccent(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	c := strings.ToLower(v)
	if len(c) == 4 && c[0] == '#' {
		c = string([]byte{'#', c[1], c[1], c[2], c[2], c[3], c[3]})
	}
	if !accentColour.MatchString(c) {
		return "", fmt.Errorf("%q: want a CSS hex colour such as #1d4ed8", v)
	}
	return c, nil
}
