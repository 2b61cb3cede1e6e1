package config

import (
	"fmt"
	"strings"
)

// TokenSet is which tokens a successful device grant returns
// (RESULT_TOKEN_SET). Access is always true in a TokenSet from
// ParseTokenSet: a device needs an access token.
type TokenSet struct{ Access, Refresh, ID bool }

// ParseTokenSet reads a '+'-separated set of ACCESS, REFRESH and ID, in any
// order and case, e.g. "ACCESS+REFRESH". Each name may appear once and ACCESS
// is required. Errors begin with the quoted input.
func ParseTokenSet(s string) (TokenSet, error) {
	var t TokenSet
	for part := range strings.SplitSeq(s, "+") {
		var flag *bool
		switch strings.ToUpper(strings.TrimSpace(part)) {
		case "ACCESS":
			flag = &t.Access
		case "REFRESH":
			flag = &t.Refresh
		case "ID":
			flag = &t.ID
		default:
			return TokenSet{}, fmt.Errorf("%q: unknown token %q; want ACCESS, REFRESH or ID joined by '+'", s, part)
		}
		if *flag {
			return TokenSet{}, fmt.Errorf("%q: token %q given twice", s, part)
		}
		*flag = true
	}
	if !t.Access {
		return TokenSet{}, fmt.Errorf("%q: ACCESS is required (a device needs an access token)", s)
	}
	return t, nil
}

// String returns t as ParseTokenSet reads it, in the order ACCESS, REFRESH,
// ID, e.g. "ACCESS+REFRESH".
func (t TokenSet) String() string {
	var parts []string
	for _, p := range []struct {
		on   bool
		name string
	}{{t.Access, "ACCESS"}, {t.Refresh, "REFRESH"}, {t.ID, "ID"}} {
		if p.on {
			parts = append(parts, p.name)
		}
	}
	return strings.Join(parts, "+")
}
