package admin

import (
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"time"

	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// UserSpec describes a local account to create.
type UserSpec struct {
	Username, Password string
	// Email, optional, is released with EmailVerified to clients granted
	// the email scope.
	Email         string
	EmailVerified bool
}

// CreateUser validates and stores a local account with a fresh random id.
func CreateUser(ctx context.Context, st store.Users, r io.Reader, now time.Time, spec UserSpec) (store.User, error) {
	username, password := spec.Username, spec.Password
	if !usernamePattern.MatchString(username) {
		return store.User{}, fmt.Errorf("username %q: use 1-64 characters of A-Z a-z 0-9 . _ @ + -", username)
	}
	if len(password) < MinPasswordLength {
		return store.User{}, fmt.Errorf("password: at least %d characters", MinPasswordLength)
	}
	if spec.Email != "" {
		if a, err := mail.ParseAddress(spec.Email); err != nil || a.Address != spec.Email || a.Name != "" {
			return store.User{}, fmt.Errorf("email %q: not an e-mail address", spec.Email)
		}
	} else if spec.EmailVerified {
		return store.User{}, errors.New("email verified: give the address with --email")
	}
	id, err := NewUserID(r)
	if err != nil {
		return store.User{}, err
	}
	hash, err := secret.HashPassword(r, password)
	if err != nil {
		return store.User{}, fmt.Errorf("hash password: %w", err)
	}
	u := store.User{ID: id, Username: username, PasswordHash: hash, Email: spec.Email, EmailVerified: spec.EmailVerified, CreatedAt: now}
	if err := st.CreateUser(ctx, u); err != nil {
		return store.User{}, explain(err, "user", username, "create user")
	}
	return u, nil
}

var userIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewUserID returns a fresh user id: 128 random bits as 26 lower-case base32
// characters, within the 1-64 characters of [a-zA-Z0-9_.,@-] that platforms
// such as AWS IoT managed integrations accept as a userId. Random ids are
// never reused and reveal nothing of the user name.
func NewUserID(r io.Reader) (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return userIDEncoding.EncodeToString(b), nil
}

// FindUser returns the user whose id, or else whose user name, is idOrName:
// an id wins over a user name that happens to equal it.
func FindUser(ctx context.Context, st store.Users, idOrName string) (store.User, error) {
	u, err := st.User(ctx, idOrName)
	if errors.Is(err, store.ErrNotFound) {
		u, err = st.UserByUsername(ctx, idOrName)
	}
	if err != nil {
		return store.User{}, explain(err, "user", idOrName, "load user")
	}
	return u, nil
}

// UserPage is a page of users ordered by id. Next, when not empty, is the
// after of the next page.
type UserPage struct {
	Users []store.User
	Next  string
}

// DefaultUserPage is how many users a page holds unless told otherwise.
const DefaultUserPage = 100

// ListUsers returns the page of at most limit users (DefaultUserPage when
// not positive) whose ids sort after after.
func ListUsers(ctx context.Context, st store.Users, after string, limit int) (UserPage, error) {
	if limit <= 0 {
		limit = DefaultUserPage
	}
	us, err := st.ListUsers(ctx, after, limit+1)
	if err != nil {
		return UserPage{}, fmt.Errorf("list users: %w", err)
	}
	page := UserPage{Users: us}
	if len(us) > limit {
		page.Users = us[:limit]
		page.Next = us[limit-1].ID
	}
	return page, nil
}

// SetPassword gives the user idOrName a new password and signs the user out
// everywhere (their browser sessions end; their devices and linked
// platforms keep their grants).
func SetPassword(ctx context.Context, st store.Store, r io.Reader, idOrName, password string) (store.User, error) {
	if len(password) < MinPasswordLength {
		return store.User{}, fmt.Errorf("password: at least %d characters", MinPasswordLength)
	}
	u, err := FindUser(ctx, st, idOrName)
	if err != nil {
		return store.User{}, err
	}
	hash, err := secret.HashPassword(r, password)
	if err != nil {
		return store.User{}, fmt.Errorf("hash password: %w", err)
	}
	if err := st.SetPassword(ctx, u.ID, hash); err != nil {
		return store.User{}, explain(err, "user", idOrName, "set the password of user")
	}
	if err := st.DeleteUserSessions(ctx, u.ID); err != nil {
		return store.User{}, fmt.Errorf("end the sessions of user %q: %w", idOrName, err)
	}
	u.PasswordHash = hash
	return u, nil
}

// DisableUser disables the user idOrName and ends everything that acts for
// the user: browser sessions, grants and refresh tokens (access tokens
// introspect inactive, refreshes are refused), and remembered consent. It
// returns the user and how many grants it revoked. Enabling the user again
// brings none of them back. The user is disabled first, so that nothing
// new is issued between the steps.
func DisableUser(ctx context.Context, st store.Store, now time.Time, idOrName string) (store.User, int, error) {
	u, err := FindUser(ctx, st, idOrName)
	if err != nil {
		return store.User{}, 0, err
	}
	if err := st.SetUserDisabled(ctx, u.ID, true); err != nil {
		return store.User{}, 0, explain(err, "user", idOrName, "disable user")
	}
	u.Disabled = true
	if err := st.DeleteUserSessions(ctx, u.ID); err != nil {
		return u, 0, fmt.Errorf("end the sessions of user %q: %w", idOrName, err)
	}
	n, err := st.RevokeUserGrants(ctx, u.ID, now)
	if err != nil {
		return u, 0, fmt.Errorf("revoke the grants of user %q: %w", idOrName, err)
	}
	return u, n, nil
}

// EnableUser enables the user idOrName: the user can sign in again.
func EnableUser(ctx context.Context, st store.Users, idOrName string) (store.User, error) {
	u, err := FindUser(ctx, st, idOrName)
	if err != nil {
		return store.User{}, err
	}
	if err := st.SetUserDisabled(ctx, u.ID, false); err != nil {
		return store.User{}, explain(err, "user", idOrName, "enable user")
	}
	u.Disabled = false
	return u, nil
}

// DeleteUser deletes the user idOrName with everything that acts for the
// user (store.Users.DeleteUser). The user's id is never given out again;
// the user name is free for a new user.
func DeleteUser(ctx context.Context, st store.Users, now time.Time, idOrName string) (store.User, error) {
	u, err := FindUser(ctx, st, idOrName)
	if err != nil {
		return store.User{}, err
	}
	if err := st.DeleteUser(ctx, u.ID, now); err != nil {
		return store.User{}, explain(err, "user", idOrName, "delete user")
	}
	return u, nil
}
