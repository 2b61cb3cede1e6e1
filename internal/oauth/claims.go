package oauth

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
}
