// Package jsonstr tells which strings encoding/json writes unchanged, so
// that hot paths can write JSON by hand and fall back to encoding/json only
// for strings that need escaping.
package jsonstr

// Plain reports whether s is printable ASCII (0x20 to 0x7e) without '"' and
// '\\', which json.Marshal escapes, nor '<', '>' and '&', which it escapes
// for HTML: then json.Marshal writes s as it is, between quotes. Other
// strings it may write unchanged too (DEL, most UTF-8); Plain leaves them
// to encoding/json.
func Plain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
