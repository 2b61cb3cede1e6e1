// Package locale holds the words of grantd's pages in each language they
// are written in, and chooses the language of a request: OpenID Connect's
// ui_locales first, then the browser's Accept-Language, then English.
//
// Messages are named by keys ("signin.title") and may hold named
// placeholders ("{app} is now connected"), filled from name/value pairs.
// A message with a count has two forms, key + ".one" and key + ".other",
// chosen by the language's plural rule. Every language must define every
// key English defines, with the same placeholders; the package's tests
// check it. A key a language lacks renders as MissingMark followed by the
// key, so that a page test finds it, and never as an empty string.
//
// The catalog is our own rather than golang.org/x/text/message's: that one
// is keyed by the English text and falls back to it silently, so a missing
// translation cannot be told from a present one, and it brings a
// formatting language the pages do not need. Only the matching of
// language tags, where the edge cases are, comes from
// golang.org/x/text/language.
package locale

import (
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// Key names a message.
type Key string

// Lang is a language the pages are written in, by its BCP 47 tag.
type Lang string

// The languages of the pages. English is the default.
const (
	English Lang = "en"
	French  Lang = "fr"
	German  Lang = "de"
)

// MissingMark begins what a message that a language lacks renders as.
const MissingMark = "⟦missing:"

// Supported returns every language, English first.
func Supported() []Lang { return []Lang{English, French, German} }

// matcher matches requested tags against Supported, in its order.
var matcher = language.NewMatcher([]language.Tag{language.English, language.French, language.German})

// Match returns the language for a request: the first tag of uiLocales (a
// space-separated list in order of preference, OpenID Connect Core
// §3.1.2.1) that a supported language serves, else the best match for the
// Accept-Language header, else English. Malformed input is ignored.
func Match(uiLocales, acceptLanguage string) Lang {
	for _, f := range strings.Fields(uiLocales) {
		if len(f) > 35 { // longer than any real tag
			continue
		}
		if tag, err := language.Parse(f); err == nil {
			if l, ok := match(tag); ok {
				return l
			}
		}
	}
	if len(acceptLanguage) <= 512 {
		if tags, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil && len(tags) > 0 {
			if l, ok := match(tags...); ok {
				return l
			}
		}
	}
	return English
}

// match returns the supported language that serves the tags, if any does
// with at least high confidence (Norwegian is not served by German).
func match(tags ...language.Tag) (Lang, bool) {
	_, i, conf := matcher.Match(tags...)
	if conf < language.High {
		return "", false
	}
	return Supported()[i], true
}

// T returns the message key in l with its placeholders filled from args,
// pairs of a name and a value ("app", "Living-room TV"). A key l lacks
// renders as MissingMark + key + "⟧".
func (l Lang) T(key Key, args ...any) string {
	msg, ok := catalogs[l].messages[key]
	if !ok {
		return MissingMark + string(key) + "⟧"
	}
	return fill(msg, args)
}

// N returns the form of the message key for the count n (key + ".one" or
// key + ".other" by l's plural rule), with {n} and args filled in.
func (l Lang) N(key Key, n int, args ...any) string {
	form := ".other"
	if c, ok := catalogs[l]; ok && c.one(n) {
		form = ".one"
	}
	return l.T(key+Key(form), append([]any{"n", n}, args...)...)
}

// fill replaces each {name} of msg with its value in args.
func fill(msg string, args []any) string {
	if len(args) < 2 || !strings.Contains(msg, "{") {
		return msg
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		name, _ := args[i].(string)
		pairs = append(pairs, "{"+name+"}", toString(args[i+1]))
	}
	return strings.NewReplacer(pairs...).Replace(msg)
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case interface{ String() string }:
		return x.String()
	}
	return ""
}

// Date writes t's day and time in UTC the way l writes dates: "3 Dec
// 2026, 21:40 UTC".
func (l Lang) Date(t time.Time) string {
	c, ok := catalogs[l]
	if !ok {
		c = catalogs[English]
	}
	t = t.UTC()
	return fill(c.dateLayout, []any{"d", t.Day(), "mon", c.months[t.Month()-1], "y", t.Year(),
		"time", t.Format("15:04")})
}

// Since says how long ago t was, coarsely — "in the last 24 hours", "3
// days ago" — or, beyond 60 days, its date.
func (l Lang) Since(t, now time.Time) string {
	age := now.Sub(t)
	switch days := int(age / (24 * time.Hour)); {
	case age < 24*time.Hour:
		return l.T("since.today")
	case days <= 60:
		return l.N("since.days", days)
	}
	return l.T("since.date", "date", l.Date(t))
}

// In says when something can be tried again, d from now: "in 40 seconds",
// "in 5 minutes", "in 2 hours", rounded up.
func (l Lang) In(d time.Duration) string {
	switch {
	case d <= 90*time.Second:
		return l.N("in.seconds", int(max((d+time.Second-1)/time.Second, 1)))
	case d <= 90*time.Minute:
		return l.N("in.minutes", int((d+time.Minute-1)/time.Minute))
	}
	return l.N("in.hours", int((d+time.Hour-1)/time.Hour))
}

// catalog is one language's messages and conventions.
type catalog struct {
	messages map[Key]string
	// months are the abbreviated month names, January first.
	months [12]string
	// dateLayout places {d}, {mon}, {y} and {time}.
	dateLayout string
	// one reports whether a count takes the ".one" form.
	one func(n int) bool
}

// catalogs are the languages' catalogs; never changed after start-up.
var catalogs = map[Lang]catalog{
	English: {messages: english, dateLayout: "{d} {mon} {y}, {time} UTC", one: func(n int) bool { return n == 1 },
		months: [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}},
	French: {messages: french, dateLayout: "{d} {mon} {y}, {time} UTC", one: func(n int) bool { return n == 0 || n == 1 },
		months: [12]string{"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."}},
	German: {messages: german, dateLayout: "{d}. {mon} {y}, {time} UTC", one: func(n int) bool { return n == 1 },
		months: [12]string{"Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."}},
}

// Keys returns every key English defines.
func Keys() []Key {
	keys := make([]Key, 0, len(english))
	for k := range english {
		keys = append(keys, k)
	}
	return keys
}
