package usercode

import (
	"crypto/rand"
	"errors"
	"io"
	"math"
	randv2 "math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
	"unicode"
)

// seeded returns a deterministic source of random bytes for tests.
func seeded(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return randv2.NewChaCha8(s)
}

func mustParse(t testing.TB, spec string) Format {
	t.Helper()
	f, err := ParseFormat(spec)
	if err != nil {
		t.Fatalf("ParseFormat(%q): %v", spec, err)
	}
	return f
}

func TestParseFormatAlphabet(t *testing.T) {
	tests := []struct {
		spec, alphabet string
	}{
		{"#", "0123456789"},
		{"a", "abcdefghijklmnopqrstuvwxyz"},
		{"A", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{"b", "bcdfghjklmnpqrstvwxz"},
		{"B", "BCDFGHJKLMNPQRSTVWXZ"},
		{"!", "!#$%&*+=?@^_~"},
		{"#B", "0123456789BCDFGHJKLMNPQRSTVWXZ"},
		{"B#", "0123456789BCDFGHJKLMNPQRSTVWXZ"},
		{"#aA", "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{"ab", "abcdefghijklmnopqrstuvwxyz"},
		{"BA", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{"#!", "0123456789!#$%&*+=?@^_~"},
	}
	for _, tt := range tests {
		f := mustParse(t, tt.spec)
		if got := f.Alphabet(); got != tt.alphabet {
			t.Errorf("ParseFormat(%q).Alphabet() = %q, want %q", tt.spec, got, tt.alphabet)
		}
		if got := f.Spec(); got != tt.spec {
			t.Errorf("ParseFormat(%q).Spec() = %q, want the spec as given", tt.spec, got)
		}
	}
}

func TestParseFormatErrors(t *testing.T) {
	tests := []struct {
		spec, want string // want: a substring of the error
	}{
		{"", "empty format"},
		{"x", `unknown format letter 'x'`},
		{"#B-", `unknown format letter '-'`},
		{"# ", `unknown format letter ' '`},
		{"#é", `unknown format letter 'é'`},
		{"##", `format letter '#' repeated`},
		{"#aA#", `format letter '#' repeated`},
		{"BbB", `format letter 'B' repeated`},
	}
	for _, tt := range tests {
		_, err := ParseFormat(tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseFormat(%q) error = %v, want one containing %q", tt.spec, err, tt.want)
		}
	}
}

func TestGenerateCharsetAndLength(t *testing.T) {
	for _, spec := range []string{"#", "a", "A", "b", "B", "!", "#B", "#aA", "#aAbB!"} {
		f := mustParse(t, spec)
		r := seeded(1)
		for _, length := range []int{1, 4, 8, 9, 64, 200} {
			code, err := f.Generate(r, length)
			if err != nil {
				t.Fatalf("%q.Generate(%d): %v", spec, length, err)
			}
			if len(code) != length {
				t.Errorf("%q.Generate(%d) = %q: length %d", spec, length, code, len(code))
			}
			if !f.Valid(code) {
				t.Errorf("%q.Generate(%d) = %q: not all in alphabet %q", spec, length, code, f.Alphabet())
			}
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	boom := errors.New("boom")
	f := mustParse(t, "#B")
	tests := []struct {
		name   string
		f      Format
		r      io.Reader
		length int
	}{
		{"zero format", Format{}, seeded(1), 8},
		{"zero length", f, seeded(1), 0},
		{"negative length", f, seeded(1), -1},
		{"read error", f, iotest.ErrReader(boom), 8},
		{"short source", f, strings.NewReader("abc"), 8},
	}
	for _, tt := range tests {
		if code, err := tt.f.Generate(tt.r, tt.length); err == nil {
			t.Errorf("%s: Generate = %q, want an error", tt.name, code)
		}
	}
	if _, err := f.Generate(iotest.ErrReader(boom), 8); !errors.Is(err, boom) {
		t.Errorf("Generate error = %v, want it to wrap the reader's", err)
	}
}

// countingReader counts the calls to Read and the bytes read.
type countingReader struct {
	r            io.Reader
	calls, bytes int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.calls++
	c.bytes += n
	return n, err
}

func TestGenerateReadsInBatches(t *testing.T) {
	for _, tt := range []struct {
		spec   string
		length int
	}{{"#B", 8}, {"#aA", 64}, {"#aAbB!", 32}, {"!", 64}} {
		f := mustParse(t, tt.spec)
		for seed := range byte(20) {
			c := &countingReader{r: seeded(seed)}
			if _, err := f.Generate(c, tt.length); err != nil {
				t.Fatal(err)
			}
			if c.calls > 2 {
				t.Errorf("%q.Generate(%d), seed %d: %d reads, want 1 (2 after unlucky rejections)", tt.spec, tt.length, seed, c.calls)
			}
		}
	}
	// A reader that returns one byte at a time still works.
	f := mustParse(t, "#B")
	code, err := f.Generate(iotest.OneByteReader(seeded(1)), 8)
	if err != nil || len(code) != 8 {
		t.Errorf("Generate over a one-byte reader = %q, %v", code, err)
	}
}

// everyByte returns k cycles through the byte values 0..255.
func everyByte(k int) []byte {
	b := make([]byte, 0, 256*k)
	for range k {
		for v := range 256 {
			b = append(b, byte(v))
		}
	}
	return b
}

// TestGenerateUnbiased proves the rejection sampling exact: fed every byte
// value equally often, Generate yields every character exactly equally
// often, for alphabet sizes that do not divide 256 (30, 20, 13, 75) and one
// that does not either but is small (10). Modulo reduction would give the
// first 256 mod n characters one extra byte each.
func TestGenerateUnbiased(t *testing.T) {
	for _, spec := range []string{"#B", "b", "!", "#", "#aAbB!"} {
		f := mustParse(t, spec)
		n := len(f.Alphabet())
		limit := 256 - 256%n
		const cycles = 4
		length := cycles * limit // exactly the accepted bytes of four cycles
		code, err := f.Generate(io.MultiReader(strings.NewReader(string(everyByte(cycles))), zeros{}), length)
		if err != nil {
			t.Fatal(err)
		}
		counts := make(map[rune]int)
		for _, c := range code {
			counts[c]++
		}
		want := cycles * limit / n
		for _, c := range f.Alphabet() {
			if counts[c] != want {
				t.Errorf("%q (n=%d): character %q drawn %d times from %d cycles of all bytes, want exactly %d", spec, n, c, counts[c], cycles, want)
			}
		}
	}
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestGenerateRejectsHighBytes(t *testing.T) {
	f := mustParse(t, "#B") // n = 30: bytes 240..255 must be rejected
	src := append([]byte{240, 241, 250, 255}, 0, 1, 29, 30, 239)
	code, err := f.Generate(io.MultiReader(strings.NewReader(string(src)), zeros{}), 5)
	if err != nil {
		t.Fatal(err)
	}
	if want := "01Z0Z"; code != want { // 0→'0', 1→'1', 29→'Z', 30→'0', 239 (=7·30+29)→'Z'
		t.Errorf("Generate = %q, want %q", code, want)
	}
}

// chiSquare returns Pearson's statistic for counts against a uniform
// expectation.
func chiSquare(counts map[byte]int, n, total int) float64 {
	expected := float64(total) / float64(n)
	var x2 float64
	for _, c := range counts {
		d := float64(c) - expected
		x2 += d * d / expected
	}
	// Characters never drawn count too.
	x2 += float64(n-len(counts)) * expected
	return x2
}

// TestGenerateUniform draws 300,000 characters from seeded readers and
// checks them against the uniform distribution: the chi-square statistic
// must stay below the 0.999 quantile for the alphabet's degrees of freedom
// (a fixed seed makes the test deterministic), and no character may deviate
// from its expected count by more than 5 %, about 5 standard deviations.
func TestGenerateUniform(t *testing.T) {
	tests := []struct {
		spec     string
		critical float64 // χ² 0.999 quantile for n-1 degrees of freedom
	}{
		{"#", 27.88},  // 9 df
		{"!", 32.91},  // 12 df
		{"b", 43.82},  // 19 df
		{"#B", 58.30}, // 29 df
	}
	const total = 300_000
	for _, tt := range tests {
		f := mustParse(t, tt.spec)
		n := len(f.Alphabet())
		code, err := f.Generate(seeded(7), total)
		if err != nil {
			t.Fatal(err)
		}
		counts := make(map[byte]int)
		for i := range len(code) {
			counts[code[i]]++
		}
		if x2 := chiSquare(counts, n, total); x2 > tt.critical {
			t.Errorf("%q: χ² = %.1f over %d characters, want ≤ %.2f", tt.spec, x2, total, tt.critical)
		}
		expected := float64(total) / float64(n)
		for _, c := range []byte(f.Alphabet()) {
			if dev := math.Abs(float64(counts[c])-expected) / expected; dev > 0.05 {
				t.Errorf("%q: character %q drawn %d times, %.1f%% from the expected %.0f", tt.spec, c, counts[c], 100*dev, expected)
			}
		}
	}
}

// TestChiSquareDetectsModuloBias shows that TestGenerateUniform would catch
// the bug it guards against: plain modulo reduction over 30 characters.
func TestChiSquareDetectsModuloBias(t *testing.T) {
	const n, total = 30, 300_000
	raw := make([]byte, total)
	seeded(7).Read(raw)
	counts := make(map[byte]int)
	for _, b := range raw {
		counts[b%n]++
	}
	if x2 := chiSquare(counts, n, total); x2 <= 58.30 {
		t.Errorf("χ² of modulo-biased draws = %.1f, want it above the 58.30 threshold", x2)
	}
}

func TestBits(t *testing.T) {
	tests := []struct {
		spec   string
		length int
		want   float64
	}{
		{"#B", 8, 8 * math.Log2(30)}, // ≈ 39.26
		{"B", 8, 8 * math.Log2(20)},  // ≈ 34.6, RFC 8628 §5.1's example
		{"#", 9, 9 * math.Log2(10)},  // ≈ 29.9
		{"#", 6, 6 * math.Log2(10)},  // ≈ 19.9
		{"#aA", 64, 64 * math.Log2(62)},
		{"#aA", 16, 16 * math.Log2(62)}, // ≈ 95.3, too weak for a device code
		{"#aAbB!", 10, 10 * math.Log2(75)},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.spec).Bits(tt.length); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%q.Bits(%d) = %v, want %v", tt.spec, tt.length, got, tt.want)
		}
	}
	if got := (Format{}).Bits(8); got != 0 {
		t.Errorf("zero Format.Bits(8) = %v, want 0", got)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		spec, input, want string
	}{
		// DEV-08: spelling variants of one code are one code.
		{"#B", "wdjb-mjht", "WDJBMJHT"},
		{"#B", "WDJBMJHT", "WDJBMJHT"},
		{"#B", " wdjb mjht ", "WDJBMJHT"},
		{"#B", "Wdjb\t-\nMjht", "WDJBMJHT"},
		{"#B", "wdjb\u00a0mjht\u3000", "WDJBMJHT"}, // no-break and ideographic spaces
		{"#B", "12-34", "1234"},
		{"#B", "wdjb–mjht", "WDJBMJHT"}, // en dash, as phones may type
		{"#B", "wdjb‐mjht", "WDJBMJHT"}, // Unicode hyphen
		{"b", "WDJB-MJHT", "wdjbmjht"},
		{"a#", "AbC-1", "abc1"},
		{"#", " 123-456-789 ", "123456789"},
		// Mixed case is kept as typed.
		{"#aA", "aB-cD", "aBcD"},
		{"aB", "wdjb-MJHT", "wdjbMJHT"},
		// Only ASCII letters are folded.
		{"#B", "ſ", "ſ"},
		{"#B", "", ""},
		{"#B", "---", ""},
		{"#B", "\xff", "\ufffd"},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.spec).Normalize(tt.input); got != tt.want {
			t.Errorf("%q.Normalize(%q) = %q, want %q", tt.spec, tt.input, got, tt.want)
		}
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		spec, code string
		want       bool
	}{
		{"#B", "WDJBMJHT", true},
		{"#B", "WDJB2345", true},
		{"#B", "WDJB-MJHT", false}, // not normalized
		{"#B", "wdjbmjht", false},
		{"#B", "AEIOUY00", false}, // vowels are not in the alphabet
		{"#B", "", false},
		{"#B", "WDJBMJHTÉ", false},
		{"!", "!#$%&*+=?@^_~", true},
		{"!", "-", false},
		{"#aA", "aZ09", true},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.spec).Valid(tt.code); got != tt.want {
			t.Errorf("%q.Valid(%q) = %v, want %v", tt.spec, tt.code, got, tt.want)
		}
	}
	if (Format{}).Valid("0") {
		t.Error(`zero Format.Valid("0") = true, want false`)
	}
}

func TestGroup(t *testing.T) {
	tests := []struct {
		code, want string
	}{
		{"", ""},
		{"WDJB", "WDJB"},
		{"123", "123"},
		{"WDJBM", "WDJB-M"},
		{"123456", "123-456"},
		{"1234567", "1234-567"},
		{"WDJBMJHT", "WDJB-MJHT"},
		{"123456789", "123-456-789"},
		{"0123456789", "0123-4567-89"},
		{"ABCDEFGHIJKL", "ABCD-EFGH-IJKL"}, // 12: divisible by 4, so fours
		{"ABCDEFGHIJKLMNO", "ABC-DEF-GHI-JKL-MNO"},
	}
	for _, tt := range tests {
		if got := Group(tt.code); got != tt.want {
			t.Errorf("Group(%q) = %q, want %q", tt.code, got, tt.want)
		}
	}
}

// TestGroupNormalizeRoundTrip checks that the display form of any generated
// code, typed back in either case, normalizes to the code itself.
func TestGroupNormalizeRoundTrip(t *testing.T) {
	for _, spec := range []string{"#", "B", "b", "#B", "#aA", "!", "#aAbB!"} {
		f := mustParse(t, spec)
		r := seeded(3)
		for length := 1; length <= 20; length++ {
			code, err := f.Generate(r, length)
			if err != nil {
				t.Fatal(err)
			}
			typed := []string{Group(code), " " + Group(code) + " "}
			if f.fold != foldNone {
				typed = append(typed, strings.ToLower(Group(code)), strings.ToUpper(Group(code)))
			}
			for _, in := range typed {
				if got := f.Normalize(in); got != code {
					t.Errorf("%q: Normalize(%q) = %q, want %q", spec, in, got, code)
				}
			}
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"wdjb-mjht", "WDJBMJHT", " wdjb mjht ", "", "\xe3-\x80\x80", "ſ-K", "!#$%&*+=?@^_~"} {
		f.Add(s)
	}
	formats := make([]Format, 0, 8)
	for _, spec := range []string{"#", "b", "B", "#B", "#aA", "aB", "!", "#aAbB!"} {
		formats = append(formats, mustParse(f, spec))
	}
	f.Fuzz(func(t *testing.T, input string) {
		for _, fm := range formats {
			once := fm.Normalize(input)
			if twice := fm.Normalize(once); twice != once {
				t.Errorf("%q: Normalize not idempotent: %q → %q → %q", fm.Spec(), input, once, twice)
			}
			if strings.ContainsFunc(once, func(r rune) bool { return r == '-' || unicode.Is(unicode.Pd, r) || unicode.IsSpace(r) }) {
				t.Errorf("%q: Normalize(%q) = %q keeps a separator", fm.Spec(), input, once)
			}
			if fm.Valid(once) && strings.Trim(once, fm.Alphabet()) != "" {
				t.Errorf("%q: Valid(%q) = true with characters outside the alphabet", fm.Spec(), once)
			}
			fm.Valid(input) // must not panic
		}
	})
}

func BenchmarkGenerateUserCode(b *testing.B) {
	f := mustParse(b, "#B")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Generate(rand.Reader, 8); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenerateDeviceCode(b *testing.B) {
	f := mustParse(b, "#aA")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Generate(rand.Reader, 64); err != nil {
			b.Fatal(err)
		}
	}
}
