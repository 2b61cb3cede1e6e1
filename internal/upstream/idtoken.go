package upstream

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

// maxIDTokenBytes bounds an ID token before it is parsed (JWT-10).
const maxIDTokenBytes = 64 << 10

// expect is what an ID token must carry besides the standard checks: the
// nonce sent (on a code exchange) or the subject already known (on a
// refresh).
type expect struct {
	nonce   string
	subject string
}

// idClaims are the claims read from a validated ID token.
type idClaims struct {
	Subject         string          `json:"sub"`
	AuthorizedParty string          `json:"azp"`
	Nonce           string          `json:"nonce"`
	NotBefore       *float64        `json:"nbf"`
	TokenUse        string          `json:"token_use"` // Amazon Cognito: "id" or "access"
	Email           string          `json:"email"`
	EmailVerified   json.RawMessage `json:"email_verified"`

	all map[string]any
}

// verifyIDToken validates raw (OpenID Connect Core §3.1.3.7, FED-02): a
// compact JWS of bounded size signed with an allowed asymmetric algorithm
// by a key of the upstream's JWKS, not typed as an access token; iss equal
// to the issuer; aud containing our client id, and azp equal to it when
// present (required with several audiences); exp, iat (and nbf if present)
// valid within ClockSkew; Cognito's token_use "id" when present; at_hash
// matching the access token when present; and want.
func (p *Provider) verifyIDToken(ctx context.Context, d *discovered, raw, accessToken string, want expect) (*idClaims, error) {
	refuse := func(reason error) error {
		p.log.Warn("upstream ID token refused", "reason", reason)
		return fmt.Errorf("upstream %s: %w: %w", p.cfg.ID, ErrInvalidIDToken, reason)
	}
	if raw == "" {
		return nil, refuse(errors.New("the token response has no id_token"))
	}
	if len(raw) > maxIDTokenBytes || strings.Count(raw, ".") != 2 {
		return nil, refuse(errors.New("not a compact JWS of reasonable size"))
	}
	jws, err := jose.ParseSignedCompact(raw, d.algs) // refuses none, HS*, and algorithms the upstream does not use
	if err != nil {
		return nil, refuse(err)
	}
	if len(jws.Signatures) != 1 {
		return nil, refuse(errors.New("not exactly one signature"))
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); isAccessTokenType(typ) {
		return nil, refuse(fmt.Errorf("typ %q is an access token's (RFC 8725 §3.11)", typ))
	}
	if err := d.keys.prepare(ctx, h.KeyID); err != nil {
		return nil, unavailable(p.cfg.ID, "JWKS", err)
	}
	idt, err := d.verifier.Verify(ctx, raw) // signature, iss, aud
	if err != nil {
		return nil, refuse(err)
	}
	c := &idClaims{}
	if err := idt.Claims(c); err != nil {
		return nil, refuse(err)
	}
	if err := idt.Claims(&c.all); err != nil {
		return nil, refuse(err)
	}
	if err := p.checkClaims(idt, c, accessToken, want); err != nil {
		return nil, refuse(err)
	}
	return c, nil
}

func isAccessTokenType(typ string) bool {
	t := strings.ToLower(typ)
	return t == "at+jwt" || t == "application/at+jwt"
}

// checkClaims makes the checks go-oidc leaves to its caller.
func (p *Provider) checkClaims(idt *oidc.IDToken, c *idClaims, accessToken string, want expect) error {
	now := p.now()
	switch {
	case c.Subject == "":
		return errors.New("no sub")
	case idt.Expiry.IsZero():
		return errors.New("no exp")
	case !now.Before(idt.Expiry.Add(ClockSkew)):
		return fmt.Errorf("expired at %s", idt.Expiry.UTC().Format(time.RFC3339))
	case idt.IssuedAt.IsZero():
		return errors.New("no iat")
	case idt.IssuedAt.After(now.Add(ClockSkew)):
		return fmt.Errorf("iat %s is in the future", idt.IssuedAt.UTC().Format(time.RFC3339))
	case c.NotBefore != nil && time.Unix(int64(*c.NotBefore), 0).After(now.Add(ClockSkew)):
		return errors.New("nbf is in the future")
	case len(idt.Audience) > 1 && c.AuthorizedParty == "":
		return fmt.Errorf("several audiences %q and no azp", idt.Audience)
	case c.AuthorizedParty != "" && c.AuthorizedParty != p.cfg.ClientID:
		return fmt.Errorf("azp %q is another client", c.AuthorizedParty)
	case c.TokenUse != "" && c.TokenUse != "id":
		return fmt.Errorf("token_use %q is not id", c.TokenUse)
	case want.nonce != "" && subtle.ConstantTimeCompare([]byte(c.Nonce), []byte(want.nonce)) != 1:
		return errors.New("nonce does not match the one sent")
	case want.subject != "" && c.Subject != want.subject:
		return errors.New("sub differs from the original sign-in's")
	case idt.AccessTokenHash != "" && idt.VerifyAccessToken(accessToken) != nil:
		return errors.New("at_hash does not match the access token")
	}
	return nil
}

// identity is the Identity the claims describe.
func (c *idClaims) identity(usernameClaim string) Identity {
	id := Identity{Subject: c.Subject, Username: c.Subject, Email: c.Email}
	for _, name := range []string{usernameClaim, "preferred_username", "email"} {
		if s, ok := c.all[name].(string); ok && s != "" {
			id.Username = s
			break
		}
	}
	// email_verified is a boolean; some providers (Cognito's userinfo) send
	// the string "true".
	s := strings.Trim(string(c.EmailVerified), `"`)
	id.EmailVerified = c.Email != "" && s == "true"
	return id
}
