package config

import (
	"time"

	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/usercode"
)

// defaultAddr is GRANTD_ADDR's default: loopback only, so that a server
// started without configuration is not reachable from the network.
const defaultAddr = "127.0.0.1:8080"

// serverSettings are where grantd listens, who it says it is, and where it
// keeps its state.
func serverSettings() []setting {
	return []setting{{
		Setting: Setting{"GRANTD_ADDR", defaultAddr, "Address to listen on, host:port."},
		flag:    func(o Overrides) string { return o.Addr },
		apply:   func(c *Config, v string) (err error) { c.Addr, err = parseAddr(v); return err },
	}, {
		Setting: Setting{"GRANTD_ISSUER", "", "Issuer URL: absolute http(s), no query or fragment; a trailing '/' is dropped. " +
			"Default: http:// followed by GRANTD_ADDR."},
		flag:        func(o Overrides) string { return o.Issuer },
		defaultFrom: func(c *Config) string { return "http://" + c.Addr },
		apply:       func(c *Config, v string) (err error) { c.Issuer, err = parseIssuer(v); return err },
	}, {
		Setting: Setting{"GRANTD_DATABASE", "grantd.db", "SQLite file, or PostgreSQL URL."},
		flag:    func(o Overrides) string { return o.Database },
		apply:   func(c *Config, v string) error { c.Database = v; return nil },
	}}
}

// deviceSettings shape the device authorization grant (RFC 8628).
func deviceSettings() []setting {
	return []setting{{
		Setting: Setting{"CODE_EXPIRATION", "1800", "Lifetime of a device code and its user code, in seconds (60..86400)."},
		apply:   func(c *Config, v string) (err error) { c.CodeExpiration, err = parseSeconds(v, 60, 86400); return err },
	}, {
		Setting: Setting{"DEVICE_CODE_FORMAT", "#aA", "Characters of device codes: # digits, a/A letters, b/B consonants, ! punctuation."},
		apply:   func(c *Config, v string) (err error) { c.DeviceCodeFormat, err = usercode.ParseFormat(v); return err },
	}, {
		Setting: Setting{"DEVICE_CODE_LENGTH", "64", "Characters in a device code (1..256); with the format, at least 128 bits."},
		apply:   func(c *Config, v string) (err error) { c.DeviceCodeLength, err = parseInt(v, 1, 256); return err },
	}, {
		Setting: Setting{"POLLING_INTERVAL", "5", "Seconds a device waits between polls (1..300); faster polls get slow_down."},
		apply:   func(c *Config, v string) (err error) { c.PollingInterval, err = parseSeconds(v, 1, 300); return err },
	}, {
		Setting: Setting{"USER_CODE_FORMAT", "#B", "Characters of user codes, letters as for DEVICE_CODE_FORMAT."},
		apply:   func(c *Config, v string) (err error) { c.UserCodeFormat, err = usercode.ParseFormat(v); return err },
	}, {
		Setting: Setting{"USER_CODE_LENGTH", "8", "Characters in a user code (4..32); with the format, at least 30 bits."},
		apply:   func(c *Config, v string) (err error) { c.UserCodeLength, err = parseInt(v, 4, 32); return err },
	}, {
		Setting: Setting{"RESULT_TOKEN_SET", "ACCESS+REFRESH", "Tokens a device grant returns: ACCESS, optionally +REFRESH and +ID."},
		apply:   func(c *Config, v string) (err error) { c.ResultTokenSet, err = ParseTokenSet(v); return err },
	}, {
		Setting: Setting{"GRANTD_ALLOW_WEAK_USER_CODE", "false", "Start even when a user code has under 30 bits (true/false)."},
		apply:   func(c *Config, v string) (err error) { c.AllowWeakUserCode, err = parseBool(v); return err },
	}, {
		Setting: Setting{"GRANTD_AWS_SAMPLE_COMPAT", "false", "Accept devices written against the AWS sample unchanged: " +
			"POST /token without grant_type requests a device code, polls may carry client_id, device_code and grant_type " +
			"in the query string, and /device?code=X&authorize=true shows the confirm page (true/false)."},
		apply: func(c *Config, v string) (err error) { c.AWSSampleCompat, err = parseBool(v); return err },
	}}
}

// tokenSettings are token and session lifetimes and signing algorithms.
func tokenSettings() []setting {
	return []setting{{
		Setting: Setting{"GRANTD_ACCESS_TOKEN_TTL", "1h", "Access token lifetime, a Go duration (1m..24h)."},
		apply: func(c *Config, v string) (err error) {
			c.AccessTokenTTL, err = parseDuration(v, time.Minute, 24*time.Hour)
			return err
		},
	}, {
		Setting: Setting{"GRANTD_ACCESS_TOKEN_ALG", "RS256", "Access token signing algorithm: RS256, ES256 or EdDSA."},
		apply:   func(c *Config, v string) (err error) { c.AccessTokenAlg, err = parseAlg(v); return err },
	}, {
		Setting: Setting{"GRANTD_ID_TOKEN_ALG", "RS256", "ID token signing algorithm: RS256, ES256 or EdDSA."},
		apply:   func(c *Config, v string) (err error) { c.IDTokenAlg, err = parseAlg(v); return err },
	}, {
		Setting: Setting{"GRANTD_KEY_ROTATION_PERIOD", "0", "How long a signing key signs before a successor is scheduled automatically, a Go duration (1h..8760h); " +
			"0 rotates only on `grantd keys rotate`."},
		apply: func(c *Config, v string) (err error) {
			if d, perr := time.ParseDuration(v); perr == nil && d == 0 {
				c.KeyRotationPeriod = 0
				return nil
			}
			c.KeyRotationPeriod, err = parseDuration(v, time.Hour, 8760*time.Hour)
			return err
		},
	}, {
		Setting: Setting{"GRANTD_KEY_RELOAD_INTERVAL", "30s", "How often each instance re-reads the signing keys and the scope descriptions, " +
			"so that a rotation by any instance, `grantd keys rotate` or `grantd scope set` reaches all (100ms..5m)."},
		apply: func(c *Config, v string) (err error) {
			c.KeyReloadInterval, err = parseDuration(v, 100*time.Millisecond, 5*time.Minute)
			return err
		},
	}, {
		Setting: Setting{"GRANTD_REFRESH_TOKEN_TTL", "2160h", "Absolute lifetime of a refresh token family, a Go duration (90 days)."},
		apply:   func(c *Config, v string) (err error) { c.RefreshTokenTTL, err = parseDuration(v, 0, 0); return err },
	}, {
		Setting: Setting{"GRANTD_REFRESH_TOKEN_IDLE_TTL", "720h", "Lifetime of an unused refresh token (30 days); at most GRANTD_REFRESH_TOKEN_TTL."},
		apply:   func(c *Config, v string) (err error) { c.RefreshTokenIdleTTL, err = parseDuration(v, 0, 0); return err },
	}, {
		Setting: Setting{"GRANTD_REFRESH_TOKEN_GRACE", "5s", "How long a rotated refresh token, presented again, gets the same successor instead of revoking its grant (0..60s)."},
		apply: func(c *Config, v string) (err error) {
			if d, perr := time.ParseDuration(v); perr == nil && d == 0 {
				c.RefreshTokenGrace = 0 // no grace: every reuse revokes
				return nil
			}
			c.RefreshTokenGrace, err = parseDuration(v, time.Millisecond, time.Minute)
			return err
		},
	}, {
		Setting: Setting{"GRANTD_AUTH_CODE_TTL", "60s", "Lifetime of an authorization code, a Go duration (1s..10m)."},
		apply: func(c *Config, v string) (err error) {
			c.AuthCodeTTL, err = parseDuration(v, time.Second, 10*time.Minute)
			return err
		},
	}, {
		Setting: Setting{"GRANTD_REQUIRE_PKCE", "false", "Require PKCE (S256) from every client at /authorize, not only public ones (true/false)."},
		apply:   func(c *Config, v string) (err error) { c.RequirePKCE, err = parseBool(v); return err },
	}, {
		Setting: Setting{"GRANTD_SESSION_TTL", "1h", "Lifetime of a browser sign-in session, a Go duration."},
		apply:   func(c *Config, v string) (err error) { c.SessionTTL, err = parseDuration(v, 0, 0); return err },
	}, {
		Setting: Setting{"GRANTD_SECRET_KEY_FILE", "", "File of the 32 random bytes that seal upstream client secrets and tokens at rest (mode 0600). " +
			"Default with SQLite: the database file's name plus .secret-key, created on first start; required with PostgreSQL once upstreams are used."},
		apply: func(c *Config, v string) error { c.SecretKeyFile = v; return nil },
	}, {
		Setting: Setting{"GRANTD_LOCAL_SIGN_IN", "true", "Offer sign-in with a local user name and password (true/false); false leaves the upstream providers only."},
		apply:   func(c *Config, v string) (err error) { c.LocalSignIn, err = parseBool(v); return err },
	}, {
		Setting: Setting{"GRANTD_SHUTDOWN_DELAY", "0s", "How long, after SIGTERM, the server goes on serving while /readyz answers 503, " +
			"so that a load balancer stops sending it requests before its listener closes (0s..60s)."},
		apply: func(c *Config, v string) (err error) {
			if d, perr := time.ParseDuration(v); perr == nil && d == 0 {
				c.ShutdownDelay = 0
				return nil
			}
			c.ShutdownDelay, err = parseDuration(v, time.Millisecond, time.Minute)
			return err
		},
	}, {
		Setting: Setting{"GRANTD_PPROF_ADDR", "", "Loopback host:port for Go's pprof profiles (net/http/pprof), for profiling under load; off when empty."},
		apply:   func(c *Config, v string) (err error) { c.PprofAddr, err = parseLoopbackAddr(v); return err },
	}, {
		Setting: Setting{"GRANTD_MAX_CONNECTIONS", "auto", "Most client connections served at once (16..1000000); further ones wait to be accepted. " +
			"auto: 4096, or half the open-file limit (raised to its hard limit at start) when that is less."},
		apply: func(c *Config, v string) (err error) {
			if v == "auto" {
				c.MaxConnections = 0
				return nil
			}
			c.MaxConnections, err = parseInt(v, 16, 1_000_000)
			return err
		},
	}, {
		Setting: Setting{"GRANTD_TRUSTED_PROXIES", "", "Comma-separated CIDRs or IPs whose X-Forwarded-For is believed; none by default."},
		apply:   func(c *Config, v string) (err error) { c.TrustedProxies, err = parsePrefixes(v); return err },
	}}
}

// observeSettings say how an operator watches grantd: its metrics and its
// logs.
func observeSettings() []setting {
	return []setting{{
		Setting: Setting{"GRANTD_METRICS_ADDR", "", "host:port, on a loopback or private IP address, where Prometheus metrics are served " +
			"at /metrics, apart from the main listener; off when empty."},
		apply: func(c *Config, v string) (err error) { c.MetricsAddr, err = parsePrivateAddr(v); return err },
	}, {
		Setting: Setting{"GRANTD_METRICS_CLIENT_LABELS", "false", "Label the device flow's and the token endpoint's counters with the client id " +
			"(true/false): one series per client, so only for a bounded number of clients."},
		apply: func(c *Config, v string) (err error) { c.MetricsClientLabels, err = parseBool(v); return err },
	}, {
		Setting: Setting{"GRANTD_LOG_FORMAT", "text", "Log lines as text (key=value) or json (one object a line), on standard error."},
		apply:   func(c *Config, v string) (err error) { c.LogFormat, err = parseLogFormat(v); return err },
	}}
}

// limitSettings are the attempt budgets (package ratelimit), N/DURATION.
func limitSettings() []setting {
	budget := func(name, def, desc string, field func(*Config) *ratelimit.Budget) setting {
		return setting{
			Setting: Setting{name, def, desc},
			apply:   func(c *Config, v string) (err error) { *field(c), err = ratelimit.ParseBudget(v); return err },
		}
	}
	return []setting{{
		Setting: Setting{"GRANTD_LIMIT_IPV4_PREFIX", "32", "Prefix length of the IPv4 network a per-IP budget counts as one client (8..32)."},
		apply:   func(c *Config, v string) (err error) { c.LimitIPv4Prefix, err = parseInt(v, 8, 32); return err },
	}, {
		Setting: Setting{"GRANTD_LIMIT_IPV6_PREFIX", "64", "Prefix length of the IPv6 network a per-IP budget counts as one client (32..128); a /64 is one subscriber's."},
		apply:   func(c *Config, v string) (err error) { c.LimitIPv6Prefix, err = parseInt(v, 32, 128); return err },
	},
		budget("GRANTD_USER_CODE_LIMIT_ACCOUNT", "10/10m", "User-code attempts per account, N/DURATION.",
			func(c *Config) *ratelimit.Budget { return &c.UserCodeLimitAccount }),
		budget("GRANTD_USER_CODE_LIMIT_IP", "20/10m", "User-code attempts per client IP, N/DURATION.",
			func(c *Config) *ratelimit.Budget { return &c.UserCodeLimitIP }),
		budget("GRANTD_USER_CODE_LIMIT_GLOBAL", "1000/1m", "User-code attempts by everyone together, N/DURATION; bounds F in the guessing bound of docs/SECURITY.md DEV-05.",
			func(c *Config) *ratelimit.Budget { return &c.UserCodeLimitGlobal }),
		budget("GRANTD_SIGN_IN_LIMIT_ACCOUNT", "5/15m", "Sign-in attempts per account, N/DURATION.",
			func(c *Config) *ratelimit.Budget { return &c.SignInLimitAccount }),
		budget("GRANTD_SIGN_IN_LIMIT_IP", "20/15m", "Sign-in attempts per client IP, N/DURATION.",
			func(c *Config) *ratelimit.Budget { return &c.SignInLimitIP }),
		budget("GRANTD_SIGN_IN_LIMIT_GLOBAL", "1000/1m", "Sign-in attempts by everyone together, N/DURATION.",
			func(c *Config) *ratelimit.Budget { return &c.SignInLimitGlobal }),
		budget("GRANTD_CLIENT_AUTH_LIMIT", "20/1m", "Client secret checks per client and client IP that do not match a secret already verified, N/DURATION (TOK-02).",
			func(c *Config) *ratelimit.Budget { return &c.ClientAuthLimit }),
		budget("GRANTD_DEVICE_AUTH_LIMIT_IP", "600/1m", "Device authorization requests per client IP, N/DURATION (DEV-20: fewer pending codes for a guesser to hit).",
			func(c *Config) *ratelimit.Budget { return &c.DeviceAuthLimitIP }),
		budget("GRANTD_DEVICE_AUTH_LIMIT_CLIENT", "60000/1m", "Device authorization requests per client, N/DURATION (DEV-20); size it for the fleet.",
			func(c *Config) *ratelimit.Budget { return &c.DeviceAuthLimitClient }),
		budget("GRANTD_INTROSPECT_LIMIT", "600/1m", "Introspection answers of active:false per calling client, N/DURATION (INT-05: throttles token scanning).",
			func(c *Config) *ratelimit.Budget { return &c.IntrospectLimit }),
		budget("GRANTD_REVOKE_LIMIT", "600/1m", "Revocation requests per client naming a token that is not its own, N/DURATION (REV-05).",
			func(c *Config) *ratelimit.Budget { return &c.RevokeLimit }),
	}
}

// siteSettings are how the pages present the operator's service.
func siteSettings() []setting {
	return []setting{{
		Setting: Setting{"GRANTD_SITE_NAME", "grantd", "The service's name in the pages' titles and headings (at most 64 characters)."},
		apply:   func(c *Config, v string) (err error) { c.SiteName, err = parseSiteName(v); return err },
	}, {
		Setting: Setting{"GRANTD_SITE_LOGO_URL", "", "An https URL of the operator's logo, shown beside the name; browsers load it, grantd never does. None when empty."},
		apply:   func(c *Config, v string) (err error) { c.SiteLogoURL, err = parseHTTPSURL(v); return err },
	}, {
		Setting: Setting{"GRANTD_SITE_ACCENT", "", "The pages' accent colour, a CSS hex colour such as #1d4ed8 (#rgb or #rrggbb); the built-in blue when empty."},
		apply:   func(c *Config, v string) (err error) { c.SiteAccent, err = parseAccent(v); return err },
	}, {
		Setting: Setting{"GRANTD_SITE_SUPPORT_URL", "", "An https URL of the operator's help and privacy page, linked from every page. None when empty."},
		apply:   func(c *Config, v string) (err error) { c.SiteSupportURL, err = parseHTTPSURL(v); return err },
	}}
}
