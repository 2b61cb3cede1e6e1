package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Identity is the user the upstream signed in, from a validated ID token.
// Federated users are keyed on (upstream id, Subject), never on Email.
type Identity struct {
	Subject       string // sub: stable and unique at this upstream
	Username      string // the configured claim, else preferred_username, email, sub
	Email         string
	EmailVerified bool
}

// Tokens is the upstream's token response.
type Tokens struct {
	IDToken      string
	AccessToken  string
	RefreshToken string
	TokenType    string
	Scope        string    // as granted, when the upstream says (RFC 6749 §5.1)
	Expiry       time.Time // of the access token, by the injected clock; zero if unknown
}

func (p *Provider) tokens(t *oauth2.Token) Tokens {
	out := Tokens{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType}
	out.IDToken, _ = t.Extra("id_token").(string)
	out.Scope, _ = t.Extra("scope").(string)
	switch {
	case t.ExpiresIn > 0:
		out.Expiry = p.now().Add(time.Duration(t.ExpiresIn) * time.Second)
	case !t.Expiry.IsZero():
		out.Expiry = t.Expiry
	}
	return out
}

// Exchange redeems an authorization code at the upstream's token endpoint
// (with a's PKCE verifier and the same redirect URI) and validates the ID
// token of the answer, nonce included (OpenID Connect Core §3.1.3.7). It
// returns the signed-in identity and the upstream's tokens.
//
// Errors: *Error when the upstream refused the code (invalid_grant: used,
// expired, or another verifier); ErrInvalidIDToken; ErrUnavailable.
func (p *Provider) Exchange(ctx context.Context, redirectURI, code string, a AuthRequest) (Identity, Tokens, error) {
	if code == "" {
		return Identity{}, Tokens{}, fmt.Errorf("upstream %s: %w: no code", p.cfg.ID, ErrInvalidCallback)
	}
	if err := a.validate(redirectURI); err != nil {
		return Identity{}, Tokens{}, err
	}
	d, err := p.discovered(ctx)
	if err != nil {
		return Identity{}, Tokens{}, err
	}
	cctx, cancel := p.call(ctx, CallToken)
	tok, err := p.oauthConfig(d, redirectURI).Exchange(cctx, code, oauth2.VerifierOption(a.CodeVerifier))
	cancel()
	if err != nil {
		return Identity{}, Tokens{}, tokenError(p.cfg.ID, "code exchange", err)
	}
	t := p.tokens(tok)
	c, err := p.verifyIDToken(ctx, d, t.IDToken, t.AccessToken, expect{nonce: a.Nonce})
	if err != nil {
		return Identity{}, Tokens{}, err
	}
	return c.identity(p.cfg.usernameClaim()), t, nil
}

// Refresh redeems an upstream refresh token with grantd's client
// credentials. subject is the sub of the identity the token belongs to: an
// ID token in the answer is validated and must name the same subject
// (OpenID Connect Core §12.2). When the upstream does not rotate refresh
// tokens (Amazon Cognito), the answer keeps refreshToken.
//
// Errors: *Error when the upstream refused (invalid_grant: the refresh
// token is dead, the only answer that means so); ErrInvalidIDToken;
// ErrUnavailable.
func (p *Provider) Refresh(ctx context.Context, refreshToken, subject string) (Tokens, error) {
	if refreshToken == "" || subject == "" {
		return Tokens{}, errors.New("upstream: refresh needs a refresh token and its subject")
	}
	d, err := p.discovered(ctx)
	if err != nil {
		return Tokens{}, err
	}
	cctx, cancel := p.call(ctx, CallRefresh)
	tok, err := p.oauthConfig(d, "").TokenSource(cctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	cancel()
	if err != nil {
		return Tokens{}, tokenError(p.cfg.ID, "refresh", err)
	}
	t := p.tokens(tok)
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken
	}
	if t.IDToken != "" {
		if _, err := p.verifyIDToken(ctx, d, t.IDToken, t.AccessToken, expect{subject: subject}); err != nil {
			return Tokens{}, err
		}
	}
	return t, nil
}

// Revoke asks the upstream to revoke token (RFC 7009), with hint as
// token_type_hint when not empty. The upstream answers 200 for a token it
// does not know, so nil says only that the upstream accepted the request.
//
// Errors: ErrNoRevocation when neither discovery nor Config.RevocationURL
// names an endpoint; *Error for a refusal (unsupported_token_type: Amazon
// Cognito revokes refresh tokens only); ErrUnavailable.
func (p *Provider) Revoke(ctx context.Context, token, hint string) error {
	d, err := p.discovered(ctx)
	if err != nil {
		return err
	}
	endpoint := p.revocationURL(d.meta)
	if endpoint == "" {
		return fmt.Errorf("upstream %s: %w", p.cfg.ID, ErrNoRevocation)
	}
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	basic := p.cfg.ClientSecret != "" && basicAuth(d.meta)
	if !basic {
		form.Set("client_id", p.cfg.ClientID)
		if p.cfg.ClientSecret != "" {
			form.Set("client_secret", p.cfg.ClientSecret)
		}
	}
	cctx, cancel := p.call(ctx, CallRevocation)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("upstream %s: revocation: %w", p.cfg.ID, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic { // RFC 6749 §2.3.1: form-encoded, then Basic
		req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.cfg.ClientSecret))
	}
	res, err := p.client.Do(req)
	if err != nil {
		return unavailable(p.cfg.ID, "revocation", err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK {
		return nil
	}
	return responseError(p.cfg.ID, "revocation", res)
}
