package intake

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Document is a file supporting an agent's filing: the document that shows
// the authority to act (委任状, or proof of legal representation) and,
// optionally, the agent's identity document. Its content is sealed with the
// key ring before it reaches the database.
type Document struct {
	// Purpose is DocAuthority or DocAgentID.
	Purpose string
	// Content is a newly uploaded file.
	Content []byte
	// Pending is the claim token of a file kept from an earlier attempt of
	// the same form (a file input cannot be filled in again on an error).
	Pending string
	// ContentType is sniffed from the content (never taken from the client);
	// Size is in bytes. Normalise sets both for new files.
	ContentType string
	Size        int
}

// Document purposes.
const (
	DocAuthority = "authority"
	DocAgentID   = "agent_id"
)

// DocumentPurposes in the form's order.
var DocumentPurposes = []string{DocAuthority, DocAgentID}

// Upload limits.
const (
	MaxDocumentSize = 5 << 20
	// maxMultipart bounds a whole multipart submission: two documents and
	// the fields, with room for multipart framing.
	maxMultipart = 2*MaxDocumentSize + 256<<10
	// pendingTTL is how long a file kept from a failed attempt can be claimed.
	pendingTTL = 24 * time.Hour
)

// allowedTypes are the types accepted, as http.DetectContentType names them.
var allowedTypes = map[string]string{
	"application/pdf": "PDF",
	"image/jpeg":      "JPEG",
	"image/png":       "PNG",
}

// sniff names the content's type from its first bytes: the file name and
// the client's Content-Type are not trusted.
func sniff(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return http.DetectContentType(b)
}

func validateDocuments(errs FieldErrors, agent bool, docs []Document) {
	seen := map[string]bool{}
	for _, d := range docs {
		field := "documents." + d.Purpose
		switch {
		case d.Purpose != DocAuthority && d.Purpose != DocAgentID:
			errs["documents"] = "unknown_document"
			continue
		case seen[d.Purpose]:
			errs[field] = "duplicate_document"
			continue
		}
		seen[d.Purpose] = true
		if !agent {
			errs[field] = "document_without_agent"
			continue
		}
		if d.Pending != "" {
			continue
		}
		switch {
		case len(d.Content) == 0:
			errs[field] = "document_empty"
		case len(d.Content) > MaxDocumentSize:
			errs[field] = "document_too_large"
		case allowedTypes[d.ContentType] == "":
			errs[field] = "document_type"
		}
	}
	if agent && !seen[DocAuthority] {
		errs["documents."+DocAuthority] = "document_required"
	}
}

// documentOK reports whether d passed its own checks (it may be kept for
// the next attempt even though other fields were wrong).
func documentOK(errs FieldErrors, d Document) bool {
	_, bad := errs["documents."+d.Purpose]
	return !bad && d.Pending == "" && len(d.Content) > 0
}

const qInsertUpload = `-- name: InsertUpload
INSERT INTO uploads (id, request_id, purpose, content_type, size_bytes, key_id, nonce, sealed, claim_hash, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

const qClaimUpload = `-- name: ClaimUpload
UPDATE uploads SET request_id = $1, claim_hash = NULL
WHERE claim_hash = $2 AND purpose = $3 AND request_id IS NULL AND created_at > $4
RETURNING id`

const qPendingUpload = `-- name: PendingUpload
SELECT content_type, size_bytes FROM uploads
WHERE claim_hash = $1 AND purpose = $2 AND request_id IS NULL AND created_at > $3`

const qUpload = `-- name: Upload
SELECT purpose, content_type, key_id, nonce, sealed FROM uploads WHERE id = $1`

const qDeleteStalePending = `-- name: DeleteStalePending
DELETE FROM uploads WHERE request_id IS NULL AND created_at <= $1`

// uploadAAD binds a sealed file to its row: a ciphertext moved to another
// row does not open.
func uploadAAD(id string) []byte { return []byte("upload|" + id) }

type sealedUpload struct {
	id, purpose, contentType string
	size                     int
	keyID                    string
	nonce, ciphertext        []byte
}

func (s *Service) sealUpload(d Document) (sealedUpload, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return sealedUpload{}, err
	}
	keyID, nonce, ct, err := s.Ring.Seal(d.Content, uploadAAD(id.String()))
	if err != nil {
		return sealedUpload{}, fmt.Errorf("intake: seal upload: %w", err)
	}
	return sealedUpload{id: id.String(), purpose: d.Purpose, contentType: d.ContentType, size: len(d.Content),
		keyID: keyID, nonce: nonce, ciphertext: ct}, nil
}

// storeDocuments writes a new request's documents in its transaction:
// new files sealed, kept files claimed. A kept file that has expired meanwhile
// is a validation error (the person chooses the file again).
func (s *Service) storeDocuments(ctx context.Context, tx pgx.Tx, requestID string, sealed []sealedUpload, docs []Document, now time.Time) error {
	for _, u := range sealed {
		if _, err := tx.Exec(ctx, qInsertUpload, u.id, requestID, u.purpose, u.contentType, u.size,
			u.keyID, u.nonce, u.ciphertext, nil, now); err != nil {
			return fmt.Errorf("insert upload: %w", err)
		}
	}
	for _, d := range docs {
		if d.Pending == "" {
			continue
		}
		var id string
		err := tx.QueryRow(ctx, qClaimUpload, requestID, HashStatusToken(d.Pending), d.Purpose, now.Add(-pendingTTL)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return &ValidationError{Fields: FieldErrors{"documents." + d.Purpose: "document_expired"}}
		}
		if err != nil {
			return fmt.Errorf("claim upload: %w", err)
		}
	}
	return nil
}

// KeepDocument stores a valid file from a submission that failed on other
// fields, so that the person does not have to choose it again. It returns
// the document as a claim (Pending set, Content dropped).
func (s *Service) KeepDocument(ctx context.Context, d Document) (Document, error) {
	u, err := s.sealUpload(d)
	if err != nil {
		return d, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return d, err
	}
	token := hex.EncodeToString(b)
	now := s.now()
	if _, err := s.Pool.Exec(ctx, qInsertUpload, u.id, nil, u.purpose, u.contentType, u.size,
		u.keyID, u.nonce, u.ciphertext, HashStatusToken(token), now); err != nil {
		return d, fmt.Errorf("intake: keep upload: %w", err)
	}
	return Document{Purpose: d.Purpose, Pending: token, ContentType: d.ContentType, Size: d.Size}, nil
}

// PendingDocument looks up a kept file by its claim token; ok is false when
// it is unknown, claimed or expired.
func (s *Service) PendingDocument(ctx context.Context, purpose, token string) (Document, bool, error) {
	if len(token) != 64 {
		return Document{}, false, nil
	}
	d := Document{Purpose: purpose, Pending: token}
	err := s.Pool.QueryRow(ctx, qPendingUpload, HashStatusToken(token), purpose, s.now().Add(-pendingTTL)).Scan(&d.ContentType, &d.Size)
	if errors.Is(err, pgx.ErrNoRows) {
		return Document{}, false, nil
	}
	if err != nil {
		return Document{}, false, fmt.Errorf("intake: pending upload: %w", err)
	}
	return d, true, nil
}

// OpenUpload returns a stored file's purpose, type and content (staff tools, tests).
func (s *Service) OpenUpload(ctx context.Context, id string) (purpose, contentType string, content []byte, err error) {
	var keyID string
	var nonce, ct []byte
	if err := s.Pool.QueryRow(ctx, qUpload, id).Scan(&purpose, &contentType, &keyID, &nonce, &ct); err != nil {
		return "", "", nil, fmt.Errorf("intake: upload %s: %w", id, err)
	}
	content, err = s.Ring.Open(keyID, nonce, ct, uploadAAD(id))
	if err != nil {
		return "", "", nil, fmt.Errorf("intake: open upload %s: %w", id, err)
	}
	return purpose, contentType, content, nil
}

// PurgeStaleUploads deletes kept files never claimed by a request.
func (s *Service) PurgeStaleUploads(ctx context.Context) (int64, error) {
	tag, err := s.Pool.Exec(ctx, qDeleteStalePending, s.now().Add(-pendingTTL))
	if err != nil {
		return 0, fmt.Errorf("intake: purge kept uploads: %w", err)
	}
	return tag.RowsAffected(), nil
}

// documentsHash fingerprints the documents for the idempotency check.
func documentsHash(docs []Document) []byte {
	h := sha256.New()
	for _, d := range docs {
		h.Write([]byte(d.Purpose + "\x00"))
		if d.Pending != "" {
			h.Write([]byte("pending:" + d.Pending))
		} else {
			c := sha256.Sum256(d.Content)
			h.Write(c[:])
		}
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}
