package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// b64 is the JWS base64url encoding, without padding (RFC 7515 §2).
var b64 = base64.RawURLEncoding

// signer makes compact JWS (RFC 7515 §7.1) with one key for one token type.
// Its protected header never changes, so it is encoded once, when the key is
// loaded; signing a token then costs its payload's encoding and the signature
// itself. go-jose verifies what it makes (Set.Verify), and the tests check
// that every algorithm's tokens verify there.
type signer struct {
	header string // BASE64URL(UTF8(JWS Protected Header))
	key    crypto.Signer
	sigLen int // the signature's length in bytes
}

// header is the JWS protected header grantd writes: the fields of
// RFC 7515 §4.1 in go-jose's order (alphabetical), so that a token's header
// is the same whichever made it.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// newSigner returns the signer of tokens of type typ with key, whose id is
// kid and whose algorithm is alg.
func newSigner(alg, kid, typ string, key crypto.Signer) (*signer, error) {
	var sigLen int
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if alg != ES256 || k.Curve.Params().BitSize != 256 {
			return nil, fmt.Errorf("key %q: %s needs a P-256 key", kid, alg)
		}
		sigLen = 64
	case *rsa.PrivateKey:
		if alg != RS256 {
			return nil, fmt.Errorf("key %q: an RSA key cannot sign %s", kid, alg)
		}
		sigLen = k.Size()
	case ed25519.PrivateKey:
		if alg != EdDSA {
			return nil, fmt.Errorf("key %q: an Ed25519 key cannot sign %s", kid, alg)
		}
		sigLen = ed25519.SignatureSize
	default:
		return nil, fmt.Errorf("key %q: unsupported key type %T", kid, key)
	}
	h, err := json.Marshal(header{Alg: alg, Kid: kid, Typ: typ})
	if err != nil {
		return nil, fmt.Errorf("encode header of key %q: %w", kid, err)
	}
	return &signer{header: b64.EncodeToString(h), key: key, sigLen: sigLen}, nil
}

// sign returns the compact serialization of a JWS of payload:
// header '.' BASE64URL(payload) '.' BASE64URL(signature), the signature
// being over the first two parts (RFC 7515 §5.1).
func (s *signer) sign(payload []byte) (string, error) {
	b := make([]byte, 0, len(s.header)+1+b64.EncodedLen(len(payload))+1+b64.EncodedLen(s.sigLen))
	b = append(b, s.header...)
	b = append(b, '.')
	b = b64.AppendEncode(b, payload)
	sig, err := s.signature(b)
	if err != nil {
		return "", err
	}
	b = append(b, '.')
	b = b64.AppendEncode(b, sig)
	return string(b), nil
}

// signature signs the JWS signing input with the algorithm of RFC 7518 or
// RFC 8037 that s.key's type takes (newSigner checked it against alg).
func (s *signer) signature(input []byte) ([]byte, error) {
	switch k := s.key.(type) {
	case *ecdsa.PrivateKey:
		// ES256: ECDSA P-256 over SHA-256, the signature being R and S as
		// 32-byte big-endian integers, concatenated (RFC 7518 §3.4).
		digest := sha256.Sum256(input)
		r, sv, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			return nil, fmt.Errorf("ES256 signature: %w", err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		sv.FillBytes(sig[32:])
		return sig, nil
	case *rsa.PrivateKey:
		// RS256: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
		digest := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
		if err != nil {
			return nil, fmt.Errorf("RS256 signature: %w", err)
		}
		return sig, nil
	case ed25519.PrivateKey:
		// EdDSA with Ed25519, over the signing input itself (RFC 8037 §3.1).
		return ed25519.Sign(k, input), nil
	default:
		return nil, fmt.Errorf("unsupported key type %T", s.key)
	}
}
