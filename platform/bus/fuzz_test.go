package bus

// Fuzz tests for the consumer side of the bus: Decode on arbitrary bodies and
// headers, and Consumer.handle (ack / retry / dead-letter) on arbitrary
// messages. They run without a server: fuzzMsg is an in-memory jetstream.Msg
// and fuzzJS records dead-letter publishes, refusing what nats.go itself
// would refuse to send (bad header keys, messages over max_payload).
//
//	go test -run='^$' -fuzz=FuzzDecode -fuzztime=20s ./platform/bus/
//	go test -run='^$' -fuzz=FuzzConsumerHandle -fuzztime=20s ./platform/bus/
//
// Inputs that exposed bugs are kept in testdata/fuzz/<FuzzName>/ and run
// with every `go test`: one that breaks again fails the run.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// fuzzMsg is an in-memory jetstream.Msg that records how it was settled.
type fuzzMsg struct {
	subject string
	data    []byte
	hdr     nats.Header
	meta    *jetstream.MsgMetadata // nil: Metadata fails (not a JetStream message)

	mu                       sync.Mutex
	acks, naks, terms, other int
	nakDelay                 time.Duration
}

var _ jetstream.Msg = (*fuzzMsg)(nil)

func (m *fuzzMsg) Metadata() (*jetstream.MsgMetadata, error) {
	if m.meta == nil {
		return nil, jetstream.ErrNotJSMessage
	}
	c := *m.meta
	return &c, nil
}
func (m *fuzzMsg) Data() []byte         { return m.data }
func (m *fuzzMsg) Headers() nats.Header { return m.hdr }
func (m *fuzzMsg) Subject() string      { return m.subject }
func (m *fuzzMsg) Reply() string        { return "" }
func (m *fuzzMsg) count(p *int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	*p++
	return nil
}
func (m *fuzzMsg) Ack() error                         { return m.count(&m.acks) }
func (m *fuzzMsg) DoubleAck(context.Context) error    { return m.count(&m.acks) }
func (m *fuzzMsg) Nak() error                         { return m.count(&m.naks) }
func (m *fuzzMsg) InProgress() error                  { return m.count(&m.other) }
func (m *fuzzMsg) Term() error                        { return m.count(&m.terms) }
func (m *fuzzMsg) TermWithReason(reason string) error { return m.count(&m.terms) }
func (m *fuzzMsg) NakWithDelay(d time.Duration) error {
	m.nakDelay = d
	return m.count(&m.naks)
}

// fuzzMaxPayload is nats-server's default max_payload (1 MiB), which the
// embedded and the dev servers keep.
const fuzzMaxPayload = 1 << 20

// fuzzJS is a jetstream.JetStream whose only working method is PublishMsg;
// calling anything else panics on the nil embedded interface, which the
// fuzzer reports.
type fuzzJS struct {
	jetstream.JetStream
	fail      error // when set, every publish fails with it
	published []*nats.Msg
	refused   error // why the last publish was refused
}

func (j *fuzzJS) PublishMsg(_ context.Context, m *nats.Msg, _ ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if j.fail != nil {
		return nil, j.fail
	}
	// What nats.go's Conn.PublishMsg checks before a byte leaves the client.
	size := len(m.Data)
	if len(m.Header) > 0 {
		size += len("NATS/1.0\r\n\r\n")
		for k, vs := range m.Header {
			if !fuzzHeaderKeyValid(k) {
				j.refused = fmt.Errorf("%w (header key %q)", nats.ErrBadHeaderMsg, k)
				return nil, j.refused
			}
			for _, v := range vs {
				size += len(k) + len(strings.TrimSpace(v)) + 4
			}
		}
	}
	if size > fuzzMaxPayload {
		j.refused = fmt.Errorf("%w (%d bytes)", nats.ErrMaxPayload, size)
		return nil, j.refused
	}
	j.published = append(j.published, m)
	return &jetstream.PubAck{Stream: "DL", Sequence: uint64(len(j.published))}, nil
}

// fuzzHeaderKeyValid mirrors nats.go's isHeaderKeyValid (ADR-4: printable
// ASCII without ':', and nats.go also forbids "()/,;<=>?@[\]{}).
func fuzzHeaderKeyValid(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c < 33 || c > 126 || strings.IndexByte(`"()/,:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// decodeTargets are the contract messages consumers decode from the bus.
func decodeTargets() []proto.Message {
	return []proto.Message{&dsrv1.RequestSubmitted{}, &dsrv1.HolderCommand{}, &dsrv1.HolderResult{},
		&dsrv1.ErasureCompleted{}, &dsrv1.Sealed{}}
}

func fuzzSeedBodies(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, m := range []proto.Message{
		&dsrv1.ErasureCompleted{EventId: "r1.erasure-completed", RequestId: "r1", Receipt: "20261125-7K3M9Q",
			SubjectPseudonyms: []string{"psn_abc"}, Holders: []string{"members"}, CompletedAt: timestamppb.New(time.Unix(1764000000, 0))},
		&dsrv1.HolderCommand{CommandId: "r1.members.1", RequestId: "r1", Receipt: "20261125-7K3M9Q", Holder: "members",
			Action: dsrv1.Action_ACTION_ERASE, Attempt: 1, Subject: &dsrv1.Sealed{KeyId: "k1", Nonce: make([]byte, 12), Ciphertext: []byte("ct"), Type: "dsr.v1.Subject"}},
		&dsrv1.HolderResult{CommandId: "r1.members.1", RequestId: "r1", Receipt: "20261125-7K3M9Q", Holder: "members",
			Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: 2},
		&dsrv1.RequestSubmitted{RequestId: "r1", Receipt: "20261125-7K3M9Q", Kind: dsrv1.RequestKind_REQUEST_KIND_DELETION,
			Jurisdiction: "JP", Locale: "ja", Personal: &dsrv1.Sealed{KeyId: "k1", Type: "dsr.v1.PersonalData"}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return append(out, nil, []byte{0xff}, []byte{0x0a, 0x05, 'a'}, []byte{0x0a, 0x02, 0xc3, 0x28}, []byte("{\"receipt\":\"x\"}"))
}

// FuzzDecode: Decode never panics; it either fills the message or returns an
// error naming the wanted type; a header naming another type is always
// refused; an error never echoes the body; what it accepts round-trips.
func FuzzDecode(f *testing.F) {
	for _, b := range fuzzSeedBodies(f) {
		f.Add(b, "", false)
		for _, m := range decodeTargets() {
			f.Add(b, string(m.ProtoReflect().Descriptor().FullName()), true)
		}
		f.Add(b, "dsr.v1.Nope", true)
	}
	f.Add([]byte("山田 花子 hanako@example.jp"), "", false)
	f.Fuzz(func(t *testing.T, data []byte, typ string, setType bool) {
		hdr := nats.Header{}
		if setType {
			hdr.Set(contract.HeaderType, typ)
		}
		for _, m := range decodeTargets() {
			want := string(m.ProtoReflect().Descriptor().FullName())
			msg := &fuzzMsg{subject: "dsr.x", data: data, hdr: hdr}
			err := Decode(msg, m)
			if setType && typ != "" && typ != want && err == nil {
				t.Fatalf("Decode into %s accepted a message typed %q", want, typ)
			}
			if err != nil {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Decode error %q does not name the wanted type %s", err, want)
				}
				// Only a body with non-ASCII text can be told apart from the
				// error's own words (the type names and proto's messages).
				body := string(data)
				if len(data) >= 12 && utf8.Valid(data) && strings.IndexFunc(body, func(r rune) bool { return r > unicode.MaxASCII }) >= 0 &&
					!strings.Contains(typ, body) && strings.Contains(err.Error(), body) {
					t.Errorf("Decode error echoes the message body: %q", err)
				}
				continue
			}
			again, merr := proto.Marshal(m)
			if merr != nil {
				t.Fatalf("decoded %s does not marshal: %v", want, merr)
			}
			m2 := m.ProtoReflect().New().Interface()
			if err := Decode(&fuzzMsg{data: again, hdr: nats.Header{}}, m2); err != nil || !proto.Equal(m, m2) {
				t.Fatalf("decoded %s does not round-trip: %v", want, err)
			}
		}
	})
}

// FuzzConsumerHandle: whatever the message and whatever the handler does
// (decode the body as an ErasureCompleted and call it poison when that
// fails; panic; or fail transiently), handle settles the message exactly
// once: ack on success; dead-letter + term for poison, panics and exhausted
// deliveries; nak (retry later) for a transient failure or a dead-letter
// publish that failed. A decode failure is never retried.
func FuzzConsumerHandle(f *testing.F) {
	bodies := fuzzSeedBodies(f)
	for i, b := range bodies {
		f.Add(b, "dsr.v1.ErasureCompleted", "X-Trace", "1", "id-1", uint8(1), uint8(i%3), false)
		f.Add(b, "", "", "", "", uint8(0), uint8(0), false)
		f.Add(b, "dsr.v1.HolderResult", "X-Trace", "a\r\nb", "id-2", uint8(3), uint8(2), false)
	}
	f.Add(bodies[0], "", "", "", "", uint8(1), uint8(0), true)
	// A header key that nats-server and nats.go's reader accept (verified
	// with a raw HPUB) but that nats.go refuses to write: the dead-letter
	// copy of such a message can never be published.
	f.Add([]byte{0xff}, "", "Trace Id/x", "1", "id-3", uint8(1), uint8(0), false)
	// A large type header is echoed in the reason and copied: the dead
	// letter outgrows max_payload.
	f.Add([]byte{}, strings.Repeat("T", 600_000), "", "", "id-4", uint8(1), uint8(0), false)

	ns := contract.Namespace{Root: "dsr", StreamPrefix: "DSR"}
	c := Consumer{Namespace: ns, Stream: ns.StreamEvents(), Durable: "erasure-fuzz", Log: zerolog.Nop()}
	const maxDeliver = 3
	transient := errors.New("downstream briefly unavailable")

	f.Fuzz(func(t *testing.T, data []byte, typ, hKey, hVal, msgID string, delivered, mode uint8, dlFails bool) {
		hdr := nats.Header{}
		if typ != "" {
			hdr.Set(contract.HeaderType, typ)
		}
		if hKey != "" {
			hdr.Add(hKey, hVal)
		}
		if msgID != "" {
			hdr.Set(nats.MsgIdHdr, msgID)
		}
		msg := &fuzzMsg{subject: ns.ErasureCompleted(), data: data, hdr: hdr}
		if delivered > 0 {
			msg.meta = &jetstream.MsgMetadata{NumDelivered: uint64(delivered), Stream: ns.StreamEvents(),
				Sequence: jetstream.SequencePair{Stream: 42, Consumer: uint64(delivered)}}
		}
		js := &fuzzJS{}
		if dlFails {
			js.fail = errors.New("nats: timeout")
		}
		decoded := false
		var h Handler
		switch mode % 3 {
		case 0:
			h = func(_ context.Context, m jetstream.Msg) error {
				var ev dsrv1.ErasureCompleted
				if err := Decode(m, &ev); err != nil {
					return Poison("%v", err)
				}
				decoded = true
				return nil
			}
		case 1:
			h = func(context.Context, jetstream.Msg) error { panic("boom") }
		default:
			h = func(context.Context, jetstream.Msg) error { return transient }
		}

		c.handle(context.Background(), js, msg, h, maxDeliver)

		settled := msg.acks + msg.naks + msg.terms
		if settled != 1 || msg.other != 0 {
			t.Fatalf("message settled %d times (ack %d, nak %d, term %d), want exactly once", settled, msg.acks, msg.naks, msg.terms)
		}
		exhausted := delivered >= maxDeliver
		deadLetter := (mode%3 == 0 && !decoded) || mode%3 == 1 || (mode%3 == 2 && exhausted)
		switch {
		case mode%3 == 0 && decoded:
			if msg.acks != 1 || len(js.published) != 0 {
				t.Fatalf("decodable message: ack %d, dead letters %d; want ack only", msg.acks, len(js.published))
			}
		case deadLetter && dlFails:
			if msg.naks != 1 {
				t.Fatalf("dead-letter publish failed but the message was not kept for redelivery (nak %d, term %d)", msg.naks, msg.terms)
			}
		case deadLetter:
			if msg.terms != 1 || len(js.published) != 1 {
				t.Fatalf("poison message: term %d, nak %d, dead letters %d (publish refused: %v); want dead-lettered and terminated", msg.terms, msg.naks, len(js.published), js.refused)
			}
			dl := js.published[0]
			if dl.Subject != ns.DeadLetter(c.Durable) {
				t.Errorf("dead letter on %q, want %q", dl.Subject, ns.DeadLetter(c.Durable))
			}
			if !bytes.Equal(dl.Data, data) {
				t.Errorf("dead letter body differs from the message")
			}
			if dl.Header.Get(contract.HeaderDeadReason) == "" || dl.Header.Get(contract.HeaderDeadSubject) != msg.subject ||
				dl.Header.Get(contract.HeaderDeadSource) != c.Durable {
				t.Errorf("dead letter headers = %v", dl.Header)
			}
			if dl.Header.Get(nats.MsgIdHdr) != "" {
				t.Errorf("dead letter keeps the original Nats-Msg-Id %q: a second poison message with the same id would be deduplicated away", dl.Header.Get(nats.MsgIdHdr))
			}
			if mode%3 == 0 && !strings.Contains(dl.Header.Get(contract.HeaderDeadReason), "poison") {
				t.Errorf("dead-letter reason %q does not say why", dl.Header.Get(contract.HeaderDeadReason))
			}
		default: // transient failure, deliveries left
			if msg.naks != 1 || len(js.published) != 0 {
				t.Fatalf("transient failure: nak %d, dead letters %d; want a retry", msg.naks, len(js.published))
			}
		}
	})
}
