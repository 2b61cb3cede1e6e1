package locale

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// sameInEveryLanguage lists the keys whose text may be the same in a
// language as in English: words the languages share.
var sameInEveryLanguage = map[Key]bool{
	"confirm.app": true, "consent.app": true, "consent.website": true,
}

var placeholder = regexp.MustCompile(`\{[a-z]+\}`)

// TestCatalogsComplete fails when a language lacks a key English has, has
// one English lacks, leaves one empty or untranslated, or changes its
// placeholders: every page in every language shows every message.
func TestCatalogsComplete(t *testing.T) {
	for _, l := range Supported() {
		c, ok := catalogs[l]
		if !ok {
			t.Fatalf("%s: no catalog", l)
		}
		for key, en := range english {
			msg, ok := c.messages[key]
			switch {
			case !ok:
				t.Errorf("%s: missing %q", l, key)
				continue
			case strings.TrimSpace(msg) == "":
				t.Errorf("%s: %q is empty", l, key)
			case l != English && msg == en && !sameInEveryLanguage[key]:
				t.Errorf("%s: %q is not translated: %q", l, key, msg)
			}
			want, got := placeholder.FindAllString(en, -1), placeholder.FindAllString(msg, -1)
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: %q has placeholders %v, English %v", l, key, got, want)
			}
		}
		for key := range c.messages {
			if _, ok := english[key]; !ok {
				t.Errorf("%s: %q is not an English key", l, key)
			}
		}
		for i, m := range c.months {
			if m == "" {
				t.Errorf("%s: month %d has no name", l, i+1)
			}
		}
	}
}

// usedKey finds the keys the pages and the code name: {{t "key"}} and
// {{tn "key" …}} in templates, Msg("key") and .T("key") in Go.
var usedKey = regexp.MustCompile(`(?:\{\{-?\s*tn?\s+|Msg\(|\.T\(|\.N\()"([a-z_]+\.[a-z_.]+)"`)

// TestUsedKeysExist fails when a template or Go file of the repository
// names a key English does not define. Keys made at run time (plural
// forms, kinds) are checked by the page tests, which render every page.
func TestUsedKeysExist(t *testing.T) {
	root := filepath.Join("..", "..")
	found := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".html") && !strings.HasSuffix(path, ".go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range usedKey.FindAllStringSubmatch(string(b), -1) {
			found++
			key := Key(m[1])
			if _, ok := english[key]; !ok && !strings.HasSuffix(path, "_test.go") {
				if _, plural := english[key+".one"]; !plural {
					t.Errorf("%s names %q, which the catalog does not define", path, key)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 50 {
		t.Errorf("found %d uses of keys; the patterns no longer match the code?", found)
	}
}

func TestMatch(t *testing.T) {
	for _, tt := range []struct {
		ui, accept string
		want       Lang
	}{
		{"", "", English},
		{"", "fr-CA,fr;q=0.9,en;q=0.8", French},
		{"", "de-AT", German},
		{"", "en-GB,de;q=0.5", English},
		{"", "es-ES,de;q=0.3", German}, // Spanish not served; German next
		{"", "es,ja", English},
		{"", "nb-NO", English}, // Norwegian is not German
		{"de", "fr", German},   // ui_locales wins
		{"es fr-BE", "de", French},
		{"xx-!! de", "fr", German},
		{"ja", "fr", French}, // nothing in ui_locales served: Accept-Language
		{"", "*", English},
		{"", "garbage;q=x", English},
		{strings.Repeat("a", 40), "de", German},
	} {
		if got := Match(tt.ui, tt.accept); got != tt.want {
			t.Errorf("Match(%q, %q) = %s, want %s", tt.ui, tt.accept, got, tt.want)
		}
	}
}

func TestMessages(t *testing.T) {
	day := time.Date(2026, 12, 3, 21, 40, 59, 0, time.FixedZone("CET", 3600))
	for _, tt := range []struct{ got, want string }{
		{English.T("result.approved_lead", "app", "Demo TV"), "Demo TV can now use your account."},
		{French.T("result.approved_lead", "app", "Demo TV"), "Demo TV peut désormais utiliser votre compte."},
		{German.T("no.such.key"), MissingMark + "no.such.key⟧"},
		{Lang("xx").T("signin.title"), MissingMark + "signin.title⟧"},
		{English.N("since.days", 1), "1 day ago"},
		{English.N("since.days", 0), "0 days ago"},
		{French.N("since.days", 0), "il y a 0 jour"}, // French: 0 and 1 are singular
		{French.N("since.days", 2), "il y a 2 jours"},
		{German.N("since.days", 1), "vor 1 Tag"},
		{English.Date(day), "3 Dec 2026, 20:40 UTC"},
		{French.Date(day), "3 déc. 2026, 20:40 UTC"},
		{German.Date(day), "3. Dez. 2026, 20:40 UTC"},
		{English.Since(day, day.Add(23*time.Hour)), "in the last 24 hours"},
		{English.Since(day, day.Add(49*time.Hour)), "2 days ago"},
		{English.Since(day, day.Add(90*24*time.Hour)), "on 3 Dec 2026, 20:40 UTC"},
		{English.In(300 * time.Millisecond), "in 1 second"},
		{English.In(40 * time.Second), "in 40 seconds"},
		{English.In(91 * time.Second), "in 2 minutes"},
		{German.In(15 * time.Minute), "in 15 Minuten"},
		{French.In(3 * time.Hour), "dans 3 heures"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
