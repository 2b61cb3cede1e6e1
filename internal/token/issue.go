package token

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// Response is a successful token response (RFC 6749 §5.1).
type Response struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// accessClaims are an RFC 9068 §2.2 access token's claims.
type accessClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ClientID  string `json:"client_id"`
	Scope     string `json:"scope,omitempty"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
	ID        string `json:"jti"`
	AuthTime  int64  `json:"auth_time,omitempty"`
}

// idClaims are an ID token's claims (OpenID Connect Core §2).
type idClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
	AuthTime  int64  `json:"auth_time,omitempty"`
	AtHash    string `json:"at_hash,omitempty"`
	AZP       string `json:"azp"`
}

// grantInfo is what a token set is minted for.
type grantInfo struct {
	ClientID string
	UserID   string
	Scopes   []string
	AuthTime time.Time
}

// mint signs the access token and, when the token set and scope call for it,
// the ID token. It makes no state change, so a signing failure loses nothing.
func (h *Handler) mint(g grantInfo, accessScopes []string, now time.Time) (*Response, error) {
	jti, err := newID(h.Rand)
	if err != nil {
		return nil, fmt.Errorf("make jti: %w", err)
	}
	scope := strings.Join(accessScopes, " ")
	at, err := h.Keys.Sign(h.AccessTokenAlg, keys.TypeAccessToken, accessClaims{
		Issuer: h.Issuer, Subject: g.UserID, Audience: h.Audience, ClientID: g.ClientID,
		Scope: scope, IssuedAt: now.Unix(), ExpiresAt: now.Add(h.AccessTokenTTL).Unix(),
		ID: jti, AuthTime: unixOrZero(g.AuthTime),
	})
	if err != nil {
		return nil, fmt.Errorf("sign access token: %w", err)
	}
	resp := &Response{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(h.AccessTokenTTL / time.Second), Scope: scope}
	if h.TokenSet.ID && slices.Contains(accessScopes, "openid") {
		resp.IDToken, err = h.Keys.Sign(h.IDTokenAlg, keys.TypeIDToken, idClaims{
			Issuer: h.Issuer, Subject: g.UserID, Audience: g.ClientID, AZP: g.ClientID,
			IssuedAt: now.Unix(), ExpiresAt: now.Add(h.AccessTokenTTL).Unix(),
			AuthTime: unixOrZero(g.AuthTime), AtHash: atHash(h.IDTokenAlg, at),
		})
		if err != nil {
			return nil, fmt.Errorf("sign ID token: %w", err)
		}
	}
	return resp, nil
}

// newRefreshToken draws a refresh token for g. familyExpiry is the family's
// absolute end; the zero time starts a new family.
func (h *Handler) newRefreshToken(g grantInfo, familyID string, familyExpiry, now time.Time) (string, store.RefreshToken, error) {
	raw, err := secret.NewToken(h.Rand)
	if err != nil {
		return "", store.RefreshToken{}, fmt.Errorf("make refresh token: %w", err)
	}
	if familyID == "" {
		if familyID, err = newID(h.Rand); err != nil {
			return "", store.RefreshToken{}, err
		}
		familyExpiry = now.Add(h.RefreshTokenTTL)
	}
	expires := now.Add(h.RefreshTokenIdleTTL)
	if familyExpiry.Before(expires) {
		expires = familyExpiry
	}
	return raw, store.RefreshToken{
		Hash: secret.Hash(raw), FamilyID: familyID, ClientID: g.ClientID, UserID: g.UserID,
		Scopes: g.Scopes, AuthTime: g.AuthTime, CreatedAt: now, ExpiresAt: expires, FamilyExpiresAt: familyExpiry,
	}, nil
}

// newID returns a random 128-bit identifier.
func newID(r io.Reader) (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// atHash is the ID token's at_hash (OpenID Connect Core §3.1.3.6): the left
// half of the access token's hash under the ID token algorithm's hash.
func atHash(alg, accessToken string) string {
	var h hash.Hash = sha256.New()
	if alg == keys.EdDSA {
		h = sha512.New()
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
