// Package keys holds grantd's signing keys and signs tokens with them.
//
// Keys are generated on first start and persisted through store.Keys, so
// every instance and every restart signs with the same keys and tokens
// issued before a restart still verify (REL-06). The JWKS publishes the
// public halves only (MD-03).
package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
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

// Set is the keys in force: signers by algorithm and token type, and the JWKS
// document.
type Set struct {
	signers map[signerKey]jose.Signer
	kids    map[string]string
	jwks    []byte
	public  map[string]jose.JSONWebKey // by kid
	algs    []jose.SignatureAlgorithm
}

type signerKey struct{ alg, typ string }

// Load makes sure a key exists for each algorithm in algs, generating it from
// rand and storing it when missing, and returns the set of stored keys.
func Load(ctx context.Context, ks store.Keys, rand io.Reader, now time.Time, algs ...string) (*Set, error) {
	for _, alg := range algs {
		if _, err := ensure(ctx, ks, rand, now, alg); err != nil {
			return nil, err
		}
	}
	stored, err := ks.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	set := &Set{signers: make(map[signerKey]jose.Signer), kids: make(map[string]string), public: make(map[string]jose.JSONWebKey)}
	var pub jose.JSONWebKeySet
	for _, k := range stored {
		priv, err := x509.ParsePKCS8PrivateKey(k.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("parse signing key %q: %w", k.ID, err)
		}
		jwk := jose.JSONWebKey{Key: priv, KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"}
		pub.Keys = append(pub.Keys, jwk.Public())
		set.public[k.ID] = jwk.Public()
		if !slices.Contains(set.algs, jose.SignatureAlgorithm(k.Algorithm)) {
			set.algs = append(set.algs, jose.SignatureAlgorithm(k.Algorithm))
		}
		if _, seen := set.kids[k.Algorithm]; seen {
			continue // keys come oldest first; the oldest of an algorithm signs
		}
		for _, typ := range []string{TypeAccessToken, TypeIDToken} {
			opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: jwk}, opts)
			if err != nil {
				return nil, fmt.Errorf("signer for key %q: %w", k.ID, err)
			}
			set.signers[signerKey{k.Algorithm, typ}] = signer
		}
		set.kids[k.Algorithm] = k.ID
	}
	if set.jwks, err = json.Marshal(pub); err != nil {
		return nil, fmt.Errorf("encode JWKS: %w", err)
	}
	return set, nil
}

// ensure stores a fresh key for alg unless one exists.
func ensure(ctx context.Context, ks store.Keys, rand io.Reader, now time.Time, alg string) (store.SigningKey, error) {
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
	k, err := ks.EnsureSigningKey(ctx, store.SigningKey{ID: kid, Algorithm: alg, PrivateKey: der, CreatedAt: now})
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("store %s signing key: %w", alg, err)
	}
	return k, nil
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

// JWKS returns the JSON Web Key Set of every stored key's public half.
func (s *Set) JWKS() []byte { return s.jwks }

// KeyID returns the kid that signs with alg, or "".
func (s *Set) KeyID(alg string) string { return s.kids[alg] }

// Sign returns a compact JWS of claims, signed with alg's key, with header
// typ TypeAccessToken or TypeIDToken.
func (s *Set) Sign(alg, typ string, claims any) (string, error) {
	signer, ok := s.signers[signerKey{alg, typ}]
	if !ok {
		return "", fmt.Errorf("no %s signing key for %s tokens", alg, typ)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign %s token: %w", typ, err)
	}
	return obj.CompactSerialize()
}
