package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/store"
)

// What the commands print: one JSON object per command, for machines, or
// with --output table, aligned columns for people. Secrets appear only
// once, when grantd generated them; hashes never.

func (e *environment) printJSON(v any) error {
	return json.NewEncoder(e.stdout).Encode(v)
}

// clientView is a client as the command line prints it.
type clientView struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"` // generated, shown once
	ClientName   string   `json:"client_name,omitempty"`
	Public       bool     `json:"public"`
	AuthMethod   string   `json:"token_endpoint_auth_method"`
	RedirectURIs []string `json:"redirect_uris"`
	GrantTypes   []string `json:"grant_types"`
	Scope        string   `json:"scope"`
	Audience     string   `json:"audience,omitempty"`
	Introspect   bool     `json:"introspect"`
	EndsGrant    bool     `json:"revoke_ends_grant"`
	TokenMode    string   `json:"token_mode"`
	LogoURI      string   `json:"logo_uri,omitempty"`
	ClientURI    string   `json:"client_uri,omitempty"`
	Disabled     bool     `json:"disabled"`
	CreatedAt    string   `json:"created_at"`
	// PreviousValidUntil is when a rotated-out secret stops working.
	PreviousValidUntil string `json:"previous_secret_valid_until,omitempty"`
	// Warnings name requests the client's settings make fail.
	Warnings []string `json:"warnings,omitempty"`
}

func viewClient(c store.Client, now time.Time) clientView {
	method := c.AuthMethod
	if method == "" {
		method = oauth.AuthBasic // either secret method; basic is the default of RFC 7591
	}
	v := clientView{ClientID: c.ID, ClientName: c.Name, Public: c.Public, AuthMethod: method,
		RedirectURIs: nonNil(c.RedirectURIs), GrantTypes: nonNil(c.GrantTypes), Scope: strings.Join(c.Scopes, " "),
		Audience: c.Audience, Introspect: c.Introspect, EndsGrant: c.RevokeEndsGrant, TokenMode: tokenMode(c.TokenMode), LogoURI: c.LogoURI, ClientURI: c.ClientURI, Disabled: c.Disabled,
		CreatedAt: timestamp(c.CreatedAt)}
	if c.PreviousSecretHash != "" && now.Before(c.PreviousSecretExpiresAt) {
		v.PreviousValidUntil = timestamp(c.PreviousSecretExpiresAt)
	}
	return v
}

func clientRows(cs []store.Client) [][]string {
	rows := make([][]string, len(cs))
	for i, c := range cs {
		kind := "confidential"
		if c.Public {
			kind = "public"
		}
		rows[i] = []string{c.ID, orDash(c.Name), kind, orDash(strings.Join(c.GrantTypes, ",")),
			orDash(strings.Join(c.Scopes, " ")), strconv.FormatBool(c.Disabled)}
	}
	return rows
}

var clientHeader = []string{"CLIENT_ID", "NAME", "TYPE", "GRANT_TYPES", "SCOPE", "DISABLED"}

// userView is a user as the command line shows it.
type userView struct {
	ID            string `json:"id"`
	Username      string `json:"username"`
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified"`
	Disabled      bool   `json:"disabled"`
	CreatedAt     string `json:"created_at"`
}

func viewUser(u store.User) userView {
	return userView{ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified,
		Disabled: u.Disabled, CreatedAt: timestamp(u.CreatedAt)}
}

func userRows(us []store.User) [][]string {
	rows := make([][]string, len(us))
	for i, u := range us {
		rows[i] = []string{u.ID, u.Username, orDash(u.Email), strconv.FormatBool(u.Disabled), timestamp(u.CreatedAt)}
	}
	return rows
}

var userHeader = []string{"ID", "USERNAME", "EMAIL", "DISABLED", "CREATED_AT"}

// grantView is a grant as the command line shows it.
type grantView struct {
	ID        string `json:"id"`
	ClientID  string `json:"client_id"`
	UserID    string `json:"user_id"`
	Scope     string `json:"scope"`
	Kind      string `json:"grant_type"`
	CreatedAt string `json:"created_at"`
	ExpiresAt string `json:"expires_at"`
	RevokedAt string `json:"revoked_at,omitempty"`
}

func viewGrant(g store.Grant) grantView {
	v := grantView{ID: g.ID, ClientID: g.ClientID, UserID: g.UserID, Scope: strings.Join(g.Scopes, " "), Kind: g.Kind,
		CreatedAt: timestamp(g.CreatedAt), ExpiresAt: timestamp(g.ExpiresAt)}
	if !g.RevokedAt.IsZero() {
		v.RevokedAt = timestamp(g.RevokedAt)
	}
	return v
}

func grantRows(gs []store.Grant) [][]string {
	rows := make([][]string, len(gs))
	for i, g := range gs {
		rows[i] = []string{g.ID, g.ClientID, g.UserID, orDash(strings.Join(g.Scopes, " ")), g.Kind,
			timestamp(g.CreatedAt), timestamp(g.ExpiresAt)}
	}
	return rows
}

var grantHeader = []string{"ID", "CLIENT_ID", "USER_ID", "SCOPE", "GRANT_TYPE", "CREATED_AT", "EXPIRES_AT"}

// timestamp formats t in UTC, RFC 3339 to the second; "" for the zero time.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// yesNo is a flag as a table shows it.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// tokenMode is a client's token mode as printed: local when unset.
func tokenMode(m string) string {
	if m == "" {
		return store.TokenModeLocal
	}
	return m
}
