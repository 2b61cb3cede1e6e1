// Package clientauth authenticates the client of a token, device
// authorization, introspection or revocation request (RFC 6749 §2.3,
// RFC 8628 §3.1): it parses the credentials with oauth.ParseClientCredentials,
// loads the client, checks its secret, throttles the full checks and counts
// the failures. It is the stateful half of client authentication; package
// oauth keeps the request parsing, and depends on nothing of this.
package clientauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/grantd/grantd/internal/clientip"
	"github.com/grantd/grantd/internal/metrics"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// Authenticator authenticates the client of a token or device
// authorization request (RFC 6749 §2.3, RFC 8628 §3.1).
//
// Checking an argon2id-hashed secret costs tens of milliseconds, too much for
// a device that polls every five seconds, so after one successful check the
// authenticator remembers SHA-256 of the secret next to the stored hash it
// was checked against; later requests compare digests in constant time. A
// changed stored hash invalidates the entry, and a wrong secret always takes
// the full check. During the grace of a secret rotation both the new and
// the previous secret authenticate the client, each remembered apart.
type Authenticator struct {
	Clients store.Clients
	// Limiter and Budget throttle full secret checks per client and client IP
	// (RFC 6749 §2.3.1 asks that password-like client authentication be
	// protected from brute force; TOK-02). A secret that matches the cached
	// digest spends nothing, so an attacker cannot lock a device out.
	Limiter ratelimit.Limiter
	Budget  ratelimit.Budget
	// Verifier bounds the slow secret checks (argon2id) and collapses
	// concurrent checks of one secret. Required.
	Verifier *secret.Verifier
	// ClientIP keys the budget by the client's network.
	ClientIP clientip.Resolver
	Now      func() time.Time
	// ClientTTL is how long a loaded client is reused before it is read
	// again; zero reads it on every request. A disabled client or a changed
	// secret takes effect within it, on every instance.
	ClientTTL time.Duration
	// Metrics counts failures by reason; nil counts nothing.
	Metrics *metrics.Recorder

	mu       sync.RWMutex
	verified map[string][2]verifiedSecret // by client id: for its current and its previous secret
	clients  map[string]cachedClient      // by client id
}

type cachedClient struct {
	client store.Client
	until  time.Time
}

// maxCachedClients bounds the client cache; only clients that exist are
// cached, so random ids cannot fill it.
const maxCachedClients = 10_000

type verifiedSecret struct {
	storedHash string
	digest     [sha256.Size]byte
}

// Authenticate identifies and authenticates the client. It uses exactly one
// method (TOK-04): HTTP Basic, client_id and client_secret in the body, or,
// for a public client, client_id alone. Failures are invalid_client (401),
// with a Basic challenge when Basic was tried (RFC 6749 §5.2).
func (a *Authenticator) Authenticate(ctx context.Context, r *http.Request, f oauth.Form) (store.Client, error) {
	cred, err := oauth.ParseClientCredentials(r, f)
	if err != nil {
		if e := oauth.AsError(err); e.Code == oauth.InvalidClient {
			a.Metrics.ClientAuthFailed(metrics.AuthMalformed)
		}
		return store.Client{}, err
	}
	fail := func(reason, desc string) error {
		a.Metrics.ClientAuthFailed(reason)
		e := oauth.NewError(oauth.InvalidClient, desc)
		e.Challenge = cred.Method == oauth.AuthBasic
		return e
	}
	c, err := a.client(ctx, cred.ID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, fail(metrics.AuthUnknownClient, "Client authentication failed.")
	}
	if err != nil {
		return store.Client{}, oauth.Unavailable(fmt.Errorf("load client %q: %w", cred.ID, err))
	}
	if c.Disabled {
		return store.Client{}, fail(metrics.AuthDisabledClient, "Client authentication failed.")
	}
	if c.Public {
		// Some client libraries send an empty secret for public clients;
		// that is still no secret.
		if cred.Method != oauth.AuthNone && cred.Secret != "" {
			return store.Client{}, fail(metrics.AuthWrongMethod, "A public client must not send a secret.")
		}
		return c, nil
	}
	if cred.Method == oauth.AuthNone {
		return store.Client{}, fail(metrics.AuthNoSecret, "Client authentication is required.")
	}
	// A client registered for one method must use it (RFC 7591 §2,
	// token_endpoint_auth_method).
	if c.AuthMethod != "" && c.AuthMethod != cred.Method {
		return store.Client{}, fail(metrics.AuthWrongMethod, "The client must use its registered authentication method.")
	}
	ok, err := a.check(ctx, r, c, cred.Secret)
	if err != nil {
		return store.Client{}, err
	}
	if !ok {
		return store.Client{}, fail(metrics.AuthBadSecret, "Client authentication failed.")
	}
	return c, nil
}

// client loads a client, from the cache while it is fresh.
func (a *Authenticator) client(ctx context.Context, id string) (store.Client, error) {
	if a.ClientTTL <= 0 {
		return a.Clients.Client(ctx, id)
	}
	now := a.Now()
	a.mu.RLock()
	cc, ok := a.clients[id]
	a.mu.RUnlock()
	if ok && now.Before(cc.until) {
		return cc.client, nil
	}
	c, err := a.Clients.Client(ctx, id)
	if err != nil {
		return c, err
	}
	a.mu.Lock()
	if a.clients == nil || len(a.clients) >= maxCachedClients {
		a.clients = make(map[string]cachedClient)
	}
	a.clients[id] = cachedClient{client: c, until: now.Add(a.ClientTTL)}
	a.mu.Unlock()
	return c, nil
}

// check reports whether sec is c's secret: its current one or, within the
// grace of a rotation, its previous one (store.Client.PreviousSecretHash).
// A digest verified against a stored hash is remembered for that hash, and
// for as long as the hash authenticates the client, so that during a
// grace both the devices with the new secret and those with the old one
// are checked cheaply; once the grace ends, or the client record (cached
// for ClientTTL) shows a new secret, the old digest matches nothing.
func (a *Authenticator) check(ctx context.Context, r *http.Request, c store.Client, sec string) (bool, error) {
	hashes := secretHashes(c, a.Now())
	digest := sha256.Sum256([]byte(sec))
	a.mu.RLock()
	remembered := a.verified[c.ID]
	a.mu.RUnlock()
	for _, v := range remembered {
		if v.storedHash != "" && slices.Contains(hashes[:], v.storedHash) &&
			subtle.ConstantTimeCompare(v.digest[:], digest[:]) == 1 {
			return true, nil
		}
	}
	if a.Limiter != nil {
		key := "client-auth:" + c.ID + "|" + a.ClientIP.Key(r)
		allowed, retry, err := a.Limiter.Take(ctx, key, a.Budget, a.Now())
		if err != nil {
			return false, oauth.Unavailable(fmt.Errorf("client authentication budget: %w", err))
		}
		if !allowed {
			return false, oauth.TooManyRequests(retry)
		}
	}
	for _, hash := range hashes {
		if hash == "" {
			continue
		}
		switch err := a.Verifier.Check(ctx, hash, sec); {
		case errors.Is(err, secret.ErrBusy), ctx.Err() != nil:
			return false, oauth.Unavailable(fmt.Errorf("check the secret of client %q: %w", c.ID, err))
		case err == nil:
			a.remember(c.ID, hashes, verifiedSecret{storedHash: hash, digest: digest})
			return true, nil
		}
	}
	return false, nil
}

// secretHashes returns the stored hashes that authenticate c at now, the
// current one first and "" for none (store.Client.SecretHashes, without
// allocating: this is every poll's path).
func secretHashes(c store.Client, now time.Time) [2]string {
	hashes := [2]string{c.SecretHash}
	if c.PreviousSecretHash != "" && now.Before(c.PreviousSecretExpiresAt) {
		hashes[1] = c.PreviousSecretHash
	}
	return hashes
}

// remember records v as the verified secret of client id for its stored
// hash, keeping the one remembered for the other hash of hashes, if any.
func (a *Authenticator) remember(id string, hashes [2]string, v verifiedSecret) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.verified == nil {
		a.verified = make(map[string][2]verifiedSecret)
	}
	next := [2]verifiedSecret{v}
	for _, old := range a.verified[id] {
		if old.storedHash != "" && old.storedHash != v.storedHash && slices.Contains(hashes[:], old.storedHash) {
			next[1] = old
		}
	}
	a.verified[id] = next
}
