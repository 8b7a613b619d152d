// Package onetime makes the one-time codes that prove a person reads a
// mailbox (identity verification, opening a disclosure package).
//
// A code must be unguessable to everyone but the process that mails it:
// not derivable from a key that holders, the bridge or subscribers hold, and
// not reversible from what workflow history keeps (a plain hash of six
// digits is reversed by trying a million values). So each scope (a request,
// a package) gets a random secret sealed under a ring only the worker holds;
// codes are HMACs of the secret and their issue number, so a retried
// activity mails the same code; and history keeps only the sealed secret and
// an HMAC of each code under that secret, which nobody without the ring can
// compute or test guesses against. The sealed secret is bound to its purpose
// and scope, so it cannot be moved to another request or package.
package onetime

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"madoguchi.dev/platform/seal"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// secretType names sealed secrets in their envelope.
const secretType = "madoguchi.onetime.v1.Secret"

// Purpose separates the codes of different uses of one scope id.
type Purpose string

// Purposes.
const (
	Verification Purpose = "verification" // identity verification of a request
	Download     Purpose = "download"     // opening a disclosure package
)

// Codes makes and checks codes with a ring that only the worker holds.
type Codes struct {
	Ring *seal.Ring
	// Digits is the length of a code (default 6).
	Digits int
}

// ErrNoRing means the worker was started without its verification keys.
var ErrNoRing = errors.New("onetime: no verification key ring")

func aad(p Purpose, scope string) []byte {
	return []byte(secretType + "\x00" + string(p) + "\x00" + scope)
}

// NewSecret returns a fresh random secret for scope, sealed.
func (c Codes) NewSecret(p Purpose, scope string) (*dsrv1.Sealed, error) {
	if c.Ring == nil {
		return nil, ErrNoRing
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("onetime: secret: %w", err)
	}
	id, nonce, ct, err := c.Ring.Seal(secret, aad(p, scope))
	if err != nil {
		return nil, err
	}
	return &dsrv1.Sealed{KeyId: id, Nonce: nonce, Ciphertext: ct, Type: secretType}, nil
}

func (c Codes) open(s *dsrv1.Sealed, p Purpose, scope string) ([]byte, error) {
	if c.Ring == nil {
		return nil, ErrNoRing
	}
	if s == nil || s.GetType() != secretType {
		return nil, errors.New("onetime: not a sealed secret")
	}
	secret, err := c.Ring.Open(s.GetKeyId(), s.GetNonce(), s.GetCiphertext(), aad(p, scope))
	if err != nil {
		return nil, fmt.Errorf("onetime: secret of another scope, or tampered: %w", err)
	}
	return secret, nil
}

func (c Codes) digits() int {
	if c.Digits <= 0 {
		return 6
	}
	return c.Digits
}

// Code returns the code of issue n (0 first, then resends) for scope.
func (c Codes) Code(s *dsrv1.Sealed, p Purpose, scope string, n int) (string, error) {
	secret, err := c.open(s, p, scope)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "code\x00%d", n)
	mod := uint64(1)
	for range c.digits() {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", c.digits(), binary.BigEndian.Uint64(m.Sum(nil)[:8])%mod), nil
}

// MAC returns the keyed MAC of a (normalised) code for issue n: what history
// keeps of the code mailed, and what a code typed in is compared by.
func (c Codes) MAC(s *dsrv1.Sealed, p Purpose, scope string, n int, code string) ([]byte, error) {
	secret, err := c.open(s, p, scope)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "mac\x00%d\x00%s", n, code)
	return m.Sum(nil), nil
}

// Token returns scope's link secret for purpose p: 64 hex digits, the same
// on every call, so that a retried activity mails the link it stored. Only
// the holder of the ring can compute it; store its hash, never the token.
func (c Codes) Token(s *dsrv1.Sealed, p Purpose, scope string) (string, error) {
	secret, err := c.open(s, p, scope)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("token"))
	return hex.EncodeToString(m.Sum(nil)), nil
}
