// Package intake accepts privacy requests from the web form and the JSON
// API, validates them, stores them durably with their personal data sealed,
// and announces each one exactly once through the transactional outbox.
//
// It also serves the person's pages, server-rendered (html/template) and
// working without JavaScript (static/app.js only improves them):
//
//	GET  /, /en                 the form (multipart: an agent's documents)
//	POST /requests              one validation and one Submit with the API
//	POST /api/v1/requests       JSON, or multipart with a "request" part
//	GET  /status/{token}        the secret status link: stage, due date, what to do
//	POST /status/{token}/verify the e-mailed code (Temporal update VerifyIdentity)
//	POST /status/{token}/resend a new code (ResendCode)
//	GET|POST /status/{token}/withdraw   confirm, then Withdraw
//	GET  /status/{token}/fee    amount and payment instructions
//	GET  /download/{token}[/package.json]  the disclosure package, until it expires
//
// The running request is reached only through proto/contract names (status
// query and updates), never by importing the workflow. State-changing
// requests pass the standard library's cross-origin protection and a
// per-client rate limit; logs carry receipts and outcomes, never personal
// data or link tokens.
package intake

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/platform/metrics"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/tracing"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/outbox"
)

func (s *Service) payloads() *seal.Ring {
	if s.Payloads != nil {
		return s.Payloads
	}
	return s.Ring
}

// Service is the intake's core: one submission path for API and pages.
type Service struct {
	Pool *pgxpool.Pool
	// Ring seals what the intake keeps at rest (MADOGUCHI_INTAKE_KEYS):
	// requests' personal data and uploaded documents. No other component
	// holds it, so a dump of the intake's database opens nowhere else.
	Ring *seal.Ring
	// Payloads seals the personal data the announcement carries to the
	// workflow (MADOGUCHI_KEYS, the ring of Temporal payloads); nil uses Ring.
	Payloads  *seal.Ring
	Namespace contract.Namespace
	Log       zerolog.Logger
	// Now is the clock (tests may fix it).
	Now func() time.Time
	// Announced, when set, is called after a new request committed (the
	// outbox relay's Wake, so the event goes out at once).
	Announced func()
	// WriteConcurrency bounds the insert statements in flight (0: 1, at most
	// the pool's size). Submissions that arrive meanwhile are written
	// together by the next one: fewer statements in flight make larger
	// batches, which measured faster on two cores (docs/performance.md).
	WriteConcurrency int
	// MailQuota bounds the submissions a day whose mails go to one address
	// (zero: no bound).
	MailQuota MailQuota

	writerOnce sync.Once
	writer     *groupWriter
	// drawReceipt replaces the random receipt numbers in tests; it is told
	// which request draws.
	drawReceipt func(requestID string, now time.Time) (string, error)
}

func (s *Service) groupWriter() *groupWriter {
	s.writerOnce.Do(func() { s.writer = newGroupWriter(s.Pool, s.WriteConcurrency) })
	return s.writer
}

// Accepted is the answer to a submission.
type Accepted struct {
	ID          string    `json:"id"`
	Receipt     string    `json:"receipt"`
	SubmittedAt time.Time `json:"submitted_at"`
	// Replayed is true when an Idempotency-Key matched an earlier submission.
	Replayed bool `json:"-"`
}

// ValidationError carries per-field message codes.
type ValidationError struct{ Fields FieldErrors }

func (e *ValidationError) Error() string { return fmt.Sprintf("%d invalid fields", len(e.Fields)) }

var jst = time.FixedZone("JST", 9*60*60)

// Crockford base32 without I, L, O, U: readable over the phone.
const receiptAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// drawReceipt makes a receipt number such as 20261125-7K3M9Q: the date (JST)
// helps staff, the random part (30 bits) keeps numbers from being guessed.
func drawReceipt(now time.Time) (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = receiptAlphabet[int(b[i])%len(receiptAlphabet)]
	}
	return now.In(jst).Format("20060102") + "-" + string(b), nil
}

// Submit validates and stores a submission and queues its announcement.
// idempotencyKey may be empty.
func (s *Service) Submit(ctx context.Context, sub Submission, idempotencyKey string) (acc Accepted, err error) {
	defer func() {
		var verr *ValidationError
		switch {
		case err == nil && !acc.Replayed:
			metrics.RequestsAccepted.WithLabelValues(sub.Kind, channelOf(idempotencyKey)).Inc()
		case errors.As(err, &verr):
			metrics.RequestsRejected.WithLabelValues("validation").Inc()
		case errors.Is(err, ErrIdempotencyConflict):
			metrics.RequestsRejected.WithLabelValues("idempotency").Inc()
		case errors.As(err, new(*MailQuotaError)):
			metrics.RequestsRejected.WithLabelValues("mail_quota").Inc()
		case err != nil:
			metrics.RequestsRejected.WithLabelValues("unavailable").Inc()
		}
	}()
	sub.Normalise()
	if errs := sub.Validate(); len(errs) > 0 {
		return Accepted{}, &ValidationError{Fields: errs}
	}
	if len(idempotencyKey) > 200 {
		return Accepted{}, &ValidationError{Fields: FieldErrors{"Idempotency-Key": "too_long"}}
	}
	if !validKey(idempotencyKey) {
		return Accepted{}, &ValidationError{Fields: FieldErrors{"Idempotency-Key": "invalid_key"}}
	}
	kind, _ := contract.ParseKind(sub.Kind)
	// PostgreSQL keeps microseconds: the first answer and an idempotent
	// replay must say the same time.
	now := s.now().Truncate(time.Microsecond)
	id, err := uuid.NewV7()
	if err != nil {
		return Accepted{}, fmt.Errorf("intake: request id: %w", err)
	}
	token, tokenHash, err := NewStatusToken()
	if err != nil {
		return Accepted{}, fmt.Errorf("intake: status token: %w", err)
	}
	personal := sub.Personal()
	personal.StatusToken = token
	sealed, err := s.Ring.Message(personal)
	if err != nil {
		return Accepted{}, fmt.Errorf("intake: seal personal data: %w", err)
	}
	announced, err := s.payloads().Message(personal)
	if err != nil {
		return Accepted{}, fmt.Errorf("intake: seal personal data for the workflow: %w", err)
	}
	ev := &dsrv1.RequestSubmitted{
		RequestId: id.String(), Kind: kind,
		Jurisdiction: sub.Jurisdiction, Locale: sub.Locale,
		SubmittedAt: timestamppb.New(now), FiledByAgent: sub.Agent != nil, Personal: announced,
	}
	var uploads []sealedUpload
	for _, d := range sub.Documents {
		if d.Pending == "" {
			u, err := s.sealUpload(d)
			if err != nil {
				return Accepted{}, err
			}
			uploads = append(uploads, u)
		}
	}
	hash := submissionHash(&sub)
	if len(sub.Documents) > 0 {
		hash = append(hash, documentsHash(sub.Documents)...)
	}
	r := stored{id: id.String(), kind: kind, sub: &sub, sealed: sealed,
		idempotencyKey: idempotencyKey, hash: hash, createdAt: now, statusTokenHash: tokenHash,
		quota: s.MailQuota.charge(&sub, now)}
	var documents func(pgx.Tx) error
	if len(sub.Documents) > 0 {
		documents = func(tx pgx.Tx) error { return s.storeDocuments(ctx, tx, id.String(), uploads, sub.Documents, now) }
	}
	var gotID, gotReceipt string
	var createdAt time.Time
	var existing bool
	// A receipt number is drawn at random (32⁶ a day): one that is taken
	// already is drawn again rather than failing the submission.
	for attempt := 1; ; attempt++ {
		if r.receipt, err = s.newReceipt(id.String(), now); err != nil {
			return Accepted{}, fmt.Errorf("intake: receipt: %w", err)
		}
		ev.Receipt = r.receipt
		// Nats-Msg-Id = request id: a relay retry is dropped by the stream.
		var msg outbox.Message
		if msg, err = outbox.NewMessage(ctx, id.String(), s.Namespace.RequestSubmitted(), id.String(), ev); err != nil {
			return Accepted{}, fmt.Errorf("intake: %w", err)
		}
		gotID, gotReceipt, createdAt, existing, err = s.insert(ctx, r, msg, documents)
		if !errors.Is(err, errReceiptTaken) || attempt == receiptAttempts {
			break
		}
		s.Log.Warn().Str("request_id", id.String()).Int("attempt", attempt).Msg("receipt number taken; drawing another")
	}
	var verr *ValidationError
	switch {
	case errors.Is(err, ErrIdempotencyConflict) || errors.As(err, &verr):
		return Accepted{}, err
	case errors.Is(err, errMailQuota):
		s.Log.Warn().Str("kind", sub.Kind).Bool("agent", sub.Agent != nil).Int("limit", r.quota.limit).
			Msg("submission refused: its address has received the day's request mails")
		return Accepted{}, &MailQuotaError{Limit: r.quota.limit, RetryAfter: untilNextJSTDay(now)}
	case err != nil:
		return Accepted{}, fmt.Errorf("intake: store request: %w", err)
	}
	if !existing && s.Announced != nil {
		s.Announced()
	}
	// The HTTP server span names the request by its ids only.
	trace.SpanFromContext(ctx).SetAttributes(tracing.AttrRequestID.String(gotID), tracing.AttrReceipt.String(gotReceipt))
	log := s.Log.Info().Str("request_id", gotID).Str("receipt", gotReceipt).Str("kind", sub.Kind).
		Bool("agent", sub.Agent != nil).Int("documents", len(sub.Documents))
	if existing {
		log.Msg("idempotent retry answered with the stored request")
	} else {
		log.Msg("request accepted")
	}
	return Accepted{ID: gotID, Receipt: gotReceipt, SubmittedAt: createdAt, Replayed: existing}, nil
}

// receiptAttempts bounds the draws for one submission: with 32⁶ numbers a
// day, a fourth collision in a row means something else is wrong.
const receiptAttempts = 4

// errReceiptTaken: the receipt number drawn is another request's.
var errReceiptTaken = errors.New("receipt number taken")

func (s *Service) newReceipt(requestID string, now time.Time) (string, error) {
	if s.drawReceipt != nil {
		return s.drawReceipt(requestID, now)
	}
	return drawReceipt(now)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// NewStatusToken makes the secret of a status link (256 bits, hex) and the
// hash the database keeps.
func NewStatusToken() (token string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	token = hex.EncodeToString(b)
	return token, HashStatusToken(token), nil
}

// HashStatusToken is what the requests table stores for a token.
func HashStatusToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// channelOf tells form submissions (keyed by the form's one-off token) from
// API ones, for the metrics.
func channelOf(idempotencyKey string) string {
	if strings.HasPrefix(idempotencyKey, "form:") {
		return "form"
	}
	return "api"
}
