package store

import (
	"errors"
	"fmt"
)

// Redeeming a device code, an authorization code or a refresh token has one
// shape, whatever the grant (docs/SECURITY.md INV-02, INV-03): the store
// consumes the code or token and, in the same transaction, re-checks the
// user it was issued to and the client presenting it, asks the caller's
// IssueFunc what to issue for what it consumed, and stores that. Either all
// of it commits or nothing changes. The verbs are
// DeviceGrants.RedeemDeviceGrant, AuthorizationCodes.RedeemAuthorizationCode
// and RefreshTokens.RotateRefreshToken, and they answer alike:
//
//   - ErrNotFound: no such code or token, or another client's, which is
//     left as it was (DEV-16, RT-01).
//   - ErrConflict: consumed before (redeemed, issued, rotated), expired,
//     revoked, or not ready (a device grant not approved); the record is
//     returned as it stands, so that the caller can tell which. Of
//     concurrent redemptions of one code exactly one succeeds; the others
//     get ErrConflict.
//   - ErrUserInactive, ErrClientInactive: the user is gone or disabled, or
//     the client is; nothing changes (DEV-18, RT-07).
//   - the IssueFunc's own error, wrapped: nothing changes.
//
// The caller mints tokens once the redemption has committed, from what its
// IssueFunc computed: a signature is never made inside a write transaction,
// and a token is never sent for a redemption that did not commit.

// Issuance is what a redemption stores in the transaction that consumes its
// code or token.
type Issuance struct {
	// Grant is the grant a device code or an authorization code creates:
	// the consumed record's client and user. Nil for a refresh, which
	// continues its grant, and for a passthrough device grant, whose tokens
	// are the upstream's.
	Grant *Grant
	// RefreshToken is the refresh token issued, nil for none: the new
	// grant's first generation, or the successor of the generation a
	// refresh rotates, continuing its family (same GrantID and
	// FamilyExpiresAt).
	RefreshToken *RefreshToken
	// Passthrough is the record of the upstream refresh token a
	// passthrough device grant hands over; nil for none.
	Passthrough *PassthroughToken
}

// IssueFunc decides what a redemption stores, given the record it consumed
// (a DeviceGrant with its sealed UpstreamTokens, an AuthorizationCode, or the
// RefreshToken generation being rotated) as read in the redemption's
// transaction, and the record's user, active at that moment. It may run
// more than once, and must only compute: no I/O, no signing.
type IssueFunc[T any] func(consumed T, user User) (Issuance, error)

// CheckNewGrant refuses an issuance that does not fit a redemption that
// consumed a record of clientID for userID: a new grant, or a passthrough
// record, of that client and user, and a refresh token, if any, of the new
// grant. Backends call it before storing anything.
func CheckNewGrant(clientID, userID string, i Issuance) error {
	if i.Grant != nil {
		if err := names("grant", i.Grant.ClientID, i.Grant.UserID, clientID, userID); err != nil {
			return err
		}
	}
	if t := i.RefreshToken; t != nil {
		if i.Grant == nil || t.GrantID != i.Grant.ID {
			return fmt.Errorf("issuance: refresh token of grant %q is not of the grant issued", t.GrantID)
		}
		if err := names("refresh token", t.ClientID, t.UserID, clientID, userID); err != nil {
			return err
		}
	}
	if p := i.Passthrough; p != nil {
		if err := names("passthrough token", p.ClientID, p.UserID, clientID, userID); err != nil {
			return err
		}
	}
	return nil
}

// CheckCodeGrant is CheckNewGrant for an authorization code's redemption,
// which issues a grant, and no passthrough record.
func CheckCodeGrant(clientID, userID string, i Issuance) error {
	if i.Grant == nil || i.Passthrough != nil {
		return errors.New("issuance: an authorization code's redemption issues a grant, and no passthrough record")
	}
	return CheckNewGrant(clientID, userID, i)
}

// CheckSuccessor refuses an issuance that does not continue old's family: a
// refresh issues a successor generation and nothing else.
func CheckSuccessor(old RefreshToken, i Issuance) error {
	next := i.RefreshToken
	switch {
	case next == nil || i.Grant != nil || i.Passthrough != nil:
		return errors.New("issuance: a rotation issues a successor refresh token and nothing else")
	case next.GrantID != old.GrantID:
		return fmt.Errorf("issuance: successor names grant %q, the generation it replaces grant %q", next.GrantID, old.GrantID)
	case !next.FamilyExpiresAt.Equal(old.FamilyExpiresAt):
		return fmt.Errorf("issuance: successor's family expiry %v differs from the family's %v",
			next.FamilyExpiresAt, old.FamilyExpiresAt)
	}
	return names("successor", next.ClientID, next.UserID, old.ClientID, old.UserID)
}

func names(what, clientID, userID, wantClient, wantUser string) error {
	if clientID != wantClient || userID != wantUser {
		return fmt.Errorf("issuance: %s of client %q and user %q, redeemed by client %q for user %q",
			what, clientID, userID, wantClient, wantUser)
	}
	return nil
}
