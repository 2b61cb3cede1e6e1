package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEListsEverySetting: the README's configuration table has a row
// for every setting, with its default, so that an operator reading it
// knows every knob.
func TestREADMEListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range (Config{}).Settings() {
		row := "| `" + s.Name + "` | `" + s.Default + "` |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md has no row beginning %s", row)
		}
	}
}
