package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// Demo names the demo device client and user.
const (
	DemoClientID = "demo-device"
	DemoUsername = "demo"
)

// DemoOutputs are what `grantd serve --demo` prints. A secret or password is
// set only on the start that created it; later starts find the objects and
// leave them alone (they are stored only as hashes).
type DemoOutputs struct {
	ClientID     string
	ClientSecret string
	Username     string
	UserID       string
	Password     string
}

// EnsureDemo creates the demo device client and demo user unless they exist.
// The password and secret are random, never constants.
func EnsureDemo(ctx context.Context, st store.Store, r io.Reader, now time.Time) (DemoOutputs, error) {
	out := DemoOutputs{ClientID: DemoClientID, Username: DemoUsername}
	_, err := st.Client(ctx, DemoClientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c, err := CreateClient(ctx, st, r, now, ClientSpec{
			ID: DemoClientID, Name: "Demo TV",
			Scopes: []string{"openid", "profile", "lights:read", "lights:write"},
		})
		if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
			return DemoOutputs{}, fmt.Errorf("create demo client: %w", err)
		}
		out.ClientSecret = c.GeneratedSecret
	case err != nil:
		return DemoOutputs{}, fmt.Errorf("load demo client: %w", err)
	}
	u, err := st.UserByUsername(ctx, DemoUsername)
	switch {
	case errors.Is(err, store.ErrNotFound):
		pw, err := secret.NewToken(r)
		if err != nil {
			return DemoOutputs{}, err
		}
		pw = pw[:16]
		u, err = CreateUser(ctx, st, r, now, UserSpec{Username: DemoUsername, Password: pw})
		if errors.Is(err, store.ErrAlreadyExists) {
			// Another instance created it a moment ago.
			if u, err = st.UserByUsername(ctx, DemoUsername); err != nil {
				return DemoOutputs{}, fmt.Errorf("load demo user: %w", err)
			}
			break
		}
		if err != nil {
			return DemoOutputs{}, fmt.Errorf("create demo user: %w", err)
		}
		out.Password = pw
	case err != nil:
		return DemoOutputs{}, fmt.Errorf("load demo user: %w", err)
	}
	out.UserID = u.ID
	return out, nil
}
