package sqlstore

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grantd/grantd/internal/jsonstr"
)

// Lists (scopes, redirect URIs, grant types) are stored as JSON arrays of
// strings. Nearly every one is plain ASCII that JSON writes as is, so both
// directions have a path without reflection (on the hot path of every
// grant, refresh and introspection) and fall back to encoding/json for
// anything else. Both paths give what encoding/json gives.

// dbList encodes a list as a JSON array; an empty list is "[]".
func dbList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	n := 1 + len(l) // the brackets and commas
	for _, s := range l {
		if !jsonstr.Plain(s) {
			b, _ := json.Marshal(l) // a []string always marshals
			return string(b)
		}
		n += len(s) + 2
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('[')
	for i, s := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(s)
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}

// goList decodes a JSON array of strings; an empty array is nil.
func goList(s string) ([]string, error) {
	if l, ok := plainList(s); ok {
		return l, nil
	}
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

// plainList decodes s when it is what dbList writes for plain strings:
// `[]`, or `["a","b"]` with no white space and every string jsonstr.Plain. It
// reports false for anything else, which goList leaves to encoding/json.
func plainList(s string) ([]string, bool) {
	if s == "[]" {
		return nil, true
	}
	if len(s) < 4 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, false
	}
	body := s[1 : len(s)-1] // "a","b"
	l := make([]string, 0, strings.Count(body, `","`)+1)
	for {
		if len(body) < 2 || body[0] != '"' {
			return nil, false
		}
		end := strings.IndexByte(body[1:], '"') + 1
		if end == 0 || !jsonstr.Plain(body[1:end]) {
			return nil, false
		}
		l = append(l, body[1:end])
		body = body[end+1:]
		if body == "" {
			return l, true
		}
		if body[0] != ',' {
			return nil, false
		}
		body = body[1:]
	}
}
