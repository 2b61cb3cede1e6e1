package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// ListGrants returns the live grants (unrevoked, unexpired at now) of the
// user userIDOrName or of the client clientID — exactly one of the two —
// newest first.
func ListGrants(ctx context.Context, st store.Store, now time.Time, userIDOrName, clientID string) ([]store.Grant, error) {
	switch {
	case (userIDOrName == "") == (clientID == ""):
		return nil, errors.New("list grants: give a user or a client, not both")
	case userIDOrName != "":
		u, err := FindUser(ctx, st, userIDOrName)
		if err != nil {
			return nil, err
		}
		gs, err := st.GrantsByUser(ctx, u.ID, now)
		if err != nil {
			return nil, fmt.Errorf("grants of user %q: %w", userIDOrName, err)
		}
		return gs, nil
	}
	if _, err := st.Client(ctx, clientID); err != nil {
		return nil, explain(err, "client", clientID, "load client")
	}
	gs, err := st.GrantsByClient(ctx, clientID, now)
	if err != nil {
		return nil, fmt.Errorf("grants of client %q: %w", clientID, err)
	}
	return gs, nil
}

// RevokeGrant revokes the grant id and every token issued under it, and
// returns the grant, revoked. A grant revoked before keeps the time it was
// revoked at.
func RevokeGrant(ctx context.Context, st store.Grants, now time.Time, id string) (store.Grant, error) {
	g, err := st.Grant(ctx, id)
	if err != nil {
		return store.Grant{}, explain(err, "grant", id, "load grant")
	}
	if err := st.RevokeGrant(ctx, id, now); err != nil {
		return store.Grant{}, explain(err, "grant", id, "revoke grant")
	}
	if g.RevokedAt.IsZero() {
		g.RevokedAt = now
	}
	return g, nil
}

// RevokeUserGrants revokes every grant of the user idOrName, every refresh
// token issued to the user, and the user's remembered consent, and returns
// the user and how many grants were revoked.
func RevokeUserGrants(ctx context.Context, st store.Store, now time.Time, idOrName string) (store.User, int, error) {
	u, err := FindUser(ctx, st, idOrName)
	if err != nil {
		return store.User{}, 0, err
	}
	n, err := st.RevokeUserGrants(ctx, u.ID, now)
	if err != nil {
		return store.User{}, 0, fmt.Errorf("revoke the grants of user %q: %w", idOrName, err)
	}
	return u, n, nil
}
