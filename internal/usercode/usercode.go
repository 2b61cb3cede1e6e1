// Package usercode is the code format engine: it draws device codes and user
// codes uniformly from a configured alphabet, states their entropy, turns
// what a person typed into the stored form, and groups codes for display.
//
// A format is a string of letters, each naming a class of characters; the
// alphabet is the union of the classes:
//
//	#  digits 0-9
//	a  lower-case letters a-z
//	A  upper-case letters A-Z
//	b  lower-case consonants bcdfghjklmnpqrstvwxz
//	B  upper-case consonants BCDFGHJKLMNPQRSTVWXZ
//	!  punctuation !#$%&*+=?@^_~
//
// "#B" with length 8 gives the RFC 8628 §6.1 style of user code ("WDJB-MJHT",
// 8·log2(30) ≈ 39.3 bits); "#aA" with length 64 gives a device code of about
// 381 bits, well above the 128 bits RFC 6749 §10.10 asks for.
package usercode

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode"
)

// Character classes, in the order in which they make up an alphabet.
const (
	digits          = "0123456789"
	lower           = "abcdefghijklmnopqrstuvwxyz"
	upper           = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerConsonants = "bcdfghjklmnpqrstvwxz"
	upperConsonants = "BCDFGHJKLMNPQRSTVWXZ"
	// punctuation holds neither '-' nor whitespace: Normalize strips those
	// as separators, so a code containing one could never be typed back.
	// Codes drawn from it must be query-escaped in verification_uri_complete
	// ('#', '&', '+', '=', '?' and '%' mean something in a URL).
	punctuation = "!#$%&*+=?@^_~"
)

// letterList is the format letters, in the order their classes make up an
// alphabet.
const letterList = "#aAbB!"

// class returns the characters a format letter stands for.
func class(letter byte) string {
	switch letter {
	case '#':
		return digits
	case 'a':
		return lower
	case 'A':
		return upper
	case 'b':
		return lowerConsonants
	case 'B':
		return upperConsonants
	case '!':
		return punctuation
	}
	panic(fmt.Sprintf("usercode: no class for format letter %q", letter))
}

// caseFold says how Normalize folds letters.
type caseFold uint8

const (
	foldNone  caseFold = iota // no letters, or both cases: keep as typed
	foldUpper                 // upper-case letters only
	foldLower                 // lower-case letters only
)

// Format is a set of characters codes are drawn from, given by format
// letters (see the package documentation). The zero Format has an empty
// alphabet: Generate fails and Valid reports false for every code.
type Format struct {
	spec     string
	alphabet string
	fold     caseFold
}

// ParseFormat reads a format spec such as "#B". Each letter may appear at
// most once; an empty spec, an unknown letter or a repeated one is an error
// that begins with the quoted spec and names the letter.
func ParseFormat(spec string) (Format, error) {
	if spec == "" {
		return Format{}, fmt.Errorf("%q: empty format; want letters from %q", spec, letterList)
	}
	var given [len(letterList)]bool
	for _, r := range spec {
		i := strings.IndexRune(letterList, r)
		if i < 0 {
			return Format{}, fmt.Errorf("%q: unknown format letter %q; want letters from %q", spec, r, letterList)
		}
		if given[i] {
			return Format{}, fmt.Errorf("%q: format letter %q repeated", spec, r)
		}
		given[i] = true
	}
	var b strings.Builder
	var seen [256]bool
	for i := range len(letterList) {
		if !given[i] {
			continue
		}
		for _, c := range []byte(class(letterList[i])) {
			if !seen[c] {
				seen[c] = true
				b.WriteByte(c)
			}
		}
	}
	alphabet := b.String()
	return Format{spec: spec, alphabet: alphabet, fold: foldFor(alphabet)}, nil
}

// foldFor picks the case fold for alphabet: fold to a case only when every
// letter in the alphabet has that case.
func foldFor(alphabet string) caseFold {
	hasUpper := strings.ContainsAny(alphabet, upper)
	hasLower := strings.ContainsAny(alphabet, lower)
	switch {
	case hasUpper && !hasLower:
		return foldUpper
	case hasLower && !hasUpper:
		return foldLower
	}
	return foldNone
}

// Spec returns the spec f was parsed from, as given.
func (f Format) Spec() string { return f.spec }

// String returns f's spec, so that a Format prints as it is configured.
func (f Format) String() string { return f.spec }

// Alphabet returns the characters of f without duplicates, in a fixed order:
// digits, lower case, upper case, punctuation, each in ASCII order. Two specs
// with the same classes ("#B" and "B#") have the same alphabet.
func (f Format) Alphabet() string { return f.alphabet }

// Bits returns the entropy of a code of length characters drawn uniformly
// from f: length·log2(|alphabet|). It is 0 for the zero Format.
func (f Format) Bits(length int) float64 {
	if f.alphabet == "" {
		return 0
	}
	return float64(length) * math.Log2(float64(len(f.alphabet)))
}

// Generate returns a code of length characters drawn independently and
// uniformly from f's alphabet, using random bytes from r (crypto/rand.Reader
// in production).
//
// It has no modulo bias: with n characters, a byte b is used only when it is
// below the largest multiple of n not above 256, and then stands for
// character b mod n, so every character has exactly the same number of
// bytes standing for it. Other bytes are rejected. Bytes are read in
// batches sized for the expected rejections, so one call usually makes one
// read.
func (f Format) Generate(r io.Reader, length int) (string, error) {
	n := len(f.alphabet)
	if n == 0 {
		return "", errors.New("generate code: empty format")
	}
	if length <= 0 {
		return "", fmt.Errorf("generate code: length %d: must be positive", length)
	}
	limit := 256 - 256%n // bytes in [limit, 256) would favour the first 256%n characters
	// The code is built in place at the front of buf: each accepted byte is
	// written at an index no greater than the one it was read from.
	buf := make([]byte, length*256/limit+16)
	code := buf[:0]
	for len(code) < length {
		fresh := buf[len(code):]
		if _, err := io.ReadFull(r, fresh); err != nil {
			return "", fmt.Errorf("generate code: read random bytes: %w", err)
		}
		for _, b := range fresh {
			if int(b) < limit && len(code) < length {
				code = append(code, f.alphabet[int(b)%n])
			}
		}
	}
	return string(code), nil
}

// Normalize turns what a person typed into the stored form of a code
// (RFC 8628 §6.1, DEV-08): it drops '-' and the other Unicode dashes,
// spaces and other white space, and, when the alphabet's letters are all of
// one case, folds ASCII letters to that case, so "wdjb-mjht", "WDJBMJHT" and
// " wdjb mjht " are one code for "#B". Mixed-case alphabets are not folded. Invalid UTF-8 becomes U+FFFD. The
// result may still be invalid (see Valid); Normalize is idempotent.
func (f Format) Normalize(input string) string {
	var b strings.Builder
	b.Grow(len(input))
	for _, r := range input { // ranging replaces invalid UTF-8 with utf8.RuneError
		switch {
		case isSeparator(r):
			continue
		case f.fold == foldUpper && 'a' <= r && r <= 'z':
			r -= 'a' - 'A'
		case f.fold == foldLower && 'A' <= r && r <= 'Z':
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isSeparator reports whether r is dropped from typed codes: '-' and the
// other Unicode dashes (a phone may turn "-" into "–"), and white space.
func isSeparator(r rune) bool {
	return r == '-' || unicode.Is(unicode.Pd, r) || unicode.IsSpace(r)
}

// Valid reports whether code, already normalized, is non-empty and made only
// of characters of f's alphabet. The caller checks the length.
func (f Format) Valid(code string) bool {
	if code == "" {
		return false
	}
	for i := 0; i < len(code); i++ {
		if strings.IndexByte(f.alphabet, code[i]) < 0 { // the alphabet is ASCII
			return false
		}
	}
	return true
}

// Group returns the display form of a code: groups of 4 joined by '-'
// ("WDJBMJHT" → "WDJB-MJHT"); a length divisible by 3 but not by 4 in groups
// of 3 ("123456789" → "123-456-789"); any other length in groups of 4 with a
// shorter last group. Codes of 4 characters or fewer are returned unchanged.
// Group counts bytes, as codes are ASCII; Normalize undoes it.
func Group(code string) string {
	if len(code) <= 4 {
		return code
	}
	size := 4
	if len(code)%3 == 0 && len(code)%4 != 0 {
		size = 3
	}
	var b strings.Builder
	b.Grow(len(code) + len(code)/size)
	for i := 0; i < len(code); i += size {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(code[i:min(i+size, len(code))])
	}
	return b.String()
}
