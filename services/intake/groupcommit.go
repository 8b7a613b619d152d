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
// so a lone request waits for nothing, and under load the batches grow by
// themselves. Each request is answered only once its own batch has
// committed, so an accepted request is durable.
//
// groupWriter queues submissions and writes them in batches
// (insertRequests), with at most slots statements in flight. Its goroutines
// live only while something is queued: there is nothing to start or stop.
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
	row  announced
	done chan error // buffered: the writer never waits for the caller (errMailQuota: refused)
	// written is false when the idempotency key existed already.
	written bool
}

const defaultMaxBatch = 64

func newGroupWriter(pool *pgxpool.Pool, slots int) *groupWriter {
	slots = min(max(slots, 1), int(pool.Config().MaxConns))
	return &groupWriter{pool: pool, slots: slots, maxBatch: defaultMaxBatch, timeout: 10 * time.Second}
}

// write stores one request and its announcement; false when its
// idempotency key was taken (by an earlier request or one in the same
// batch), errMailQuota when the mail quota refused it.
func (g *groupWriter) write(ctx context.Context, r stored, msg outbox.Message) (bool, error) {
	p := &pendingWrite{ctx: ctx, row: announced{r, msg}, done: make(chan error, 1)}
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
		rows := make([]announced, len(live))
		for i, p := range live {
			rows[i] = p.row
		}
		written, err := insertRequests(ctx, g.pool, rows)
		if err == nil {
			for _, p := range live {
				ok, seen := written[p.row.r.id]
				if seen && !ok {
					p.done <- errMailQuota
					continue
				}
				p.written = ok
				p.done <- nil
			}
			return
		}
		// One row may have broken the batch (a receipt or status-link hash
		// collision): each alone, so that only that one fails.
	}
	for _, p := range live {
		var err error
		p.written, err = insertOne(ctx, g.pool, p.row.r, p.row.msg)
		p.done <- err
	}
}
