package holderkit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

const holderName = "toy"

// toy is a minimal holder whose one action, ERASE, writes a row to its own
// "effects" table, so that tests can count how often the effect happened.
type toy struct {
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	ns      contract.Namespace
	ring    *seal.Ring
	results jetstream.Consumer
	hk      *holderkit.Holder

	mu   sync.Mutex
	seen []holderkit.Command
	// fail makes the handler write its effect and then fail this many times.
	fail int
}

func startToy(t *testing.T, fail int) *toy {
	t.Helper()
	pool := testinfra.Pool(t, "t_holderkit")
	if _, err := pool.Exec(context.Background(), "CREATE TABLE effects (request_id text NOT NULL, note text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	_, js, ns := testinfra.NATS(t)
	h := &toy{pool: pool, js: js, ns: ns, ring: testinfra.Ring(t), fail: fail}
	ctx, cancel := context.WithTimeout(context.Background(), testinfra.Timeout)
	defer cancel()
	var err error
	h.results, err = js.CreateOrUpdateConsumer(ctx, ns.StreamResults(), jetstream.ConsumerConfig{
		Durable: "test-results", FilterSubject: ns.Result(holderName), AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	hk := &holderkit.Holder{Name: holderName, Namespace: ns, JS: js, Pool: pool, Ring: h.ring, Log: testinfra.Logger(t),
		Retention: 365 * 24 * time.Hour,
		Actions:   map[dsrv1.Action]holderkit.HandlerFunc{dsrv1.Action_ACTION_ERASE: h.erase, dsrv1.Action_ACTION_CORRECT: h.erase}}
	h.hk = hk
	testinfra.Go(t, hk.Run)
	return h
}

func (h *toy) erase(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	h.mu.Lock()
	h.seen = append(h.seen, cmd)
	fail := h.fail > 0
	h.fail--
	h.mu.Unlock()
	if _, err := tx.Exec(ctx, "INSERT INTO effects VALUES ($1, $2)", cmd.RequestID, cmd.Subject.GetEmail()); err != nil {
		return holderkit.Result{}, err
	}
	if fail {
		return holderkit.Result{}, errors.New("downstream briefly unavailable")
	}
	return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: 1, Reason: "erased"}, nil
}

func (h *toy) commands() []holderkit.Command {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.seen)
}

func (h *toy) send(t *testing.T, cmd *dsrv1.HolderCommand) {
	t.Helper()
	if cmd.Holder == "" {
		cmd.Holder = holderName
	}
	if cmd.Subject == nil {
		s, err := h.ring.Message(&dsrv1.Subject{Email: "hanako@example.jp"})
		if err != nil {
			t.Fatal(err)
		}
		cmd.Subject = s
	}
	cmd.CommandId = fmt.Sprintf("%s.%s.%d", cmd.RequestId, holderName, cmd.Attempt)
	cmd.IssuedAt = timestamppb.Now()
	ctx, cancel := context.WithTimeout(context.Background(), testinfra.Timeout)
	defer cancel()
	if _, err := bus.Publish(ctx, h.js, h.ns.Command(holderName, contract.ActionName(cmd.Action)), cmd.CommandId, cmd.RequestId, cmd); err != nil {
		t.Fatal(err)
	}
}

func (h *toy) result(t *testing.T) *dsrv1.HolderResult {
	t.Helper()
	msg, err := h.results.Next(jetstream.FetchMaxWait(testinfra.Timeout))
	if err != nil {
		t.Fatalf("no holder result: %v", err)
	}
	_ = msg.Ack()
	var res dsrv1.HolderResult
	if err := bus.Decode(msg, &res); err != nil {
		t.Fatal(err)
	}
	return &res
}

func (h *toy) effects(t *testing.T) int {
	t.Helper()
	var n int
	if err := h.pool.QueryRow(context.Background(), "SELECT count(*) FROM effects").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func fastBackoff(t *testing.T) {
	old := bus.Backoff
	bus.Backoff = []time.Duration{10 * time.Millisecond}
	t.Cleanup(func() { bus.Backoff = old })
}

func TestFailedHandlerLeavesNoEffectAndIsRetriedUntilDone(t *testing.T) {
	fastBackoff(t)
	h := startToy(t, 2)
	h.send(t, &dsrv1.HolderCommand{RequestId: "req-retry", Action: dsrv1.Action_ACTION_ERASE, Attempt: 1})
	res := h.result(t)
	if res.GetOutcome() != dsrv1.Outcome_OUTCOME_DONE || res.GetReplayed() {
		t.Errorf("result %v", res)
	}
	if n := len(h.commands()); n != 3 {
		t.Errorf("handler ran %d times, want 3 (two failures, one success)", n)
	}
	if n := h.effects(t); n != 1 {
		t.Errorf("%d effects committed, want 1: a failed attempt's writes must roll back with it", n)
	}
	var processed int
	if err := h.pool.QueryRow(context.Background(), "SELECT count(*) FROM holderkit_processed_commands").Scan(&processed); err != nil || processed != 1 {
		t.Errorf("processed rows %d (%v), want 1", processed, err)
	}
}

func TestHandlerGetsTheOpenedSubjectAndCorrections(t *testing.T) {
	h := startToy(t, 0)
	subject, err := h.ring.Message(&dsrv1.Subject{Name: "山田 花子", Email: "hanako@example.jp", MemberId: "M-1001"})
	if err != nil {
		t.Fatal(err)
	}
	corr, err := h.ring.Message(&dsrv1.Corrections{Values: map[string]string{"address": "山口県下関市1-1"}})
	if err != nil {
		t.Fatal(err)
	}
	h.send(t, &dsrv1.HolderCommand{RequestId: "req-correct", Receipt: "20261125-ABCDEF", Action: dsrv1.Action_ACTION_CORRECT,
		Attempt: 4, Subject: subject, Corrections: corr})
	if res := h.result(t); res.GetOutcome() != dsrv1.Outcome_OUTCOME_DONE || res.GetReceipt() != "20261125-ABCDEF" {
		t.Fatalf("result %v", res)
	}
	cmds := h.commands()
	if len(cmds) != 1 {
		t.Fatalf("handler ran %d times", len(cmds))
	}
	c := cmds[0]
	if c.ID != "req-correct.toy.4" || c.RequestID != "req-correct" || c.Receipt != "20261125-ABCDEF" || c.Attempt != 4 ||
		c.Action != dsrv1.Action_ACTION_CORRECT || c.Subject.GetMemberId() != "M-1001" || c.Subject.GetName() != "山田 花子" ||
		c.Corrections["address"] != "山口県下関市1-1" || len(c.Corrections) != 1 {
		t.Errorf("handler got %+v", c)
	}
}

func TestClearingAnEntrustingCompanyMakesTheSameActionRunAgain(t *testing.T) {
	h := startToy(t, 0)
	h.send(t, &dsrv1.HolderCommand{RequestId: "req-entrusted", Action: dsrv1.Action_ACTION_ERASE, Attempt: 1})
	if res := h.result(t); res.GetReplayed() {
		t.Fatal("first command replayed")
	}
	h.send(t, &dsrv1.HolderCommand{RequestId: "req-entrusted", Action: dsrv1.Action_ACTION_ERASE, Attempt: 2,
		IncludeEntrusted: []string{"co-b", "co-a"}})
	if res := h.result(t); res.GetReplayed() {
		t.Error("a command clearing entrusting companies was answered from the earlier record")
	}
	h.send(t, &dsrv1.HolderCommand{RequestId: "req-entrusted", Action: dsrv1.Action_ACTION_ERASE, Attempt: 3,
		IncludeEntrusted: []string{"co-a", "co-b"}})
	if res := h.result(t); !res.GetReplayed() {
		t.Error("the same clearance in another order ran again")
	}
	cmds := h.commands()
	if len(cmds) != 2 || !cmds[1].Includes("co-a") || !cmds[1].Includes("co-b") || cmds[1].Includes("co-c") || cmds[0].Includes("co-a") {
		t.Errorf("handler ran for %d commands: %+v", len(cmds), cmds)
	}
}

func TestCommandSealedWithAnUnknownKeyIsDeadLettered(t *testing.T) {
	h := startToy(t, 0)
	other, err := seal.ParseRing(testinfra.RingSpec(t, "elsewhere"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := other.Message(&dsrv1.Subject{Email: "hanako@example.jp"})
	if err != nil {
		t.Fatal(err)
	}
	h.send(t, &dsrv1.HolderCommand{RequestId: "req-unknown-key", Action: dsrv1.Action_ACTION_ERASE, Attempt: 1, Subject: s})
	dl := testinfra.WaitStreamMsg(t, h.js, h.ns.StreamDeadLetter(), h.ns.DeadLetter("holder-"+holderName))
	if reason := dl.Header.Get(contract.HeaderDeadReason); !strings.Contains(reason, "unknown key") {
		t.Errorf("dead-letter reason %q", reason)
	}
	if strings.Contains(string(dl.Data), "hanako") {
		t.Error("dead letter holds the subject in the clear")
	}
	if len(h.commands()) != 0 || h.effects(t) != 0 {
		t.Error("the handler ran for a command it could not read")
	}
}

// subscribe runs OnErasure for service with fn until the test ends.
func subscribe(t *testing.T, js jetstream.JetStream, ns contract.Namespace, service string, fn holderkit.ErasureFunc) {
	t.Helper()
	log := testinfra.Logger(t)
	testinfra.Go(t, func(ctx context.Context) error {
		return holderkit.OnErasure(ctx, js, ns, service, log, fn)
	})
}

func publishErasure(t *testing.T, js jetstream.JetStream, ns contract.Namespace, ev *dsrv1.ErasureCompleted) {
	t.Helper()
	if _, err := bus.Publish(context.Background(), js, ns.ErasureCompleted(), ev.GetEventId(), ev.GetRequestId(), ev); err != nil {
		t.Fatal(err)
	}
}

func receive(t *testing.T, ch <-chan *dsrv1.ErasureCompleted) *dsrv1.ErasureCompleted {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(testinfra.Timeout):
		t.Fatal("no erasure event delivered")
		return nil
	}
}

func TestOnErasureDeliversErasureCompletedEvents(t *testing.T) {
	_, js, ns := testinfra.NATS(t)
	ev := &dsrv1.ErasureCompleted{EventId: "ev-1", RequestId: "req-1", Receipt: "20261125-ABCDEF",
		SubjectPseudonyms: []string{"psn_aaaa", "psn_bbbb"}, Holders: []string{"members"}, CompletedAt: timestamppb.Now()}
	// Published before the subscriber exists: a new subscriber replays it.
	publishErasure(t, js, ns, ev)
	got := make(chan *dsrv1.ErasureCompleted, 10)
	subscribe(t, js, ns, "search-index", func(_ context.Context, e *dsrv1.ErasureCompleted) error {
		got <- e
		return nil
	})
	if e := receive(t, got); !proto.Equal(e, ev) {
		t.Errorf("received %v, want %v", e, ev)
	}
	ev2 := &dsrv1.ErasureCompleted{EventId: "ev-2", RequestId: "req-2"}
	publishErasure(t, js, ns, ev2)
	if e := receive(t, got); e.GetEventId() != "ev-2" {
		t.Errorf("second event %v", e)
	}
}

func TestOnErasureRetriesAFailedSubscriberAndDeadLettersGarbage(t *testing.T) {
	fastBackoff(t)
	_, js, ns := testinfra.NATS(t)
	ctx := context.Background()
	garbage := nats.NewMsg(ns.ErasureCompleted())
	garbage.Data = []byte("\xff\xff\xff")
	if _, err := js.PublishMsg(ctx, garbage); err != nil {
		t.Fatal(err)
	}
	publishErasure(t, js, ns, &dsrv1.ErasureCompleted{EventId: "ev-retry", RequestId: "req-retry"})

	var mu sync.Mutex
	calls := 0
	got := make(chan *dsrv1.ErasureCompleted, 10)
	subscribe(t, js, ns, "mailer", func(_ context.Context, e *dsrv1.ErasureCompleted) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return errors.New("index unavailable")
		}
		got <- e
		return nil
	})
	if e := receive(t, got); e.GetEventId() != "ev-retry" {
		t.Errorf("received %v", e)
	}
	mu.Lock()
	if calls != 2 {
		t.Errorf("subscriber called %d times, want 2 (one failure, one retry)", calls)
	}
	mu.Unlock()
	dl := testinfra.WaitStreamMsg(t, js, ns.StreamDeadLetter(), ns.DeadLetter("erasure-mailer"))
	if dl.Header.Get(contract.HeaderDeadReason) == "" || dl.Header.Get(contract.HeaderDeadSubject) != ns.ErasureCompleted() {
		t.Errorf("dead letter headers %v", dl.Header)
	}
}
