package config

import (
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"strings"
)

// MinDeviceCodeBits is the entropy a device code must have: a guess succeeds
// with probability at most 2^-128 (RFC 6749 §10.10, RFC 8628 §5.2, DEV-03).
// Load always refuses less.
const MinDeviceCodeBits = 128

// MinUserCodeBits is the entropy below which Load refuses a user code format
// unless GRANTD_ALLOW_WEAK_USER_CODE is true (docs/SECURITY.md DEV-05). A
// user code is short because a person types it; rate limits, not entropy
// alone, keep brute force out (RFC 8628 §5.1), and UserCodeGuessBound says
// how far.
const MinUserCodeBits = 30

// checkEntropy applies the entropy policy. A zero format or length failed to
// parse and was reported already.
func (c *Config) checkEntropy() []error {
	var errs []error
	if c.DeviceCodeFormat.Alphabet() != "" && c.DeviceCodeLength > 0 {
		if bits := c.DeviceCodeFormat.Bits(c.DeviceCodeLength); bits < MinDeviceCodeBits {
			errs = append(errs, fmt.Errorf(
				"DEVICE_CODE_LENGTH %d: with DEVICE_CODE_FORMAT %q a device code has %.1f bits, under the %d required (RFC 8628 §5.2); use at least %d characters",
				c.DeviceCodeLength, c.DeviceCodeFormat.Spec(), bits, MinDeviceCodeBits,
				lengthFor(MinDeviceCodeBits, c.DeviceCodeFormat.Bits(1))))
		}
	}
	if c.UserCodeFormat.Alphabet() != "" && c.UserCodeLength > 0 && !c.AllowWeakUserCode {
		if bits := c.UserCodeFormat.Bits(c.UserCodeLength); bits < MinUserCodeBits {
			errs = append(errs, fmt.Errorf(
				"USER_CODE_FORMAT %q with USER_CODE_LENGTH %d: a user code has %.1f bits, under the %d-bit floor (docs/SECURITY.md DEV-05); "+
					"use at least %d characters, a larger format, or set GRANTD_ALLOW_WEAK_USER_CODE=true to accept the risk",
				c.UserCodeFormat.Spec(), c.UserCodeLength, bits, MinUserCodeBits,
				lengthFor(MinUserCodeBits, c.UserCodeFormat.Bits(1))))
		}
	}
	return errs
}

// lengthFor returns the fewest characters of perChar bits that reach bits.
func lengthFor(bits int, perChar float64) int {
	return int(math.Ceil(float64(bits)/perChar - 1e-9))
}

// UserCodeGuessBound returns p = F·A/S, the guessing bound of docs/SECURITY.md
// DEV-05 on the chance that wrong guesses hit some pending user code within one
// code lifetime:
//
//   - F is the most user-code attempts the global budget admits in one
//     CODE_EXPIRATION. The budget is a token bucket that starts full and
//     refills N per window, so F = N·(1 + CODE_EXPIRATION/window): the
//     burst counts too. With the defaults (1000/1m, 1800 s) F = 31,000.
//   - A is pending, the number of codes pending at once (the cap on pending
//     device authorizations).
//   - S is the code space, |alphabet|^USER_CODE_LENGTH.
//
// The bound is the expected number of hits and can exceed 1, meaning a hit
// is to be expected. With the defaults and 1,000 pending codes it is about
// 4.7·10^-5. c must come from Load.
func UserCodeGuessBound(c Config, pending int) float64 {
	b := c.UserCodeLimitGlobal
	f := float64(b.N) * (1 + c.CodeExpiration.Seconds()/b.Per.Seconds())
	s := math.Pow(float64(len(c.UserCodeFormat.Alphabet())), float64(c.UserCodeLength))
	return f * float64(pending) / s
}

// Warnings returns what the server should log loudly at start-up: settings
// Load accepted that weaken security. Each message begins with a setting's
// name.
func (c Config) Warnings() []string {
	var out []string
	if bits := c.UserCodeFormat.Bits(c.UserCodeLength); c.AllowWeakUserCode && bits < MinUserCodeBits {
		out = append(out, fmt.Sprintf(
			"GRANTD_ALLOW_WEAK_USER_CODE: accepting USER_CODE_FORMAT %q with USER_CODE_LENGTH %d, %.1f bits, under the %d-bit floor; only the rate limits stand against guessing",
			c.UserCodeFormat.Spec(), c.UserCodeLength, bits, MinUserCodeBits))
	}
	if u, err := url.Parse(c.Issuer); err == nil && u.Scheme == "http" && !isLoopback(u.Hostname()) {
		out = append(out, fmt.Sprintf(
			"GRANTD_ISSUER %q: plain http on a non-loopback host; codes, passwords and tokens cross the network in the clear",
			c.Issuer))
	}
	return out
}

// isLoopback reports whether host names this machine only.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
