package oauth

import (
	"fmt"
	"strings"
)

// ParseScope splits a scope parameter (RFC 6749 §3.3) into its tokens,
// dropping repeats and keeping their order. A token may hold only the
// characters %x21 / %x23-5B / %x5D-7E.
func ParseScope(s string) ([]string, *Error) {
	var out []string
	seen := make(map[string]bool)
	for _, tok := range strings.Split(s, " ") {
		if tok == "" {
			continue
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
				return nil, NewError(InvalidScope, "The scope parameter is malformed.")
			}
		}
		if !seen[tok] {
			seen[tok] = true
			out = append(out, tok)
		}
	}
	return out, nil
}

// optionalScopes are OpenID Connect's standard scopes that ask for claims
// or a refresh token (OpenID Connect Core §5.4, §11). A client that asks
// for one it was not allowed simply does not get it: OpenID Connect Core
// §3.1.2.1 has servers ignore scope values they do not serve, and
// off-the-shelf clients (oauth2-proxy, openid-client) ask for several by
// default.
var optionalScopes = []string{"profile", "email", "address", "phone", "offline_access"}

// GrantScopes decides the scopes of a request: the requested ones that are
// allowed, less the optional scopes the client was not allowed (ignored),
// or every allowed scope when none was requested (RFC 6749 §3.3 lets the
// server apply a default). Any other scope not allowed fails the request
// with invalid_scope, naming it.
func GrantScopes(requested, allowed []string) ([]string, *Error) {
	if len(requested) == 0 {
		return append([]string(nil), allowed...), nil
	}
	granted := make([]string, 0, len(requested))
	for _, s := range requested {
		switch {
		case contains(allowed, s):
			granted = append(granted, s)
		case contains(optionalScopes, s):
		default:
			// s has only the characters ParseScope lets through: no quote
			// or backslash, so %q shows it as it is.
			return nil, NewError(InvalidScope, fmt.Sprintf("The scope %q is not allowed for this client.", s))
		}
	}
	return granted, nil
}

// Subset reports whether every scope in a is in b.
func Subset(a, b []string) bool {
	for _, s := range a {
		if !contains(b, s) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
