package oauth

import "encoding/json"

// AccessTokenClaims are the claims of grantd's access tokens: the RFC 9068
// §2.2 set, plus grant_id naming the grant the token was issued under, so
// that revoking the grant makes the token inactive at introspection.
type AccessTokenClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ClientID  string `json:"client_id"`
	Scope     string `json:"scope,omitempty"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
	ID        string `json:"jti"`
	AuthTime  int64  `json:"auth_time,omitempty"`
	GrantID   string `json:"grant_id"`
}

// MarshalJSON encodes c exactly as encoding/json encodes its fields, built
// directly when no string needs escaping (always, for the ids, URLs and
// scopes grantd issues), so that minting a token takes no reflection.
func (c AccessTokenClaims) MarshalJSON() ([]byte, error) {
	o := newObject(len(c.Issuer) + len(c.Subject) + len(c.Audience) + len(c.ClientID) + len(c.Scope) +
		len(c.ID) + len(c.GrantID) + 160)
	o.str("iss", c.Issuer)
	o.str("sub", c.Subject)
	o.str("aud", c.Audience)
	o.str("client_id", c.ClientID)
	o.strOmitEmpty("scope", c.Scope)
	o.num("iat", c.IssuedAt)
	o.num("exp", c.ExpiresAt)
	o.str("jti", c.ID)
	o.numOmitEmpty("auth_time", c.AuthTime)
	o.str("grant_id", c.GrantID)
	if b, ok := o.end(); ok {
		return b, nil
	}
	type fields AccessTokenClaims // without this method
	return json.Marshal(fields(c))
}

// IDTokenClaims are an ID token's claims (OpenID Connect Core §2).
type IDTokenClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	AZP       string `json:"azp"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
	AuthTime  int64  `json:"auth_time,omitempty"`
	Nonce     string `json:"nonce,omitempty"`
	AtHash    string `json:"at_hash,omitempty"`
	// Email and EmailVerified are released by the email scope (OpenID
	// Connect Core §5.4); EmailVerified is nil when Email is not released.
	Email         string `json:"email,omitempty"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
}

// MarshalJSON encodes c exactly as encoding/json encodes its fields, built
// directly when no string needs escaping; a nonce is the client's, so it may.
func (c IDTokenClaims) MarshalJSON() ([]byte, error) {
	o := newObject(len(c.Issuer) + len(c.Subject) + len(c.Audience) + len(c.AZP) + len(c.Nonce) +
		len(c.AtHash) + len(c.Email) + 170)
	o.str("iss", c.Issuer)
	o.str("sub", c.Subject)
	o.str("aud", c.Audience)
	o.str("azp", c.AZP)
	o.num("iat", c.IssuedAt)
	o.num("exp", c.ExpiresAt)
	o.numOmitEmpty("auth_time", c.AuthTime)
	o.strOmitEmpty("nonce", c.Nonce)
	o.strOmitEmpty("at_hash", c.AtHash)
	o.strOmitEmpty("email", c.Email)
	if c.EmailVerified != nil {
		o.boolean("email_verified", *c.EmailVerified)
	}
	if b, ok := o.end(); ok {
		return b, nil
	}
	type fields IDTokenClaims // without this method
	return json.Marshal(fields(c))
}
