package admin

import (
	"context"
	"time"

	"github.com/grantd/grantd/internal/seal"
	"github.com/grantd/grantd/internal/store"
)

// The Operator's changes: each calls the action of the same name and logs
// the change as an audit event once it is stored.

func (o *Operator) now() time.Time { return o.Now() }

// CreateClient is CreateClient, audited.
func (o *Operator) CreateClient(ctx context.Context, spec ClientSpec) (CreatedClient, error) {
	c, err := CreateClient(ctx, o.Store, o.Rand, o.now(), spec)
	if err == nil {
		o.audit(ctx, "client created", "client.created", "client_id", c.Client.ID)
	}
	return c, err
}

// UpdateClient is UpdateClient, audited.
func (o *Operator) UpdateClient(ctx context.Context, id string, u ClientUpdate) (store.Client, []string, error) {
	c, warnings, err := UpdateClient(ctx, o.Store, id, u)
	if err == nil {
		o.audit(ctx, "client updated", "client.updated", "client_id", id)
	}
	return c, warnings, err
}

// SetClientDisabled disables or enables the client id (UpdateClient),
// audited.
func (o *Operator) SetClientDisabled(ctx context.Context, id string, disabled bool) (store.Client, error) {
	c, _, err := UpdateClient(ctx, o.Store, id, ClientUpdate{Disabled: &disabled})
	if err == nil {
		event, msg := "client.enabled", "client enabled"
		if disabled {
			event, msg = "client.disabled", "client disabled"
		}
		o.audit(ctx, msg, event, "client_id", id)
	}
	return c, err
}

// RotateClientSecret is RotateClientSecret, audited.
func (o *Operator) RotateClientSecret(ctx context.Context, id, sec string, grace time.Duration) (RotatedSecret, error) {
	r, err := RotateClientSecret(ctx, o.Store, o.Rand, o.now(), id, sec, grace)
	if err == nil {
		o.audit(ctx, "client secret rotated", "client.secret_rotated", "client_id", id,
			"previous_valid_until", r.PreviousValidUntil)
	}
	return r, err
}

// DeleteClient is DeleteClient, audited.
func (o *Operator) DeleteClient(ctx context.Context, id string) error {
	err := DeleteClient(ctx, o.Store, o.now(), id)
	if err == nil {
		o.audit(ctx, "client deleted", "client.deleted", "client_id", id)
	}
	return err
}

// CreateUser is CreateUser, audited.
func (o *Operator) CreateUser(ctx context.Context, spec UserSpec) (store.User, error) {
	u, err := CreateUser(ctx, o.Store, o.Rand, o.now(), spec)
	if err == nil {
		o.audit(ctx, "user created", "user.created", "user_id", u.ID)
	}
	return u, err
}

// SetPassword is SetPassword, audited.
func (o *Operator) SetPassword(ctx context.Context, idOrName, password string) (store.User, error) {
	u, err := SetPassword(ctx, o.Store, o.Rand, idOrName, password)
	if err == nil {
		o.audit(ctx, "user password set; signed out everywhere", "user.password_set", "user_id", u.ID)
	}
	return u, err
}

// DisableUser is DisableUser, audited.
func (o *Operator) DisableUser(ctx context.Context, idOrName string) (store.User, int, error) {
	u, n, err := DisableUser(ctx, o.Store, o.now(), idOrName)
	if err == nil {
		o.audit(ctx, "user disabled; sessions and grants ended", "user.disabled", "user_id", u.ID, "grants_revoked", n)
	}
	return u, n, err
}

// EnableUser is EnableUser, audited.
func (o *Operator) EnableUser(ctx context.Context, idOrName string) (store.User, error) {
	u, err := EnableUser(ctx, o.Store, idOrName)
	if err == nil {
		o.audit(ctx, "user enabled", "user.enabled", "user_id", u.ID)
	}
	return u, err
}

// DeleteUser is DeleteUser, audited.
func (o *Operator) DeleteUser(ctx context.Context, idOrName string) (store.User, error) {
	u, err := DeleteUser(ctx, o.Store, o.now(), idOrName)
	if err == nil {
		o.audit(ctx, "user deleted; sessions and grants ended", "user.deleted", "user_id", u.ID)
	}
	return u, err
}

// RevokeGrant is RevokeGrant, audited.
func (o *Operator) RevokeGrant(ctx context.Context, id string) (store.Grant, error) {
	g, err := RevokeGrant(ctx, o.Store, o.now(), id)
	if err == nil {
		o.audit(ctx, "grant revoked", "grant.revoked", "grant_id", id, "client_id", g.ClientID, "user_id", g.UserID)
	}
	return g, err
}

// RevokeUserGrants is RevokeUserGrants, audited.
func (o *Operator) RevokeUserGrants(ctx context.Context, idOrName string) (store.User, int, error) {
	u, n, err := RevokeUserGrants(ctx, o.Store, o.now(), idOrName)
	if err == nil {
		o.audit(ctx, "grants of user revoked", "grant.revoked", "user_id", u.ID, "grants_revoked", n)
	}
	return u, n, err
}

// CreateUpstream is CreateUpstream, audited.
func (o *Operator) CreateUpstream(ctx context.Context, sealer *seal.Sealer, spec UpstreamSpec) (store.Upstream, error) {
	u, err := CreateUpstream(ctx, o.Store, sealer, o.now(), spec)
	if err == nil {
		o.audit(ctx, "upstream created", "upstream.created", "upstream_id", u.ID, "issuer", u.Issuer)
	}
	return u, err
}

// DeleteUpstream is DeleteUpstream, audited.
func (o *Operator) DeleteUpstream(ctx context.Context, id string) error {
	err := DeleteUpstream(ctx, o.Store, id)
	if err == nil {
		o.audit(ctx, "upstream deleted", "upstream.deleted", "upstream_id", id)
	}
	return err
}

// SetScope is SetScope, audited.
func (o *Operator) SetScope(ctx context.Context, spec ScopeSpec) (store.Scope, error) {
	sc, err := SetScope(ctx, o.Store, o.now(), spec)
	if err == nil {
		o.audit(ctx, "scope set", "scope.set", "scope", sc.Name)
	}
	return sc, err
}

// DeleteScope is DeleteScope, audited.
func (o *Operator) DeleteScope(ctx context.Context, name string) error {
	err := DeleteScope(ctx, o.Store, name)
	if err == nil {
		o.audit(ctx, "scope deleted", "scope.deleted", "scope", name)
	}
	return err
}
