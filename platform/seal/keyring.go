// Package seal encrypts personal data with AES-256-GCM under a key ring, so
// that it can cross NATS and Temporal history without being readable there.
//
// A key ring has one active key (used to seal) and any number of older keys
// (still used to open), so keys can be rotated without losing old envelopes.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// KeySize is the AES-256 key length in bytes.
const KeySize = 32

// ErrUnknownKey means an envelope names a key the ring does not hold.
var ErrUnknownKey = errors.New("seal: unknown key id")

// ErrOpen means the ciphertext was tampered with, or sealed for another type.
var ErrOpen = errors.New("seal: cannot open envelope")

// Ring holds the keys. It is safe for concurrent use once built.
type Ring struct {
	active string
	aeads  map[string]cipher.AEAD
}

// NewRing builds a ring from key id -> 32-byte key; active names the key used
// to seal and must be among keys.
func NewRing(active string, keys map[string][]byte) (*Ring, error) {
	if _, ok := keys[active]; !ok {
		return nil, fmt.Errorf("seal: active key %q is not in the ring", active)
	}
	r := &Ring{active: active, aeads: make(map[string]cipher.AEAD, len(keys))}
	for id, k := range keys {
		if id == "" || strings.ContainsAny(id, ":,") {
			return nil, fmt.Errorf("seal: key id %q must be non-empty without ':' or ','", id)
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("seal: key %q has %d bytes, want %d", id, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("seal: key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: key %q: %w", id, err)
		}
		r.aeads[id] = aead
	}
	return r, nil
}

// ParseRing reads the MADOGUCHI_KEYS format: "id:base64key,id:base64key",
// the first key being the active one. Rotation = put a new key first.
func ParseRing(spec string) (*Ring, error) {
	keys := map[string][]byte{}
	active := ""
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok {
			return nil, errors.New("seal: key ring entry without ':' (want id:base64key)")
		}
		k, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("seal: key %q is not base64: %w", id, err)
		}
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("seal: key id %q appears twice", id)
		}
		keys[id] = k
		if active == "" {
			active = id
		}
	}
	if active == "" {
		return nil, errors.New("seal: key ring is empty")
	}
	return NewRing(active, keys)
}

// NewKeySpec returns a fresh "id:base64key" entry for ParseRing.
func NewKeySpec(id string) (string, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return "", fmt.Errorf("seal: generate key: %w", err)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(k), nil
}

// ActiveKeyID names the key new envelopes are sealed with.
func (r *Ring) ActiveKeyID() string { return r.active }

// KeyIDs lists every key the ring can open with, sorted.
func (r *Ring) KeyIDs() []string {
	ids := make([]string, 0, len(r.aeads))
	for id := range r.aeads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Seal encrypts plaintext under the active key. aad is bound to the
// ciphertext (e.g. the message type) and must be given again to Open.
func (r *Ring) Seal(plaintext, aad []byte) (keyID string, nonce, ciphertext []byte, err error) {
	aead := r.aeads[r.active]
	nonce = make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return r.active, nonce, aead.Seal(nil, nonce, plaintext, aad), nil
}

// Open decrypts what Seal produced with any key still in the ring.
func (r *Ring) Open(keyID string, nonce, ciphertext, aad []byte) ([]byte, error) {
	aead, ok := r.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, keyID)
	}
	if len(nonce) != aead.NonceSize() {
		return nil, ErrOpen
	}
	pt, err := aead.Open(nil, nonce, ciphertext, aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
