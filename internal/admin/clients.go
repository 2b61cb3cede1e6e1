package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// ClientSpec describes a client to create.
type ClientSpec struct {
	ID           string
	Secret       string // empty: generate one, unless Public
	Public       bool
	Name         string
	RedirectURIs []string
	GrantTypes   []string // empty: the device grant and refresh_token
	Scopes       []string
	// AuthMethod pins the token endpoint authentication method:
	// client_secret_basic, client_secret_post or none, or AWS IoT managed
	// integrations' names for the first two, HTTP_BASIC and
	// REQUEST_BODY_CREDENTIALS. Empty accepts either secret method.
	AuthMethod string
	// Audience is the default aud of the client's access tokens.
	Audience string
	// Introspect lets the client call the introspection endpoint.
	Introspect bool
	// RevokeEndsGrant makes the client's revocation of one of its access
	// tokens revoke the token's whole grant (store.Client.RevokeEndsGrant).
	RevokeEndsGrant bool
	// TokenMode is local (default) or passthrough (store.Client.TokenMode).
	TokenMode string
	// LogoURI and ClientURI are the client's logo and home page, https
	// URLs the consent page shows (store.Client.LogoURI, ClientURI).
	LogoURI, ClientURI string
}

// CreatedClient is a stored client, with its secret in clear text only when
// grantd generated it (shown once, never stored), and warnings about
// settings that make some requests fail.
type CreatedClient struct {
	Client          store.Client
	GeneratedSecret string
	Warnings        []string
}

// CreateClient validates spec and stores the client. A client that cannot
// work is refused with the reason; one that works for some requests only
// comes with warnings that say which fail (checkClient).
func CreateClient(ctx context.Context, st store.Store, r io.Reader, now time.Time, spec ClientSpec) (CreatedClient, error) {
	if !clientIDPattern.MatchString(spec.ID) {
		return CreatedClient{}, fmt.Errorf("client id %q: use 1-128 characters of A-Z a-z 0-9 . _ ~ : -", spec.ID)
	}
	// A client id equal to a user id could be confused with a sub (RFC 9700
	// §4.15, JWT-06).
	if _, err := st.User(ctx, spec.ID); err == nil {
		return CreatedClient{}, fmt.Errorf("client id %q: equals a user id", spec.ID)
	} else if !errors.Is(err, store.ErrNotFound) {
		return CreatedClient{}, fmt.Errorf("check client id %q: %w", spec.ID, err)
	}
	c, warnings, err := buildClient(spec)
	if err != nil {
		return CreatedClient{}, err
	}
	c.CreatedAt = now
	out := CreatedClient{Warnings: warnings}
	switch {
	case spec.Public && spec.Secret != "":
		return CreatedClient{}, errors.New("a public client has no secret")
	case spec.Public:
	default:
		if c.SecretHash, out.GeneratedSecret, err = hashSecret(r, spec.Secret); err != nil {
			return CreatedClient{}, err
		}
	}
	if err := st.CreateClient(ctx, c); err != nil {
		return CreatedClient{}, explain(err, "client", spec.ID, "create client")
	}
	out.Client = c
	return out, nil
}

// hashSecret hashes an operator's secret, or, when sec is empty, draws a
// strong one and returns it in clear text too.
func hashSecret(r io.Reader, sec string) (hash, generated string, err error) {
	if sec == "" {
		if generated, err = secret.NewToken(r); err != nil {
			return "", "", err
		}
		hash, err = secret.HashClientSecret(r, generated, true)
	} else {
		if len(sec) < MinPasswordLength {
			return "", "", fmt.Errorf("client secret: at least %d characters", MinPasswordLength)
		}
		hash, err = secret.HashClientSecret(r, sec, false)
	}
	if err != nil {
		return "", "", fmt.Errorf("hash client secret: %w", err)
	}
	return hash, generated, nil
}

// buildClient validates spec's settings, all but the id and the secret,
// and returns them as a client, with checkClient's warnings.
func buildClient(spec ClientSpec) (store.Client, []string, error) {
	c := store.Client{ID: spec.ID, Public: spec.Public, Name: spec.Name, Introspect: spec.Introspect,
		RevokeEndsGrant: spec.RevokeEndsGrant, TokenMode: store.TokenModeLocal}
	switch spec.TokenMode {
	case "", store.TokenModeLocal:
	case store.TokenModePassthrough:
		c.TokenMode = store.TokenModePassthrough
	default:
		return store.Client{}, nil, fmt.Errorf("token mode %q: use local or passthrough", spec.TokenMode)
	}
	var err error
	if c.AuthMethod, err = checkAuthMethod(spec.AuthMethod, spec.Public); err != nil {
		return store.Client{}, nil, err
	}
	if spec.Audience != "" {
		if u, perr := url.Parse(spec.Audience); perr != nil || !u.IsAbs() || u.Fragment != "" {
			return store.Client{}, nil, fmt.Errorf("audience %q: must be an absolute URI without a fragment", spec.Audience)
		}
		c.Audience = spec.Audience
	}
	if c.LogoURI, err = checkPageURL("logo URI", spec.LogoURI); err != nil {
		return store.Client{}, nil, err
	}
	if c.ClientURI, err = checkPageURL("client URI", spec.ClientURI); err != nil {
		return store.Client{}, nil, err
	}
	if c.RedirectURIs, err = checkRedirectURIs(spec.RedirectURIs); err != nil {
		return store.Client{}, nil, err
	}
	if c.GrantTypes, err = checkGrantTypes(spec.GrantTypes); err != nil {
		return store.Client{}, nil, err
	}
	scopes, perr := oauth.ParseScope(strings.Join(spec.Scopes, " "))
	if perr != nil || len(scopes) != len(spec.Scopes) {
		return store.Client{}, nil, fmt.Errorf("scopes %q: each must be one distinct scope token", spec.Scopes)
	}
	c.Scopes = scopes
	warnings, err := checkClient(c)
	return c, warnings, err
}

// checkClient refuses a client that can never be used, with the reason,
// and warns of settings that make some of its requests fail.
func checkClient(c store.Client) ([]string, error) {
	code, device := c.AllowsGrant(GrantAuthorizationCode), c.AllowsGrant(GrantDeviceCode)
	switch {
	case code && len(c.RedirectURIs) == 0:
		return nil, fmt.Errorf("client %q: the authorization_code grant needs a redirect URI (--redirect-uri): "+
			"/authorize has nowhere to send the code", c.ID)
	case !code && !device && !c.Introspect:
		return nil, fmt.Errorf("client %q: refresh_token alone obtains no token: add --grant-type %s or "+
			"--grant-type %s, or --introspect for a resource server", c.ID, GrantAuthorizationCode, GrantDeviceCode)
	}
	var warnings []string
	if len(c.Scopes) == 0 {
		warnings = append(warnings, fmt.Sprintf("client %q has no scopes (--scope): every request that names a scope "+
			"fails with invalid_scope (OpenID Connect's profile, email, address, phone and offline_access are ignored "+
			"instead), and its tokens carry no scope", c.ID))
	}
	if len(c.RedirectURIs) > 0 && !code {
		warnings = append(warnings, fmt.Sprintf("client %q has redirect URIs but not the authorization_code grant: "+
			"its requests to /authorize fail with unauthorized_client", c.ID))
	}
	return warnings, nil
}

// ClientUpdate is a change to a client's settings: a nil field is left as
// it is. A client's secret changes with RotateClientSecret; whether it is
// public never changes.
type ClientUpdate struct {
	Name, AuthMethod, Audience       *string
	TokenMode, LogoURI, ClientURI    *string
	RedirectURIs, GrantTypes, Scopes *[]string
	Introspect, RevokeEndsGrant      *bool
	Disabled                         *bool
}

// UpdateClient applies u to the client id, validating the result as
// CreateClient does, and returns the client as stored with warnings.
func UpdateClient(ctx context.Context, st store.Clients, id string, u ClientUpdate) (store.Client, []string, error) {
	c, err := st.Client(ctx, id)
	if err != nil {
		return store.Client{}, nil, explain(err, "client", id, "load client")
	}
	spec := ClientSpec{ID: c.ID, Public: c.Public, Name: c.Name, RedirectURIs: c.RedirectURIs, GrantTypes: c.GrantTypes,
		Scopes: c.Scopes, AuthMethod: c.AuthMethod, Audience: c.Audience, Introspect: c.Introspect,
		RevokeEndsGrant: c.RevokeEndsGrant, TokenMode: c.TokenMode, LogoURI: c.LogoURI, ClientURI: c.ClientURI}
	set(&spec.Name, u.Name)
	set(&spec.LogoURI, u.LogoURI)
	set(&spec.ClientURI, u.ClientURI)
	set(&spec.TokenMode, u.TokenMode)
	set(&spec.AuthMethod, u.AuthMethod)
	set(&spec.Audience, u.Audience)
	set(&spec.RedirectURIs, u.RedirectURIs)
	set(&spec.GrantTypes, u.GrantTypes)
	set(&spec.Scopes, u.Scopes)
	set(&spec.Introspect, u.Introspect)
	set(&spec.RevokeEndsGrant, u.RevokeEndsGrant)
	next, warnings, err := buildClient(spec)
	if err != nil {
		return store.Client{}, nil, err
	}
	next.Disabled = c.Disabled
	set(&next.Disabled, u.Disabled)
	if err := st.UpdateClient(ctx, next); err != nil {
		return store.Client{}, nil, explain(err, "client", id, "update client")
	}
	next.SecretHash, next.CreatedAt = c.SecretHash, c.CreatedAt
	next.PreviousSecretHash, next.PreviousSecretExpiresAt = c.PreviousSecretHash, c.PreviousSecretExpiresAt
	return next, warnings, nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// RotatedSecret is the outcome of a client secret rotation.
type RotatedSecret struct {
	ClientID string
	// GeneratedSecret is the new secret when grantd drew it (shown once).
	GeneratedSecret string
	// PreviousValidUntil is when the replaced secret stops authenticating
	// the client; zero when it stopped at once.
	PreviousValidUntil time.Time
}

// RotateClientSecret gives the client id a new secret — sec, or a strong
// generated one when sec is empty. The replaced secret keeps
// authenticating the client for grace (none when zero), so that a fleet
// can change over.
func RotateClientSecret(ctx context.Context, st store.Clients, r io.Reader, now time.Time, id, sec string, grace time.Duration) (RotatedSecret, error) {
	if grace < 0 {
		return RotatedSecret{}, fmt.Errorf("grace %v: must not be negative", grace)
	}
	c, err := st.Client(ctx, id)
	if err != nil {
		return RotatedSecret{}, explain(err, "client", id, "load client")
	}
	if c.Public {
		return RotatedSecret{}, fmt.Errorf("client %q is public: it has no secret to rotate", id)
	}
	hash, generated, err := hashSecret(r, sec)
	if err != nil {
		return RotatedSecret{}, err
	}
	out := RotatedSecret{ClientID: id, GeneratedSecret: generated}
	if grace > 0 {
		out.PreviousValidUntil = now.Add(grace)
	}
	if err := st.RotateClientSecret(ctx, id, hash, out.PreviousValidUntil); err != nil {
		return RotatedSecret{}, explain(err, "client", id, "rotate the secret of client")
	}
	return out, nil
}

// DeleteClient deletes the client id with everything of it
// (store.Clients.DeleteClient): its grants and refresh tokens are revoked
// at now, and its access tokens introspect inactive.
func DeleteClient(ctx context.Context, st store.Clients, now time.Time, id string) error {
	return explain(st.DeleteClient(ctx, id, now), "client", id, "delete client")
}

// ShowClient returns the client id.
func ShowClient(ctx context.Context, st store.Clients, id string) (store.Client, error) {
	c, err := st.Client(ctx, id)
	return c, explain(err, "client", id, "load client")
}
