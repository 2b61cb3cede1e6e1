package oauth

import (
	"strconv"
	"strings"
)

// object writes a JSON object of string and integer members in the bytes
// json.Marshal writes for a struct of those fields, as long as every string
// is one json.Marshal writes unchanged between quotes (see str). Once one is
// not, ok turns false and the caller falls back to json.Marshal, which knows
// every escape.
type object struct {
	b  []byte
	ok bool
}

func newObject(size int) *object {
	return &object{b: append(make([]byte, 0, size), '{'), ok: true}
}

func (o *object) name(n string) {
	if len(o.b) > 1 {
		o.b = append(o.b, ',')
	}
	o.b = append(append(append(o.b, '"'), n...), '"', ':')
}

// str writes a string member. It quotes v with strconv.AppendQuote, whose
// every escape is longer than what it replaces, so v came out unchanged
// exactly when the length says so; and it escapes all that json.Marshal
// escapes ('"', '\\', control characters, U+2028, U+2029, invalid UTF-8)
// except '<', '>' and '&', checked apart. Then json.Marshal writes v
// unchanged too. Otherwise (for a few strings json.Marshal leaves as they
// are, such as one with DEL, as well) ok turns false.
func (o *object) str(n, v string) {
	if !o.ok {
		return
	}
	o.name(n)
	start := len(o.b)
	o.b = strconv.AppendQuote(o.b, v)
	if len(o.b)-start != len(v)+2 || strings.ContainsAny(v, "<>&") {
		o.ok = false
	}
}

// strOmitEmpty writes a string member unless it is empty (omitempty).
func (o *object) strOmitEmpty(n, v string) {
	if v != "" {
		o.str(n, v)
	}
}

// num writes an integer member.
func (o *object) num(n string, v int64) {
	o.name(n)
	o.b = strconv.AppendInt(o.b, v, 10)
}

// numOmitEmpty writes an integer member unless it is zero (omitempty).
func (o *object) numOmitEmpty(n string, v int64) {
	if v != 0 {
		o.num(n, v)
	}
}

// boolean writes a boolean member.
func (o *object) boolean(n string, v bool) {
	o.name(n)
	o.b = strconv.AppendBool(o.b, v)
}

// end closes the object; ok is false when the caller must fall back.
func (o *object) end() ([]byte, bool) {
	return append(o.b, '}'), o.ok
}
