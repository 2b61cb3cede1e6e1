package lightsapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a webhook delivery's signature:
// "t=UNIX_SECONDS,v1=HEX", where HEX is HMAC-SHA256 under the webhook's
// secret of "UNIX_SECONDS." followed by the body. The time binds the
// signature to the delivery, so a captured delivery cannot be replayed
// after the receiver's tolerance.
const SignatureHeader = "Lights-Signature"

// MinSecretBytes is the shortest webhook secret lightsd accepts.
const MinSecretBytes = 16

// ErrSignature reports a delivery whose signature does not verify.
var ErrSignature = errors.New("webhook signature does not verify")

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return m.Sum(nil)
}

// VerifySignature checks header (a SignatureHeader value) against body: the
// HMAC must match, compared in constant time, and its time must be within
// tolerance of now. Any failure wraps ErrSignature.
func VerifySignature(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.Join(ErrSignature, errors.New("no time"))
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(secret, ts, body)) {
		return ErrSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.Join(ErrSignature, errors.New("signed too long ago"))
	}
	return nil
}
