package token

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/store"
)

// What the three grants share when they redeem a code or token (store's
// redeem.go): the answers to a redemption that failed, and the re-check of
// a grant's user outside one (redelivery, a refresh retried in its grace
// window, a passthrough refresh).

// activeUser returns the user of a grant, or the error that refuses the
// grant when the user is gone or disabled.
func (h *Handler) activeUser(r *http.Request, userID string) (store.User, error) {
	u, err := h.Store.User(r.Context(), userID)
	if err := userError(userID, u, err); err != nil {
		return store.User{}, err
	}
	return u, nil
}

// userError is the verdict on the grant's user userID as read: u, or err.
func userError(userID string, u store.User, err error) error {
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return inactiveUser()
	}
	if err != nil {
		return oauth.Unavailable(fmt.Errorf("load user %q: %w", userID, err))
	}
	return nil
}

// redeemError answers a redemption that failed with err for a reason
// other than the state of its code or token: the user or the client is no
// longer active, the caller's own check refused it (an *oauth.Error), or a
// fault.
func redeemError(op string, err error) error {
	var oerr *oauth.Error
	switch {
	case errors.Is(err, store.ErrUserInactive):
		return inactiveUser()
	case errors.Is(err, store.ErrClientInactive):
		// Disabled or deleted since it authenticated, moments ago.
		return oauth.NewError(oauth.InvalidClient, "Client authentication failed.")
	case errors.As(err, &oerr):
		return oerr
	}
	return oauth.Unavailable(fmt.Errorf("%s: %w", op, err))
}

// inactiveUser answers a grant whose user is gone or disabled.
func inactiveUser() error {
	return oauth.NewError(oauth.InvalidGrant, "The authorization is no longer valid.")
}
