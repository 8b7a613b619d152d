// Package disclosure stores disclosure packages (開示の結果): the holders'
// exports for one request, sealed at rest in a JetStream object store and
// reachable only through a secret, expiring download token. The store keeps
// the token's hash, never the token.
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
}

// ErrNoPackage means the link is unknown, expired or purged.
var ErrNoPackage = errors.New("disclosure: no such package")

var aad = []byte("disclosure-package")

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
func (s *Store) Put(ctx context.Context, p Package) (id, token string, err error) {
	doc, err := json.Marshal(p)
	if err != nil {
		return "", "", err
	}
	keyID, nonce, ct, err := s.Ring.Seal(doc, aad)
	if err != nil {
		return "", "", err
	}
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return "", "", err
	}
	token = hex.EncodeToString(tok)
	id = ID(token)
	st, err := s.bucket(ctx)
	if err != nil {
		return "", "", err
	}
	raw, _ := json.Marshal(blob{KeyID: keyID, Nonce: nonce, Ciphertext: ct, ExpiresAt: p.ExpiresAt})
	if _, err := st.PutBytes(ctx, id, raw); err != nil {
		return "", "", fmt.Errorf("disclosure: store package: %w", err)
	}
	return id, token, nil
}

// Open reads a package by token; unknown, expired or purged → ErrNoPackage.
func (s *Store) Open(ctx context.Context, token string, now time.Time) (*Package, error) {
	if len(token) != 64 {
		return nil, ErrNoPackage
	}
	st, err := s.bucket(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := st.GetBytes(ctx, ID(token))
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
	doc, err := s.Ring.Open(b.KeyID, b.Nonce, b.Ciphertext, aad)
	if err != nil {
		return nil, fmt.Errorf("disclosure: open package: %w", err)
	}
	var p Package
	if err := json.Unmarshal(doc, &p); err != nil {
		return nil, fmt.Errorf("disclosure: package document: %w", err)
	}
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
