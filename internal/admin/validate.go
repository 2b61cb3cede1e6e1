package admin

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"

	"github.com/grantd/grantd/internal/oauth"
)

// Grant types a client may be given.
const (
	GrantDeviceCode        = oauth.GrantDeviceCode
	GrantRefreshToken      = oauth.GrantRefreshToken
	GrantAuthorizationCode = oauth.GrantAuthorizationCode
)

var (
	clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9._~:-]{1,128}$`)
	usernamePattern = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,64}$`)
)

// MinPasswordLength is the shortest password an operator may set.
const MinPasswordLength = 8

// checkAuthMethod maps the method an operator gave to its RFC 8414 name.
func checkAuthMethod(m string, public bool) (string, error) {
	switch m {
	case "HTTP_BASIC":
		m = oauth.AuthBasic
	case "REQUEST_BODY_CREDENTIALS":
		m = oauth.AuthPost
	}
	switch {
	case m == "" && public:
		return oauth.AuthNone, nil
	case m == "":
		return "", nil
	case m == oauth.AuthNone && public, (m == oauth.AuthBasic || m == oauth.AuthPost) && !public:
		return m, nil
	case public:
		return "", fmt.Errorf("auth method %q: a public client uses none", m)
	default:
		return "", fmt.Errorf("auth method %q: use client_secret_basic (HTTP_BASIC) or client_secret_post (REQUEST_BODY_CREDENTIALS)", m)
	}
}

func checkGrantTypes(gs []string) ([]string, error) {
	if len(gs) == 0 {
		return []string{GrantDeviceCode, GrantRefreshToken}, nil
	}
	for _, g := range gs {
		switch g {
		case GrantDeviceCode, GrantRefreshToken, GrantAuthorizationCode:
		default:
			return nil, fmt.Errorf("grant type %q: use %s, %s or %s", g, GrantDeviceCode, GrantRefreshToken, GrantAuthorizationCode)
		}
	}
	return gs, nil
}

// checkRedirectURIs enforces RFC 9700 §2.6 and RFC 8252 §7.3: absolute URIs
// without fragment, https, or plain http only for loopback IP literals
// (AZ-02). Private-use schemes of native apps (com.example.app:/cb) are kept.
func checkRedirectURIs(uris []string) ([]string, error) {
	for _, raw := range uris {
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(raw, "#") {
			return nil, fmt.Errorf("redirect URI %q: must be absolute, without a fragment", raw)
		}
		switch {
		case u.Scheme == "https":
			if u.Host == "" {
				return nil, fmt.Errorf("redirect URI %q: no host", raw)
			}
		case u.Scheme == "http":
			ip, err := netip.ParseAddr(u.Hostname())
			if err != nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("redirect URI %q: plain http only for loopback IP addresses (127.0.0.1, [::1])", raw)
			}
		case privateUseScheme(u.Scheme):
		default:
			return nil, fmt.Errorf("redirect URI %q: use https, http on a loopback IP address, "+
				"or an app's private-use scheme in reverse domain notation, such as com.example.app:/callback", raw)
		}
	}
	return uris, nil
}

// privateUseScheme reports whether scheme is a private-use URI scheme as
// RFC 8252 §7.1 has native apps register: a reverse domain name, which
// has a period. None of the schemes that run or embed content in a browser
// (javascript, data, vbscript, file, blob, about) has one.
func privateUseScheme(scheme string) bool {
	return strings.Contains(scheme, ".") && !strings.HasPrefix(scheme, ".") && !strings.HasSuffix(scheme, ".")
}

// pageHost is the host (and port) a URL shown on the pages may name: the
// logo's origin becomes a source of the consent page's
// Content-Security-Policy.
var pageHost = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$`)

// checkPageURL checks an optional URL the consent page shows: absolute
// https with a plain host, no user info and no fragment. grantd never
// fetches it; the browser does, so nothing else may be shown.
func checkPageURL(what, v string) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.User != nil || u.Fragment != "" ||
		!pageHost.MatchString(u.Host) || len(v) > 2000 {
		return "", fmt.Errorf("%s %q: must be an absolute https:// URL with a host name, no user info and no fragment", what, v)
	}
	return v, nil
}
