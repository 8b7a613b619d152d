package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/intake/migrations"
	"madoguchi.dev/services/outbox"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// rig is an outbox table (the intake's schema) and a JetStream server.
type rig struct {
	pool  *pgxpool.Pool
	js    jetstream.JetStream
	ns    contract.Namespace
	relay *outbox.Relay
}

func newRig(t *testing.T) *rig {
	t.Helper()
	pool := testinfra.Pool(t, "t_outbox", migrations.FS)
	_, js, ns := testinfra.NATS(t)
	// BatchSize is set explicitly: RelayOnce does not apply the documented
	// default (see TestZeroValueRelayOnceSendsWithTheDefaultBatchSize).
	return &rig{pool: pool, js: js, ns: ns, relay: &outbox.Relay{Pool: pool, JS: js, Log: testinfra.Logger(t), BatchSize: 100}}
}

// enqueue commits one RequestSubmitted per id in a single transaction and
// returns the ids, which are also the message ids.
func (r *rig) enqueue(t *testing.T, n int) []string {
	t.Helper()
	ids := make([]string, n)
	err := pgx.BeginFunc(context.Background(), r.pool, func(tx pgx.Tx) error {
		for i := range ids {
			ids[i] = uuid.NewString()
			if err := r.enqueueTx(tx, ids[i], r.ns.RequestSubmitted()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func (r *rig) enqueueTx(tx pgx.Tx, id, subject string) error {
	return enqueueRequestSubmitted(context.Background(), tx, id, subject)
}

// enqueueRequestSubmitted writes the outbox row a writer would write for
// request id's RequestSubmitted, with ctx's trace context, in tx.
func enqueueRequestSubmitted(ctx context.Context, tx pgx.Tx, id, subject string) error {
	ev := &dsrv1.RequestSubmitted{RequestId: id, Receipt: "20261125-" + id[:6], Kind: dsrv1.RequestKind_REQUEST_KIND_DELETION}
	m, err := outbox.NewMessage(ctx, id, subject, id, ev)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO outbox (request_id, subject, msg_id, msg_type, payload, traceparent, tracestate)
VALUES ($1, $2, $3, $4, $5, nullif($6, ''), nullif($7, ''))`, m.RequestID, m.Subject, m.MsgID, m.MsgType, m.Payload, m.Traceparent, m.Tracestate)
	return err
}

func (r *rig) relayOnce(t *testing.T) int {
	t.Helper()
	n, err := r.relay.RelayOnce(context.Background())
	if err != nil {
		t.Fatalf("RelayOnce: %v", err)
	}
	return n
}

func (r *rig) streamCount(t *testing.T) uint64 {
	t.Helper()
	return testinfra.SubjectCount(t, r.js, r.ns.StreamRequests(), r.ns.RequestSubmitted())
}

// published reads every message of the requests stream, in order.
func (r *rig) published(t *testing.T) []*nats.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testinfra.Timeout)
	defer cancel()
	s, err := r.js.Stream(ctx, r.ns.StreamRequests())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*nats.Msg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
	}
	return out
}

func (r *rig) unsent(t *testing.T) int {
	t.Helper()
	var n int
	if err := r.pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox WHERE sent_at IS NULL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRelayPublishesEveryUnsentRowWithItsMessageIDAndMarksItSent(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ids := r.enqueue(t, 3)
	if n, age, err := r.relay.Lag(context.Background()); err != nil || n != 3 || age < 0 {
		t.Errorf("Lag before relaying = %d, %v, %v", n, age, err)
	}
	if n := r.relayOnce(t); n != 3 {
		t.Fatalf("RelayOnce sent %d, want 3", n)
	}
	msgs := r.published(t)
	if len(msgs) != 3 {
		t.Fatalf("stream holds %d messages, want 3", len(msgs))
	}
	for i, m := range msgs {
		if m.Subject != r.ns.RequestSubmitted() {
			t.Errorf("message %d on %s", i, m.Subject)
		}
		if got := m.Header.Get(nats.MsgIdHdr); got != ids[i] {
			t.Errorf("message %d Nats-Msg-Id = %q, want the row's msg_id %q", i, got, ids[i])
		}
		if m.Header.Get(contract.HeaderType) != "dsr.v1.RequestSubmitted" || m.Header.Get(contract.HeaderRequestID) != ids[i] ||
			m.Header.Get("Content-Type") != contract.ContentType {
			t.Errorf("message %d headers %v", i, m.Header)
		}
		var ev dsrv1.RequestSubmitted
		if err := proto.Unmarshal(m.Data, &ev); err != nil || ev.GetRequestId() != ids[i] {
			t.Errorf("message %d body %v (%v)", i, &ev, err)
		}
	}
	var sent, attempts int
	err := r.pool.QueryRow(context.Background(),
		"SELECT count(*) FILTER (WHERE sent_at IS NOT NULL), coalesce(sum(attempts), 0) FROM outbox").Scan(&sent, &attempts)
	if err != nil {
		t.Fatal(err)
	}
	if sent != 3 || attempts != 3 {
		t.Errorf("%d rows marked sent with %d attempts, want 3 and 3", sent, attempts)
	}
	if n, _, err := r.relay.Lag(context.Background()); err != nil || n != 0 {
		t.Errorf("Lag after relaying = %d, %v", n, err)
	}

	if n := r.relayOnce(t); n != 0 {
		t.Errorf("second RelayOnce sent %d, want 0", n)
	}
	if n := r.streamCount(t); n != 3 {
		t.Errorf("stream holds %d after a second RelayOnce, want 3", n)
	}
}

func TestZeroValueRelayOnceSendsWithTheDefaultBatchSize(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.relay.BatchSize = 0 // "BatchSize rows per transaction (default 100)"
	r.enqueue(t, 2)
	if n := r.relayOnce(t); n != 2 {
		t.Errorf("RelayOnce with the default batch size sent %d, want 2", n)
	}
}

func TestRowsOfARolledBackTransactionAreNeverPublished(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	rollback := errors.New("the request insert failed")
	err := pgx.BeginFunc(context.Background(), r.pool, func(tx pgx.Tx) error {
		if err := r.enqueueTx(tx, uuid.NewString(), r.ns.RequestSubmitted()); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatalf("transaction: %v", err)
	}
	if n := r.relayOnce(t); n != 0 {
		t.Errorf("RelayOnce sent %d rows of a rolled-back transaction", n)
	}
	committed := r.enqueue(t, 1)
	if n := r.relayOnce(t); n != 1 {
		t.Errorf("RelayOnce sent %d, want only the committed row", n)
	}
	msgs := r.published(t)
	if len(msgs) != 1 || msgs[0].Header.Get(nats.MsgIdHdr) != committed[0] {
		t.Errorf("stream holds %d messages, want only %s", len(msgs), committed[0])
	}
}

func TestRepublishingAfterACrashBeforeCommitStoresOneMessage(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ids := r.enqueue(t, 2)
	if n := r.relayOnce(t); n != 2 {
		t.Fatalf("RelayOnce sent %d, want 2", n)
	}
	// The relay published, then died before its UPDATE committed.
	if _, err := r.pool.Exec(context.Background(), "UPDATE outbox SET sent_at = NULL WHERE msg_id = $1", ids[0]); err != nil {
		t.Fatal(err)
	}
	if n := r.relayOnce(t); n != 1 {
		t.Errorf("RelayOnce after the crash sent %d, want the 1 unmarked row", n)
	}
	if n := r.streamCount(t); n != 2 {
		t.Errorf("stream holds %d messages, want 2: the republished row must be deduplicated", n)
	}
	if u := r.unsent(t); u != 0 {
		t.Errorf("%d rows still unsent", u)
	}
	var attempts int
	if err := r.pool.QueryRow(context.Background(), "SELECT attempts FROM outbox WHERE msg_id = $1", ids[0]).Scan(&attempts); err != nil || attempts != 2 {
		t.Errorf("attempts of the republished row = %d (%v), want 2", attempts, err)
	}
}

func TestRelaySendsInBatchesInOrder(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.relay.BatchSize = 2
	ids := r.enqueue(t, 5)
	var got []int
	for i := 0; i < 4; i++ {
		got = append(got, r.relayOnce(t))
	}
	if fmt.Sprint(got) != "[2 2 1 0]" {
		t.Errorf("batches = %v, want [2 2 1 0]", got)
	}
	for i, m := range r.published(t) {
		if m.Header.Get(nats.MsgIdHdr) != ids[i] {
			t.Errorf("message %d is %s, want %s (outbox order)", i, m.Header.Get(nats.MsgIdHdr), ids[i])
		}
	}
}

func TestConcurrentRelaysSendEachRowOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const rows = 30
	r.enqueue(t, rows)
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	for range 3 {
		relay := &outbox.Relay{Pool: r.pool, JS: r.js, Log: testinfra.Logger(t), BatchSize: 4}
		wg.Go(func() {
			for {
				n, err := relay.RelayOnce(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if total != rows {
		t.Errorf("relays reported %d sends for %d rows", total, rows)
	}
	if n := r.streamCount(t); n != rows {
		t.Errorf("stream holds %d messages, want %d", n, rows)
	}
	var maxAttempts int
	if err := r.pool.QueryRow(context.Background(), "SELECT max(attempts) FROM outbox").Scan(&maxAttempts); err != nil || maxAttempts != 1 {
		t.Errorf("max attempts %d (%v): a row was claimed by two relays", maxAttempts, err)
	}
}

func TestUnpublishableRowStaysUnsentWithItsErrorAndDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	bad := uuid.NewString()
	if err := pgx.BeginFunc(context.Background(), r.pool, func(tx pgx.Tx) error {
		return r.enqueueTx(tx, bad, r.ns.Root+".nowhere") // no stream captures it
	}); err != nil {
		t.Fatal(err)
	}
	good := r.enqueue(t, 1)
	n, err := r.relay.RelayOnce(context.Background())
	if err == nil {
		t.Error("RelayOnce reported success for a row nothing acknowledged")
	}
	if n != 1 {
		t.Errorf("RelayOnce sent %d, want 1 (the publishable row)", n)
	}
	var sentAt *time.Time
	var attempts int
	var lastErr *string
	if err := r.pool.QueryRow(context.Background(), "SELECT sent_at, attempts, last_error FROM outbox WHERE msg_id = $1", bad).
		Scan(&sentAt, &attempts, &lastErr); err != nil {
		t.Fatal(err)
	}
	if sentAt != nil || attempts != 1 || lastErr == nil || *lastErr == "" {
		t.Errorf("failed row: sent_at %v, attempts %d, last_error %v", sentAt, attempts, lastErr)
	}
	msgs := r.published(t)
	if len(msgs) != 1 || msgs[0].Header.Get(nats.MsgIdHdr) != good[0] {
		t.Errorf("stream holds %d messages, want only %s", len(msgs), good[0])
	}
}

func TestRunIsWokenByWakeAfterACommitAndStopsWithItsContext(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	early := r.enqueue(t, 1) // waiting before Run starts
	// An hour-long poll interval: only Wake can make the relay send the
	// second row within the test's timeout.
	r.relay.PollInterval = time.Hour
	testinfra.Go(t, r.relay.Run)
	waitFor(t, "the early row to be relayed", func() bool { return r.streamCount(t) == 1 })
	late := r.enqueue(t, 1)
	time.Sleep(200 * time.Millisecond)
	if r.unsent(t) != 1 {
		t.Fatal("the relay sent a row nobody woke it for, with an hour-long poll")
	}
	r.relay.Wake()
	waitFor(t, "the committed row to be relayed", func() bool { return r.unsent(t) == 0 })
	msgs := r.published(t)
	if len(msgs) != 2 || msgs[0].Header.Get(nats.MsgIdHdr) != early[0] || msgs[1].Header.Get(nats.MsgIdHdr) != late[0] {
		t.Errorf("stream holds %d messages, want %s then %s", len(msgs), early[0], late[0])
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testinfra.Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
