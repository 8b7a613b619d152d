package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"

	"madoguchi.dev/platform/metrics"
	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/proto/contract"
	"madoguchi.dev/services/outbox"
)

// IntakeResult is phase 1.
type IntakeResult struct {
	Clients  int       `json:"clients"`
	Baseline InsertRun `json:"baseline_pg_insert"`
	// TxShape is a diagnostic: the intake's SQL (request row, outbox row,
	// pg_notify, one commit) from Go with the same concurrency, no HTTP.
	TxShape InsertRun `json:"intake_tx_without_http"`
	// TxShapeSmallPool: the same through a pool of pgxpool's default size,
	// which is what the intake's pool is.
	TxShapeSmallPool InsertRun `json:"intake_tx_default_pool"`
	Max              AcceptRun `json:"max_accept"`
	Ratio            float64   `json:"ratio"`
	// Rounds: each round runs the intake's closed loop, then, once the
	// relay has published its rows, the insert baseline for as long as the
	// intake's window took; Baseline, Max and Ratio above are the round with
	// the median ratio, since the machine's commit rate drifts within
	// minutes (docs/performance.md).
	Rounds []IntakeRound `json:"rounds,omitempty"`
	// Low is a diagnostic pair (intake, then baseline) at LowClients.
	LowClients int          `json:"low_clients,omitempty"`
	Low        *IntakeRound `json:"low,omitempty"`
	Load       FixedLoad    `json:"fixed_load"`
	Accepted   int          `json:"accepted_total"`
	// Undispatched: the requests taken off the stream before the dispatcher
	// resumed (the rounds', and the fixed load's but its last); Dispatched:
	// the fixed load's last, which go on to verification (the drain, then
	// phase 3, count them).
	Undispatched int         `json:"undispatched"`
	Dispatched   int         `json:"dispatched"`
	Statuses     map[int]int `json:"statuses"`
}

// IntakeRound is one round's accept rate beside its own baseline.
type IntakeRound struct {
	BaselinePerSec float64 `json:"baseline_per_sec"`
	AcceptPerSec   float64 `json:"accept_per_sec"`
	Ratio          float64 `json:"ratio"`
}

// InsertRun: goroutines doing autocommit single-row INSERTs.
type InsertRun struct {
	// Conns is the pool size when not IntakeClients.
	Conns   int     `json:"conns,omitempty"`
	Inserts int     `json:"inserts"`
	Errors  int     `json:"errors"`
	Seconds float64 `json:"seconds"`
	PerSec  float64 `json:"per_sec"`
	Latency Dist    `json:"latency"`
	elapsed time.Duration
}

// AcceptRun: closed-loop HTTP clients.
type AcceptRun struct {
	Sent        int     `json:"sent"`
	Accepted    int     `json:"accepted"`
	RateLimited int     `json:"rate_limited"`
	Failed      int     `json:"failed"`
	Seconds     float64 `json:"seconds"`
	PerSec      float64 `json:"per_sec"`
	Latency     Dist    `json:"latency"`
	// Statements and SoloStatements (those that wrote one request) are the
	// intake's group commit as it ran (madoguchi_intake_commit_batch_size).
	Statements     int `json:"statements"`
	SoloStatements int `json:"solo_statements"`
	elapsed        time.Duration
}

// FixedLoad: open-loop arrivals at a fixed rate. Latency counts from the
// intended send time, so a stall is not hidden (no coordinated omission).
type FixedLoad struct {
	OfferedPerSec float64 `json:"offered_per_sec"`
	Seconds       float64 `json:"seconds"`
	Sent          int     `json:"sent"`
	Accepted      int     `json:"accepted"`
	Failed        int     `json:"failed"`
	// Dropped: arrivals that found maxInFlight requests outstanding.
	Dropped     int     `json:"dropped"`
	AchievedSec float64 `json:"achieved_per_sec"`
	Latency     Dist    `json:"latency"`
}

const maxInFlight = 512

func (b *bench) intakePhase(ctx context.Context, res *Results) error {
	r := &IntakeResult{Clients: b.cfg.IntakeClients, Statuses: map[int]int{}}
	res.Intake = r
	// 1. The diagnostics first, on a quiet system: the intake's requests go
	// on to start workflows, which load the machine once dispatched.
	baseline, closeBaseline, err := b.insertBaseline(ctx)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	defer closeBaseline()
	if r.TxShape, r.TxShapeSmallPool, err = baseline.diagnostics(ctx); err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	logf("intake's statement alone (request + outbox rows, no batching): %.0f/s (p50 %.2f ms); through %d connections: %.0f/s",
		r.TxShape.PerSec, r.TxShape.Latency.P50ms, r.TxShapeSmallPool.Conns, r.TxShapeSmallPool.PerSec)

	// The dispatcher (bridge) is paused through the intake's windows: they
	// measure the intake's durable accept path (HTTP, validation, sealing,
	// the statement, and the outbox relay beside it), not the workflow
	// starts that would otherwise compete with it for the same cores (phase
	// 2 measures those). The accepted requests wait in the stream and are
	// dispatched when it resumes.
	if err := b.stk.StopComponent("bridge"); err != nil {
		return fmt.Errorf("pause the dispatcher: %w", err)
	}
	resumed := false
	resume := func() error {
		if resumed {
			return nil
		}
		resumed = true
		return b.stk.StartComponent("bridge")
	}
	defer func() { _ = resume() }()

	// 2. Rounds of (the intake's closed loop, then the baseline), as fast
	// as the clients go, every second round the other way round; the
	// median round is reported. The baseline runs for as long as the
	// intake's window did, right beside it, so both see the same state of
	// the machine (its commit rate swings within a minute, and a long
	// baseline beside a short intake window would compare different
	// moments; docs/performance.md). After a window it starts once the
	// relay has published the window's rows, so that the intake's own work
	// does not slow the baseline.
	outboxPool, err := pgxpool.New(ctx, b.stk.Databases["intake"])
	if err != nil {
		return fmt.Errorf("intake database: %w", err)
	}
	defer outboxPool.Close()
	var seq atomic.Int64
	type round struct {
		base InsertRun
		max  AcceptRun
	}
	// pair runs the intake's closed loop with clients, then the baseline for
	// as long; with baseFor > 0 the baseline goes first, for baseFor.
	pair := func(clients int, baseFor time.Duration) (rd round, err error) {
		if baseFor > 0 {
			if rd.base, err = baseline.plain(ctx, clients, baseFor); err != nil {
				return rd, fmt.Errorf("baseline: %w", err)
			}
		}
		rd.max = b.acceptMax(ctx, clients, &seq, r.Statuses)
		if err := awaitRelayed(ctx, outboxPool); err != nil {
			return rd, fmt.Errorf("intake's outbox: %w", err)
		}
		if baseFor <= 0 {
			if rd.base, err = baseline.plain(ctx, clients, rd.max.elapsed); err != nil {
				return rd, fmt.Errorf("baseline: %w", err)
			}
		}
		return rd, nil
	}
	ratio := func(rd round) float64 {
		if rd.base.PerSec <= 0 {
			return 0
		}
		return rd.max.PerSec / rd.base.PerSec
	}
	result := func(rd round) IntakeRound {
		return IntakeRound{BaselinePerSec: rd.base.PerSec, AcceptPerSec: rd.max.PerSec, Ratio: round2(ratio(rd))}
	}
	var rounds []round
	for i := 0; i < max(1, b.cfg.IntakeRounds) && ctx.Err() == nil; i++ {
		// Every second round runs the baseline first, for as long as the
		// previous round's window took, so that what either side leaves
		// behind (dirty pages, writeback) slows the other as often as the
		// other way round.
		var baseFor time.Duration
		if i%2 == 1 && len(rounds) > 0 {
			baseFor = rounds[len(rounds)-1].max.elapsed
		}
		rd, err := pair(b.cfg.IntakeClients, baseFor)
		if err != nil {
			return err
		}
		logf("round %d: intake %d accepted in %.2fs = %.0f/s (p50 %.1f ms, p99 %.1f ms; %d failed, %d rate-limited; %d statements, %.1f requests each, %d of them alone); baseline %d single-row insert commits in %.2fs = %.0f/s (p50 %.2f ms)",
			i+1, rd.max.Accepted, rd.max.elapsed.Seconds(), rd.max.PerSec, rd.max.Latency.P50ms, rd.max.Latency.P99ms, rd.max.Failed, rd.max.RateLimited,
			rd.max.Statements, rd.max.perStatement(), rd.max.SoloStatements, rd.base.Inserts, rd.base.elapsed.Seconds(), rd.base.PerSec, rd.base.Latency.P50ms)
		rounds = append(rounds, rd)
	}
	for _, rd := range rounds {
		r.Rounds = append(r.Rounds, result(rd))
	}
	byRatio := slices.Clone(rounds)
	slices.SortFunc(byRatio, func(x, y round) int { return cmp.Compare(ratio(x), ratio(y)) })
	median := byRatio[len(byRatio)/2]
	r.Baseline, r.Max, r.Ratio = median.base, median.max, ratio(median)
	if len(rounds) > 1 {
		logf("intake: median ratio %.0f%% over %d rounds", r.Ratio*100, len(rounds))
	}
	if r.Max.PerSec <= 0 {
		return fmt.Errorf("no request accepted")
	}
	// A diagnostic pair at fewer clients: there neither side keeps the
	// machine busy (each client waits for its answer), so the figure says
	// how the two wait, not what the machine can commit.
	if c := b.cfg.IntakeLowClients; c > 0 && c != b.cfg.IntakeClients && ctx.Err() == nil {
		rd, err := pair(c, 0)
		if err != nil {
			return err
		}
		logf("at %d clients: intake %d accepted in %.2fs = %.0f/s (p50 %.1f ms; %.1f requests a statement); baseline %.0f/s (p50 %.2f ms): %.0f%%",
			c, rd.max.Accepted, rd.max.elapsed.Seconds(), rd.max.PerSec, rd.max.Latency.P50ms,
			rd.max.perStatement(), rd.base.PerSec, rd.base.Latency.P50ms, ratio(rd)*100)
		low := result(rd)
		r.LowClients, r.Low = c, &low
		rounds = append(rounds, rd)
	}

	for _, rd := range rounds {
		r.Accepted += rd.max.Accepted
	}
	// The rounds' requests are not dispatched: they were durably accepted,
	// which is what the rounds measure, and tens of thousands of workflow
	// starts on two cores would take the better part of an hour (phase 2
	// measures the workflows). Taking them off the stream, while the
	// dispatcher is paused, lets the windows run for seconds, long enough
	// that the clients' start-up is a small share of each. Their rows stay
	// in the intake's database.
	if err := b.purgeSubmitted(ctx, 0); err != nil {
		return fmt.Errorf("take the rounds' requests off the stream: %w", err)
	}

	// 3. Open loop at a fixed fraction of that, for the whole window: a
	// window of only the requests to be dispatched would last a fraction
	// of a second and measure the clients' first connections, not the
	// intake (docs/performance.md). The last IntakeLoadMax are
	// dispatched; they go on to verification and count towards phase 3.
	r.Load = b.fixedLoad(ctx, &seq, r.Max.PerSec*b.cfg.IntakeLoad, r.Statuses)
	logf("fixed load %.0f/s: %d accepted in %.1fs, p50 %.1f ms, p99 %.1f ms (%d dropped, %d failed)",
		r.Load.OfferedPerSec, r.Load.Accepted, r.Load.Seconds, r.Load.Latency.P50ms, r.Load.Latency.P99ms, r.Load.Dropped, r.Load.Failed)
	r.Accepted += r.Load.Accepted
	r.Dispatched = min(r.Load.Accepted, b.cfg.IntakeLoadMax)
	if err := awaitRelayed(ctx, outboxPool); err != nil {
		return fmt.Errorf("intake's outbox: %w", err)
	}
	if err := b.purgeSubmitted(ctx, r.Dispatched); err != nil {
		return fmt.Errorf("take the fixed load's first requests off the stream: %w", err)
	}
	r.Undispatched = r.Accepted - r.Dispatched
	if err := resume(); err != nil {
		return fmt.Errorf("resume the dispatcher: %w", err)
	}
	return ctx.Err()
}

// purgeSubmitted removes the submitted-request messages from this run's
// requests stream but the last keep (the dispatcher is paused: none of them
// is in flight).
func (b *bench) purgeSubmitted(ctx context.Context, keep int) error {
	ns := b.stk.Runtime.Namespace
	st, err := b.js.Stream(ctx, ns.StreamRequests())
	if err != nil {
		return err
	}
	opts := []jetstream.StreamPurgeOpt{jetstream.WithPurgeSubject(ns.RequestSubmitted())}
	if keep > 0 {
		opts = append(opts, jetstream.WithPurgeKeep(uint64(keep)))
	}
	return st.Purge(ctx, opts...)
}

// baselineDB is the scratch database of the insert baseline.
type baselineDB struct {
	b    *bench
	dsn  string
	pool *pgxpool.Pool
}

// insertBaseline makes a scratch database on the same server with a table
// shaped like the intake's requests table (same columns, keys and value
// sizes) and the intake's outbox, and a pool as wide as the clients.
func (b *bench) insertBaseline(ctx context.Context) (*baselineDB, func(), error) {
	name := "bench_" + b.runID + "_baseline"
	dsn, err := pgdb.EnsureDatabase(ctx, b.stk.Postgres.AdminURL, name)
	if err != nil {
		return nil, nil, err
	}
	b.scratch = append(b.scratch, name)
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, nil, err
	}
	pc.MaxConns = int32(b.cfg.IntakeClients)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, nil, err
	}
	_, err = pool.Exec(ctx, `CREATE TABLE requests (
    id uuid PRIMARY KEY, receipt text NOT NULL UNIQUE, kind text NOT NULL, jurisdiction text NOT NULL,
    locale text NOT NULL, filed_by_agent boolean NOT NULL DEFAULT false, personal_key_id text NOT NULL,
    personal_nonce bytea NOT NULL, personal_sealed bytea NOT NULL, idempotency_key text UNIQUE,
    submission_hash bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), status_token_hash bytea UNIQUE);
CREATE TABLE outbox (
    id bigserial PRIMARY KEY, request_id uuid NOT NULL, subject text NOT NULL, msg_id text NOT NULL,
    msg_type text NOT NULL, payload bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0, last_error text, sent_at timestamptz);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;`)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return &baselineDB{b: b, dsn: dsn, pool: pool}, pool.Close, nil
}

// awaitRelayed waits until the intake's outbox has no row left to publish.
func awaitRelayed(ctx context.Context, pool *pgxpool.Pool) error {
	unsent := &outbox.Relay{Pool: pool}
	for {
		n, _, err := unsent.Lag(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// plain is the baseline: autocommit single-row inserts for d.
func (d *baselineDB) plain(ctx context.Context, clients int, dur time.Duration) (InsertRun, error) {
	const q = `INSERT INTO requests (id, receipt, kind, jurisdiction, locale, filed_by_agent, personal_key_id,
 personal_nonce, personal_sealed, idempotency_key, submission_hash, created_at, status_token_hash)
 VALUES ($1, $2, 'deletion', 'JP', 'ja', false, 'dev1', $3, $4, $5, $6, $7, $8)`
	tag := randomToken()
	return d.b.loop(ctx, clients, dur, func(ctx context.Context, w, i int) error {
		_, err := d.pool.Exec(ctx, q, newUUID(), fmt.Sprintf("base-%s-%d-%d", tag, w, i), randBytes(12),
			randBytes(360), fmt.Sprintf("base-%s-%d-%d", tag, w, i), randBytes(32), time.Now(), randBytes(32))
		return err
	})
}

// diagnostics runs the intake's single-request statement from Go, without
// HTTP and without the intake's batching: with as many connections as
// clients, then through pgxpool's default size.
func (d *baselineDB) diagnostics(ctx context.Context) (InsertRun, InsertRun, error) {
	b := d.b
	// The shape of the intake's statement (services/intake/store.go,
	// qInsertRequests) for one request: the request row and its outbox row
	// in one statement, written here with VALUES instead of arrays.
	const qIntake = `WITH request AS (
    INSERT INTO requests (id, receipt, kind, jurisdiction, locale, filed_by_agent, personal_key_id,
     personal_nonce, personal_sealed, idempotency_key, submission_hash, created_at, status_token_hash)
    VALUES ($1, $2, 'deletion', 'JP', 'ja', false, 'dev1', $3, $4, $5, $6, $7, $8)
    ON CONFLICT (idempotency_key) DO NOTHING RETURNING id
), announcement AS (
    INSERT INTO outbox (request_id, subject, msg_id, msg_type, payload)
    SELECT id, 'bench.requests.submitted', id::text, 'dsr.v1.RequestSubmitted', $9 FROM request RETURNING id
)
SELECT count(*) FROM announcement`
	intakeTx := func(pool *pgxpool.Pool, tag string) func(ctx context.Context, w, i int) error {
		return func(ctx context.Context, w, i int) error {
			var n int64
			return pool.QueryRow(ctx, qIntake, newUUID(), fmt.Sprintf("%s-%d-%d-%s", tag, w, i, randomToken()), randBytes(12),
				randBytes(360), fmt.Sprintf("%s-%s-%d-%d", tag, b.runID, w, i), randBytes(32), time.Now(), randBytes(32),
				randBytes(520)).Scan(&n)
		}
	}
	tx, err := b.loop(ctx, b.cfg.IntakeClients, b.cfg.IntakeDuration, intakeTx(d.pool, "tx"))
	if err != nil {
		return tx, InsertRun{}, err
	}
	// The same with pgxpool's default size, as the intake opens its pool
	// (pgdb.Open: max(4, CPUs) connections), still IntakeClients goroutines.
	small, err := pgxpool.New(ctx, d.dsn)
	if err != nil {
		return tx, InsertRun{}, err
	}
	defer small.Close()
	txSmall, err := b.loop(ctx, b.cfg.IntakeClients, b.cfg.IntakeDuration, intakeTx(small, "txs"))
	txSmall.Conns = int(small.Config().MaxConns)
	return tx, txSmall, err
}

// loop runs op from clients goroutines for dur.
func (b *bench) loop(ctx context.Context, clients int, dur time.Duration, op func(ctx context.Context, worker, i int) error) (InsertRun, error) {
	var lat latencies
	var n, errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(dur)
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				t := time.Now()
				if err := op(ctx, w, i); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				lat.add(time.Since(t))
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	r := InsertRun{Inserts: int(n.Load()), Errors: int(errs.Load()), Seconds: round2(el.Seconds()), elapsed: el,
		PerSec: round1(rate(int(n.Load()), el)), Latency: distOf(lat.snapshot())}
	if r.Inserts == 0 {
		if err, ok := firstErr.Load().(error); ok {
			return r, err
		}
	}
	return r, nil
}

// request makes the n-th request body of this run and its idempotency key.
func (b *bench) request(n int64) (body, key string) {
	return deletionBody(fmt.Sprintf("bench-%s-i%d@example.jp", b.runID, n), fmt.Sprintf("B%s-%d", b.runID, n)),
		fmt.Sprintf("bench-%s-%d", b.runID, n)
}

type statusCount struct {
	mu sync.Mutex
	m  map[int]int
}

func (s *statusCount) add(code int) {
	s.mu.Lock()
	s.m[code]++
	s.mu.Unlock()
}

func (b *bench) acceptMax(ctx context.Context, clients int, seq *atomic.Int64, statuses map[int]int) AcceptRun {
	var lat latencies
	var sent, acc, limited, failed atomic.Int64
	sc := &statusCount{m: statuses}
	var wg sync.WaitGroup
	batches := batchSizes()
	start := time.Now()
	deadline := start.Add(b.cfg.IntakeDuration)
	// seq numbers requests across rounds; IntakeMax bounds this round.
	first := seq.Load()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(b.stk.IntakeURL)
			defer c.close()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				n := seq.Add(1)
				if int(n-first) > b.cfg.IntakeMax {
					return
				}
				body, key := b.request(n)
				t := time.Now()
				sent.Add(1)
				// Not tracked for the cleanup (b.track): these requests are
				// taken off the stream and never become workflows.
				code, _, err := c.submit(ctx, body, key)
				switch {
				case err != nil:
					failed.Add(1)
					sc.add(0)
				case code == http.StatusAccepted:
					lat.add(time.Since(t))
					acc.Add(1)
					sc.add(code)
				case code == http.StatusTooManyRequests:
					limited.Add(1)
					sc.add(code)
				default:
					failed.Add(1)
					sc.add(code)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	after := batchSizes()
	return AcceptRun{Sent: int(sent.Load()), Accepted: int(acc.Load()), RateLimited: int(limited.Load()),
		Failed: int(failed.Load()), Seconds: round2(el.Seconds()), elapsed: el, PerSec: round1(rate(int(acc.Load()), el)),
		Latency: distOf(lat.snapshot()), Statements: after.statements - batches.statements, SoloStatements: after.solo - batches.solo}
}

// perStatement is the requests one of the intake's statements wrote, on
// average.
func (a AcceptRun) perStatement() float64 { return float64(a.Accepted) / float64(max(1, a.Statements)) }

// batchSizes reads the intake's batch-size histogram (the intake runs in
// this process).
func batchSizes() (b struct{ statements, solo int }) {
	var m dto.Metric
	if err := metrics.IntakeBatchSize.Write(&m); err != nil {
		return b
	}
	b.statements = int(m.GetHistogram().GetSampleCount())
	if bk := m.GetHistogram().GetBucket(); len(bk) > 0 && bk[0].GetUpperBound() == 1 {
		b.solo = int(bk[0].GetCumulativeCount())
	}
	return b
}

func (b *bench) fixedLoad(ctx context.Context, seq *atomic.Int64, perSec float64, statuses map[int]int) FixedLoad {
	out := FixedLoad{OfferedPerSec: round1(perSec)}
	if perSec <= 0 {
		return out
	}
	interval := time.Duration(float64(time.Second) / perSec)
	pool := make(chan *webClient, maxInFlight)
	for i := 0; i < maxInFlight; i++ {
		pool <- newClient(b.stk.IntakeURL)
	}
	var lat latencies
	var acc, failed atomic.Int64
	sc := &statusCount{m: statuses}
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(b.cfg.IntakeLoadDuration)
	// The stream keeps the last IntakeLoadMax: those become workflows, and
	// only they are tracked for the cleanup (by send order, which the
	// stream's order follows but for requests a moment apart).
	planned := int(b.cfg.IntakeLoadDuration / interval)
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if !at.Before(end) || ctx.Err() != nil {
			break
		}
		tracked := i >= planned-b.cfg.IntakeLoadMax
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		var c *webClient
		select {
		case c = <-pool:
		default:
			out.Dropped++
			continue
		}
		out.Sent++
		n := seq.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { pool <- c }()
			body, key := b.request(n)
			code, a, err := c.submit(ctx, body, key)
			switch {
			case err == nil && code == http.StatusAccepted:
				lat.add(time.Since(at))
				acc.Add(1)
				if tracked {
					b.track(contract.WorkflowID(a.Receipt))
				}
			default:
				failed.Add(1)
			}
			if err != nil {
				code = 0
			}
			sc.add(code)
		}()
	}
	wg.Wait()
	el := time.Since(start)
	close(pool)
	for c := range pool {
		c.close()
	}
	out.Seconds = round1(el.Seconds())
	out.Accepted, out.Failed = int(acc.Load()), int(failed.Load())
	out.AchievedSec = round1(rate(out.Accepted, el))
	out.Latency = distOf(lat.snapshot())
	return out
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// newUUID is a random (v4) UUID in text form.
func newUUID() string {
	b := randBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
