package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestOverridesWin(t *testing.T) {
	environment := map[string]string{
		"GRANTD_ADDR":     "10.0.0.1:8000",
		"GRANTD_ISSUER":   "https://env.example.com",
		"GRANTD_DATABASE": "env.db",
	}
	tests := []struct {
		o                      Overrides
		addr, issuer, database string
	}{
		{Overrides{}, "10.0.0.1:8000", "https://env.example.com", "env.db"},
		{Overrides{Addr: "127.0.0.1:9000"}, "127.0.0.1:9000", "https://env.example.com", "env.db"},
		{Overrides{Issuer: "https://flag.example.com/"}, "10.0.0.1:8000", "https://flag.example.com", "env.db"},
		{Overrides{Database: "flag.db"}, "10.0.0.1:8000", "https://env.example.com", "flag.db"},
		{Overrides{"127.0.0.1:1", "https://f.example", "f.db"}, "127.0.0.1:1", "https://f.example", "f.db"},
		{Overrides{Addr: "  "}, "10.0.0.1:8000", "https://env.example.com", "env.db"}, // blank is not given
	}
	for _, tt := range tests {
		c, err := Load(env(environment), tt.o)
		if err != nil {
			t.Errorf("Load(%+v): %v", tt.o, err)
			continue
		}
		if c.Addr != tt.addr || c.Issuer != tt.issuer || c.Database != tt.database {
			t.Errorf("Load(%+v) = %q, %q, %q; want %q, %q, %q",
				tt.o, c.Addr, c.Issuer, c.Database, tt.addr, tt.issuer, tt.database)
		}
	}
}

func TestOverrideReplacesBadEnvironment(t *testing.T) {
	c, err := Load(env(map[string]string{"GRANTD_ADDR": "nonsense"}), Overrides{Addr: "127.0.0.1:9000"})
	if err != nil || c.Addr != "127.0.0.1:9000" {
		t.Errorf("Load = %q, %v; want the flag's address and no error", c.Addr, err)
	}
	_, err = Load(env(nil), Overrides{Addr: "nonsense"})
	if err == nil || !strings.HasPrefix(err.Error(), `GRANTD_ADDR "nonsense"`) {
		t.Errorf("Load with a bad -addr: error %v, want one naming GRANTD_ADDR", err)
	}
}

func TestDefaultIssuerFollowsAddr(t *testing.T) {
	tests := []struct {
		environment map[string]string
		o           Overrides
		want        string
	}{
		{nil, Overrides{}, "http://127.0.0.1:8080"},
		{map[string]string{"GRANTD_ADDR": "0.0.0.0:9000"}, Overrides{}, "http://0.0.0.0:9000"},
		{map[string]string{"GRANTD_ADDR": "0.0.0.0:9000"}, Overrides{Addr: "localhost:7000"}, "http://localhost:7000"},
		{map[string]string{"GRANTD_ADDR": "[::1]:8443"}, Overrides{}, "http://[::1]:8443"},
		{map[string]string{"GRANTD_ADDR": ":9000", "GRANTD_ISSUER": "https://a.example"}, Overrides{}, "https://a.example"},
		{nil, Overrides{Addr: ":9000", Issuer: "https://a.example"}, "https://a.example"},
	}
	for _, tt := range tests {
		c, err := Load(env(tt.environment), tt.o)
		if err != nil {
			t.Errorf("Load(%v, %+v): %v", tt.environment, tt.o, err)
			continue
		}
		if c.Issuer != tt.want {
			t.Errorf("Load(%v, %+v).Issuer = %q, want %q", tt.environment, tt.o, c.Issuer, tt.want)
		}
	}
}

// TestDefaultIssuerNeedsHost checks that an address with no host, which
// makes no usable issuer, asks for GRANTD_ISSUER.
func TestDefaultIssuerNeedsHost(t *testing.T) {
	_, err := Load(env(map[string]string{"GRANTD_ADDR": ":8080"}), Overrides{})
	if err == nil || !strings.HasPrefix(err.Error(), "GRANTD_ISSUER") || !strings.Contains(err.Error(), "set GRANTD_ISSUER") {
		t.Errorf("Load with GRANTD_ADDR=:8080 and no issuer: error %v, want one asking for GRANTD_ISSUER", err)
	}
}

func TestSettingsDefaults(t *testing.T) {
	// Each listed default, set explicitly, loads the same Config as none.
	all := (Config{}).Settings()
	explicit := make(map[string]string)
	for _, s := range all {
		explicit[s.Name] = s.Default
	}
	got, err := Load(env(explicit), Overrides{})
	if err != nil {
		t.Fatalf("Load with every default set: %v", err)
	}
	if want := defaults(t); !reflect.DeepEqual(got, want) {
		t.Errorf("Load with every default set =\n%+v\nwant\n%+v", got, want)
	}

	issuer := func(ss []Setting) string {
		for _, s := range ss {
			if s.Name == "GRANTD_ISSUER" {
				return s.Default
			}
		}
		return ""
	}
	if got, want := issuer(all), "http://127.0.0.1:8080"; got != want {
		t.Errorf("Config{}.Settings(): GRANTD_ISSUER default %q, want %q", got, want)
	}
	if got, want := issuer(Config{Addr: "0.0.0.0:9000"}.Settings()), "http://0.0.0.0:9000"; got != want {
		t.Errorf("Settings() with Addr 0.0.0.0:9000: GRANTD_ISSUER default %q, want %q", got, want)
	}
}

func TestSettingsOrderStable(t *testing.T) {
	names := func() []string {
		var out []string
		for _, s := range (Config{}).Settings() {
			out = append(out, s.Name)
		}
		return out
	}
	first := names()
	if want := []string{"GRANTD_ADDR", "GRANTD_ISSUER", "GRANTD_DATABASE", "CODE_EXPIRATION"}; !reflect.DeepEqual(first[:4], want) {
		t.Errorf("Settings begins %v, want %v", first[:4], want)
	}
	for range 10 {
		if again := names(); !reflect.DeepEqual(again, first) {
			t.Fatalf("Settings order changed: %v, then %v", first, again)
		}
	}
}
