package oauth

import (
	"encoding/json"
	"testing"
)

// Mirrors of the claim types without their MarshalJSON: what encoding/json
// makes of the fields is the reference.
type (
	accessFields AccessTokenClaims
	idFields     IDTokenClaims
)

func sameJSON(t *testing.T, got []byte, err error, ref any) {
	t.Helper()
	want, werr := json.Marshal(ref)
	if err != nil || werr != nil {
		t.Fatalf("errors: %v, %v", err, werr)
	}
	if string(got) != string(want) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestClaimsJSON: the claims encode to the bytes json.Marshal writes for
// their fields, whether every string is plain or one needs escaping (the
// fallback), with omitempty members left out.
func TestClaimsJSON(t *testing.T) {
	for _, c := range []AccessTokenClaims{
		{Issuer: "https://grantd.example", Subject: "k2x7", Audience: "https://grantd.example", ClientID: "tv",
			Scope: "openid lights:read", IssuedAt: 1764600000, ExpiresAt: 1764603600, ID: "jti", AuthTime: 1764599000, GrantID: "g"},
		{},
		{IssuedAt: -1, ExpiresAt: 1 << 62},
		{Subject: `quote " backslash \ <tag> & é` + "\n\x00", Scope: "a\u2028b", GrantID: "\xff"},
		// Printable UTF-8 needs no escape; DEL and a soft hyphen need none
		// in JSON but take the fallback.
		{Subject: "lämpa ☃ \ufffd", Scope: "日本"},
		{Subject: "a\x7fb"},
		{Subject: "soft\u00adhyphen"},
		{Subject: "a&b"},
	} {
		b, err := c.MarshalJSON()
		sameJSON(t, b, err, accessFields(c))
		// json.Marshal of the type itself uses the method and agrees.
		b, err = json.Marshal(c)
		sameJSON(t, b, err, accessFields(c))
	}
	for _, c := range []IDTokenClaims{
		{Issuer: "https://grantd.example", Subject: "k2x7", Audience: "tv", AZP: "tv", IssuedAt: 1, ExpiresAt: 2,
			AuthTime: 3, Nonce: "n-0S6_WzA2Mj", AtHash: "77QmUPtjPfzWtF2AnpK9RQ"},
		{},
		{Nonce: `<script>alert("x")</script>`},
		{Subject: "k2x7", Email: "alice@example.com", EmailVerified: new(true)},
		{Email: `"quoted"@example.com`, EmailVerified: new(false)},
	} {
		b, err := c.MarshalJSON()
		sameJSON(t, b, err, idFields(c))
	}
}

// FuzzClaimsJSON: for any strings and numbers, the claims' own encoding is
// byte for byte json.Marshal's.
func FuzzClaimsJSON(f *testing.F) {
	f.Add("https://grantd.example", "k2x7", "tv", "openid", "n\"<", int64(1764600000), int64(0))
	f.Add("", "\u2028", "\xed\xa0\x80", "a\tb", "", int64(-5), int64(1))
	f.Fuzz(func(t *testing.T, iss, sub, aud, scope, nonce string, iat, auth int64) {
		a := AccessTokenClaims{Issuer: iss, Subject: sub, Audience: aud, ClientID: aud, Scope: scope,
			IssuedAt: iat, ExpiresAt: iat + 3600, ID: nonce, AuthTime: auth, GrantID: sub}
		b, err := a.MarshalJSON()
		sameJSON(t, b, err, accessFields(a))
		i := IDTokenClaims{Issuer: iss, Subject: sub, Audience: aud, AZP: aud, IssuedAt: iat, ExpiresAt: iat,
			AuthTime: auth, Nonce: nonce, AtHash: scope}
		b, err = i.MarshalJSON()
		sameJSON(t, b, err, idFields(i))
	})
}
