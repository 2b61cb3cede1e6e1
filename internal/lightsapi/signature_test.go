package lightsapi_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/lightsapi"
)

// TestVerifySignature checks that only the signed body, under the right
// secret and within the tolerance, verifies.
func TestVerifySignature(t *testing.T) {
	secret, body := []byte("whsec-0123456789abcdef"), []byte(`{"id":"evt-1"}`)
	at := time.Unix(1_800_000_000, 0)
	good := lightsapi.Sign(secret, at, body)
	cases := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"genuine", secret, good, body, at, true},
		{"within the tolerance", secret, good, body, at.Add(4 * time.Minute), true},
		{"replayed later", secret, good, body, at.Add(6 * time.Minute), false},
		{"another secret", []byte("another-secret-0123456"), good, body, at, false},
		{"body changed", secret, good, []byte(`{"id":"evt-2"}`), at, false},
		{"time changed", secret, strings.Replace(good, "t=1800000000", "t=1800000001", 1), body, at, false},
		{"no signature", secret, "", body, at, false},
		{"garbage", secret, "t=x,v1=zz", body, at, false},
	}
	for _, tc := range cases {
		err := lightsapi.VerifySignature(tc.secret, tc.header, tc.body, tc.now, 5*time.Minute)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, lightsapi.ErrSignature)) {
			t.Errorf("%s: %v, want ok %t", tc.name, err, tc.ok)
		}
	}
}
