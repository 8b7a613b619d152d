package holderkit_test

// Fuzz tests for what a holder decodes from the bus: HolderCommand via
// Holder.Handle, and ErasureCompleted via OnErasure (the whole consumer loop,
// on an in-memory JetStream). Property: no panic; an undecodable or invalid
// message is a bus.PoisonError (dead-lettered at once, never retried); a
// valid command is carried out once and its result reported (again, marked
// replayed, on redelivery).
//
//	go test -run='^$' -fuzz=FuzzHandle -fuzztime=20s ./services/holderkit/
//	go test -run='^$' -fuzz=FuzzOnErasure -fuzztime=20s ./services/holderkit/
//
// FuzzHandle uses a real PostgreSQL database (created once per fuzzing
// process; the holder's table lives there) and an in-memory JetStream that
// records the published results. The key ring is fixed (test-only keys) so
// that committed seeds can carry envelopes that open.
//
// Inputs that exposed bugs are kept in testdata/fuzz/<FuzzName>/ and run
// with every `go test`: one that breaks again fails the run.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
)

// fuzzMsg is an in-memory jetstream.Msg that records how it was settled.
type fuzzMsg struct {
	subject string
	data    []byte
	hdr     nats.Header

	mu                sync.Mutex
	acks, naks, terms int
}

var _ jetstream.Msg = (*fuzzMsg)(nil)

func (m *fuzzMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{NumDelivered: 1, Stream: "T_EVENTS", Sequence: jetstream.SequencePair{Stream: 7, Consumer: 1}}, nil
}
func (m *fuzzMsg) Data() []byte         { return m.data }
func (m *fuzzMsg) Headers() nats.Header { return m.hdr }
func (m *fuzzMsg) Subject() string      { return m.subject }
func (m *fuzzMsg) Reply() string        { return "" }
func (m *fuzzMsg) bump(p *int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	*p++
	return nil
}
func (m *fuzzMsg) Ack() error                       { return m.bump(&m.acks) }
func (m *fuzzMsg) DoubleAck(context.Context) error  { return m.bump(&m.acks) }
func (m *fuzzMsg) Nak() error                       { return m.bump(&m.naks) }
func (m *fuzzMsg) NakWithDelay(time.Duration) error { return m.bump(&m.naks) }
func (m *fuzzMsg) InProgress() error                { return nil }
func (m *fuzzMsg) Term() error                      { return m.bump(&m.terms) }
func (m *fuzzMsg) TermWithReason(string) error      { return m.bump(&m.terms) }

func (m *fuzzMsg) settled() (acks, naks, terms int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.acks, m.naks, m.terms
}

func newMsg(subject string, data []byte, typ string) *fuzzMsg {
	h := nats.Header{}
	if typ != "" {
		h.Set(contract.HeaderType, typ)
	}
	return &fuzzMsg{subject: subject, data: data, hdr: h}
}

// fuzzJS is an in-memory jetstream.JetStream: PublishMsg records, and
// CreateOrUpdateConsumer returns a consumer that delivers the queued
// messages once. Anything else panics on the nil embedded interface.
type fuzzJS struct {
	jetstream.JetStream
	mu        sync.Mutex
	published []*nats.Msg
	queue     []jetstream.Msg
}

func (j *fuzzJS) PublishMsg(_ context.Context, m *nats.Msg, _ ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.published = append(j.published, m)
	return &jetstream.PubAck{Stream: "T", Sequence: uint64(len(j.published))}, nil
}

func (j *fuzzJS) take() []*nats.Msg {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := j.published
	j.published = nil
	return out
}

func (j *fuzzJS) CreateOrUpdateConsumer(_ context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	return &fuzzConsumer{info: &jetstream.ConsumerInfo{Stream: stream, Name: cfg.Durable, Config: cfg}, msgs: j.queue}, nil
}

type fuzzConsumer struct {
	jetstream.Consumer
	info *jetstream.ConsumerInfo
	msgs []jetstream.Msg
}

func (c *fuzzConsumer) CachedInfo() *jetstream.ConsumerInfo                   { return c.info }
func (c *fuzzConsumer) Info(context.Context) (*jetstream.ConsumerInfo, error) { return c.info, nil }
func (c *fuzzConsumer) Messages(...jetstream.PullMessagesOpt) (jetstream.MessagesContext, error) {
	return &fuzzIter{msgs: c.msgs}, nil
}

type fuzzIter struct {
	mu   sync.Mutex
	msgs []jetstream.Msg
}

func (it *fuzzIter) Next(...jetstream.NextOpt) (jetstream.Msg, error) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if len(it.msgs) == 0 {
		return nil, jetstream.ErrMsgIteratorClosed
	}
	m := it.msgs[0]
	it.msgs = it.msgs[1:]
	return m, nil
}
func (it *fuzzIter) Stop()  {}
func (it *fuzzIter) Drain() {}

// fuzzRing: fixed test-only keys, "fz2" active and "fz1" older.
func fuzzRing(tb testing.TB) *seal.Ring {
	tb.Helper()
	r, err := seal.NewRing("fz2", map[string][]byte{"fz2": bytes.Repeat([]byte{0x42}, 32), "fz1": bytes.Repeat([]byte{0x17}, 32)})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func isPoison(err error) bool {
	var p *bus.PoisonError
	return errors.As(err, &p)
}

const fuzzHolder = "toy"

// fuzzHolderCalls counts handler runs per (request, action key).
type fuzzHolderCalls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *fuzzHolderCalls) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

func callKey(cmd *dsrv1.HolderCommand) string {
	inc := slices.Clone(cmd.GetIncludeEntrusted())
	slices.Sort(inc)
	return cmd.GetRequestId() + "|" + cmd.GetAction().String() + "|" + strings.Join(inc, ",")
}

func fuzzCommandSeeds(tb testing.TB, r *seal.Ring) [][]byte {
	tb.Helper()
	subject, err := r.Message(&dsrv1.Subject{Name: "山田 花子", Email: "hanako@example.jp", MemberId: "M-1001"})
	if err != nil {
		tb.Fatal(err)
	}
	corr, err := r.Message(&dsrv1.Corrections{Values: map[string]string{"address": "東京都千代田区"}})
	if err != nil {
		tb.Fatal(err)
	}
	base := &dsrv1.HolderCommand{CommandId: "seed-1.toy.1", RequestId: "seed-1", Receipt: "20261125-7K3M9Q", Holder: fuzzHolder,
		Action: dsrv1.Action_ACTION_ERASE, Attempt: 1, IssuedAt: timestamppb.New(time.Unix(1764000000, 0)), Subject: subject}
	variants := []func(c *dsrv1.HolderCommand){
		func(c *dsrv1.HolderCommand) {},
		func(c *dsrv1.HolderCommand) { c.Action, c.Corrections = dsrv1.Action_ACTION_CORRECT, corr },
		func(c *dsrv1.HolderCommand) { c.Action = dsrv1.Action_ACTION_EXPORT },
		func(c *dsrv1.HolderCommand) { c.Action = dsrv1.Action_ACTION_SUSPEND }, // not implemented: FAILED
		func(c *dsrv1.HolderCommand) { c.Action = 99 },
		func(c *dsrv1.HolderCommand) { c.IncludeEntrusted = []string{"facility-kanda", "a"} },
		func(c *dsrv1.HolderCommand) { c.Holder = "members" },
		func(c *dsrv1.HolderCommand) { c.Subject = nil },
		func(c *dsrv1.HolderCommand) { c.Subject = corr },
		func(c *dsrv1.HolderCommand) { c.Corrections = subject },
		func(c *dsrv1.HolderCommand) {
			c.Subject = proto.Clone(subject).(*dsrv1.Sealed)
			c.Subject.KeyId = "gone"
		},
		func(c *dsrv1.HolderCommand) { c.RequestId = "" },
		// A NUL in an id: valid UTF-8 for protobuf, refused by PostgreSQL text.
		func(c *dsrv1.HolderCommand) { c.RequestId = "seed\x00" },
		func(c *dsrv1.HolderCommand) { c.CommandId = "seed-nul\x00" },
		func(c *dsrv1.HolderCommand) { c.IncludeEntrusted = []string{"x\x00"} },
		// Keys longer than a btree index entry may be.
		func(c *dsrv1.HolderCommand) { c.RequestId = incompressible(4000) },
	}
	var out [][]byte
	for i, v := range variants {
		c := proto.Clone(base).(*dsrv1.HolderCommand)
		c.RequestId = fmt.Sprintf("seed-%d", i)
		c.CommandId = c.RequestId + ".toy.1"
		v(c)
		b, err := proto.Marshal(c)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// incompressible returns n deterministic base64 characters that PostgreSQL
// cannot compress (a SHA-256 chain).
func incompressible(n int) string {
	var b strings.Builder
	sum := sha256.Sum256([]byte("seed"))
	for b.Len() < n {
		b.WriteString(base64.RawURLEncoding.EncodeToString(sum[:]))
		sum = sha256.Sum256(sum[:])
	}
	return b.String()[:n]
}

// FuzzHandle: any message handed to Holder.Handle.
func FuzzHandle(f *testing.F) {
	ring := fuzzRing(f)
	for _, b := range fuzzCommandSeeds(f, ring) {
		f.Add(b, "dsr.v1.HolderCommand")
	}
	f.Add(fuzzCommandSeeds(f, ring)[0], "")
	f.Add(fuzzCommandSeeds(f, ring)[0], "dsr.v1.HolderResult")
	f.Add([]byte{0xff}, "")
	f.Add([]byte{}, "")

	pool := testinfra.Pool(f, "t_hkfuzz")
	ns := contract.Namespace{Root: "t", StreamPrefix: "T"}
	js := &fuzzJS{}
	calls := &fuzzHolderCalls{n: map[string]int{}}
	handler := func(outcome dsrv1.Outcome, export bool) holderkit.HandlerFunc {
		return func(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
			if cmd.Subject == nil {
				return holderkit.Result{}, errors.New("handler got no subject")
			}
			pc := &dsrv1.HolderCommand{RequestId: cmd.RequestID, Action: cmd.Action, IncludeEntrusted: cmd.IncludeEntrusted}
			calls.mu.Lock()
			calls.n[callKey(pc)]++
			calls.mu.Unlock()
			r := holderkit.Result{Outcome: outcome, RecordsAffected: len(cmd.Corrections)}
			if export {
				r.Export = []byte(`{"email":"` + cmd.Subject.GetEmail() + `"}`)
			}
			return r, nil
		}
	}
	h := &holderkit.Holder{Name: fuzzHolder, Namespace: ns, JS: js, Pool: pool, Ring: ring, Log: zerolog.Nop(),
		Actions: map[dsrv1.Action]holderkit.HandlerFunc{
			dsrv1.Action_ACTION_ERASE:   handler(dsrv1.Outcome_OUTCOME_DONE, false),
			dsrv1.Action_ACTION_CORRECT: handler(dsrv1.Outcome_OUTCOME_DONE, false),
			dsrv1.Action_ACTION_EXPORT:  handler(dsrv1.Outcome_OUTCOME_DONE, true),
			dsrv1.Action_ACTION_LOCATE:  handler(dsrv1.Outcome_OUTCOME_NOT_FOUND, false),
		}}
	ctx, cancel := context.WithTimeout(context.Background(), testinfra.Timeout)
	defer cancel()
	if err := h.Migrate(ctx); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, data []byte, typ string) {
		js.take()
		ctx := context.Background()
		var pc dsrv1.HolderCommand
		decodes := proto.Unmarshal(data, &pc) == nil && (typ == "" || typ == "dsr.v1.HolderCommand")
		key := callKey(&pc)
		before := calls.get(key)

		err := h.Handle(ctx, newMsg(ns.Command(fuzzHolder, "x"), data, typ))
		pub := js.take()
		switch {
		case isPoison(err):
			if len(pub) != 0 || calls.get(key) != before {
				t.Fatalf("poison command (%v) was acted on: %d results, handler calls %d→%d", err, len(pub), before, calls.get(key))
			}
			return
		case err != nil:
			t.Fatalf("Handle returned a retryable error with a healthy database: %v", err)
		}
		if !decodes || pc.GetHolder() != fuzzHolder || pc.GetRequestId() == "" || pc.GetCommandId() == "" || pc.GetAction() == 0 {
			t.Fatalf("Handle accepted an invalid command (decodes %v, holder %q)", decodes, pc.GetHolder())
		}
		res := checkResult(t, ring, ns, pub, &pc)
		after := calls.get(key)
		if after > before+1 {
			t.Fatalf("handler ran %d times for one command", after-before)
		}
		// Redelivery: answered from the processed table, the effect not repeated.
		if err := h.Handle(ctx, newMsg(ns.Command(fuzzHolder, "x"), data, typ)); err != nil {
			t.Fatalf("redelivered command: %v", err)
		}
		again := checkResult(t, ring, ns, js.take(), &pc)
		if !again.GetReplayed() || calls.get(key) != after || again.GetOutcome() != res.GetOutcome() {
			t.Fatalf("redelivery: replayed %v, handler calls %d→%d, outcome %v→%v", again.GetReplayed(), after, calls.get(key), res.GetOutcome(), again.GetOutcome())
		}
	})
}

func checkResult(t *testing.T, ring *seal.Ring, ns contract.Namespace, pub []*nats.Msg, pc *dsrv1.HolderCommand) *dsrv1.HolderResult {
	t.Helper()
	if len(pub) != 1 || pub[0].Subject != ns.Result(fuzzHolder) {
		t.Fatalf("published %d messages for one command, want one result on %s", len(pub), ns.Result(fuzzHolder))
	}
	var res dsrv1.HolderResult
	if err := proto.Unmarshal(pub[0].Data, &res); err != nil {
		t.Fatalf("published result does not decode: %v", err)
	}
	if res.GetCommandId() != pc.GetCommandId() || res.GetRequestId() != pc.GetRequestId() || res.GetHolder() != fuzzHolder ||
		res.GetOutcome() == dsrv1.Outcome_OUTCOME_UNSPECIFIED {
		t.Fatalf("result %v does not answer command %s", &res, pc.GetCommandId())
	}
	if res.GetExport() != nil {
		var ex dsrv1.Export
		if err := ring.OpenMessageFor(res.GetExport(), &ex, contract.ExportScope(res.GetRequestId(), res.GetHolder())); err != nil {
			t.Fatalf("export does not open: %v", err)
		}
	}
	return &res
}

// FuzzOnErasure runs OnErasure's consumer over one arbitrary message: a
// decodable ErasureCompleted reaches the subscriber (acked, or retried when
// the subscriber fails); anything else is dead-lettered and terminated
// without reaching it.
func FuzzOnErasure(f *testing.F) {
	ev := &dsrv1.ErasureCompleted{EventId: "r1.erasure-completed", RequestId: "r1", Receipt: "20261125-7K3M9Q",
		SubjectPseudonyms: []string{"psn_0123"}, Holders: []string{"members", "billing"}, CompletedAt: timestamppb.Now()}
	b, _ := proto.Marshal(ev)
	f.Add(b, "dsr.v1.ErasureCompleted", false)
	f.Add(b, "", true)
	f.Add(b, "dsr.v1.HolderCommand", false)
	f.Add([]byte{0x22, 0x02, 0xc3, 0x28}, "", false) // invalid UTF-8 in a string
	f.Add([]byte{0x08}, "", false)
	f.Add([]byte{}, "", false)
	ns := contract.Namespace{Root: "t", StreamPrefix: "T"}

	f.Fuzz(func(t *testing.T, data []byte, typ string, subscriberFails bool) {
		msg := newMsg(ns.ErasureCompleted(), data, typ)
		js := &fuzzJS{queue: []jetstream.Msg{msg}}
		var got []*dsrv1.ErasureCompleted
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		err := holderkit.OnErasure(ctx, js, ns, "fuzz", zerolog.Nop(), func(_ context.Context, e *dsrv1.ErasureCompleted) error {
			got = append(got, e)
			if subscriberFails {
				return errors.New("index briefly unavailable")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("OnErasure: %v", err)
		}
		var want dsrv1.ErasureCompleted
		decodes := proto.Unmarshal(data, &want) == nil && (typ == "" || typ == "dsr.v1.ErasureCompleted")
		acks, naks, terms := msg.settled()
		pub := js.take()
		if acks+naks+terms != 1 {
			t.Fatalf("message settled %d times (ack %d, nak %d, term %d)", acks+naks+terms, acks, naks, terms)
		}
		switch {
		case decodes:
			if len(got) != 1 || !proto.Equal(got[0], &want) {
				t.Fatalf("subscriber got %v, want the event", got)
			}
			if subscriberFails && naks != 1 || !subscriberFails && acks != 1 {
				t.Fatalf("decodable event: ack %d nak %d term %d (subscriber fails %v)", acks, naks, terms, subscriberFails)
			}
			if len(pub) != 0 {
				t.Fatalf("decodable event was dead-lettered")
			}
		default:
			if len(got) != 0 {
				t.Fatalf("undecodable message reached the subscriber")
			}
			if terms != 1 || len(pub) != 1 || pub[0].Subject != ns.DeadLetter("erasure-fuzz") ||
				!strings.Contains(pub[0].Header.Get(contract.HeaderDeadReason), "poison") {
				t.Fatalf("undecodable message: term %d, dead letters %d; want dead-lettered as poison", terms, len(pub))
			}
		}
	})
}
