// Package docs holds the project's documents beyond the README; its test
// keeps them and the code in step.
package docs_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// root is the repository, from this package's directory.
const root = ".."

// ruleID matches the id of a rule in docs/SECURITY.md wherever it is cited.
var ruleID = regexp.MustCompile(`\b(AZ|DEV|FED|GEN|INT|INV|JWT|MD|REL|REV|RT|TOK|UI)-\d{2}\b`)

// definedRules returns the ids of the rules docs/SECURITY.md defines, each
// the first cell of a table row, with the row's tests (its third cell).
func definedRules(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docs/SECURITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\| (` + ruleID.String() + `) \| .* \| (.*) \|$`)
	rules := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		if _, dup := rules[m[1]]; dup {
			t.Errorf("docs/SECURITY.md defines %s twice", m[1])
		}
		rules[m[1]] = m[3]
	}
	if len(rules) < 100 {
		t.Fatalf("docs/SECURITY.md defines %d rules; the table format changed?", len(rules))
	}
	return rules
}

// sources calls visit with the path and contents of every file of the
// repository whose name ends in one of exts, but docs/SECURITY.md itself.
func sources(t *testing.T, visit func(path, text string), exts ...string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !slices.ContainsFunc(exts, func(ext string) bool { return strings.HasSuffix(path, ext) }) ||
			path == filepath.Join(root, "docs/SECURITY.md") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		visit(path, string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCitedRulesAreDefined fails when a Go file or a document cites a rule
// id that docs/SECURITY.md does not define, or cites a security document
// other than docs/SECURITY.md (such as a section of an older one).
func TestCitedRulesAreDefined(t *testing.T) {
	rules := definedRules(t)
	otherDoc := regexp.MustCompile(`(^|[^/])SECURITY\.md|docs/SECURITY\.md [A-D]\.\d`)
	sources(t, func(path, text string) {
		for _, id := range ruleID.FindAllString(text, -1) {
			if _, ok := rules[id]; !ok {
				t.Errorf("%s cites %s, which docs/SECURITY.md does not define", path, id)
			}
		}
		if m := otherDoc.FindString(text); m != "" {
			t.Errorf("%s cites %q; cite docs/SECURITY.md and a rule id", path, m)
		}
	}, ".go", ".md")
}

// TestRulesNameExistingTests fails when a rule of docs/SECURITY.md names no
// test, or a test that does not exist: package.TestName must be a test
// function of that package, and a /subtest of the conformance suite must be
// one of its cases.
func TestRulesNameExistingTests(t *testing.T) {
	ref := regexp.MustCompile("`((?:internal|cmd|bench)/[a-z0-9/]+)\\.(Test\\w+)((?:/[^`]+)?)`")
	cases := conformanceCases(t)
	for id, tests := range definedRules(t) {
		refs := ref.FindAllStringSubmatch(tests, -1)
		if len(refs) == 0 {
			t.Errorf("%s names no test", id)
		}
		for _, r := range refs {
			pkg, fn, sub := r[1], r[2], strings.TrimPrefix(r[3], "/")
			if !hasTest(t, pkg, fn) {
				t.Errorf("%s names %s.%s: no such test function", id, pkg, fn)
			}
			if sub != "" && !cases[sub] {
				t.Errorf("%s names %s.%s/%s: no such conformance case", id, pkg, fn, sub)
			}
		}
	}
}

// hasTest reports whether package directory pkg has a test function fn.
func hasTest(t *testing.T, pkg, fn string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, pkg, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`(?m)^func ` + fn + `\(t \*testing\.T\)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if decl.Match(b) {
			return true
		}
	}
	return false
}

// conformanceCases returns the names of the conformance suite's cases.
func conformanceCases(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "internal", "store", "storetest", "storetest.go"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{}
	for _, m := range regexp.MustCompile(`\{"([^"]+)", test\w+\}`).FindAllStringSubmatch(string(b), -1) {
		cases[m[1]] = true
	}
	return cases
}

// TestStandsAlone fails when any file of the repository refers to a file
// outside it, such as the shared documents it was started from.
func TestStandsAlone(t *testing.T) {
	outside := []string{"../" + "shared", "/work/" + "shared"}
	sources(t, func(path, text string) {
		for _, o := range outside {
			if strings.Contains(text, o) {
				t.Errorf("%s refers to %s, outside the repository", path, o)
			}
		}
	}, ".go", ".md", ".sh", ".html", ".css", ".yml", ".yaml", ".json", ".txt", ".mod")
}
