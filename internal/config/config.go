// Package config holds grantd's settings: read from the environment (the
// GRANTD_* names and the device-flow names CODE_EXPIRATION, USER_CODE_FORMAT,
// ...), overridden by command-line flags, and validated once at start-up.
// A bad setting stops the server with a message that begins with the
// setting's name, e.g. `USER_CODE_LENGTH "abc": not an integer`.
//
// Load also applies the entropy policy of docs/SECURITY.md DEV-03 and DEV-05: a device code
// needs at least 128 bits (DEV-03) and a user code at least 30 bits unless
// the operator explicitly allows a weak one (DEV-05).
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/clientip"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/usercode"
)

// Overrides are settings given as command-line flags. They win over the
// environment; an empty field was not given.
type Overrides struct{ Addr, Issuer, Database string }

// Config is grantd's validated settings. Only Load makes a valid Config.
type Config struct {
	Addr     string // GRANTD_ADDR: the address to listen on
	Issuer   string // GRANTD_ISSUER: the issuer URL, no trailing '/'
	Database string // GRANTD_DATABASE: the SQLite file or database URL

	SecretKeyFile string // GRANTD_SECRET_KEY_FILE: "" for the default (see SecretKeyPath)
	LocalSignIn   bool   // GRANTD_LOCAL_SIGN_IN, default true

	CodeExpiration    time.Duration   // CODE_EXPIRATION: device and user code lifetime (expires_in)
	DeviceCodeFormat  usercode.Format // DEVICE_CODE_FORMAT
	DeviceCodeLength  int             // DEVICE_CODE_LENGTH
	PollingInterval   time.Duration   // POLLING_INTERVAL: the interval returned to devices
	UserCodeFormat    usercode.Format // USER_CODE_FORMAT
	UserCodeLength    int             // USER_CODE_LENGTH
	ResultTokenSet    TokenSet        // RESULT_TOKEN_SET: tokens a device grant returns
	AllowWeakUserCode bool            // GRANTD_ALLOW_WEAK_USER_CODE: accept a user code under 30 bits
	// AWSSampleCompat is GRANTD_AWS_SAMPLE_COMPAT: accept the requests of
	// devices written against the AWS sample (cognito-device-grant-flow).
	AWSSampleCompat bool

	AccessTokenTTL      time.Duration // GRANTD_ACCESS_TOKEN_TTL
	AccessTokenAlg      string        // GRANTD_ACCESS_TOKEN_ALG: RS256, ES256 or EdDSA
	IDTokenAlg          string        // GRANTD_ID_TOKEN_ALG: RS256, ES256 or EdDSA
	RefreshTokenTTL     time.Duration // GRANTD_REFRESH_TOKEN_TTL: absolute lifetime of a refresh token family
	RefreshTokenIdleTTL time.Duration // GRANTD_REFRESH_TOKEN_IDLE_TTL: lifetime of an unused refresh token
	SessionTTL          time.Duration // GRANTD_SESSION_TTL: browser sign-in session lifetime

	TrustedProxies []netip.Prefix // GRANTD_TRUSTED_PROXIES: whose X-Forwarded-For to believe; none by default
	MaxConnections int            // GRANTD_MAX_CONNECTIONS: 0 for auto (see httpserver)
	// LimitIPv4Prefix and LimitIPv6Prefix are GRANTD_LIMIT_IPV4_PREFIX and
	// GRANTD_LIMIT_IPV6_PREFIX: the network a per-IP budget counts.
	LimitIPv4Prefix, LimitIPv6Prefix int

	UserCodeLimitAccount, UserCodeLimitIP, UserCodeLimitGlobal ratelimit.Budget // GRANTD_USER_CODE_LIMIT_*
	SignInLimitAccount, SignInLimitIP, SignInLimitGlobal       ratelimit.Budget // GRANTD_SIGN_IN_LIMIT_*
	ClientAuthLimit                                            ratelimit.Budget // GRANTD_CLIENT_AUTH_LIMIT
	IntrospectLimit                                            ratelimit.Budget // GRANTD_INTROSPECT_LIMIT
	DeviceAuthLimitIP, DeviceAuthLimitClient                   ratelimit.Budget // GRANTD_DEVICE_AUTH_LIMIT_IP, _CLIENT
	RevokeLimit                                                ratelimit.Budget // GRANTD_REVOKE_LIMIT

	PprofAddr   string // GRANTD_PPROF_ADDR, default "" (off)
	MetricsAddr string // GRANTD_METRICS_ADDR, default "" (off)
	LogFormat   string // GRANTD_LOG_FORMAT: "text" or "json"
	// MetricsClientLabels is GRANTD_METRICS_CLIENT_LABELS: label counters
	// with client ids (package metrics).
	MetricsClientLabels bool
	RefreshTokenGrace   time.Duration // GRANTD_REFRESH_TOKEN_GRACE, default 5s
	AuthCodeTTL         time.Duration // GRANTD_AUTH_CODE_TTL, default 60s
	RequirePKCE         bool          // GRANTD_REQUIRE_PKCE, default false

	KeyReloadInterval time.Duration // GRANTD_KEY_RELOAD_INTERVAL, default 30s
	ShutdownDelay     time.Duration // GRANTD_SHUTDOWN_DELAY, default 0s
	KeyRotationPeriod time.Duration // GRANTD_KEY_ROTATION_PERIOD, default 0 (manual)

	SiteName       string // GRANTD_SITE_NAME, default "grantd"
	SiteLogoURL    string // GRANTD_SITE_LOGO_URL: https, or ""
	SiteAccent     string // GRANTD_SITE_ACCENT: "#rrggbb", or ""
	SiteSupportURL string // GRANTD_SITE_SUPPORT_URL: https, or ""
}

// SecretKeyPath returns the secret key file in force, and whether it may be
// created: GRANTD_SECRET_KEY_FILE as given (never created: it is the
// operator's), else, with SQLite, the database file's name plus
// ".secret-key", created on first start. With PostgreSQL and no setting it
// returns "": every instance must read the same file, which the operator
// provides.
func (c Config) SecretKeyPath() (path string, create bool) {
	switch {
	case c.SecretKeyFile != "":
		return c.SecretKeyFile, false
	case c.Postgres():
		return "", false
	default:
		return c.Database + ".secret-key", true
	}
}

// Postgres reports whether the database is a PostgreSQL URL rather than a
// SQLite file path.
func (c Config) Postgres() bool {
	return strings.HasPrefix(c.Database, "postgres://") || strings.HasPrefix(c.Database, "postgresql://")
}

// ClientIP returns how requests' client addresses are found and keyed for
// the per-IP budgets.
func (c Config) ClientIP() clientip.Resolver {
	return clientip.Resolver{Trusted: c.TrustedProxies, IPv4Bits: c.LimitIPv4Prefix, IPv6Bits: c.LimitIPv6Prefix}
}

// Setting describes one setting for the README table and `grantd serve
// --help`.
type Setting struct{ Name, Default, Description string }

// setting is a Setting with how Load applies it.
type setting struct {
	Setting
	// flag returns the command-line value that overrides the environment,
	// or "" if none. Nil when the setting has no flag.
	flag func(Overrides) string
	// defaultFrom derives the default from the settings before this one.
	// Nil when Default applies.
	defaultFrom func(c *Config) string
	// apply parses v (trimmed; the default when unset) into c. Its errors
	// begin with the quoted value, as the parsers of packages ratelimit and
	// usercode do, so that Load can prefix the setting's name.
	apply func(c *Config, v string) error
}

// settings returns every setting in a stable order. A setting whose default
// derives from others comes after them.
func settings() []setting {
	var all []setting
	all = append(all, serverSettings()...)
	all = append(all, deviceSettings()...)
	all = append(all, tokenSettings()...)
	all = append(all, observeSettings()...)
	all = append(all, limitSettings()...)
	all = append(all, siteSettings()...)
	return all
}

// Load reads the settings from getenv (os.Getenv in production), lets the
// non-empty fields of o win over the environment, fills in defaults, and
// validates the result. Values are trimmed of white space; an empty value is
// unset. The default issuer derives from the final address.
//
// The error reports every bad setting, one per line, each line beginning
// with the setting's name.
func Load(getenv func(string) string, o Overrides) (Config, error) {
	var c Config
	var errs []error
	for _, s := range settings() {
		v, derived := s.value(getenv, o, &c)
		if err := s.apply(&c, v); err != nil {
			if derived {
				err = fmt.Errorf("%w (the default, from GRANTD_ADDR; set %s)", err, s.Name)
			}
			errs = append(errs, fmt.Errorf("%s %w", s.Name, err))
		}
	}
	errs = append(errs, c.checkRefreshTTLs()...)
	errs = append(errs, c.checkEntropy()...)
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// value returns the value Load applies for s: the flag's, else the
// environment's, else the default. derived reports a default derived from
// other settings.
func (s setting) value(getenv func(string) string, o Overrides, c *Config) (v string, derived bool) {
	if s.flag != nil {
		v = strings.TrimSpace(s.flag(o))
	}
	if v == "" {
		v = strings.TrimSpace(getenv(s.Name))
	}
	switch {
	case v != "":
		return v, false
	case s.defaultFrom != nil:
		return s.defaultFrom(c), true
	}
	return s.Default, false
}

// Settings describes every setting, in a stable order. Defaults are the
// built-in ones, except GRANTD_ISSUER's, which derives from c.Addr (from the
// default address when c.Addr is empty).
func (c Config) Settings() []Setting {
	all := settings()
	if c.Addr == "" {
		c.Addr = defaultAddr
	}
	out := make([]Setting, len(all))
	for i, s := range all {
		out[i] = s.Setting
		if s.defaultFrom != nil {
			out[i].Default = s.defaultFrom(&c)
		}
	}
	return out
}

// checkRefreshTTLs checks the refresh-token lifetimes against each other.
// A zero lifetime failed to parse and was reported already.
func (c *Config) checkRefreshTTLs() []error {
	if c.RefreshTokenTTL == 0 || c.RefreshTokenIdleTTL == 0 || c.RefreshTokenIdleTTL <= c.RefreshTokenTTL {
		return nil
	}
	return []error{fmt.Errorf("GRANTD_REFRESH_TOKEN_IDLE_TTL %q: must not exceed GRANTD_REFRESH_TOKEN_TTL %q",
		formatDuration(c.RefreshTokenIdleTTL), formatDuration(c.RefreshTokenTTL))}
}
