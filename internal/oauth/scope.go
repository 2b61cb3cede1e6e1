package oauth

import "strings"

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

// GrantScopes decides the scopes of a request: the requested ones when every
// one is allowed (else invalid_scope), or every allowed scope when none was
// requested (RFC 6749 §3.3 lets the server apply a default).
func GrantScopes(requested, allowed []string) ([]string, *Error) {
	if len(requested) == 0 {
		return append([]string(nil), allowed...), nil
	}
	for _, s := range requested {
		if !contains(allowed, s) {
			return nil, NewError(InvalidScope, "A requested scope is not allowed for this client.")
		}
	}
	return requested, nil
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
