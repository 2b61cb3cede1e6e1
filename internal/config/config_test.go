package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/usercode"
)

// env returns a getenv that looks names up in m.
func env(m map[string]string) func(string) string {
	return func(name string) string { return m[name] }
}

func mustFormat(t *testing.T, spec string) usercode.Format {
	t.Helper()
	f, err := usercode.ParseFormat(spec)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func defaults(t *testing.T) Config {
	return Config{
		Addr:                  "127.0.0.1:8080",
		Issuer:                "http://127.0.0.1:8080",
		Database:              "grantd.db",
		CodeExpiration:        1800 * time.Second,
		DeviceCodeFormat:      mustFormat(t, "#aA"),
		DeviceCodeLength:      64,
		PollingInterval:       5 * time.Second,
		UserCodeFormat:        mustFormat(t, "#B"),
		UserCodeLength:        8,
		ResultTokenSet:        TokenSet{Access: true, Refresh: true},
		AllowWeakUserCode:     false,
		AccessTokenTTL:        time.Hour,
		AccessTokenAlg:        "RS256",
		IDTokenAlg:            "RS256",
		RefreshTokenTTL:       2160 * time.Hour,
		RefreshTokenIdleTTL:   720 * time.Hour,
		SessionTTL:            time.Hour,
		TrustedProxies:        nil,
		LocalSignIn:           true,
		LimitIPv4Prefix:       32,
		LimitIPv6Prefix:       64,
		UserCodeLimitAccount:  ratelimit.Budget{N: 10, Per: 10 * time.Minute},
		UserCodeLimitIP:       ratelimit.Budget{N: 20, Per: 10 * time.Minute},
		UserCodeLimitGlobal:   ratelimit.Budget{N: 1000, Per: time.Minute},
		SignInLimitAccount:    ratelimit.Budget{N: 5, Per: 15 * time.Minute},
		SignInLimitIP:         ratelimit.Budget{N: 20, Per: 15 * time.Minute},
		SignInLimitGlobal:     ratelimit.Budget{N: 1000, Per: time.Minute},
		ClientAuthLimit:       ratelimit.Budget{N: 20, Per: time.Minute},
		IntrospectLimit:       ratelimit.Budget{N: 600, Per: time.Minute},
		DeviceAuthLimitIP:     ratelimit.Budget{N: 600, Per: time.Minute},
		DeviceAuthLimitClient: ratelimit.Budget{N: 60000, Per: time.Minute},
		RevokeLimit:           ratelimit.Budget{N: 600, Per: time.Minute},
		RefreshTokenGrace:     5 * time.Second,
		AuthCodeTTL:           time.Minute,
		KeyReloadInterval:     30 * time.Second,
		LogFormat:             "text",
		SiteName:              "grantd",
	}
}

func TestLoadDefaults(t *testing.T) {
	got, err := Load(env(nil), Overrides{})
	if err != nil {
		t.Fatalf("Load with nothing set: %v", err)
	}
	if want := defaults(t); !reflect.DeepEqual(got, want) {
		t.Errorf("Load with nothing set =\n%+v\nwant\n%+v", got, want)
	}
}

// TestLoadIgnoresProcessEnvironment checks that Load reads only getenv.
func TestLoadIgnoresProcessEnvironment(t *testing.T) {
	t.Setenv("USER_CODE_LENGTH", "abc")
	t.Setenv("GRANTD_ADDR", "nonsense")
	if _, err := Load(env(nil), Overrides{}); err != nil {
		t.Errorf("Load read the process environment: %v", err)
	}
}

// field returns the Config field each setting sets; TestSettingsCovered
// checks that it names every setting.
var field = map[string]func(Config) any{
	"GRANTD_ADDR":                     func(c Config) any { return c.Addr },
	"GRANTD_ISSUER":                   func(c Config) any { return c.Issuer },
	"GRANTD_DATABASE":                 func(c Config) any { return c.Database },
	"CODE_EXPIRATION":                 func(c Config) any { return c.CodeExpiration },
	"DEVICE_CODE_FORMAT":              func(c Config) any { return c.DeviceCodeFormat.Spec() },
	"DEVICE_CODE_LENGTH":              func(c Config) any { return c.DeviceCodeLength },
	"POLLING_INTERVAL":                func(c Config) any { return c.PollingInterval },
	"USER_CODE_FORMAT":                func(c Config) any { return c.UserCodeFormat.Spec() },
	"USER_CODE_LENGTH":                func(c Config) any { return c.UserCodeLength },
	"RESULT_TOKEN_SET":                func(c Config) any { return c.ResultTokenSet },
	"GRANTD_ALLOW_WEAK_USER_CODE":     func(c Config) any { return c.AllowWeakUserCode },
	"GRANTD_AWS_SAMPLE_COMPAT":        func(c Config) any { return c.AWSSampleCompat },
	"GRANTD_ACCESS_TOKEN_TTL":         func(c Config) any { return c.AccessTokenTTL },
	"GRANTD_ACCESS_TOKEN_ALG":         func(c Config) any { return c.AccessTokenAlg },
	"GRANTD_ID_TOKEN_ALG":             func(c Config) any { return c.IDTokenAlg },
	"GRANTD_REFRESH_TOKEN_TTL":        func(c Config) any { return c.RefreshTokenTTL },
	"GRANTD_REFRESH_TOKEN_IDLE_TTL":   func(c Config) any { return c.RefreshTokenIdleTTL },
	"GRANTD_SESSION_TTL":              func(c Config) any { return c.SessionTTL },
	"GRANTD_TRUSTED_PROXIES":          func(c Config) any { return c.TrustedProxies },
	"GRANTD_MAX_CONNECTIONS":          func(c Config) any { return c.MaxConnections },
	"GRANTD_SECRET_KEY_FILE":          func(c Config) any { return c.SecretKeyFile },
	"GRANTD_LOCAL_SIGN_IN":            func(c Config) any { return c.LocalSignIn },
	"GRANTD_LIMIT_IPV4_PREFIX":        func(c Config) any { return c.LimitIPv4Prefix },
	"GRANTD_LIMIT_IPV6_PREFIX":        func(c Config) any { return c.LimitIPv6Prefix },
	"GRANTD_USER_CODE_LIMIT_ACCOUNT":  func(c Config) any { return c.UserCodeLimitAccount },
	"GRANTD_USER_CODE_LIMIT_IP":       func(c Config) any { return c.UserCodeLimitIP },
	"GRANTD_USER_CODE_LIMIT_GLOBAL":   func(c Config) any { return c.UserCodeLimitGlobal },
	"GRANTD_SIGN_IN_LIMIT_ACCOUNT":    func(c Config) any { return c.SignInLimitAccount },
	"GRANTD_SIGN_IN_LIMIT_IP":         func(c Config) any { return c.SignInLimitIP },
	"GRANTD_SIGN_IN_LIMIT_GLOBAL":     func(c Config) any { return c.SignInLimitGlobal },
	"GRANTD_CLIENT_AUTH_LIMIT":        func(c Config) any { return c.ClientAuthLimit },
	"GRANTD_INTROSPECT_LIMIT":         func(c Config) any { return c.IntrospectLimit },
	"GRANTD_DEVICE_AUTH_LIMIT_IP":     func(c Config) any { return c.DeviceAuthLimitIP },
	"GRANTD_DEVICE_AUTH_LIMIT_CLIENT": func(c Config) any { return c.DeviceAuthLimitClient },
	"GRANTD_REVOKE_LIMIT":             func(c Config) any { return c.RevokeLimit },
	"GRANTD_REFRESH_TOKEN_GRACE":      func(c Config) any { return c.RefreshTokenGrace },
	"GRANTD_PPROF_ADDR":               func(c Config) any { return c.PprofAddr },
	"GRANTD_AUTH_CODE_TTL":            func(c Config) any { return c.AuthCodeTTL },
	"GRANTD_KEY_ROTATION_PERIOD":      func(c Config) any { return c.KeyRotationPeriod },
	"GRANTD_KEY_RELOAD_INTERVAL":      func(c Config) any { return c.KeyReloadInterval },
	"GRANTD_SHUTDOWN_DELAY":           func(c Config) any { return c.ShutdownDelay },
	"GRANTD_REQUIRE_PKCE":             func(c Config) any { return c.RequirePKCE },
	"GRANTD_METRICS_ADDR":             func(c Config) any { return c.MetricsAddr },
	"GRANTD_METRICS_CLIENT_LABELS":    func(c Config) any { return c.MetricsClientLabels },
	"GRANTD_LOG_FORMAT":               func(c Config) any { return c.LogFormat },
	"GRANTD_SITE_NAME":                func(c Config) any { return c.SiteName },
	"GRANTD_SITE_LOGO_URL":            func(c Config) any { return c.SiteLogoURL },
	"GRANTD_SITE_ACCENT":              func(c Config) any { return c.SiteAccent },
	"GRANTD_SITE_SUPPORT_URL":         func(c Config) any { return c.SiteSupportURL },
}

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

// goodValues lists, per setting, values Load accepts and what they become.
var goodValues = []struct {
	name, value string
	want        any
}{
	{"GRANTD_ADDR", "0.0.0.0:9000", "0.0.0.0:9000"},
	{"GRANTD_ADDR", " [::1]:8443 ", "[::1]:8443"},
	{"GRANTD_ISSUER", "https://auth.example.com/", "https://auth.example.com"},
	{"GRANTD_ISSUER", "https://example.com/tenants/a", "https://example.com/tenants/a"},
	{"GRANTD_ISSUER", "http://localhost:8080", "http://localhost:8080"},
	{"GRANTD_DATABASE", "postgres://grantd@db/grantd", "postgres://grantd@db/grantd"},
	{"CODE_EXPIRATION", "60", time.Minute},
	{"CODE_EXPIRATION", "86400", 24 * time.Hour},
	{"DEVICE_CODE_FORMAT", "#aAbB!", "#aAbB!"},
	{"DEVICE_CODE_FORMAT", "aA", "aA"},
	{"DEVICE_CODE_LENGTH", "22", 22}, // 22·log2(62) ≈ 131 bits
	{"DEVICE_CODE_LENGTH", "256", 256},
	{"POLLING_INTERVAL", "1", time.Second},
	{"POLLING_INTERVAL", "300", 5 * time.Minute},
	{"USER_CODE_FORMAT", "B", "B"}, // 8·log2(20) ≈ 34.6 bits, RFC 8628 §6.1
	{"USER_CODE_FORMAT", "#aA", "#aA"},
	{"USER_CODE_LENGTH", "10", 10},
	{"USER_CODE_LENGTH", "32", 32},
	{"RESULT_TOKEN_SET", "access+refresh+id", TokenSet{Access: true, Refresh: true, ID: true}},
	{"RESULT_TOKEN_SET", "ACCESS", TokenSet{Access: true}},
	{"GRANTD_ALLOW_WEAK_USER_CODE", "true", true},
	{"GRANTD_ALLOW_WEAK_USER_CODE", "1", true},
	{"GRANTD_ALLOW_WEAK_USER_CODE", "FALSE", false},
	{"GRANTD_ALLOW_WEAK_USER_CODE", "0", false},
	{"GRANTD_AWS_SAMPLE_COMPAT", "true", true},
	{"GRANTD_AWS_SAMPLE_COMPAT", "false", false},
	{"GRANTD_ACCESS_TOKEN_TTL", "1m", time.Minute},
	{"GRANTD_ACCESS_TOKEN_TTL", "90m", 90 * time.Minute},
	{"GRANTD_ACCESS_TOKEN_TTL", "24h", 24 * time.Hour},
	{"GRANTD_ACCESS_TOKEN_ALG", "ES256", "ES256"},
	{"GRANTD_ACCESS_TOKEN_ALG", "eddsa", "EdDSA"},
	{"GRANTD_ID_TOKEN_ALG", "EdDSA", "EdDSA"},
	{"GRANTD_ID_TOKEN_ALG", "rs256", "RS256"},
	{"GRANTD_REFRESH_TOKEN_TTL", "4320h", 4320 * time.Hour},
	{"GRANTD_REFRESH_TOKEN_TTL", "720h", 720 * time.Hour}, // equal to the idle default
	{"GRANTD_REFRESH_TOKEN_IDLE_TTL", "24h", 24 * time.Hour},
	{"GRANTD_REFRESH_TOKEN_IDLE_TTL", "2160h", 2160 * time.Hour},
	{"GRANTD_SESSION_TTL", "30m", 30 * time.Minute},
	{"GRANTD_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7", prefixes("10.0.0.0/8", "192.168.1.7/32")},
	{"GRANTD_MAX_CONNECTIONS", "auto", 0},
	{"GRANTD_SECRET_KEY_FILE", "/etc/grantd/secret-key", "/etc/grantd/secret-key"},
	{"GRANTD_LOCAL_SIGN_IN", "false", false},
	{"GRANTD_MAX_CONNECTIONS", "512", 512},
	{"GRANTD_LIMIT_IPV4_PREFIX", "24", 24},
	{"GRANTD_LIMIT_IPV6_PREFIX", "56", 56},
	{"GRANTD_TRUSTED_PROXIES", "10.1.2.3/8,::1,2001:db8::/32", prefixes("10.0.0.0/8", "::1/128", "2001:db8::/32")},
	{"GRANTD_USER_CODE_LIMIT_ACCOUNT", "5/1m", ratelimit.Budget{N: 5, Per: time.Minute}},
	{"GRANTD_USER_CODE_LIMIT_IP", "50/1h", ratelimit.Budget{N: 50, Per: time.Hour}},
	{"GRANTD_USER_CODE_LIMIT_GLOBAL", "100/1m", ratelimit.Budget{N: 100, Per: time.Minute}},
	{"GRANTD_SIGN_IN_LIMIT_ACCOUNT", "3/5m", ratelimit.Budget{N: 3, Per: 5 * time.Minute}},
	{"GRANTD_SIGN_IN_LIMIT_IP", "10/10m", ratelimit.Budget{N: 10, Per: 10 * time.Minute}},
	{"GRANTD_SIGN_IN_LIMIT_GLOBAL", "500/30s", ratelimit.Budget{N: 500, Per: 30 * time.Second}},
	{"GRANTD_CLIENT_AUTH_LIMIT", "5/1s", ratelimit.Budget{N: 5, Per: time.Second}},
	{"GRANTD_INTROSPECT_LIMIT", "5/1s", ratelimit.Budget{N: 5, Per: time.Second}},
	{"GRANTD_DEVICE_AUTH_LIMIT_IP", "5/1s", ratelimit.Budget{N: 5, Per: time.Second}},
	{"GRANTD_DEVICE_AUTH_LIMIT_CLIENT", "5/1s", ratelimit.Budget{N: 5, Per: time.Second}},
	{"GRANTD_REVOKE_LIMIT", "5/1s", ratelimit.Budget{N: 5, Per: time.Second}},
	{"GRANTD_REFRESH_TOKEN_GRACE", "0s", time.Duration(0)},
	{"GRANTD_PPROF_ADDR", "127.0.0.1:6060", "127.0.0.1:6060"},
	{"GRANTD_AUTH_CODE_TTL", "30s", 30 * time.Second},
	{"GRANTD_KEY_ROTATION_PERIOD", "2160h", 2160 * time.Hour},
	{"GRANTD_KEY_ROTATION_PERIOD", "0s", time.Duration(0)},
	{"GRANTD_KEY_RELOAD_INTERVAL", "500ms", 500 * time.Millisecond},
	{"GRANTD_SHUTDOWN_DELAY", "10s", 10 * time.Second},
	{"GRANTD_REQUIRE_PKCE", "true", true},
	{"GRANTD_METRICS_ADDR", "127.0.0.1:9090", "127.0.0.1:9090"},
	{"GRANTD_METRICS_ADDR", "10.1.2.3:9090", "10.1.2.3:9090"},
	{"GRANTD_METRICS_ADDR", "[fd00::5]:9090", "[fd00::5]:9090"},
	{"GRANTD_METRICS_CLIENT_LABELS", "true", true},
	{"GRANTD_LOG_FORMAT", "json", "json"},
	{"GRANTD_LOG_FORMAT", "TEXT", "text"},
	{"GRANTD_SITE_NAME", "Lights Incorporated", "Lights Incorporated"},
	{"GRANTD_SITE_NAME", " Énergie Zürich ", "Énergie Zürich"},
	{"GRANTD_SITE_LOGO_URL", "https://cdn.example.com/logo.svg", "https://cdn.example.com/logo.svg"},
	{"GRANTD_SITE_LOGO_URL", "https://cdn.example.com:8443/a/logo.png?v=2", "https://cdn.example.com:8443/a/logo.png?v=2"},
	{"GRANTD_SITE_ACCENT", "#1D4ED8", "#1d4ed8"},
	{"GRANTD_SITE_ACCENT", "#0a5", "#00aa55"},
	{"GRANTD_SITE_SUPPORT_URL", "https://help.example.com/grantd", "https://help.example.com/grantd"},
}

func TestLoadGoodValues(t *testing.T) {
	for _, tt := range goodValues {
		c, err := Load(env(map[string]string{tt.name: tt.value}), Overrides{})
		if err != nil {
			t.Errorf("%s=%q: %v", tt.name, tt.value, err)
			continue
		}
		if got := field[tt.name](c); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s=%q: got %v, want %v", tt.name, tt.value, got, tt.want)
		}
	}
}

// badValues lists, per setting, values Load refuses, one per kind of
// mistake. GRANTD_DATABASE takes any value.
var badValues = []struct {
	name, value string
}{
	{"GRANTD_ADDR", "localhost"},       // no port
	{"GRANTD_ADDR", "127.0.0.1:http"},  // named port
	{"GRANTD_ADDR", "127.0.0.1:70000"}, // port out of range
	{"GRANTD_ISSUER", "auth.example.com"},
	{"GRANTD_ISSUER", "/issuer"},
	{"GRANTD_ISSUER", "ftp://auth.example.com"},
	{"GRANTD_ISSUER", "https://"},
	{"GRANTD_ISSUER", "https://:443"},
	{"GRANTD_ISSUER", "https://user:pass@auth.example.com"},
	{"GRANTD_ISSUER", "https://auth.example.com?tenant=a"},
	{"GRANTD_ISSUER", "https://auth.example.com/?"},
	{"GRANTD_ISSUER", "https://auth.example.com#top"},
	{"GRANTD_ISSUER", "https://auth.example.com/%zz"},
	{"CODE_EXPIRATION", "abc"},
	{"CODE_EXPIRATION", "30m"},
	{"CODE_EXPIRATION", "1.5"},
	{"CODE_EXPIRATION", "59"},
	{"CODE_EXPIRATION", "86401"},
	{"CODE_EXPIRATION", "-1"},
	{"DEVICE_CODE_FORMAT", "x"},
	{"DEVICE_CODE_FORMAT", "##"},
	{"DEVICE_CODE_FORMAT", "#a-A"},
	{"DEVICE_CODE_LENGTH", "abc"},
	{"DEVICE_CODE_LENGTH", "0"},
	{"DEVICE_CODE_LENGTH", "257"},
	{"DEVICE_CODE_LENGTH", "21"}, // 125 bits
	{"POLLING_INTERVAL", "5s"},
	{"POLLING_INTERVAL", "0"},
	{"POLLING_INTERVAL", "301"},
	{"USER_CODE_FORMAT", "Z"},
	{"USER_CODE_FORMAT", "BB"},
	{"USER_CODE_FORMAT", "#"}, // 8 digits: 26.6 bits
	{"USER_CODE_LENGTH", "abc"},
	{"USER_CODE_LENGTH", "3"},
	{"USER_CODE_LENGTH", "33"},
	{"USER_CODE_LENGTH", "6"}, // 29.4 bits with #B
	{"RESULT_TOKEN_SET", "REFRESH"},
	{"RESULT_TOKEN_SET", "REFRESH+ID"},
	{"RESULT_TOKEN_SET", "ACCESS+ACCESS"},
	{"RESULT_TOKEN_SET", "ACCESS+CODE"},
	{"RESULT_TOKEN_SET", "ACCESS+"},
	{"GRANTD_ALLOW_WEAK_USER_CODE", "yes"},
	{"GRANTD_ALLOW_WEAK_USER_CODE", "2"},
	{"GRANTD_AWS_SAMPLE_COMPAT", "on"},
	{"GRANTD_ACCESS_TOKEN_TTL", "abc"},
	{"GRANTD_ACCESS_TOKEN_TTL", "3600"}, // no unit
	{"GRANTD_ACCESS_TOKEN_TTL", "59s"},
	{"GRANTD_ACCESS_TOKEN_TTL", "25h"},
	{"GRANTD_ACCESS_TOKEN_TTL", "-1h"},
	{"GRANTD_ACCESS_TOKEN_ALG", "HS256"},
	{"GRANTD_ACCESS_TOKEN_ALG", "none"},
	{"GRANTD_ID_TOKEN_ALG", "PS256"},
	{"GRANTD_REFRESH_TOKEN_TTL", "abc"},
	{"GRANTD_REFRESH_TOKEN_TTL", "0s"},
	{"GRANTD_REFRESH_TOKEN_TTL", "-1h"},
	{"GRANTD_REFRESH_TOKEN_TTL", "100h"}, // below the idle default
	{"GRANTD_REFRESH_TOKEN_IDLE_TTL", "abc"},
	{"GRANTD_REFRESH_TOKEN_IDLE_TTL", "0"},
	{"GRANTD_REFRESH_TOKEN_IDLE_TTL", "2161h"}, // above the absolute default
	{"GRANTD_SESSION_TTL", "abc"},
	{"GRANTD_SESSION_TTL", "0s"},
	{"GRANTD_TRUSTED_PROXIES", "nonsense"},
	{"GRANTD_MAX_CONNECTIONS", "8"},
	{"GRANTD_LOCAL_SIGN_IN", "maybe"},
	{"GRANTD_LIMIT_IPV4_PREFIX", "33"},
	{"GRANTD_LIMIT_IPV6_PREFIX", "16"},
	{"GRANTD_MAX_CONNECTIONS", "many"},
	{"GRANTD_TRUSTED_PROXIES", "10.0.0.0/33"},
	{"GRANTD_TRUSTED_PROXIES", "10.0.0.1,"},
	{"GRANTD_TRUSTED_PROXIES", "fe80::1%eth0"},
	{"GRANTD_USER_CODE_LIMIT_ACCOUNT", "abc"},
	{"GRANTD_USER_CODE_LIMIT_ACCOUNT", "0/1m"},
	{"GRANTD_USER_CODE_LIMIT_IP", "10"},
	{"GRANTD_USER_CODE_LIMIT_IP", "10/0s"},
	{"GRANTD_USER_CODE_LIMIT_GLOBAL", "x/1m"},
	{"GRANTD_SIGN_IN_LIMIT_ACCOUNT", "5/15"},
	{"GRANTD_SIGN_IN_LIMIT_IP", "-1/1m"},
	{"GRANTD_SIGN_IN_LIMIT_GLOBAL", "1000/"},
	{"GRANTD_CLIENT_AUTH_LIMIT", "0/1m"},
	{"GRANTD_INTROSPECT_LIMIT", "x/1m"},
	{"GRANTD_DEVICE_AUTH_LIMIT_IP", "1/0s"},
	{"GRANTD_DEVICE_AUTH_LIMIT_CLIENT", "many"},
	{"GRANTD_REVOKE_LIMIT", "5"},
	{"GRANTD_REFRESH_TOKEN_GRACE", "2m"},
	{"GRANTD_PPROF_ADDR", "0.0.0.0:6060"},
	{"GRANTD_AUTH_CODE_TTL", "0s"},
	{"GRANTD_KEY_ROTATION_PERIOD", "10m"},
	{"GRANTD_KEY_ROTATION_PERIOD", "-1h"},
	{"GRANTD_KEY_RELOAD_INTERVAL", "0s"},
	{"GRANTD_KEY_RELOAD_INTERVAL", "1h"},
	{"GRANTD_SHUTDOWN_DELAY", "2m"},
	{"GRANTD_SHUTDOWN_DELAY", "-1s"},
	{"GRANTD_REQUIRE_PKCE", "maybe"},
	{"GRANTD_METRICS_ADDR", "0.0.0.0:9090"},   // every interface
	{"GRANTD_METRICS_ADDR", ":9090"},          // every interface
	{"GRANTD_METRICS_ADDR", "8.8.8.8:9090"},   // public
	{"GRANTD_METRICS_ADDR", "localhost:9090"}, // a name, not an address
	{"GRANTD_METRICS_ADDR", "127.0.0.1"},      // no port
	{"GRANTD_METRICS_CLIENT_LABELS", "some"},
	{"GRANTD_LOG_FORMAT", "logfmt"},
	{"GRANTD_SITE_NAME", strings.Repeat("n", 65)},
	{"GRANTD_SITE_NAME", "Lights\x1b[31mInc"},
	{"GRANTD_SITE_LOGO_URL", "http://cdn.example.com/logo.svg"},   // not https
	{"GRANTD_SITE_LOGO_URL", "/static/logo.svg"},                  // not absolute
	{"GRANTD_SITE_LOGO_URL", "https://user:pw@cdn.example.com/l"}, // user info
	{"GRANTD_SITE_LOGO_URL", "https://cdn.example.com;x/l.svg"},   // a host a CSP source cannot hold
	{"GRANTD_SITE_LOGO_URL", "data:image/svg+xml,<svg/>"},
	{"GRANTD_SITE_ACCENT", "blue"},
	{"GRANTD_SITE_ACCENT", "#1d4ed8; } body { display: none"}, // CSS injection
	{"GRANTD_SITE_ACCENT", "#12345"},
	{"GRANTD_SITE_ACCENT", "1d4ed8"},
	{"GRANTD_SITE_ACCENT", "#ggg"},
	{"GRANTD_SITE_SUPPORT_URL", "javascript:alert(1)"},
	{"GRANTD_SITE_SUPPORT_URL", "http://help.example.com"},
}

func TestLoadBadValues(t *testing.T) {
	for _, tt := range badValues {
		c, err := Load(env(map[string]string{tt.name: tt.value}), Overrides{})
		if err == nil {
			t.Errorf("%s=%q: Load succeeded (%+v), want an error", tt.name, tt.value, c)
			continue
		}
		if !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%s=%q: error %q does not name the setting", tt.name, tt.value, err)
		}
		checkErrorLines(t, err)
	}
}

// checkErrorLines checks that every line of err begins with a setting's
// name.
func checkErrorLines(t *testing.T, err error) {
	t.Helper()
	for line := range strings.SplitSeq(err.Error(), "\n") {
		name, _, _ := strings.Cut(line, " ")
		if field[name] == nil {
			t.Errorf("error line %q does not begin with a setting's name", line)
		}
	}
}

func TestLoadErrorMessages(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"USER_CODE_LENGTH": "abc"}, `USER_CODE_LENGTH "abc": not an integer`},
		{map[string]string{"CODE_EXPIRATION": "59"}, `CODE_EXPIRATION "59": must be 60..86400 seconds`},
		{map[string]string{"GRANTD_ACCESS_TOKEN_TTL": "25h"}, `GRANTD_ACCESS_TOKEN_TTL "25h": must be 1m..24h`},
		{map[string]string{"DEVICE_CODE_FORMAT": "#x"}, `DEVICE_CODE_FORMAT "#x": unknown format letter 'x'; want letters from "#aAbB!"`},
		{map[string]string{"RESULT_TOKEN_SET": "REFRESH"}, `RESULT_TOKEN_SET "REFRESH": ACCESS is required (a device needs an access token)`},
		{map[string]string{"GRANTD_USER_CODE_LIMIT_IP": "10"}, `GRANTD_USER_CODE_LIMIT_IP "10": want N/DURATION, e.g. 10/10m`},
		{map[string]string{"GRANTD_ISSUER": "https://a.example?x=1"}, `GRANTD_ISSUER "https://a.example?x=1": URL must not have a query`},
		{map[string]string{"GRANTD_REFRESH_TOKEN_IDLE_TTL": "2161h"},
			`GRANTD_REFRESH_TOKEN_IDLE_TTL "2161h": must not exceed GRANTD_REFRESH_TOKEN_TTL "2160h"`},
	}
	for _, tt := range tests {
		_, err := Load(env(tt.env), Overrides{})
		if err == nil || err.Error() != tt.want {
			t.Errorf("Load(%v) error = %v, want %s", tt.env, err, tt.want)
		}
	}
}

// TestLoadReportsEveryError checks that one start-up names every bad setting.
func TestLoadReportsEveryError(t *testing.T) {
	bad := map[string]string{
		"GRANTD_ADDR":             "nonsense",
		"CODE_EXPIRATION":         "x",
		"USER_CODE_LENGTH":        "3",
		"GRANTD_ACCESS_TOKEN_ALG": "none",
		"GRANTD_SIGN_IN_LIMIT_IP": "0/1m",
		"DEVICE_CODE_LENGTH":      "16",
	}
	_, err := Load(env(bad), Overrides{})
	if err == nil {
		t.Fatal("Load succeeded, want errors")
	}
	for name := range bad {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
	checkErrorLines(t, err)
}

func TestSettingsCovered(t *testing.T) {
	good := make(map[string]bool)
	for _, tt := range goodValues {
		good[tt.name] = true
	}
	bad := map[string]bool{"GRANTD_DATABASE": true, "GRANTD_SECRET_KEY_FILE": true} // take any value
	for _, tt := range badValues {
		bad[tt.name] = true
	}
	seen := make(map[string]bool)
	for _, s := range (Config{}).Settings() {
		if seen[s.Name] {
			t.Errorf("setting %s listed twice", s.Name)
		}
		seen[s.Name] = true
		if field[s.Name] == nil || !good[s.Name] || !bad[s.Name] {
			t.Errorf("setting %s lacks a field, a good value or a bad value in the tests", s.Name)
		}
		if s.Description == "" {
			t.Errorf("setting %s has no description", s.Name)
		}
	}
	if len(seen) != len(field) {
		t.Errorf("Settings lists %d settings, the tests know %d", len(seen), len(field))
	}
}
