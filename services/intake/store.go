package intake

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/outbox"
)

// The request row and its announcement in the outbox, in one statement:
// atomic on its own (autocommit) and one round trip, the same durability as
// a transaction of two INSERTs at a fraction of the latency. The outbox row
// is written only when the request row was (not on an idempotent retry).
const qInsertRequest = `-- name: InsertRequestAndAnnouncement
WITH request AS (
    INSERT INTO requests (id, receipt, kind, jurisdiction, locale, filed_by_agent,
                          personal_key_id, personal_nonce, personal_sealed, idempotency_key, submission_hash, created_at,
                          status_token_hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
), announcement AS (
    INSERT INTO outbox (request_id, subject, msg_id, msg_type, payload, traceparent, tracestate)
    SELECT id, $14, $15, $16, $17, nullif($18, ''), nullif($19, '') FROM request
    RETURNING id
)
SELECT count(*) FROM announcement`

const qRequestByIdempotencyKey = `-- name: RequestByIdempotencyKey
SELECT id::text, receipt, submission_hash, created_at FROM requests WHERE idempotency_key = $1`

// ErrIdempotencyConflict: the key was used before for a different request.
var ErrIdempotencyConflict = errors.New("idempotency key already used for a different request")

// stored is what the store writes for one request.
type stored struct {
	id, receipt    string
	kind           dsrv1.RequestKind
	sub            *Submission
	sealed         *dsrv1.Sealed
	idempotencyKey string
	hash           []byte
	createdAt      time.Time
	// statusTokenHash is the SHA-256 of the status link's secret.
	statusTokenHash []byte
}

// submissionHash fingerprints a normalised submission so that a reused
// idempotency key with other content is refused rather than answered wrongly.
func submissionHash(s *Submission) []byte {
	b, _ := json.Marshal(s) // struct of strings: cannot fail
	h := sha256.Sum256(b)
	return h[:]
}

// queryRower is a pool or a transaction.
type queryRower interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}

// insertOne writes the request and its announcement in one statement;
// false when the idempotency key exists already (nothing is written then).
func insertOne(ctx context.Context, q queryRower, r stored, msg outbox.Message) (bool, error) {
	var key any
	if r.idempotencyKey != "" {
		key = r.idempotencyKey
	}
	var written int
	err := q.QueryRow(ctx, qInsertRequest, r.id, r.receipt, r.sub.Kind, r.sub.Jurisdiction, r.sub.Locale,
		r.sub.Agent != nil, r.sealed.GetKeyId(), r.sealed.GetNonce(), r.sealed.GetCiphertext(), key, r.hash, r.createdAt,
		r.statusTokenHash, msg.Subject, msg.MsgID, msg.MsgType, msg.Payload, msg.Traceparent, msg.Tracestate).Scan(&written)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "requests_receipt_key" { // unique_violation
		return false, fmt.Errorf("insert request: %w", errReceiptTaken)
	}
	if err != nil {
		return false, fmt.Errorf("insert request: %w", err)
	}
	return written == 1, nil
}

// insert writes the request and its announcement msg: with the requests
// submitted at the same moment in one statement (groupWriter), or, with
// documents (which must commit with them), in a transaction of its own. When
// the idempotency key exists already it returns that request instead
// (existing true) and writes nothing.
func (s *Service) insert(ctx context.Context, r stored, msg outbox.Message, documents func(pgx.Tx) error) (id, receipt string, createdAt time.Time, existing bool, err error) {
	var written bool
	if documents == nil {
		written, err = s.groupWriter().write(ctx, r, msg)
	} else {
		err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
			if written, err = insertOne(ctx, tx, r, msg); err != nil || !written {
				return err
			}
			return documents(tx)
		})
	}
	if err != nil {
		return "", "", time.Time{}, false, err
	}
	if written {
		return r.id, r.receipt, r.createdAt, false, nil
	}
	var hash []byte
	if err := s.Pool.QueryRow(ctx, qRequestByIdempotencyKey, r.idempotencyKey).Scan(&id, &receipt, &hash, &createdAt); err != nil {
		return "", "", time.Time{}, false, fmt.Errorf("read idempotent request: %w", err)
	}
	if string(hash) != string(r.hash) {
		return "", "", time.Time{}, false, ErrIdempotencyConflict
	}
	return id, receipt, createdAt, true, nil
}

const qRequestByStatusToken = `-- name: RequestByStatusToken
SELECT id::text, receipt, kind, locale, filed_by_agent, created_at FROM requests WHERE status_token_hash = $1`

// RequestRef is what the status pages know of a request without Temporal:
// no personal data.
type RequestRef struct {
	ID, Receipt, Kind, Locale string
	FiledByAgent              bool
	CreatedAt                 time.Time
}

// ErrUnknownToken: no request has this status token.
var ErrUnknownToken = errors.New("unknown status link")

// ByStatusToken finds the request a status link belongs to.
func (s *Service) ByStatusToken(ctx context.Context, token string) (RequestRef, error) {
	if !validToken(token) {
		return RequestRef{}, ErrUnknownToken
	}
	var r RequestRef
	err := s.Pool.QueryRow(ctx, qRequestByStatusToken, HashStatusToken(token)).
		Scan(&r.ID, &r.Receipt, &r.Kind, &r.Locale, &r.FiledByAgent, &r.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return RequestRef{}, ErrUnknownToken
	}
	if err != nil {
		return RequestRef{}, fmt.Errorf("intake: look up status link: %w", err)
	}
	return r, nil
}

// validToken: 64 lower-case hex characters, as NewStatusToken and the
// disclosure store make them.
func validToken(t string) bool {
	if len(t) != 64 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
