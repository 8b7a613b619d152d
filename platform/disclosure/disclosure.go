// Package disclosure stores disclosure packages (開示の結果): the holders'
// exports for one request, sealed at rest in a JetStream object store and
// reachable only through a secret, expiring download token. The store keeps
// the token's hash, never the token.
//
// Packages stored with PutWithToken (since identity-2026-12) are guarded:
// the link alone does not show them; Open reports CodeRequired, and the
// intake shows the package only to whoever also entered a one-time code
// mailed to the person. The guard is bound into the sealed record (its
// additional data names the package id), so neither clearing it nor moving
// a record under another id opens the package.
package disclosure

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"madoguchi.dev/platform/seal"
	"madoguchi.dev/proto/contract"
)

// Package is the disclosure package document.
type Package struct {
	Receipt     string                     `json:"receipt"`
	Kind        string                     `json:"kind"`
	Locale      string                     `json:"locale"`
	GeneratedAt time.Time                  `json:"generated_at"`
	ExpiresAt   time.Time                  `json:"expires_at"`
	Holders     map[string]json.RawMessage `json:"holders"`
	// CodeRequired is set by Open for a guarded package (PutWithToken): it
	// may be shown only with a grant from a one-time code. It is not part of
	// the document.
	CodeRequired bool `json:"-"`
}

// ErrNoPackage means the link is unknown, expired or purged.
var ErrNoPackage = errors.New("disclosure: no such package")

var aad = []byte("disclosure-package")

// guardedAAD binds a guarded package's record to its id and its guard.
func guardedAAD(id string) []byte { return []byte("disclosure-package\x00guarded\x00" + id) }

// Store reads and writes packages.
type Store struct {
	JS        jetstream.JetStream
	Namespace contract.Namespace
	Ring      *seal.Ring
}

type blob struct {
	KeyID      string    `json:"key_id"`
	Nonce      []byte    `json:"nonce"`
	Ciphertext []byte    `json:"ciphertext"`
	ExpiresAt  time.Time `json:"expires_at"`
	// Guarded: stored by PutWithToken, sealed with guardedAAD.
	Guarded bool `json:"guarded,omitempty"`
}

// ID is the object name for a download token.
func ID(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func (s *Store) bucket(ctx context.Context) (jetstream.ObjectStore, error) {
	// Declared with the streams (bus.DeclareStreams), replicas included.
	st, err := s.JS.ObjectStore(ctx, s.Namespace.PackagesBucket())
	if err != nil {
		return nil, fmt.Errorf("disclosure: packages store: %w", err)
	}
	return st, nil
}

// Put seals and stores p, returning its id and the secret download token.
// The link alone opens it (packages of requests from before
// identity-2026-12); new packages use PutWithToken.
func (s *Store) Put(ctx context.Context, p Package) (id, token string, err error) {
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return "", "", err
	}
	token = hex.EncodeToString(tok)
	id = ID(token)
	if err := s.put(ctx, p, id, false); err != nil {
		return "", "", err
	}
	return id, token, nil
}

// PutWithToken seals and stores p as a guarded package under ID(token), for
// a token the caller derives (the same on every retry, so that a retried
// store replaces the same object), and returns that id. Opening it needs
// the token and a grant from a one-time code (Package.CodeRequired).
func (s *Store) PutWithToken(ctx context.Context, p Package, token string) (id string, err error) {
	if len(token) != 64 {
		return "", errors.New("disclosure: a download token is 64 hex digits")
	}
	id = ID(token)
	if err := s.put(ctx, p, id, true); err != nil {
		return "", err
	}
	return id, nil
}

func (s *Store) put(ctx context.Context, p Package, id string, guarded bool) error {
	doc, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("disclosure: package document: %w", err)
	}
	ad := aad
	if guarded {
		ad = guardedAAD(id)
	}
	keyID, nonce, ct, err := s.Ring.Seal(doc, ad)
	if err != nil {
		return fmt.Errorf("disclosure: seal package: %w", err)
	}
	st, err := s.bucket(ctx)
	if err != nil {
		return err
	}
	raw, _ := json.Marshal(blob{KeyID: keyID, Nonce: nonce, Ciphertext: ct, ExpiresAt: p.ExpiresAt, Guarded: guarded})
	if _, err := st.PutBytes(ctx, id, raw); err != nil {
		return fmt.Errorf("disclosure: store package: %w", err)
	}
	return nil
}

// Open reads a package by token; unknown, expired or purged → ErrNoPackage.
// A guarded package comes back with CodeRequired set: the caller must not
// show it without a grant.
func (s *Store) Open(ctx context.Context, token string, now time.Time) (*Package, error) {
	if len(token) != 64 {
		return nil, ErrNoPackage
	}
	st, err := s.bucket(ctx)
	if err != nil {
		return nil, err
	}
	id := ID(token)
	raw, err := st.GetBytes(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, ErrNoPackage
	}
	if err != nil {
		return nil, fmt.Errorf("disclosure: read package: %w", err)
	}
	var b blob
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("disclosure: package record: %w", err)
	}
	if !now.Before(b.ExpiresAt) {
		return nil, ErrNoPackage
	}
	ad := aad
	if b.Guarded {
		ad = guardedAAD(id)
	}
	doc, err := s.Ring.Open(b.KeyID, b.Nonce, b.Ciphertext, ad)
	if err != nil {
		return nil, fmt.Errorf("disclosure: open package: %w", err)
	}
	var p Package
	if err := json.Unmarshal(doc, &p); err != nil {
		return nil, fmt.Errorf("disclosure: package document: %w", err)
	}
	p.CodeRequired = b.Guarded
	return &p, nil
}

// Delete purges a package; deleting a missing one is not an error.
func (s *Store) Delete(ctx context.Context, id string) error {
	st, err := s.bucket(ctx)
	if err != nil {
		return err
	}
	if err := st.Delete(ctx, id); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("disclosure: purge package: %w", err)
	}
	return nil
}
