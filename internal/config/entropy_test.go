package config

import (
	"math"
	"strings"
	"testing"
)

func TestEntropyPolicy(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want []string // substrings of the error; none: Load succeeds
	}{
		// User codes: 30 bits, unless explicitly allowed (DEV-05).
		{map[string]string{"USER_CODE_FORMAT": "#", "USER_CODE_LENGTH": "6"},
			[]string{"USER_CODE_FORMAT", "USER_CODE_LENGTH 6", "19.9 bits", "GRANTD_ALLOW_WEAK_USER_CODE"}},
		{map[string]string{"USER_CODE_FORMAT": "#", "USER_CODE_LENGTH": "6", "GRANTD_ALLOW_WEAK_USER_CODE": "true"}, nil},
		{map[string]string{"USER_CODE_FORMAT": "#", "USER_CODE_LENGTH": "9"}, []string{"29.9 bits", "at least 10 characters"}},
		{map[string]string{"USER_CODE_FORMAT": "#", "USER_CODE_LENGTH": "10"}, nil},
		{map[string]string{"USER_CODE_FORMAT": "B", "USER_CODE_LENGTH": "8"}, nil}, // RFC 8628 §6.1: 34.6 bits
		{map[string]string{"USER_CODE_LENGTH": "6"}, []string{`USER_CODE_FORMAT "#B"`, "29.4 bits"}},
		{map[string]string{"USER_CODE_LENGTH": "7"}, nil},
		// Device codes: 128 bits, always (DEV-03).
		{map[string]string{"DEVICE_CODE_LENGTH": "16"},
			[]string{"DEVICE_CODE_LENGTH 16", `DEVICE_CODE_FORMAT "#aA"`, "95.3 bits", "128", "at least 22 characters"}},
		{map[string]string{"DEVICE_CODE_LENGTH": "16", "GRANTD_ALLOW_WEAK_USER_CODE": "true"}, []string{"DEVICE_CODE_LENGTH 16"}},
		{map[string]string{"DEVICE_CODE_LENGTH": "21"}, []string{"125.0 bits"}},
		{map[string]string{"DEVICE_CODE_LENGTH": "22"}, nil},
		{map[string]string{"DEVICE_CODE_FORMAT": "#", "DEVICE_CODE_LENGTH": "38"}, []string{"126.2 bits", "at least 39 characters"}},
		{map[string]string{"DEVICE_CODE_FORMAT": "#", "DEVICE_CODE_LENGTH": "39"}, nil},
	}
	for _, tt := range tests {
		_, err := Load(env(tt.env), Overrides{})
		switch {
		case tt.want == nil && err != nil:
			t.Errorf("Load(%v): %v, want success", tt.env, err)
		case tt.want != nil && err == nil:
			t.Errorf("Load(%v) succeeded, want an error containing %q", tt.env, tt.want)
		case err != nil:
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load(%v) error %q lacks %q", tt.env, err, w)
				}
			}
			checkErrorLines(t, err)
		}
	}
}

// TestUserCodeGuessBound checks p = F·A/S against the rows of the
// docs/SECURITY.md DEV-05 guessing bound. Budgets are chosen so that F, the attempts
// the global token bucket admits in one 1800 s lifetime (its burst plus
// its refill), is the worksheet's.
func TestUserCodeGuessBound(t *testing.T) {
	tests := []struct {
		format, length, budget string // budget gives F = N·(1 + 1800 s/window)
		pending                int
		want                   float64
	}{
		{"B", "8", "1/450s", 1, 5 / math.Pow(20, 8)},                  // F = 5: 2.0·10^-10
		{"B", "8", "5000/30m", 1000, 1e4 * 1e3 / math.Pow(20, 8)},     // 3.9·10^-4
		{"A", "8", "5000/30m", 1000, 1e4 * 1e3 / math.Pow(26, 8)},     // 4.8·10^-5
		{"#", "9", "5000/30m", 1000, 1e-2},                            // 1.0·10^-2
		{"#", "6", "5000/30m", 1000, 10},                              // ≥ 1: expect a hit
		{"#B", "8", "1000/1m", 1000, 31000 * 1e3 / math.Pow(30, 8)},   // the defaults: 4.7·10^-5
		{"#B", "10", "1000/1m", 1000, 31000 * 1e3 / math.Pow(30, 10)}, // two more characters
		{"#B", "8", "1000/1m", 0, 0},                                  // nothing pending
	}
	for _, tt := range tests {
		c, err := Load(env(map[string]string{
			"USER_CODE_FORMAT":              tt.format,
			"USER_CODE_LENGTH":              tt.length,
			"GRANTD_USER_CODE_LIMIT_GLOBAL": tt.budget,
			"GRANTD_ALLOW_WEAK_USER_CODE":   "true",
		}), Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		got := UserCodeGuessBound(c, tt.pending)
		if math.Abs(got-tt.want) > 1e-9*tt.want {
			t.Errorf("%s×%s, %s, A=%d: p = %.3g, want %.3g", tt.format, tt.length, tt.budget, tt.pending, got, tt.want)
		}
	}
	c, _ := Load(env(nil), Overrides{})
	if p := UserCodeGuessBound(c, 1000); p > 1e-3 {
		t.Errorf("defaults with 1,000 pending codes: p = %.3g, above the DEV-05 target 10^-3", p)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want []string // the setting each warning begins with
	}{
		{nil, nil},
		{map[string]string{"USER_CODE_FORMAT": "#", "USER_CODE_LENGTH": "6", "GRANTD_ALLOW_WEAK_USER_CODE": "true"},
			[]string{"GRANTD_ALLOW_WEAK_USER_CODE"}},
		{map[string]string{"GRANTD_ALLOW_WEAK_USER_CODE": "true"}, nil}, // allowed, but the code is strong
		{map[string]string{"GRANTD_ISSUER": "http://auth.example.com"}, []string{"GRANTD_ISSUER"}},
		{map[string]string{"GRANTD_ADDR": "0.0.0.0:8080"}, []string{"GRANTD_ISSUER"}},
		{map[string]string{"GRANTD_ISSUER": "https://auth.example.com"}, nil},
		{map[string]string{"GRANTD_ISSUER": "http://localhost:8080"}, nil},
		{map[string]string{"GRANTD_ISSUER": "http://[::1]:8080"}, nil},
	}
	for _, tt := range tests {
		c, err := Load(env(tt.env), Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		got := c.Warnings()
		if len(got) != len(tt.want) {
			t.Errorf("Load(%v).Warnings() = %q, want %d beginning %q", tt.env, got, len(tt.want), tt.want)
			continue
		}
		for i, w := range got {
			if !strings.HasPrefix(w, tt.want[i]+" ") && !strings.HasPrefix(w, tt.want[i]+":") {
				t.Errorf("Load(%v).Warnings()[%d] = %q, want it to begin with %s", tt.env, i, w, tt.want[i])
			}
		}
	}
}

func TestParseTokenSet(t *testing.T) {
	tests := []struct {
		in   string
		want TokenSet
		str  string
	}{
		{"ACCESS", TokenSet{Access: true}, "ACCESS"},
		{"ACCESS+REFRESH", TokenSet{Access: true, Refresh: true}, "ACCESS+REFRESH"},
		{"ACCESS+REFRESH+ID", TokenSet{true, true, true}, "ACCESS+REFRESH+ID"},
		{"id+access", TokenSet{Access: true, ID: true}, "ACCESS+ID"},
		{"Refresh + Access", TokenSet{Access: true, Refresh: true}, "ACCESS+REFRESH"},
	}
	for _, tt := range tests {
		got, err := ParseTokenSet(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseTokenSet(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if s := got.String(); s != tt.str {
			t.Errorf("ParseTokenSet(%q).String() = %q, want %q", tt.in, s, tt.str)
		}
		if again, err := ParseTokenSet(got.String()); err != nil || again != got {
			t.Errorf("ParseTokenSet(%q) does not round-trip: %+v, %v", got.String(), again, err)
		}
	}
}

func TestParseTokenSetErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "unknown token"},
		{"REFRESH", "ACCESS is required"},
		{"REFRESH+ID", "ACCESS is required"},
		{"ACCESS+ACCESS", `"ACCESS" given twice`},
		{"ACCESS+access", `"access" given twice`},
		{"ACCESS+CODE", `unknown token "CODE"`},
		{"ACCESS++REFRESH", `unknown token ""`},
		{"ACCESS,REFRESH", "unknown token"},
	}
	for _, tt := range tests {
		_, err := ParseTokenSet(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseTokenSet(%q) error = %v, want one containing %q", tt.in, err, tt.want)
		}
	}
}
