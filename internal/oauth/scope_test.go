package oauth

import (
	"slices"
	"testing"
)

// TestGrantScopes: allowed scopes are granted; OpenID Connect's optional
// scopes a client was not allowed are ignored (OpenID Connect Core
// §3.1.2.1: oauth2-proxy asks for "openid email profile" by default); any
// other scope fails the request with invalid_scope naming it.
func TestGrantScopes(t *testing.T) {
	allowed := []string{"openid", "lights:read", "email"}
	tests := []struct {
		requested []string
		want      []string
		wantErr   string
	}{
		{nil, allowed, ""},
		{[]string{"openid", "lights:read"}, []string{"openid", "lights:read"}, ""},
		{[]string{"openid", "email", "profile"}, []string{"openid", "email"}, ""},
		{[]string{"openid", "phone", "address", "offline_access"}, []string{"openid"}, ""},
		{[]string{"profile"}, []string{}, ""},
		{[]string{"openid", "lights:write"}, nil, `The scope "lights:write" is not allowed for this client.`},
		{[]string{"admin", "profile"}, nil, `The scope "admin" is not allowed for this client.`},
	}
	for _, tt := range tests {
		got, err := GrantScopes(tt.requested, allowed)
		switch {
		case tt.wantErr != "":
			if err == nil || err.Code != InvalidScope || err.Description != tt.wantErr {
				t.Errorf("GrantScopes(%q) = %q, %v; want invalid_scope %q", tt.requested, got, err, tt.wantErr)
			}
		case err != nil || !slices.Equal(got, tt.want):
			t.Errorf("GrantScopes(%q) = %q, %v; want %q", tt.requested, got, err, tt.want)
		}
	}
}
