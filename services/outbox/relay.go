package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/metrics"
	"madoguchi.dev/platform/periodic"
	"madoguchi.dev/platform/tracing"
	"madoguchi.dev/proto/contract"
)

const qClaim = `-- name: ClaimBatch
SELECT id, request_id::text, subject, msg_id, msg_type, payload,
       coalesce(traceparent, ''), coalesce(tracestate, '')
FROM outbox WHERE sent_at IS NULL
ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`

const qMarkSent = `-- name: MarkSent
UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY($1)`

const qMarkFailed = `-- name: MarkFailed
UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1`

const qUnsentCount = `-- name: UnsentCount
SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM outbox WHERE sent_at IS NULL`

// Relay publishes committed outbox rows to JetStream.
type Relay struct {
	Pool *pgxpool.Pool
	JS   jetstream.JetStream
	Log  zerolog.Logger
	// BatchSize rows per transaction (default 100).
	BatchSize int
	// PollInterval is how often the relay looks for rows without a Wake
	// (default 1s): rows another process committed, or left unsent by a
	// relay that died.
	PollInterval time.Duration
	// Linger is how long the relay lets rows gather after a batch that was
	// neither empty nor full (default 10ms): under load it then publishes
	// fewer, larger batches; a lone row is still published at once.
	Linger time.Duration
	// LagInterval is how often the unsent count and the oldest row's age
	// are sampled for the metrics (default 5s).
	LagInterval time.Duration

	wakeOnce sync.Once
	wake     chan struct{}
}

func (r *Relay) wakeCh() chan struct{} {
	r.wakeOnce.Do(func() { r.wake = make(chan struct{}, 1) })
	return r.wake
}

// Wake makes the relay look for rows at once; the writer calls it after its
// commit, in-process. (pg_notify would do the same across processes, but
// PostgreSQL serialises the commits of every notifying transaction on one
// global lock, which capped the intake's accept rate.)
func (r *Relay) Wake() {
	select {
	case r.wakeCh() <- struct{}{}:
	default:
	}
}

type row struct {
	id                                 int64
	requestID, subject, msgID, msgType string
	payload                            []byte
	// traceparent and tracestate: the trace of the HTTP request that wrote the row.
	traceparent, tracestate string
}

// Run relays until ctx is cancelled. Several relays may run at once (one per
// intake replica): SKIP LOCKED gives each its own rows.
func (r *Relay) Run(ctx context.Context) error {
	poll := r.PollInterval
	if poll <= 0 {
		poll = time.Second
	}
	wake := r.wakeCh()
	// The lag is sampled on its own clock: the relay is woken on every
	// commit, and a count after each batch would be thousands of queries
	// a second under load.
	go r.sampleLag(ctx, r.lagInterval())
	for {
		n, err := r.RelayOnce(ctx)
		if err != nil && ctx.Err() == nil {
			r.Log.Warn().Err(err).Msg("outbox relay batch failed; will retry")
		}
		if n == r.batchSize() {
			continue // more may be waiting
		}
		if n > 0 {
			// Under load, let the next batch gather: each batch costs a
			// transaction and a commit of its own, however few rows it has.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(r.linger()):
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-time.After(poll):
		}
	}
}

// sampleLag publishes Lag to the metrics every interval until ctx ends.
func (r *Relay) sampleLag(ctx context.Context, interval time.Duration) {
	periodic.Run(ctx, interval, func(ctx context.Context) {
		if count, oldest, err := r.Lag(ctx); err == nil {
			metrics.OutboxUnsent.Set(float64(count))
			metrics.OutboxOldestSeconds.Set(oldest)
		}
	})
}

func (r *Relay) lagInterval() time.Duration {
	if r.LagInterval <= 0 {
		return 5 * time.Second
	}
	return r.LagInterval
}

func (r *Relay) linger() time.Duration {
	if r.Linger <= 0 {
		return 10 * time.Millisecond
	}
	return r.Linger
}

func (r *Relay) batchSize() int {
	if r.BatchSize <= 0 {
		return 100
	}
	return r.BatchSize
}

// RelayOnce publishes one batch and returns how many rows it sent.
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	tx, err := r.Pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("outbox: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	rows, err := tx.Query(ctx, qClaim, r.batchSize())
	if err != nil {
		return 0, fmt.Errorf("outbox: claim: %w", err)
	}
	batch, err := pgx.CollectRows(rows, func(rw pgx.CollectableRow) (row, error) {
		var x row
		err := rw.Scan(&x.id, &x.requestID, &x.subject, &x.msgID, &x.msgType, &x.payload, &x.traceparent, &x.tracestate)
		return x, err
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: read batch: %w", err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	// Publish the whole batch asynchronously, then wait for every ack: one
	// round trip per batch instead of one per message.
	futures := make([]jetstream.PubAckFuture, len(batch))
	// Each message continues its request's trace: a producer span under the
	// context stored with the row, injected into the message's headers.
	spans := make([]trace.Span, len(batch))
	defer func() {
		for _, s := range spans {
			if s != nil {
				bus.EndSpan(s, errors.New("not acked"))
			}
		}
	}()
	for i, x := range batch {
		var pctx context.Context
		pctx, spans[i] = bus.StartPublishSpan(tracing.WithTraceParent(ctx, x.traceparent, x.tracestate), x.subject, x.requestID)
		msg := nats.NewMsg(x.subject)
		msg.Data = x.payload
		msg.Header.Set("Content-Type", contract.ContentType)
		msg.Header.Set(contract.HeaderType, x.msgType)
		msg.Header.Set(contract.HeaderRequestID, x.requestID)
		tracing.Inject(pctx, msg.Header)
		if futures[i], err = r.JS.PublishMsgAsync(msg, jetstream.WithMsgID(x.msgID)); err != nil {
			return 0, fmt.Errorf("outbox: publish %d: %w", x.id, err)
		}
	}
	sent := make([]int64, 0, len(batch))
	var firstErr error
	for i, f := range futures {
		select {
		case <-f.Ok():
			sent = append(sent, batch[i].id)
			spans[i].End()
			spans[i] = nil
		case perr := <-f.Err():
			if firstErr == nil {
				firstErr = perr
			}
			if _, err := tx.Exec(ctx, qMarkFailed, batch[i].id, perr.Error()); err != nil {
				return 0, fmt.Errorf("outbox: mark failed: %w", err)
			}
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Second):
			if firstErr == nil {
				firstErr = errors.New("publish ack timeout")
			}
		}
	}
	if _, err := tx.Exec(ctx, qMarkSent, sent); err != nil {
		return 0, fmt.Errorf("outbox: mark sent: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("outbox: commit: %w", err)
	}
	metrics.OutboxPublished.Add(float64(len(sent)))
	r.Log.Debug().Int("sent", len(sent)).Msg("outbox batch relayed")
	if firstErr != nil {
		return len(sent), fmt.Errorf("outbox: %d of %d not acked: %w", len(batch)-len(sent), len(batch), firstErr)
	}
	return len(sent), nil
}

// Lag reports unsent rows and the age of the oldest, for readiness and metrics.
func (r *Relay) Lag(ctx context.Context) (count int64, oldestSeconds float64, err error) {
	err = r.Pool.QueryRow(ctx, qUnsentCount).Scan(&count, &oldestSeconds)
	return count, oldestSeconds, err
}
