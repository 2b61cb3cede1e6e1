package jsonstr

import (
	"encoding/json"
	"testing"
)

// TestPlain checks Plain against json.Marshal for every byte alone and
// within a string, and for strings of several bytes: a Plain string is one
// json.Marshal leaves unchanged, and every printable ASCII string that it
// leaves unchanged is Plain.
func TestPlain(t *testing.T) {
	var cases []string
	for c := 0; c < 256; c++ {
		cases = append(cases, string([]byte{byte(c)}), "a"+string([]byte{byte(c)})+"b")
	}
	cases = append(cases, "", "openid offline_access", "https://cloud.example/cb?x=1;y=2", "lämpa", "\u2028")
	for _, s := range cases {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		want := string(b) == `"`+s+`"` && printableASCII(s)
		if got := Plain(s); got != want {
			t.Errorf("Plain(%q) = %v, but json.Marshal writes %s", s, got, b)
		}
	}
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
