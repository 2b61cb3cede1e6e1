package oauth

import (
	"net/url"
	"strings"
	"testing"
)

// The example of RFC 7636 Appendix B.
const (
	appendixBVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	appendixBChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

// TestS256 is RFC 7636 §4.2 on the example of Appendix B.
func TestS256(t *testing.T) {
	if got := S256(appendixBVerifier); got != appendixBChallenge {
		t.Errorf("S256(%q) = %q, want %q", appendixBVerifier, got, appendixBChallenge)
	}
}

// TestValidVerifier is the syntax of RFC 7636 §4.1 (AZ-09).
func TestValidVerifier(t *testing.T) {
	cases := []struct {
		name, verifier string
		want           bool
	}{
		{"Appendix B", appendixBVerifier, true},
		{"43 characters", strings.Repeat("a", 43), true},
		{"128 characters", strings.Repeat("a", 128), true},
		{"every unreserved character", "AZaz09-._~" + strings.Repeat("x", 33), true},
		{"42 characters", strings.Repeat("a", 42), false},
		{"129 characters", strings.Repeat("a", 129), false},
		{"empty", "", false},
		{"plus", "+" + strings.Repeat("a", 42), false},
		{"slash", "/" + strings.Repeat("a", 42), false},
		{"padding", strings.Repeat("a", 42) + "=", false},
		{"space", " " + strings.Repeat("a", 42), false},
		{"percent-encoded", "%41" + strings.Repeat("a", 42), false},
		{"non-ASCII", "é" + strings.Repeat("a", 41), false},
	}
	for _, c := range cases {
		if got := ValidVerifier(c.verifier); got != c.want {
			t.Errorf("%s: ValidVerifier(%q) = %t, want %t", c.name, c.verifier, got, c.want)
		}
	}
}

// TestCheckChallenge is the authorization request's side of PKCE (RFC 7636
// §4.3, §4.4.1; AZ-07 to AZ-09), one line per case.
func TestCheckChallenge(t *testing.T) {
	const wrong = "invalid_request"
	cases := []struct {
		name     string
		query    string
		required bool
		want     string // "": accepted; else the error_description
	}{
		{"S256, Appendix B", "code_challenge=" + appendixBChallenge + "&code_challenge_method=S256", true, ""},
		{"none, not required", "", false, ""},
		{"AZ-07 none, required", "", true,
			"PKCE is required: send code_challenge and code_challenge_method=S256."},
		{"AZ-08 plain", "code_challenge=" + appendixBChallenge + "&code_challenge_method=plain", false,
			"Only code_challenge_method=S256 is supported."},
		{"AZ-08 method in lower case", "code_challenge=" + appendixBChallenge + "&code_challenge_method=s256", false,
			"Only code_challenge_method=S256 is supported."},
		{"AZ-08 method omitted (plain by default)", "code_challenge=" + appendixBChallenge, false,
			"code_challenge_method=S256 is required with a code_challenge."},
		{"AZ-08 empty method", "code_challenge=" + appendixBChallenge + "&code_challenge_method=", false,
			"Only code_challenge_method=S256 is supported."},
		{"method without challenge", "code_challenge_method=S256", false, "The code_challenge parameter is missing."},
		{"AZ-09 empty challenge", "code_challenge=&code_challenge_method=S256", true,
			"The code_challenge is not a base64url SHA-256 digest."},
		{"AZ-09 42 characters", "code_challenge=" + appendixBChallenge[:42] + "&code_challenge_method=S256", false,
			"The code_challenge is not a base64url SHA-256 digest."},
		{"AZ-09 44 characters", "code_challenge=" + appendixBChallenge + "A&code_challenge_method=S256", false,
			"The code_challenge is not a base64url SHA-256 digest."},
		{"AZ-09 a 64-character verifier sent as the challenge (plain)", "code_challenge=" + strings.Repeat("v", 64) + "&code_challenge_method=S256", false,
			"The code_challenge is not a base64url SHA-256 digest."},
		{"AZ-09 standard base64", "code_challenge=" + url.QueryEscape("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM") +
			"&code_challenge_method=S256", false, "The code_challenge is not a base64url SHA-256 digest."},
		{"AZ-09 not canonical (last character's spare bits set)", "code_challenge=" + appendixBChallenge[:42] + "N" +
			"&code_challenge_method=S256", false, "The code_challenge is not a base64url SHA-256 digest."},
	}
	for _, c := range cases {
		params, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		e := CheckChallenge(params, c.required)
		switch {
		case c.want == "" && e != nil:
			t.Errorf("%s: got %v, want accepted", c.name, e)
		case c.want != "" && (e == nil || e.Code != wrong || e.Description != c.want || e.Status != 400):
			t.Errorf("%s: got %v, want %s: %s", c.name, e, wrong, c.want)
		}
	}
}

// TestCheckVerifier is the token request's side of PKCE (RFC 7636 §4.5,
// §4.6; AZ-11), one line per case.
func TestCheckVerifier(t *testing.T) {
	other := strings.Repeat("a", 43)
	cases := []struct {
		name, challenge, verifier string
		want                      ErrorCode // "": accepted
		wantDesc                  string
	}{
		{"Appendix B", appendixBChallenge, appendixBVerifier, "", ""},
		{"no PKCE", "", "", "", ""},
		{"§4.6 wrong verifier", appendixBChallenge, other, InvalidGrant, "The code_verifier does not match the challenge."},
		{"§4.6 the challenge as verifier (plain)", appendixBChallenge, appendixBChallenge, InvalidGrant,
			"The code_verifier does not match the challenge."},
		{"§4.6 verifier with one character more", appendixBChallenge, appendixBVerifier + "a", InvalidGrant,
			"The code_verifier does not match the challenge."},
		{"missing verifier (AZ-10)", appendixBChallenge, "", InvalidGrant, "The code_verifier parameter is missing."},
		{"AZ-09 malformed verifier", appendixBChallenge, appendixBVerifier[:42], InvalidRequest, "The code_verifier is malformed."},
		{"AZ-11 downgrade", "", appendixBVerifier, InvalidGrant, "The code was issued without a PKCE challenge."},
	}
	for _, c := range cases {
		err := CheckVerifier(c.challenge, c.verifier)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: got %v, want accepted", c.name, err)
		case c.want != "" && (err == nil || err.Code != c.want || err.Description != c.wantDesc):
			t.Errorf("%s: got %v, want %s: %s", c.name, err, c.want, c.wantDesc)
		}
	}
}
