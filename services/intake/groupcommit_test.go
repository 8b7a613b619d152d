package intake

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/intake/migrations"
	"madoguchi.dev/services/outbox"
)

// pendingRequest is one request as Submit hands it to the writer.
func pendingRequest(t testing.TB, receipt, key string) (stored, outbox.Message) {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	random := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	sub := &Submission{Kind: "deletion", Jurisdiction: "JP", Locale: "ja"}
	r := stored{id: id, receipt: receipt, sub: sub, idempotencyKey: key,
		sealed: &dsrv1.Sealed{KeyId: "test1", Nonce: random(12), Ciphertext: random(64)},
		hash:   random(32), createdAt: time.Now().Truncate(time.Microsecond), statusTokenHash: random(32)}
	msg := outbox.Message{RequestID: id, Subject: "t.requests.submitted", MsgID: id, MsgType: "dsr.v1.RequestSubmitted",
		Payload: []byte("payload-" + id)}
	return r, msg
}

type writeOutcome struct {
	id      string
	written bool
	err     error
}

// queueTogether makes the writer's only slot busy, queues every request from
// its own goroutine, waits until all are queued, then frees the slot: what
// happens when requests arrive while a statement is in flight.
func queueTogether(t *testing.T, g *groupWriter, ctxs []context.Context, reqs []stored, msgs []outbox.Message) []writeOutcome {
	t.Helper()
	g.mu.Lock()
	g.inFlight = g.slots
	g.mu.Unlock()
	out := make([]writeOutcome, len(reqs))
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Go(func() {
			written, err := g.write(ctxs[i], reqs[i], msgs[i])
			out[i] = writeOutcome{id: reqs[i].id, written: written, err: err}
		})
	}
	deadline := time.Now().Add(testinfra.Timeout)
	for {
		g.mu.Lock()
		n := len(g.queue)
		g.mu.Unlock()
		if n == len(reqs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests queued", n, len(reqs))
		}
		time.Sleep(time.Millisecond)
	}
	go g.drain() // the slot's holder moves on to the queue
	wg.Wait()
	return out
}

// waitIdle waits until no statement is in flight and nothing is queued: a
// writer answers its caller before it looks at the queue once more.
func waitIdle(t *testing.T, g *groupWriter) {
	t.Helper()
	deadline := time.Now().Add(testinfra.Timeout)
	for {
		g.mu.Lock()
		inFlight, queued := g.inFlight, len(g.queue)
		g.mu.Unlock()
		if inFlight == 0 && queued == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("writer not idle: %d statements in flight, %d queued", inFlight, queued)
		}
		time.Sleep(time.Millisecond)
	}
}

func newTestWriter(t *testing.T) (*groupWriter, *pgxpool.Pool) {
	t.Helper()
	pool := testinfra.Pool(t, "t_group", migrations.FS)
	return newGroupWriter(pool, 1), pool
}

// One statement in flight unless told otherwise, and never more than the
// pool has connections for.
func TestWriteConcurrencyIsAtLeastOneAndAtMostThePool(t *testing.T) {
	pool := testinfra.Pool(t, "t_group", migrations.FS)
	conns := int(pool.Config().MaxConns)
	for _, c := range []struct{ asked, want int }{{0, 1}, {-3, 1}, {1, 1}, {conns, conns}, {conns + 10, conns}} {
		if got := newGroupWriter(pool, c.asked).slots; got != c.want {
			t.Errorf("WriteConcurrency %d: %d statements in flight, want %d", c.asked, got, c.want)
		}
	}
}

func background(n int) []context.Context {
	out := make([]context.Context, n)
	for i := range out {
		out[i] = context.Background()
	}
	return out
}

// transactionsOf counts the distinct transactions that wrote the rows.
func transactionsOf(t *testing.T, pool *pgxpool.Pool, table string) (rows, transactions int) {
	t.Helper()
	err := pool.QueryRow(context.Background(), fmt.Sprintf(`SELECT count(*), count(DISTINCT xmin::text) FROM %s`, table)).
		Scan(&rows, &transactions)
	if err != nil {
		t.Fatal(err)
	}
	return rows, transactions
}

func TestRequestsQueuedTogetherCommitInOneTransactionEachWithItsAnnouncement(t *testing.T) {
	t.Parallel()
	g, pool := newTestWriter(t)
	const n = 12
	reqs, msgs := make([]stored, n), make([]outbox.Message, n)
	for i := range n {
		reqs[i], msgs[i] = pendingRequest(t, fmt.Sprintf("20261202-B%05d", i), fmt.Sprintf("key-%d", i))
	}
	for _, o := range queueTogether(t, g, background(n), reqs, msgs) {
		if o.err != nil || !o.written {
			t.Errorf("request %s: written=%v err=%v; want written", o.id, o.written, o.err)
		}
	}
	if rows, txs := transactionsOf(t, pool, "requests"); rows != n || txs != 1 {
		t.Errorf("requests: %d rows in %d transactions; want %d in one", rows, txs, n)
	}
	var joined int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox o JOIN requests r ON r.id = o.request_id
		WHERE o.msg_id = r.id::text AND o.xmin = r.xmin`).Scan(&joined); err != nil {
		t.Fatal(err)
	}
	if joined != n {
		t.Errorf("%d requests have their announcement in the same transaction; want %d", joined, n)
	}
}

func TestOneIdempotencyKeyTwiceInABatchWritesOneRequest(t *testing.T) {
	t.Parallel()
	g, pool := newTestWriter(t)
	a, am := pendingRequest(t, "20261202-C00001", "same-key")
	b, bm := pendingRequest(t, "20261202-C00002", "same-key")
	c, cm := pendingRequest(t, "20261202-C00003", "")
	out := queueTogether(t, g, background(3), []stored{a, b, c}, []outbox.Message{am, bm, cm})
	written := 0
	for _, o := range out {
		if o.err != nil {
			t.Errorf("request %s: %v", o.id, o.err)
		}
		if o.written {
			written++
		}
	}
	if written != 2 || !out[2].written {
		t.Errorf("written: %+v; want one of the keyed pair and the unkeyed request", out)
	}
	if rows, _ := transactionsOf(t, pool, "requests"); rows != 2 {
		t.Errorf("%d requests stored; want 2", rows)
	}
	if rows, _ := transactionsOf(t, pool, "outbox"); rows != 2 {
		t.Errorf("%d announcements; want 2 (none for the request not written)", rows)
	}
}

// A row that breaks the batch (here a receipt already taken) fails alone:
// the others of its batch are written all the same.
func TestARowThatBreaksItsBatchFailsAloneAndTheOthersAreWritten(t *testing.T) {
	t.Parallel()
	g, pool := newTestWriter(t)
	first, fm := pendingRequest(t, "20261202-D00001", "")
	if written, err := g.write(context.Background(), first, fm); err != nil || !written {
		t.Fatalf("first request: written=%v err=%v", written, err)
	}
	waitIdle(t, g)
	clash, clm := pendingRequest(t, "20261202-D00001", "")
	x, xm := pendingRequest(t, "20261202-D00002", "")
	y, ym := pendingRequest(t, "20261202-D00003", "")
	out := queueTogether(t, g, background(3), []stored{x, clash, y}, []outbox.Message{xm, clm, ym})
	if out[1].err == nil {
		t.Error("a request whose receipt is taken was accepted")
	}
	for _, o := range []writeOutcome{out[0], out[2]} {
		if o.err != nil || !o.written {
			t.Errorf("request %s beside the broken row: written=%v err=%v", o.id, o.written, o.err)
		}
	}
	if rows, _ := transactionsOf(t, pool, "requests"); rows != 3 {
		t.Errorf("%d requests stored; want 3", rows)
	}
	if rows, _ := transactionsOf(t, pool, "outbox"); rows != 3 {
		t.Errorf("%d announcements; want 3", rows)
	}
}

// A caller that is gone before its batch is written (the client hung up)
// is answered with its context's error and leaves nothing behind.
func TestACallerGoneBeforeItsBatchIsWrittenLeavesNothing(t *testing.T) {
	t.Parallel()
	g, pool := newTestWriter(t)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	a, am := pendingRequest(t, "20261202-E00001", "")
	b, bm := pendingRequest(t, "20261202-E00002", "")
	out := queueTogether(t, g, []context.Context{gone, context.Background()}, []stored{a, b}, []outbox.Message{am, bm})
	if !errors.Is(out[0].err, context.Canceled) || out[0].written {
		t.Errorf("gone caller: written=%v err=%v; want context.Canceled", out[0].written, out[0].err)
	}
	if out[1].err != nil || !out[1].written {
		t.Errorf("caller beside it: written=%v err=%v", out[1].written, out[1].err)
	}
	if rows, _ := transactionsOf(t, pool, "requests"); rows != 1 {
		t.Errorf("%d requests stored; want only the live caller's", rows)
	}
}

// Alone, a request is written at once: the writer waits for no timer and
// no company, and gives its slot back when the queue is empty.
func TestALoneRequestIsWrittenAtOnceAndTheSlotIsFreed(t *testing.T) {
	t.Parallel()
	g, pool := newTestWriter(t)
	r, m := pendingRequest(t, "20261202-F00001", "")
	if written, err := g.write(context.Background(), r, m); err != nil || !written {
		t.Fatalf("written=%v err=%v", written, err)
	}
	waitIdle(t, g)
	if rows, _ := transactionsOf(t, pool, "requests"); rows != 1 {
		t.Errorf("%d requests stored; want 1", rows)
	}
}

// A receipt number is random; when the one drawn belongs to another request
// already, the submission draws again instead of failing, alone or in a
// batch with others, and gives up (with an error, nothing stored) only
// after receiptAttempts taken numbers in a row.
func TestATakenReceiptNumberIsDrawnAgain(t *testing.T) {
	pool := testinfra.Pool(t, "t_receipt", migrations.FS)
	ns, err := contract.NewNamespace(testinfra.UniqueName("t"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	taken := "20261202-TAKEN0"
	first := &Service{Pool: pool, Ring: testinfra.Ring(t), Namespace: ns, Log: testinfra.Logger(t),
		drawReceipt: func(string, time.Time) (string, error) { return taken, nil }}
	sub := func(i int) Submission {
		return Submission{Kind: "deletion", Jurisdiction: "JP", Locale: "ja",
			Subject: SubjectInput{Name: "山田 花子", Email: fmt.Sprintf("hanako%d@example.jp", i)}}
	}
	if _, err := first.Submit(ctx, sub(0), "k-0"); err != nil {
		t.Fatal(err)
	}

	// Every submission draws the taken number twice, then its own;
	// submitted together, they share statements.
	var mu sync.Mutex
	draws := map[string]int{}
	svc := &Service{Pool: pool, Ring: testinfra.Ring(t), Namespace: ns, Log: testinfra.Logger(t),
		drawReceipt: func(id string, now time.Time) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			draws[id]++
			if draws[id] <= 2 {
				return taken, nil
			}
			return drawReceipt(now)
		}}
	var wg sync.WaitGroup
	accepted := make([]Accepted, 8)
	errs := make([]error, 8)
	for i := range accepted {
		wg.Go(func() { accepted[i], errs[i] = svc.Submit(ctx, sub(i+1), fmt.Sprintf("k-%d", i+1)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("submission %d: %v", i, err)
		}
		if accepted[i].Receipt == taken {
			t.Errorf("submission %d answered with the taken receipt", i)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM requests JOIN outbox ON outbox.request_id = requests.id`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 9 {
		t.Errorf("%d requests with their announcement stored, want 9", n)
	}
	for id, d := range draws {
		if d != 3 {
			t.Errorf("request %s drew %d receipt numbers, want 3", id, d)
		}
	}

	// Only ever the taken number: a clear error, nothing stored.
	_, err = first.Submit(ctx, sub(99), "k-99")
	if !errors.Is(err, errReceiptTaken) {
		t.Errorf("after %d taken numbers: %v, want %v", receiptAttempts, err, errReceiptTaken)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM requests WHERE idempotency_key = 'k-99'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d rows stored for the failed submission (%v)", n, err)
	}
}

// Rows of one statement that mail one address are charged in their order:
// the first up to the day's limit are written, the rest refused (nothing
// written); a repeated idempotency key in the statement, or the key of a
// stored request, costs nothing. The count goes on from what earlier
// statements left.
func TestAStatementChargesTheMailQuotaInItsOrder(t *testing.T) {
	t.Parallel()
	pool := testinfra.Pool(t, "t_quota", migrations.FS)
	day := jstDay(time.Now())
	charged := func(key string, limit int) quotaCharge { return quotaCharge{key: key, day: day, limit: limit} }
	rows := func(prefix string, quotas ...quotaCharge) []announced {
		out := make([]announced, len(quotas))
		for i, q := range quotas {
			r, m := pendingRequest(t, fmt.Sprintf("20261126-%s%04d", prefix, i), fmt.Sprintf("%s-%d", prefix, i))
			r.quota = q
			out[i] = announced{r, m}
		}
		return out
	}
	a, b := charged("psn_a", 3), charged("psn_b", 3)
	first := rows("A", a, a, b, a, a, quotaCharge{}, a, charged("psn_a", 10))
	first[3].r.idempotencyKey = first[0].r.idempotencyKey // a double send of row 0
	written, err := insertRequests(t.Context(), pool, first)
	if err != nil {
		t.Fatal(err)
	}
	// a: rows 0, 1, 4 within the limit of 3; 6 is the fourth; 7 the fifth,
	// against its own limit of 10. 3 repeats 0; 5 has no quota.
	type outcome struct{ seen, written bool }
	want := []outcome{{true, true}, {true, true}, {true, true}, {false, false}, {true, true}, {true, true}, {true, false}, {true, true}}
	for i, w := range want {
		ok, seen := written[first[i].r.id]
		if (outcome{seen, ok}) != w {
			t.Errorf("row %d: returned %v, written %v; want %v, %v", i, seen, ok, w.seen, w.written)
		}
	}
	counts := func() map[string]int {
		t.Helper()
		m := map[string]int{}
		rows, err := pool.Query(t.Context(), "SELECT address_key, submissions FROM mail_quota")
		if err != nil {
			t.Fatal(err)
		}
		var k string
		var c int
		if _, err := pgx.ForEachRow(rows, []any{&k, &c}, func() error { m[k] = c; return nil }); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if got := counts(); got["psn_a"] != 5 || got["psn_b"] != 1 || len(got) != 2 {
		t.Errorf("counters %v, want psn_a 5 (the refused too), psn_b 1", got)
	}

	// Later: a retry of row 1 is answered from the store at no charge;
	// psn_b has two left of its 3.
	next := rows("B", b, b, b, b)
	next[0].r.idempotencyKey = first[1].r.idempotencyKey
	if written, err = insertRequests(t.Context(), pool, next); err != nil {
		t.Fatal(err)
	}
	want = []outcome{{false, false}, {true, true}, {true, true}, {true, false}}
	for i, w := range want {
		ok, seen := written[next[i].r.id]
		if (outcome{seen, ok}) != w {
			t.Errorf("second statement, row %d: returned %v, written %v; want %v, %v", i, seen, ok, w.seen, w.written)
		}
	}
	if got := counts(); got["psn_b"] != 4 || got["psn_a"] != 5 {
		t.Errorf("counters %v, want psn_b 4 (1 + 3 new), psn_a unchanged", got)
	}
	if rows, transactions := transactionsOf(t, pool, "requests"); rows != 8 {
		t.Errorf("%d request rows (in %d transactions), want 8", rows, transactions)
	}
}

// Requests batched by the writer learn of their refusal: errMailQuota for
// those past the limit, whatever their order in the batch.
func TestTheWriterAnswersRefusedRowsOfABatchWithErrMailQuota(t *testing.T) {
	t.Parallel()
	g, pool := newTestWriter(t)
	const n = 6
	reqs, msgs := make([]stored, n), make([]outbox.Message, n)
	for i := range reqs {
		reqs[i], msgs[i] = pendingRequest(t, fmt.Sprintf("20261126-W%05d", i), fmt.Sprintf("w-%d", i))
		reqs[i].quota = quotaCharge{key: "psn_w", day: jstDay(time.Now()), limit: 2}
	}
	written, refused := 0, 0
	for _, o := range queueTogether(t, g, background(n), reqs, msgs) {
		switch {
		case o.written && o.err == nil:
			written++
		case !o.written && errors.Is(o.err, errMailQuota):
			refused++
		default:
			t.Errorf("request %s: written %v, err %v", o.id, o.written, o.err)
		}
	}
	if written != 2 || refused != n-2 {
		t.Errorf("%d written, %d refused; want 2 and %d", written, refused, n-2)
	}
	if rows, transactions := transactionsOf(t, pool, "requests"); rows != 2 || transactions != 1 {
		t.Errorf("%d request rows in %d transactions, want 2 in 1", rows, transactions)
	}
	if rows, _ := transactionsOf(t, pool, "outbox"); rows != 2 {
		t.Errorf("%d announcements, want 2", rows)
	}
}

// What the intake keeps at rest is sealed under its own ring, which no
// other component holds; only the announcement the workflow opens is
// sealed under the ring of Temporal payloads.
func TestTheIntakeKeepsItsDataUnderItsOwnRingAndAnnouncesUnderThePayloadRing(t *testing.T) {
	pool := testinfra.Pool(t, "t_rings", migrations.FS)
	ns, err := contract.NewNamespace(testinfra.UniqueName("t"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	atRest, payloads := testinfra.Ring(t), testinfra.Ring(t)
	svc := &Service{Pool: pool, Ring: atRest, Payloads: payloads, Namespace: ns, Log: testinfra.Logger(t)}
	acc, err := svc.Submit(ctx, Submission{Kind: "deletion", Jurisdiction: "JP", Locale: "ja",
		Subject: SubjectInput{Name: "山田 花子", Email: "hanako@example.jp"}}, "k-rings")
	if err != nil {
		t.Fatal(err)
	}
	var keyID string
	var nonce, sealed, payload []byte
	if err := pool.QueryRow(ctx, `SELECT personal_key_id, personal_nonce, personal_sealed FROM requests WHERE id = $1`, acc.ID).
		Scan(&keyID, &nonce, &sealed); err != nil {
		t.Fatal(err)
	}
	stored := &dsrv1.Sealed{KeyId: keyID, Nonce: nonce, Ciphertext: sealed, Type: "dsr.v1.PersonalData"}
	var pd dsrv1.PersonalData
	if err := atRest.OpenMessage(stored, &pd); err != nil || pd.GetSubject().GetName() != "山田 花子" {
		t.Fatalf("the stored row does not open with the intake's ring: %v", err)
	}
	if err := payloads.OpenMessage(stored, &pd); err == nil {
		t.Error("the stored row opens with the payload ring, which the bridge, worker and codec server hold")
	}
	if err := pool.QueryRow(ctx, `SELECT payload FROM outbox WHERE msg_type = 'dsr.v1.RequestSubmitted' ORDER BY id DESC LIMIT 1`).
		Scan(&payload); err != nil {
		t.Fatal(err)
	}
	var ev dsrv1.RequestSubmitted
	if err := proto.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	if err := payloads.OpenMessage(ev.GetPersonal(), &pd); err != nil || pd.GetSubject().GetEmail() != "hanako@example.jp" {
		t.Fatalf("the announcement does not open with the payload ring: %v", err)
	}
	if err := atRest.OpenMessage(ev.GetPersonal(), &pd); err == nil {
		t.Error("the announcement is sealed under the intake's own ring")
	}
}
