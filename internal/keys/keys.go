// Package keys holds grantd's signing keys and signs tokens with them.
//
// Keys are generated on first start and persisted through store.Keys, so
// every instance and every restart signs with the same keys and tokens
// issued before a restart still verify (REL-06). The JWKS publishes the
// public halves only (MD-03).
//
// Keys rotate (rotate.go): a successor is published before it signs and its
// predecessor withdrawn after its last token expires (REL-12). Each instance
// re-reads the keys periodically (Keeper), so a rotation made anywhere
// reaches every instance.
package keys

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/grantd/grantd/internal/store"
)

// Supported signature algorithms. RS256 must be supported (RFC 9068 §4).
const (
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// rsaBits is the modulus size of generated RSA keys.
const rsaBits = 2048

// Token types, the JWS typ header of what Sign produces.
const (
	TypeAccessToken = "at+jwt" // RFC 9068 §2.1
	TypeIDToken     = "JWT"    // OpenID Connect Core §2 recommends JWT
)

// Set is the keys in force: signers by algorithm and token type, the public
// keys that verify, and the JWKS document. It is safe for concurrent use;
// Reload swaps in a new snapshot atomically, so signing and verifying never
// wait for the store.
type Set struct {
	cur atomic.Pointer[ring]
	// mu serialises Reload; stored is the key list it last read, used again
	// when the store cannot be read (keys still activate and retire on time).
	mu     sync.Mutex
	stored []store.SigningKey
}

// ring is one immutable snapshot of a Set.
type ring struct {
	fingerprint string // the published kids and which of them sign
	signers     map[signerKey]*signer
	kids        map[string]string // the signing kid by algorithm
	jwks        []byte
	public      map[string]jose.JSONWebKey // by kid
	algs        []jose.SignatureAlgorithm
	parsed      map[string]parsedKey // by kid, reused by the next snapshot
}

type signerKey struct{ alg, typ string }

// parsedKey is a stored key decoded once, with its signers.
type parsedKey struct {
	public  jose.JSONWebKey
	signers map[string]*signer // by token type
}

// Load makes sure a key exists for each algorithm in algs, generating it from
// rand and storing it when missing, and returns the set of stored keys in
// force at now.
func Load(ctx context.Context, ks store.Keys, rand io.Reader, now time.Time, algs ...string) (*Set, error) {
	for _, alg := range algs {
		if _, err := ensure(ctx, ks, rand, now, alg); err != nil {
			return nil, err
		}
	}
	s := &Set{}
	if _, err := s.Reload(ctx, ks, now); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the stored keys and, when what is published or what signs
// has changed at now, swaps in a new snapshot; it reports whether it did.
// When the store cannot be read, it returns the error but still applies the
// last keys read to now, so a scheduled activation or retirement happens on
// time during a database outage.
func (s *Set) Reload(ctx context.Context, ks store.Keys, now time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, readErr := ks.SigningKeys(ctx)
	if readErr != nil {
		if s.cur.Load() == nil {
			return false, fmt.Errorf("load signing keys: %w", readErr)
		}
		readErr = fmt.Errorf("reload signing keys: %w", readErr)
		stored = s.stored
	}
	stored = slices.Clone(stored)
	slices.SortStableFunc(stored, func(a, b store.SigningKey) int {
		return cmp.Or(a.ActivatesAt.Compare(b.ActivatesAt), a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	s.stored = stored
	prev := s.cur.Load()
	fp := fingerprint(stored, now)
	if prev != nil && prev.fingerprint == fp {
		return false, readErr
	}
	r, err := build(stored, now, prev)
	if err != nil {
		return false, errors.Join(readErr, err)
	}
	r.fingerprint = fp
	s.cur.Store(r)
	return true, readErr
}

// signing returns, for each algorithm, the index in keys (ordered by
// activation) of the key that signs at now: of the keys published at now,
// the last activated; were none activated yet, the first to activate.
func signing(keys []store.SigningKey, now time.Time) map[string]int {
	idx := make(map[string]int)
	for i, k := range keys {
		if k.Retired(now) {
			continue
		}
		if _, seen := idx[k.Algorithm]; !seen || !k.ActivatesAt.After(now) {
			idx[k.Algorithm] = i
		}
	}
	return idx
}

// fingerprint names what a snapshot of keys at now contains.
func fingerprint(keys []store.SigningKey, now time.Time) string {
	var b strings.Builder
	signers := signing(keys, now)
	for i, k := range keys {
		if k.Retired(now) {
			continue
		}
		b.WriteString(k.ID)
		if signers[k.Algorithm] == i {
			b.WriteString("*")
		}
		b.WriteString(" ")
	}
	return b.String()
}

// build makes the snapshot of keys at now, reusing prev's decoded keys.
func build(keys []store.SigningKey, now time.Time, prev *ring) (*ring, error) {
	r := &ring{signers: make(map[signerKey]*signer), kids: make(map[string]string),
		public: make(map[string]jose.JSONWebKey), parsed: make(map[string]parsedKey)}
	signers := signing(keys, now)
	pub := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for i, k := range keys {
		if k.Retired(now) {
			continue
		}
		p, ok := parsedKey{}, false
		if prev != nil {
			p, ok = prev.parsed[k.ID]
		}
		if !ok {
			var err error
			if p, err = parse(k); err != nil {
				return nil, err
			}
		}
		r.parsed[k.ID] = p
		pub.Keys = append(pub.Keys, p.public)
		r.public[k.ID] = p.public
		if !slices.Contains(r.algs, jose.SignatureAlgorithm(k.Algorithm)) {
			r.algs = append(r.algs, jose.SignatureAlgorithm(k.Algorithm))
		}
		if signers[k.Algorithm] == i {
			for typ, signer := range p.signers {
				r.signers[signerKey{k.Algorithm, typ}] = signer
			}
			r.kids[k.Algorithm] = k.ID
		}
	}
	var err error
	if r.jwks, err = json.Marshal(pub); err != nil {
		return nil, fmt.Errorf("encode JWKS: %w", err)
	}
	return r, nil
}

// parse decodes a stored key and makes its signers.
func parse(k store.SigningKey) (parsedKey, error) {
	der, err := x509.ParsePKCS8PrivateKey(k.PrivateKey)
	if err != nil {
		return parsedKey{}, fmt.Errorf("parse signing key %q: %w", k.ID, err)
	}
	priv, ok := der.(crypto.Signer)
	if !ok {
		return parsedKey{}, fmt.Errorf("signing key %q: %T cannot sign", k.ID, der)
	}
	jwk := jose.JSONWebKey{Key: priv, KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"}
	p := parsedKey{public: jwk.Public(), signers: make(map[string]*signer)}
	for _, typ := range []string{TypeAccessToken, TypeIDToken} {
		sg, err := newSigner(k.Algorithm, k.ID, typ, priv)
		if err != nil {
			return parsedKey{}, err
		}
		p.signers[typ] = sg
	}
	return p, nil
}

// ensure stores a fresh key for alg unless one exists.
func ensure(ctx context.Context, ks store.Keys, rand io.Reader, now time.Time, alg string) (store.SigningKey, error) {
	k, err := newKey(rand, now, alg)
	if err != nil {
		return store.SigningKey{}, err
	}
	if k, err = ks.EnsureSigningKey(ctx, k); err != nil {
		return store.SigningKey{}, fmt.Errorf("store %s signing key: %w", alg, err)
	}
	return k, nil
}

// newKey generates a key for alg, created and signing from now.
func newKey(rand io.Reader, now time.Time, alg string) (store.SigningKey, error) {
	priv, err := generate(rand, alg)
	if err != nil {
		return store.SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("encode %s key: %w", alg, err)
	}
	kid, err := thumbprint(priv)
	if err != nil {
		return store.SigningKey{}, err
	}
	return store.SigningKey{ID: kid, Algorithm: alg, PrivateKey: der, CreatedAt: now, ActivatesAt: now}, nil
}

// generate makes a private key for alg. Generating before knowing whether one
// is stored wastes a key on every start after the first; it keeps
// EnsureSigningKey a single atomic verb, and costs milliseconds.
func generate(rand io.Reader, alg string) (crypto.Signer, error) {
	switch alg {
	case RS256:
		return rsa.GenerateKey(rand, rsaBits)
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand)
		return priv, err
	default:
		return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
}

// thumbprint is the key id: the RFC 7638 JWK thumbprint of the public key.
func thumbprint(priv crypto.Signer) (string, error) {
	jwk := jose.JSONWebKey{Key: priv.Public()}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// JWKS returns the JSON Web Key Set of the public half of every key
// published now: those that sign, those about to, and those whose tokens
// may still be valid.
func (s *Set) JWKS() []byte { return s.cur.Load().jwks }

// KeyID returns the kid that signs with alg, or "".
func (s *Set) KeyID(alg string) string { return s.cur.Load().kids[alg] }

// Sign returns a compact JWS of claims, signed with alg's key, with header
// typ TypeAccessToken or TypeIDToken. claims encode themselves, so that
// minting a token takes no reflection.
func (s *Set) Sign(alg, typ string, claims json.Marshaler) (string, error) {
	sg, ok := s.cur.Load().signers[signerKey{alg, typ}]
	if !ok {
		return "", fmt.Errorf("no %s signing key for %s tokens", alg, typ)
	}
	payload, err := claims.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	tok, err := sg.sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign %s token: %w", typ, err)
	}
	return tok, nil
}
