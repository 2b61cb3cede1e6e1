package admin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/grantd/grantd/internal/seal"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/upstream"
)

// upstreamIDPattern keeps an upstream's id fit for a URL path and free of
// the colon that separates it from a subject (store.FederatedUsername).
var upstreamIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// UpstreamSpec describes an upstream OpenID Connect provider to add.
type UpstreamSpec struct {
	ID, Name, Issuer, ClientID string
	// ClientSecret is sealed under the server's secret key before it is
	// stored; "" for a public client at the upstream.
	ClientSecret  string
	Scopes        []string // default: openid
	UsernameClaim string
	ExtraParams   map[string]string
	RevocationURL string
}

// CreateUpstream validates spec and stores the upstream, its client secret
// sealed with sealer (required when there is a secret).
func CreateUpstream(ctx context.Context, st store.Upstreams, sealer *seal.Sealer, now time.Time, spec UpstreamSpec) (store.Upstream, error) {
	if !upstreamIDPattern.MatchString(spec.ID) {
		return store.Upstream{}, fmt.Errorf("upstream id %q: use 1-63 characters of a-z 0-9 . _ -, starting with a letter or digit", spec.ID)
	}
	if len(spec.Scopes) == 0 {
		spec.Scopes = []string{"openid"}
	}
	cfg := upstream.Config{ID: spec.ID, Name: spec.Name, Issuer: spec.Issuer, ClientID: spec.ClientID,
		ClientSecret: spec.ClientSecret, Scopes: spec.Scopes, UsernameClaim: spec.UsernameClaim,
		ExtraParams: spec.ExtraParams, RevocationURL: spec.RevocationURL}
	if err := cfg.Validate(); err != nil {
		return store.Upstream{}, err // Validate names the upstream
	}
	u := store.Upstream{ID: spec.ID, Name: spec.Name, Issuer: spec.Issuer, ClientID: spec.ClientID, Scopes: spec.Scopes,
		UsernameClaim: spec.UsernameClaim, ExtraParams: spec.ExtraParams, RevocationURL: spec.RevocationURL, CreatedAt: now}
	if spec.ClientSecret != "" {
		if sealer == nil {
			return store.Upstream{}, errors.New("a client secret needs a secret key to be sealed with: set GRANTD_SECRET_KEY_FILE")
		}
		var err error
		u.ClientSecret, err = sealer.Seal([]byte(spec.ClientSecret), store.SealedAAD(store.SealedUpstreamSecret, spec.ID))
		if err != nil {
			return store.Upstream{}, fmt.Errorf("seal the client secret: %w", err)
		}
	}
	if err := st.CreateUpstream(ctx, u); err != nil {
		return store.Upstream{}, explain(err, "upstream", spec.ID, "create upstream")
	}
	return u, nil
}

// DeleteUpstream removes the upstream id. Its users stay; they can no
// longer sign in through it.
func DeleteUpstream(ctx context.Context, st store.Upstreams, id string) error {
	return explain(st.DeleteUpstream(ctx, id), "upstream", id, "delete upstream")
}
