package sqlstore

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestDBList checks that dbList writes what encoding/json writes, for
// plain lists (its own path) and every kind that needs escaping (the
// fallback), and that goList reads each back.
func TestDBList(t *testing.T) {
	for _, tc := range []struct {
		name string
		list []string
		want string
	}{
		{"nil", nil, "[]"},
		{"empty", []string{}, "[]"},
		{"one", []string{"openid"}, `["openid"]`},
		{"scopes", []string{"openid", "offline_access", "lights:read"}, `["openid","offline_access","lights:read"]`},
		{"empty string", []string{""}, `[""]`},
		{"empty strings", []string{"", "a", ""}, `["","a",""]`},
		{"uri", []string{"https://cloud.example/cb?x=1;y=2"}, `["https://cloud.example/cb?x=1;y=2"]`},
		{"quote", []string{`a"b`}, `["a\"b"]`},
		{"backslash", []string{`a\b`}, `["a\\b"]`},
		{"comma and quote", []string{`a","b`}, `["a\",\"b"]`},
		{"html", []string{"<a&b>"}, `["\u003ca\u0026b\u003e"]`},
		{"control", []string{"a\nb\x00"}, `["a\nb\u0000"]`},
		{"unicode", []string{"lämpa", "灯"}, `["lämpa","灯"]`},
		{"invalid utf-8", []string{"a\xffb"}, `["a\ufffdb"]`},
		{"del", []string{"a\x7fb"}, "[\"a\x7fb\"]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := dbList(tc.list)
			if got != tc.want {
				t.Errorf("dbList(%q) = %s, want %s", tc.list, got, tc.want)
			}
			if len(tc.list) > 0 {
				if std, _ := json.Marshal(tc.list); string(std) != got {
					t.Errorf("dbList(%q) = %s, encoding/json writes %s", tc.list, got, std)
				}
			}
			back, err := goList(got)
			if err != nil {
				t.Fatalf("goList(%s): %v", got, err)
			}
			var want []string
			if err := json.Unmarshal([]byte(got), &want); err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				want = nil
			}
			if !slices.Equal(back, want) || (back == nil) != (want == nil) {
				t.Errorf("goList(%s) = %q, want %q", got, back, want)
			}
		})
	}
}

// FuzzGoList checks goList against encoding/json for any stored text:
// the same list, or an error where encoding/json gives one.
func FuzzGoList(f *testing.F) {
	for _, s := range []string{
		`[]`, `[""]`, `["a"]`, `["a","b"]`, `["a", "b"]`, ` ["a"]`, `["a",]`, `["a"]]`, `[["a"]]`,
		`["a""b"]`, `["a","b`, `[`, `]`, ``, `null`, `["\u0041"]`, `["a\"b"]`, `[1]`, `{"a":1}`,
		`["a"],["b"]`, `[","]`, `["",""]`, "[\"\xff\"]", "[\"a\nb\"]", `["<"]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := goList(s)
		var want []string
		stdErr := json.Unmarshal([]byte(s), &want)
		if (err != nil) != (stdErr != nil) {
			t.Fatalf("goList(%q): error %v, encoding/json: %v", s, err, stdErr)
		}
		if err != nil {
			return
		}
		if len(want) == 0 {
			want = nil
		}
		if !slices.Equal(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("goList(%q) = %q, encoding/json gives %q", s, got, want)
		}
	})
}

func BenchmarkLists(b *testing.B) {
	scopes := []string{"openid", "offline_access", "lights:read", "lights:write"}
	stored := dbList(scopes)
	b.Run("dbList", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = dbList(scopes)
		}
	})
	b.Run("goList", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := goList(stored); err != nil {
				b.Fatal(err)
			}
		}
	})
}
