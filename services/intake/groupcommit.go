package intake

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"madoguchi.dev/platform/metrics"
	"madoguchi.dev/services/outbox"
)

// Submissions arriving together are written together: one statement, one
// commit (one WAL flush) for every request that queued while the previous
// statements were in flight, instead of one commit each. Nothing waits for
// a timer: a request that finds a free statement slot is written at once,
// so a lone request costs what it did before, and under load the batches
// grow by themselves. Each request is answered only once its own batch has
// committed, so an accepted request is as durable as before.
//
// The rows of a batch are the same rows, with the same conflict rule, as
// qInsertRequest's; unnest turns the column arrays back into rows.
const qInsertRequests = `-- name: InsertRequestsAndAnnouncements
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[],
                         $7::text[], $8::bytea[], $9::bytea[], $10::text[], $11::bytea[], $12::timestamptz[],
                         $13::bytea[], $14::text[], $15::text[], $16::text[], $17::bytea[], $18::text[], $19::text[])
        AS t(id, receipt, kind, jurisdiction, locale, filed_by_agent, personal_key_id, personal_nonce,
             personal_sealed, idempotency_key, submission_hash, created_at, status_token_hash,
             subject, msg_id, msg_type, payload, traceparent, tracestate)
), request AS (
    INSERT INTO requests (id, receipt, kind, jurisdiction, locale, filed_by_agent,
                          personal_key_id, personal_nonce, personal_sealed, idempotency_key, submission_hash, created_at,
                          status_token_hash)
    SELECT id, receipt, kind, jurisdiction, locale, filed_by_agent, personal_key_id, personal_nonce,
           personal_sealed, idempotency_key, submission_hash, created_at, status_token_hash
    FROM input
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
), announcement AS (
    INSERT INTO outbox (request_id, subject, msg_id, msg_type, payload, traceparent, tracestate)
    SELECT input.id, subject, msg_id, msg_type, payload, nullif(traceparent, ''), nullif(tracestate, '')
    FROM input JOIN request ON request.id = input.id
    RETURNING request_id
)
SELECT request_id::text FROM announcement`

// groupWriter queues submissions and writes them in batches, with at most
// slots statements in flight. Its goroutines live only while something is
// queued: there is nothing to start or stop.
type groupWriter struct {
	pool *pgxpool.Pool
	// slots bounds the statements in flight (at most the pool's size: more
	// would only queue for a connection); maxBatch the rows of one statement.
	slots, maxBatch int
	// timeout bounds one statement: it serves several callers, so no one
	// caller's context may cancel it.
	timeout time.Duration

	mu       sync.Mutex
	queue    []*pendingWrite
	inFlight int
}

type pendingWrite struct {
	ctx  context.Context
	r    stored
	msg  outbox.Message
	done chan error // buffered: the writer never waits for the caller
	// written is false when the idempotency key existed already.
	written bool
}

const defaultMaxBatch = 64

func newGroupWriter(pool *pgxpool.Pool, slots int) *groupWriter {
	slots = min(max(slots, 1), int(pool.Config().MaxConns))
	return &groupWriter{pool: pool, slots: slots, maxBatch: defaultMaxBatch, timeout: 10 * time.Second}
}

// write stores one request and its announcement; false when its
// idempotency key was taken (by an earlier request or one in the same batch).
func (g *groupWriter) write(ctx context.Context, r stored, msg outbox.Message) (bool, error) {
	p := &pendingWrite{ctx: ctx, r: r, msg: msg, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	lead := g.inFlight < g.slots
	if lead {
		g.inFlight++
	}
	g.mu.Unlock()
	if lead {
		go g.drain()
	}
	// Always wait for the outcome, even when ctx ends: the statement may
	// commit, and the answer must say so (it is bounded by g.timeout).
	err := <-p.done
	return p.written, err
}

// drain writes batches until the queue is empty, then gives up its slot.
func (g *groupWriter) drain() {
	for {
		g.mu.Lock()
		n := min(len(g.queue), g.maxBatch)
		if n == 0 {
			g.inFlight--
			g.mu.Unlock()
			return
		}
		batch := make([]*pendingWrite, n)
		copy(batch, g.queue)
		clear(g.queue[:n])
		g.queue = g.queue[n:]
		g.mu.Unlock()
		g.flush(batch)
	}
}

// flush writes one batch and answers each of its callers.
func (g *groupWriter) flush(batch []*pendingWrite) {
	live := batch[:0:0]
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.done <- fmt.Errorf("insert request: %w", err) // gone before it was written
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	metrics.IntakeBatchSize.Observe(float64(len(live)))
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	if len(live) > 1 {
		written, err := g.insertBatch(ctx, live)
		if err == nil {
			for _, p := range live {
				p.written = written[p.r.id]
				p.done <- nil
			}
			return
		}
		// One row may have broken the batch (a receipt or status-link hash
		// collision): each alone, so that only that one fails.
	}
	for _, p := range live {
		var err error
		p.written, err = insertOne(ctx, g.pool, p.r, p.msg)
		p.done <- err
	}
}

// insertBatch runs qInsertRequests and returns the ids it wrote.
func (g *groupWriter) insertBatch(ctx context.Context, batch []*pendingWrite) (map[string]bool, error) {
	n := len(batch)
	ids, receipts, kinds, jurisdictions, locales := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	agents := make([]bool, n)
	keyIDs, nonces, sealed := make([]string, n), make([][]byte, n), make([][]byte, n)
	keys, hashes, created, tokens := make([]*string, n), make([][]byte, n), make([]time.Time, n), make([][]byte, n)
	subjects, msgIDs, msgTypes, payloads, parents, states := make([]string, n), make([]string, n), make([]string, n), make([][]byte, n), make([]string, n), make([]string, n)
	for i, p := range batch {
		r, m := p.r, p.msg
		ids[i], receipts[i], kinds[i], jurisdictions[i], locales[i] = r.id, r.receipt, r.sub.Kind, r.sub.Jurisdiction, r.sub.Locale
		agents[i] = r.sub.Agent != nil
		keyIDs[i], nonces[i], sealed[i] = r.sealed.GetKeyId(), r.sealed.GetNonce(), r.sealed.GetCiphertext()
		if r.idempotencyKey != "" {
			keys[i] = &r.idempotencyKey
		}
		hashes[i], created[i], tokens[i] = r.hash, r.createdAt, r.statusTokenHash
		subjects[i], msgIDs[i], msgTypes[i], payloads[i], parents[i], states[i] = m.Subject, m.MsgID, m.MsgType, m.Payload, m.Traceparent, m.Tracestate
	}
	rows, err := g.pool.Query(ctx, qInsertRequests, ids, receipts, kinds, jurisdictions, locales, agents,
		keyIDs, nonces, sealed, keys, hashes, created, tokens, subjects, msgIDs, msgTypes, payloads, parents, states)
	if err != nil {
		return nil, fmt.Errorf("insert requests: %w", err)
	}
	defer rows.Close()
	written := make(map[string]bool, n)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("insert requests: %w", err)
		}
		written[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert requests: %w", err)
	}
	return written, nil
}
