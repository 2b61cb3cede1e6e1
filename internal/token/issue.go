package token

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/oauth"
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

// grantInfo is what a token set is minted for.
type grantInfo struct {
	GrantID  string
	ClientID string
	UserID   string
	Scopes   []string
	AuthTime time.Time
	// Audience is the access token's aud (RFC 8707 resource, the client's
	// default audience, or the server's).
	Audience string
	// Resource is the RFC 8707 resource the grant is bound to ("" for none).
	Resource string
	Nonce    string
	// Expires ends the grant: no token of it outlives this.
	Expires time.Time
	// Email and EmailVerified are the user's, for an ID token the email
	// scope releases them in.
	Email         string
	EmailVerified bool
}

// setUser records what of u the token set may release.
func (g *grantInfo) setUser(u store.User) {
	g.Email, g.EmailVerified = u.Email, u.EmailVerified
}

// ScopeEmail releases the user's e-mail address (OpenID Connect Core §5.4).
const ScopeEmail = "email"

// releasesEmail reports whether scopes release the user's e-mail address.
func releasesEmail(scopes []string) bool { return slices.Contains(scopes, ScopeEmail) }

// mint signs the access token and, when withID and the scope (openid) call
// for it, the ID token. It makes no state change, so a signing failure loses
// nothing.
func (h *Handler) mint(g grantInfo, accessScopes []string, withID bool, now time.Time) (*Response, error) {
	return h.mintAs(g, accessScopes, withID, now, "")
}

// mintAs is mint of tokens issued at now, whose access token has id jti
// (a random one when empty).
func (h *Handler) mintAs(g grantInfo, accessScopes []string, withID bool, now time.Time, jti string) (*Response, error) {
	if jti == "" {
		var err error
		if jti, err = newID(h.Rand); err != nil {
			return nil, fmt.Errorf("make jti: %w", err)
		}
	}
	scope := strings.Join(accessScopes, " ")
	exp := now.Add(h.AccessTokenTTL)
	if !g.Expires.IsZero() && g.Expires.Before(exp) {
		exp = g.Expires
	}
	at, err := h.Keys.Sign(h.AccessTokenAlg, keys.TypeAccessToken, oauth.AccessTokenClaims{
		Issuer: h.Issuer, Subject: g.UserID, Audience: g.Audience, ClientID: g.ClientID,
		Scope: scope, IssuedAt: now.Unix(), ExpiresAt: exp.Unix(),
		ID: jti, AuthTime: unixOrZero(g.AuthTime), GrantID: g.GrantID,
	})
	if err != nil {
		return nil, fmt.Errorf("sign access token: %w", err)
	}
	resp := &Response{AccessToken: at, TokenType: "Bearer", ExpiresIn: exp.Unix() - now.Unix(), Scope: scope}
	if withID && slices.Contains(accessScopes, "openid") {
		claims := oauth.IDTokenClaims{
			Issuer: h.Issuer, Subject: g.UserID, Audience: g.ClientID, AZP: g.ClientID,
			IssuedAt: now.Unix(), ExpiresAt: now.Add(h.AccessTokenTTL).Unix(),
			AuthTime: unixOrZero(g.AuthTime), AtHash: atHash(h.IDTokenAlg, at), Nonce: g.Nonce,
		}
		if releasesEmail(accessScopes) && g.Email != "" {
			claims.Email, claims.EmailVerified = g.Email, new(g.EmailVerified)
		}
		resp.IDToken, err = h.Keys.Sign(h.IDTokenAlg, keys.TypeIDToken, claims)
		if err != nil {
			return nil, fmt.Errorf("sign ID token: %w", err)
		}
	}
	return resp, nil
}

// refreshRecord is the stored form of refresh token raw of grant g.
func (h *Handler) refreshRecord(g grantInfo, raw string, now time.Time) store.RefreshToken {
	expires := now.Add(h.RefreshTokenIdleTTL)
	if g.Expires.Before(expires) {
		expires = g.Expires
	}
	return store.RefreshToken{
		Hash: secret.Hash(raw), GrantID: g.GrantID, ClientID: g.ClientID, UserID: g.UserID,
		Scopes: g.Scopes, Resource: g.Resource, AuthTime: g.AuthTime,
		CreatedAt: now, ExpiresAt: expires, FamilyExpiresAt: g.Expires,
	}
}

// newGrant starts grant id of kind for a client and user: what its tokens
// are minted for, and its record, which lives as long as its refresh family
// when a refresh token comes with it, else as its access token.
func (h *Handler) newGrant(id, kind string, client store.Client, userID string, scopes []string, resource string,
	authTime time.Time, withRefresh bool, now time.Time) (grantInfo, store.Grant) {
	expires := now.Add(h.AccessTokenTTL)
	if withRefresh {
		expires = now.Add(h.RefreshTokenTTL)
	}
	info := grantInfo{
		GrantID: id, ClientID: client.ID, UserID: userID, Scopes: scopes, AuthTime: authTime,
		Audience: h.audience(client, resource), Resource: resource, Expires: expires,
	}
	g := store.Grant{ID: id, ClientID: client.ID, UserID: userID, Scopes: scopes, Kind: kind, CreatedAt: now, ExpiresAt: expires,
		LastUsedAt: now}
	return info, g
}

// audience is the aud of a client's access tokens: the RFC 8707 resource
// when one was requested, else the client's default audience, else the
// server's (RFC 9068 §3).
func (h *Handler) audience(c store.Client, resource string) string {
	switch {
	case resource != "":
		return resource
	case c.Audience != "":
		return c.Audience
	default:
		return h.Audience
	}
}

// idEncoding writes grant ids and token ids: 128 bits as 26 lower-case
// base32 characters, which an operator can paste after `grantd grant
// revoke` (a base64url id may begin with "-" and read as a flag) and which
// every platform accepts in a URL or a user id field.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns a random 128-bit identifier.
func newID(r io.Reader) (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return idEncoding.EncodeToString(b), nil
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
