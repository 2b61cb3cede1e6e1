package rs

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Introspector asks the authorization server whether a token is active
// (RFC 7662), as a confidential client allowed to introspect. It sees a
// revocation at once and works for opaque tokens, at the cost of a request
// per check.
type Introspector struct {
	// Endpoint is the introspection endpoint (the metadata's
	// introspection_endpoint).
	Endpoint     string
	ClientID     string
	ClientSecret string
	HTTPClient   *http.Client
	// Issuer and Audience, when set, must match the answer's iss and be in
	// its aud. grantd answers a client created with --audience only about
	// tokens for that audience; checking here as well costs nothing.
	Issuer   string
	Audience string
}

// introspection is an RFC 7662 §2.2 answer.
type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope"`
	ClientID  string   `json:"client_id"`
	TokenType string   `json:"token_type"`
	ExpiresAt int64    `json:"exp"`
	Subject   string   `json:"sub"`
	Audience  audience `json:"aud"`
	Issuer    string   `json:"iss"`
	ID        string   `json:"jti"`
}

// Check asks whether raw is an active access token. Anything but a 200
// answer wraps ErrUnavailable (grantd answers 503 when it cannot tell).
func (in *Introspector) Check(ctx context.Context, raw string) (Claims, error) {
	if raw == "" || len(raw) > MaxTokenBytes {
		return Claims{}, invalid("The access token is malformed.")
	}
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(in.ClientID), url.QueryEscape(in.ClientSecret))
	resp, err := httpClient(in.HTTPClient).Do(req)
	if err != nil {
		return Claims{}, fmt.Errorf("introspect: %w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Claims{}, fmt.Errorf("introspect: status %d: %w", resp.StatusCode, ErrUnavailable)
	}
	var a introspection
	if err := decodeLimited(resp.Body, &a); err != nil {
		return Claims{}, fmt.Errorf("introspect: %w: %v", ErrUnavailable, err)
	}
	switch {
	case !a.Active:
		return Claims{}, invalid("The access token is not active.")
	case a.TokenType != "" && !strings.EqualFold(a.TokenType, "Bearer"):
		// A refresh token is never a bearer credential for an API.
		return Claims{}, invalid("The token is not an access token.")
	case in.Issuer != "" && a.Issuer != in.Issuer:
		return Claims{}, invalid("The access token is from another issuer.")
	case in.Audience != "" && !slices.Contains(a.Audience, in.Audience):
		return Claims{}, invalid("The access token is for another audience.")
	case a.Subject == "":
		return Claims{}, invalid("The access token names no user.")
	}
	return Claims{Issuer: a.Issuer, Subject: a.Subject, ClientID: a.ClientID, Audience: a.Audience,
		Scopes: strings.Fields(a.Scope), ID: a.ID, ExpiresAt: time.Unix(a.ExpiresAt, 0)}, nil
}
