package intake

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/metrics"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// Retention (privacy policy §7): a request's personal data is kept for a
// period after the request ended (follow-up questions, complaints, proof of
// how it was answered), then purged; the non-personal trail stays.

// DefaultRetention is how long personal data is kept after a request ended.
const DefaultRetention = 365 * 24 * time.Hour

const qRecordConclusion = `-- name: RecordConclusion
UPDATE requests SET concluded_at = $2, conclusion = $3
WHERE id = $1 AND concluded_at IS NULL`

// One batch: the rows past retention, their documents and sent outbox rows
// (the outbox payload repeats the sealed personal data), in one statement.
const qPurgeConcluded = `-- name: PurgeConcluded
WITH due AS (
    SELECT id FROM requests
    WHERE purged_at IS NULL AND concluded_at < $1
    ORDER BY concluded_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), documents AS (
    DELETE FROM uploads WHERE request_id IN (SELECT id FROM due)
), announcements AS (
    DELETE FROM outbox WHERE request_id IN (SELECT id FROM due) AND sent_at IS NOT NULL
)
UPDATE requests r
SET personal_key_id = NULL, personal_nonce = NULL, personal_sealed = NULL, submission_hash = NULL,
    status_token_hash = NULL, idempotency_key = NULL, purged_at = $3
FROM due WHERE r.id = due.id`

const purgeBatch = 500

// A mail quota counter is needed only on its own day (JST).
const qPurgeMailQuota = `-- name: PurgeMailQuota
DELETE FROM mail_quota WHERE day < $1`

// RecordConclusion starts the retention clock of the request the event
// names. It reports whether a row changed: an event for a request this
// database does not hold, or one seen before, changes nothing.
func (s *Service) RecordConclusion(ctx context.Context, ev *dsrv1.RequestConcluded) (bool, error) {
	at := ev.GetConcludedAt().AsTime()
	if ev.GetConcludedAt() == nil || at.IsZero() {
		at = s.now()
	}
	conclusion := ev.GetStage()
	if r := ev.GetClosedReason(); r != "" {
		conclusion += ":" + r
	}
	tag, err := s.Pool.Exec(ctx, qRecordConclusion, ev.GetRequestId(), at, conclusion)
	if err != nil {
		return false, fmt.Errorf("intake: record conclusion of %s: %w", ev.GetRequestId(), err)
	}
	return tag.RowsAffected() == 1, nil
}

// PurgeConcluded purges every request that concluded more than retention
// ago, in batches, and returns how many it purged.
func (s *Service) PurgeConcluded(ctx context.Context, retention time.Duration) (int64, error) {
	now := s.now()
	var total int64
	for {
		tag, err := s.Pool.Exec(ctx, qPurgeConcluded, now.Add(-retention), purgeBatch, now)
		if err != nil {
			return total, fmt.Errorf("intake: purge concluded requests: %w", err)
		}
		n := tag.RowsAffected()
		total += n
		metrics.RetentionPurged.WithLabelValues("request").Add(float64(n))
		if n < purgeBatch {
			return total, nil
		}
	}
}

// PurgeMailQuota deletes the mail quota's counters of days before today
// (JST) and returns how many it deleted. They hold no address, only its
// keyed hash; still, nothing is kept that no longer serves.
func (s *Service) PurgeMailQuota(ctx context.Context) (int64, error) {
	tag, err := s.Pool.Exec(ctx, qPurgeMailQuota, jstDay(s.now()))
	if err != nil {
		return 0, fmt.Errorf("intake: purge mail quota counters: %w", err)
	}
	metrics.RetentionPurged.WithLabelValues("mail_quota").Add(float64(tag.RowsAffected()))
	return tag.RowsAffected(), nil
}

// ConsumeConclusions records RequestConcluded events until ctx ends.
func (s *Service) ConsumeConclusions(ctx context.Context, js jetstream.JetStream) error {
	return bus.Consumer{
		Namespace: s.Namespace, Stream: s.Namespace.StreamEvents(), Durable: "intake-retention",
		FilterSubjects: []string{s.Namespace.RequestConcluded()}, Log: s.Log,
	}.Run(ctx, js, func(ctx context.Context, msg jetstream.Msg) error {
		var ev dsrv1.RequestConcluded
		if err := bus.Decode(msg, &ev); err != nil {
			return bus.Poison("%v", err)
		}
		if _, err := uuid.Parse(ev.GetRequestId()); err != nil {
			return bus.Poison("request concluded event without a valid request id")
		}
		changed, err := s.RecordConclusion(ctx, &ev)
		if err != nil {
			return err
		}
		if changed {
			s.Log.Info().Str("request_id", ev.GetRequestId()).Str("stage", ev.GetStage()).Msg("request concluded; retention period started")
		}
		return nil
	})
}
