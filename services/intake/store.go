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

// The request rows and their announcements in the outbox, in one statement:
// atomic on its own (autocommit) and one round trip, the same durability as
// a transaction of two INSERTs at a fraction of the latency, for one request
// or for a batch of them (groupWriter). unnest turns the column arrays back
// into rows. An outbox row is written only for a request row that was (not
// on an idempotent retry, nor for the second of two rows in one batch with
// the same key).
//
// The same statement charges the mail quota: each row whose mails go to an
// address (quota_key, a keyed hash of it; NULL: no quota) adds one to that
// address's count of the day, unless it retries a stored request (its key
// exists) or repeats the key of an earlier row of the batch. The counter is
// upserted once per address (ORDER BY: concurrent statements lock counters
// in one order), and its new value says which of the batch's rows for the
// address come after the day's limit: those are refused, written nowhere
// but the counter, and returned with written = false. Two statements that
// race with one new key may both count it: the quota errs on the side of the
// mailbox.
const qInsertRequests = `-- name: InsertRequestsAndAnnouncements
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[],
                         $7::text[], $8::bytea[], $9::bytea[], $10::text[], $11::bytea[], $12::timestamptz[],
                         $13::bytea[], $14::text[], $15::text[], $16::text[], $17::bytea[], $18::text[], $19::text[],
                         $20::text[], $21::date[], $22::integer[])
        WITH ORDINALITY
        AS t(id, receipt, kind, jurisdiction, locale, filed_by_agent, personal_key_id, personal_nonce,
             personal_sealed, idempotency_key, submission_hash, created_at, status_token_hash,
             subject, msg_id, msg_type, payload, traceparent, tracestate, quota_key, quota_day, quota_limit, ord)
), fresh AS (
    SELECT id, quota_key, quota_day, quota_limit, ord,
           row_number() OVER (PARTITION BY coalesce(idempotency_key, id::text) ORDER BY ord) AS nth_of_key
    FROM input
    WHERE quota_key IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.idempotency_key = input.idempotency_key)
), counted AS (
    SELECT id, quota_key, quota_day, quota_limit,
           row_number() OVER (PARTITION BY quota_key, quota_day ORDER BY ord) AS nth,
           count(*) OVER (PARTITION BY quota_key, quota_day) AS of_batch
    FROM fresh WHERE nth_of_key = 1
), tally AS (
    INSERT INTO mail_quota (address_key, day, submissions)
    SELECT quota_key, quota_day, count(*) FROM counted
    GROUP BY quota_key, quota_day
    ORDER BY quota_key, quota_day
    ON CONFLICT (address_key, day) DO UPDATE SET submissions = mail_quota.submissions + excluded.submissions
    RETURNING address_key, day, submissions
), refused AS (
    SELECT counted.id FROM counted
    JOIN tally ON tally.address_key = counted.quota_key AND tally.day = counted.quota_day
    WHERE tally.submissions - counted.of_batch + counted.nth > counted.quota_limit
), request AS (
    INSERT INTO requests (id, receipt, kind, jurisdiction, locale, filed_by_agent,
                          personal_key_id, personal_nonce, personal_sealed, idempotency_key, submission_hash, created_at,
                          status_token_hash)
    SELECT id, receipt, kind, jurisdiction, locale, filed_by_agent, personal_key_id, personal_nonce,
           personal_sealed, idempotency_key, submission_hash, created_at, status_token_hash
    FROM input
    WHERE NOT EXISTS (SELECT 1 FROM refused WHERE refused.id = input.id)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
), announcement AS (
    INSERT INTO outbox (request_id, subject, msg_id, msg_type, payload, traceparent, tracestate)
    SELECT input.id, subject, msg_id, msg_type, payload, nullif(traceparent, ''), nullif(tracestate, '')
    FROM input JOIN request ON request.id = input.id
    RETURNING request_id
)
SELECT request_id::text, true FROM announcement
UNION ALL
SELECT id::text, false FROM refused`

const qRequestByIdempotencyKey = `-- name: RequestByIdempotencyKey
SELECT id::text, receipt, submission_hash, created_at FROM requests WHERE idempotency_key = $1`

// ErrIdempotencyConflict: the key was used before for a different request.
var ErrIdempotencyConflict = errors.New("idempotency key already used for a different request")

// errMailQuota: the statement refused the request, its address had its
// day's mails (MailQuota); nothing but the counter was written.
var errMailQuota = errors.New("mail quota of the address reached for the day")

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
	// quota charges the address the request's mails go to; its key is ""
	// when no quota applies.
	quota quotaCharge
}

// quotaCharge is one submission's share of the mail quota.
type quotaCharge struct {
	// key is the keyed hash of the address (MailQuota.addressKey).
	key string
	// day is the JST calendar day, as midnight UTC of that date.
	day time.Time
	// limit is the submissions a day the address may receive mail for.
	limit int
}

// submissionHash fingerprints a normalised submission so that a reused
// idempotency key with other content is refused rather than answered wrongly.
func submissionHash(s *Submission) []byte {
	b, _ := json.Marshal(s) // struct of strings: cannot fail
	h := sha256.Sum256(b)
	return h[:]
}

// querier is a pool or a transaction.
type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

// announced is a request row to write and the outbox row announcing it.
type announced struct {
	r   stored
	msg outbox.Message
}

// insertRequests writes the requests and their announcements in one
// statement and returns what became of each: true for the ids it wrote,
// false for those the mail quota refused; a request whose idempotency key
// existed already (or came earlier in rows) is not among them. A receipt
// number already taken fails the statement with errReceiptTaken.
func insertRequests(ctx context.Context, q querier, rows []announced) (map[string]bool, error) {
	n := len(rows)
	ids, receipts, kinds, jurisdictions, locales := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	agents := make([]bool, n)
	keyIDs, nonces, sealed := make([]string, n), make([][]byte, n), make([][]byte, n)
	keys, hashes, created, tokens := make([]*string, n), make([][]byte, n), make([]time.Time, n), make([][]byte, n)
	subjects, msgIDs, msgTypes, payloads, parents, states := make([]string, n), make([]string, n), make([]string, n), make([][]byte, n), make([]string, n), make([]string, n)
	quotaKeys, quotaDays, quotaLimits := make([]*string, n), make([]time.Time, n), make([]int32, n)
	for i, a := range rows {
		r, m := a.r, a.msg
		ids[i], receipts[i], kinds[i], jurisdictions[i], locales[i] = r.id, r.receipt, r.sub.Kind, r.sub.Jurisdiction, r.sub.Locale
		agents[i] = r.sub.Agent != nil
		keyIDs[i], nonces[i], sealed[i] = r.sealed.GetKeyId(), r.sealed.GetNonce(), r.sealed.GetCiphertext()
		if r.idempotencyKey != "" {
			keys[i] = &r.idempotencyKey
		}
		hashes[i], created[i], tokens[i] = r.hash, r.createdAt, r.statusTokenHash
		subjects[i], msgIDs[i], msgTypes[i], payloads[i], parents[i], states[i] = m.Subject, m.MsgID, m.MsgType, m.Payload, m.Traceparent, m.Tracestate
		if c := r.quota; c.key != "" {
			quotaKeys[i] = &c.key
			quotaDays[i], quotaLimits[i] = c.day, int32(c.limit)
		}
	}
	res, err := q.Query(ctx, qInsertRequests, ids, receipts, kinds, jurisdictions, locales, agents,
		keyIDs, nonces, sealed, keys, hashes, created, tokens, subjects, msgIDs, msgTypes, payloads, parents, states,
		quotaKeys, quotaDays, quotaLimits)
	if err != nil {
		return nil, fmt.Errorf("insert requests: %w", err)
	}
	written := make(map[string]bool, n)
	var id string
	var ok bool
	_, err = pgx.ForEachRow(res, []any{&id, &ok}, func() error { written[id] = ok; return nil })
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "requests_receipt_key" { // unique_violation
		return nil, fmt.Errorf("insert requests: %w", errReceiptTaken)
	}
	if err != nil {
		return nil, fmt.Errorf("insert requests: %w", err)
	}
	return written, nil
}

// insertOne writes one request and its announcement; false when the
// idempotency key exists already (nothing is written then), errMailQuota
// when the mail quota refused it.
func insertOne(ctx context.Context, q querier, r stored, msg outbox.Message) (bool, error) {
	written, err := insertRequests(ctx, q, []announced{{r, msg}})
	if err != nil {
		return false, err
	}
	if ok, seen := written[r.id]; seen && !ok {
		return false, errMailQuota
	}
	return written[r.id], nil
}

// insert writes the request and its announcement msg: with the requests
// submitted at the same moment in one statement (groupWriter), or, with
// documents (which must commit with them), in a transaction of its own. When
// the idempotency key exists already it returns that request instead
// (existing true) and writes nothing; when the mail quota refuses it,
// errMailQuota (nothing written, the documents neither).
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
