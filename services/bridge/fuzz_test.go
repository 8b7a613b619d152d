package bridge_test

// Fuzz tests for the bridge's two consumers, Dispatch (RequestSubmitted →
// workflow start) and DeliverResult (HolderResult → signal), on arbitrary
// message bodies and type headers. The property: no panic, and every input
// ends as success or a bus.PoisonError (dead-letter at once) — never a
// retryable error for a message that can never succeed, which would be
// redelivered up to MaxDeliver times before anyone sees it.
//
//	go test -run='^$' -fuzz=FuzzDispatch -fuzztime=20s ./services/bridge/
//	go test -run='^$' -fuzz=FuzzDeliverResult -fuzztime=20s ./services/bridge/
//
// Temporal is replaced by fuzzTemporal, which answers as the Temporal
// frontend does for what matters here (checked against bin/temporal's dev
// server): a start with a workflow id over 1000 bytes is InvalidArgument
// ("WorkflowId length exceeds limit."), a second start is
// WorkflowExecutionAlreadyStarted, a signal to an unknown id is NotFound.
//
// Inputs that exposed bugs are kept in testdata/fuzz/<FuzzName>/ and run
// with every `go test`: one that breaks again fails the run.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/bridge"
)

// fuzzMsg is an in-memory jetstream.Msg (body and headers are all a decoder sees).
type fuzzMsg struct {
	data []byte
	hdr  nats.Header
}

var _ jetstream.Msg = (*fuzzMsg)(nil)

func (m *fuzzMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{NumDelivered: 1, Stream: "DSR_X"}, nil
}
func (m *fuzzMsg) Data() []byte                    { return m.data }
func (m *fuzzMsg) Headers() nats.Header            { return m.hdr }
func (m *fuzzMsg) Subject() string                 { return "dsr.x" }
func (m *fuzzMsg) Reply() string                   { return "" }
func (m *fuzzMsg) Ack() error                      { return nil }
func (m *fuzzMsg) DoubleAck(context.Context) error { return nil }
func (m *fuzzMsg) Nak() error                      { return nil }
func (m *fuzzMsg) NakWithDelay(time.Duration) error {
	return nil
}
func (m *fuzzMsg) InProgress() error           { return nil }
func (m *fuzzMsg) Term() error                 { return nil }
func (m *fuzzMsg) TermWithReason(string) error { return nil }

func newMsg(data []byte, typ string) *fuzzMsg {
	h := nats.Header{}
	if typ != "" {
		h.Set(contract.HeaderType, typ)
	}
	return &fuzzMsg{data: data, hdr: h}
}

// temporalMaxIDLength is the frontend's default limit.maxIDLength.
const temporalMaxIDLength = 1000

// fuzzTemporal is a client.Client that only starts and signals workflows;
// any other call panics on the nil embedded interface.
type fuzzTemporal struct {
	client.Client
	running  map[string]bool
	starts   []client.StartWorkflowOptions
	args     []any
	signals  []string
	signaled []any
}

func (c *fuzzTemporal) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	if len(o.ID) > temporalMaxIDLength {
		return nil, serviceerror.NewInvalidArgument("WorkflowId length exceeds limit.")
	}
	if c.running[o.ID] {
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("Workflow execution is already running", "", "run-1")
	}
	if wf != contract.WorkflowType {
		return nil, fmt.Errorf("unexpected workflow type %v", wf)
	}
	c.running[o.ID] = true
	c.starts = append(c.starts, o)
	c.args = append(c.args, args...)
	return nil, nil
}

func (c *fuzzTemporal) SignalWorkflow(_ context.Context, id, runID, name string, arg any) error {
	if !c.running[id] {
		return serviceerror.NewNotFound("workflow not found for ID: " + id)
	}
	c.signals = append(c.signals, id+"|"+name)
	c.signaled = append(c.signaled, arg)
	return nil
}

func newBridge() (*bridge.Bridge, *fuzzTemporal) {
	tc := &fuzzTemporal{running: map[string]bool{}}
	return &bridge.Bridge{Temporal: tc, Namespace: contract.Default, Log: zerolog.Nop()}, tc
}

func isPoison(err error) bool {
	var p *bus.PoisonError
	return errors.As(err, &p)
}

func marshal(tb testing.TB, m proto.Message) []byte {
	tb.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

const (
	typeSubmitted = "dsr.v1.RequestSubmitted"
	typeResult    = "dsr.v1.HolderResult"
)

// FuzzDispatch: a RequestSubmitted that decodes and names a request id,
// receipt, kind and personal data starts exactly one workflow dsr-<receipt>
// with the event as its input (a redelivery is acknowledged without a second
// start); anything else is poison and starts nothing.
func FuzzDispatch(f *testing.F) {
	good := &dsrv1.RequestSubmitted{RequestId: "0193a5b2-0000-7000-8000-000000000001", Receipt: "20261125-7K3M9Q",
		Kind: dsrv1.RequestKind_REQUEST_KIND_DELETION, Jurisdiction: "JP", Locale: "ja", SubmittedAt: timestamppb.New(time.Unix(1764000000, 0)),
		Personal: &dsrv1.Sealed{KeyId: "k1", Nonce: make([]byte, 12), Ciphertext: []byte("ciphertext"), Type: "dsr.v1.PersonalData"}}
	f.Add(marshal(f, good), typeSubmitted)
	f.Add(marshal(f, good), "")
	f.Add(marshal(f, good), typeResult)
	noPersonal := proto.Clone(good).(*dsrv1.RequestSubmitted)
	noPersonal.Personal = nil
	f.Add(marshal(f, noPersonal), typeSubmitted)
	odd := proto.Clone(good).(*dsrv1.RequestSubmitted)
	odd.Kind, odd.Receipt = 999, "x"
	f.Add(marshal(f, odd), typeSubmitted)
	// A receipt Temporal refuses as a workflow id: permanently failing.
	long := proto.Clone(good).(*dsrv1.RequestSubmitted)
	long.Receipt = strings.Repeat("R", temporalMaxIDLength)
	f.Add(marshal(f, long), typeSubmitted)
	f.Add(marshal(f, &dsrv1.HolderResult{Receipt: "20261125-7K3M9Q", Holder: "members", Outcome: dsrv1.Outcome_OUTCOME_DONE}), "")
	f.Add([]byte{0xff, 0xff}, typeSubmitted)
	f.Add([]byte{}, "")

	f.Fuzz(func(t *testing.T, data []byte, typ string) {
		b, tc := newBridge()
		ctx := context.Background()
		err := b.Dispatch(ctx, newMsg(data, typ))

		var ev dsrv1.RequestSubmitted
		decodes := proto.Unmarshal(data, &ev) == nil && (typ == "" || typ == typeSubmitted)
		// Complete = every field present and in the shape the intake produces.
		complete := decodes && receiptRE.MatchString(ev.GetReceipt()) && idRE.MatchString(ev.GetRequestId()) &&
			ev.GetKind() != 0 && ev.GetPersonal() != nil
		switch {
		case err == nil:
			if !complete {
				t.Fatalf("Dispatch accepted an incomplete or undecodable event (decodes %v)", decodes)
			}
			if len(tc.starts) != 1 {
				t.Fatalf("Dispatch returned nil after %d workflow starts", len(tc.starts))
			}
			o := tc.starts[0]
			if o.ID != contract.WorkflowID(ev.GetReceipt()) || o.TaskQueue != contract.TaskQueue ||
				o.WorkflowIDReusePolicy != enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE {
				t.Fatalf("start options = %+v", o)
			}
			in, ok := tc.args[0].(*dsrv1.RequestSubmitted)
			if !ok || !proto.Equal(in, &ev) {
				t.Fatalf("workflow input = %v, want the event", tc.args[0])
			}
			for k := range o.Memo {
				if k != "receipt" && k != "kind" && k != "jurisdiction" && k != "request_id" {
					t.Errorf("memo carries %q", k)
				}
			}
			// The same event again (redelivery): acknowledged, nothing new started.
			if err := b.Dispatch(ctx, newMsg(data, typ)); err != nil || len(tc.starts) != 1 {
				t.Fatalf("redelivery: err %v, starts %d; want nil and still one", err, len(tc.starts))
			}
		case isPoison(err):
			if complete && len(contract.WorkflowID(ev.GetReceipt())) <= temporalMaxIDLength {
				t.Fatalf("complete event refused as poison: %v", err)
			}
			if len(tc.starts) != 0 {
				t.Fatalf("poison event started %d workflows", len(tc.starts))
			}
		default:
			t.Fatalf("Dispatch returned a retryable error for an input that can never succeed: %v", err)
		}
	})
}

// FuzzDeliverResult: a HolderResult that decodes and names a receipt, holder
// and outcome is signalled to dsr-<receipt> when that workflow runs, and is
// poison (dead-lettered for staff) when it does not; anything else is poison
// and signals nothing.
func FuzzDeliverResult(f *testing.F) {
	good := &dsrv1.HolderResult{CommandId: "r1.members.1", RequestId: "r1", Receipt: "20261125-7K3M9Q", Holder: "members",
		Action: dsrv1.Action_ACTION_ERASE, Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: 3, CompletedAt: timestamppb.New(time.Unix(1764000000, 0)),
		Entrusted: []*dsrv1.EntrustedRecord{{CompanyId: "facility-kanda", RecordCount: 1}}}
	f.Add(marshal(f, good), typeResult, true)
	f.Add(marshal(f, good), "", false)
	f.Add(marshal(f, good), typeSubmitted, true)
	weird := proto.Clone(good).(*dsrv1.HolderResult)
	weird.Outcome, weird.CompletedAt = 77, &timestamppb.Timestamp{Seconds: -1 << 62, Nanos: -5}
	f.Add(marshal(f, weird), typeResult, true)
	noHolder := proto.Clone(good).(*dsrv1.HolderResult)
	noHolder.Holder = ""
	f.Add(marshal(f, noHolder), typeResult, true)
	f.Add(marshal(f, &dsrv1.RequestSubmitted{RequestId: "r1", Receipt: "20261125-7K3M9Q"}), "", true)
	f.Add([]byte{0x1a, 0x01}, typeResult, true)
	f.Add([]byte{}, "", false)

	f.Fuzz(func(t *testing.T, data []byte, typ string, running bool) {
		b, tc := newBridge()
		var res dsrv1.HolderResult
		decodes := proto.Unmarshal(data, &res) == nil && (typ == "" || typ == typeResult)
		id := contract.WorkflowID(res.GetReceipt())
		if running && decodes {
			tc.running[id] = true
		}
		err := b.DeliverResult(context.Background(), newMsg(data, typ))
		complete := decodes && receiptRE.MatchString(res.GetReceipt()) && holderRE.MatchString(res.GetHolder()) && res.GetOutcome() != 0
		switch {
		case err == nil:
			if !complete || !running {
				t.Fatalf("DeliverResult accepted (complete %v, workflow running %v)", complete, running)
			}
			if len(tc.signals) != 1 || tc.signals[0] != id+"|"+contract.SignalHolderResult {
				t.Fatalf("signals = %v", tc.signals)
			}
			if got, ok := tc.signaled[0].(*dsrv1.HolderResult); !ok || !proto.Equal(got, &res) {
				t.Fatalf("signalled %v, want the result", tc.signaled[0])
			}
		case isPoison(err):
			if complete && running {
				t.Fatalf("deliverable result refused as poison: %v", err)
			}
			if len(tc.signals) != 0 {
				t.Fatalf("poison result was signalled")
			}
		default:
			t.Fatalf("DeliverResult returned a retryable error for an input that can never succeed: %v", err)
		}
	})
}

// The shapes Dispatch and DeliverResult accept (kept in step with bridge.go).
var (
	receiptRE = regexp.MustCompile(`^[0-9]{8}-[0-9A-Z]{6}$`)
	idRE      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	holderRE  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)
)
