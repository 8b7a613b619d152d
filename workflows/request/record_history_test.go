package request_test

// Recording testdata/deletion_history.json, the history the replay test
// replays. It runs one deletion on a real Temporal dev server (bin/temporal,
// or TEMPORAL_ADDRESS) with an in-process worker, the default (unencrypted)
// data converter and canned activities registered under the real activity
// names, driving the person, staff and holders through the client:
//
//	MADOGUCHI_RECORD_HISTORY=1 go test -run TestRecordDeletionHistory ./request/
//
// Re-record when the workflow changes on purpose (and the change is
// versioned or no request of the old shape is still running); commit the
// file with the change.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/law/deadline"
	"madoguchi.dev/law/fee"
	"madoguchi.dev/law/kind"
	"madoguchi.dev/law/verification"
	"madoguchi.dev/platform/devinfra"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/request"
)

const deletionHistory = "testdata/deletion_history.json"

// cannedActivities stands in for *request.Activities on the recording
// worker: the same method names and signatures (a struct registers its
// methods under their names), canned answers, no I/O. Commands are handed
// to the test, which answers them as the holders would.
type cannedActivities struct {
	commands chan request.SendInput
}

func (c *cannedActivities) Prepare(_ context.Context, in request.PrepareInput) (request.Prepared, error) {
	j, k := kind.Jurisdiction(in.Jurisdiction), kind.Deletion
	d, err := deadline.Policy{}.Due(j, in.ReceivedAt)
	if err != nil {
		return request.Prepared{}, err
	}
	assessment, err := fee.Assess(k, j, false, fee.DefaultConfig())
	if err != nil {
		return request.Prepared{}, err
	}
	return request.Prepared{Settings: testSettings(), Deadlines: d, WarnAt: deadline.Policy{}.WarnAt(d), Fee: assessment,
		Plan:       request.Plan{Action: dsrv1.Action_ACTION_ERASE, Holders: []request.HolderPlan{holder("members"), holder("billing")}},
		Locate:     []request.HolderPlan{holder("members")},
		SubjectRef: "psn_subject"}, nil
}

func (c *cannedActivities) IssueVerificationCode(_ context.Context, in request.IssueInput) ([]byte, error) {
	return verification.HashCode(codes[in.Issue]), nil
}

// CodeDigest is the digest of a typed code as IssueVerificationCode made
// the issued one's.
func (c *cannedActivities) CodeDigest(_ context.Context, in request.CodeMACInput) ([]byte, error) {
	return verification.HashCode(in.Code), nil
}

func (c *cannedActivities) SendNotice(_ context.Context, in request.NoticeInput) (string, error) {
	return in.ID, nil
}

func (c *cannedActivities) SendHolderCommand(_ context.Context, in request.SendInput) error {
	c.commands <- in
	return nil
}

func (c *cannedActivities) FindRelated(context.Context, request.RelatedInput) (request.Related, error) {
	return request.Related{}, nil
}

func (c *cannedActivities) PublishErasureCompleted(_ context.Context, in request.ErasureInput) (string, error) {
	return in.RequestID + ".erasure-completed", nil
}

func (c *cannedActivities) PublishRequestConcluded(context.Context, request.ConcludedInput) error {
	return nil
}

func (c *cannedActivities) ExtendDeadline(ctx context.Context, in request.ExtendInput) (request.Extended, error) {
	return (&request.Activities{}).ExtendDeadline(ctx, in)
}

func (c *cannedActivities) AssemblePackage(_ context.Context, in request.PackageInput) (request.PackageRef, error) {
	return request.PackageRef{ID: "pkg-1", Token: "download-token-1", ExpiresAt: in.ExpiresAt}, nil
}

func (c *cannedActivities) PurgePackage(context.Context, string) error { return nil }

// repoBin finds bin/<name> in the repository root (the directory holding go.work).
func repoBin(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return filepath.Join(dir, "bin", name)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.work not found above the working directory")
		}
		dir = parent
	}
}

func TestRecordDeletionHistory(t *testing.T) {
	if os.Getenv("MADOGUCHI_RECORD_HISTORY") == "" {
		t.Skip("records " + deletionHistory + " on a Temporal dev server; run with MADOGUCHI_RECORD_HISTORY=1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := devinfra.StartTemporal(ctx, devinfra.TemporalOptions{Binary: repoBin(t, "temporal"), SearchAttributes: request.SearchAttributeTypes,
		LogFile: filepath.Join(t.TempDir(), "temporal.log")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c, err := client.Dial(client.Options{HostPort: srv.HostPort, Namespace: srv.Namespace, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := request.RegisterSearchAttributes(ctx, c, srv.Namespace); err != nil {
		t.Fatal(err)
	}

	acts := &cannedActivities{commands: make(chan request.SendInput, 16)}
	w := worker.New(c, contract.TaskQueue, worker.Options{})
	signer, keys := newStaffKey(t, "staff-record")
	w.RegisterWorkflowWithOptions(request.Workflow(keys), workflow.RegisterOptions{Name: contract.WorkflowType})
	w.RegisterActivityWithOptions(acts, activity.RegisterOptions{})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	in := submitted(dsrv1.RequestKind_REQUEST_KIND_DELETION, contract.JurisdictionJP)
	in.Receipt = fmt.Sprintf("20260601-R%d", time.Now().UnixNano()%1_000_000)
	in.SubmittedAt = timestamppb.Now()
	id := contract.WorkflowID(in.GetReceipt())
	// Started as the bridge starts it: with its first search attributes.
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: contract.TaskQueue,
		TypedSearchAttributes: request.StartSearchAttributes(in)}, contract.WorkflowType, in)
	if err != nil {
		t.Fatal(err)
	}

	// Holders answer every command DONE.
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case cmd := <-acts.commands:
				res := &dsrv1.HolderResult{CommandId: request.CommandID(cmd.RequestID, cmd.Phase+"-"+cmd.Holder, cmd.Attempt),
					RequestId: cmd.RequestID, Receipt: cmd.Receipt, Holder: cmd.Holder, Action: cmd.Action,
					Outcome: dsrv1.Outcome_OUTCOME_DONE, CompletedAt: timestamppb.Now()}
				if err := c.SignalWorkflow(ctx, id, "", contract.SignalHolderResult, res); err != nil {
					t.Errorf("signal %s: %v", res.GetCommandId(), err)
				}
			}
		}
	}()
	update := func(name string, arg any, result any) {
		t.Helper()
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: name,
			Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := h.Get(ctx, result); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	waitFor := func(what string, ok func(*dsrv1.RequestStatus) bool) {
		t.Helper()
		for ctx.Err() == nil {
			if v, err := c.QueryWorkflow(ctx, id, "", contract.QueryStatus); err == nil {
				var st dsrv1.RequestStatus
				if err := v.Get(&st); err == nil && ok(&st) {
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: not reached", what)
	}

	waitFor("code issued", func(st *dsrv1.RequestStatus) bool { return st.GetVerification().GetState() == "pending" })
	var vr dsrv1.VerifyIdentityResult
	update(contract.UpdateVerifyIdentity, &dsrv1.VerifyIdentity{Code: "000000"}, &vr)
	if vr.GetOutcome() != dsrv1.VerifyOutcome_VERIFY_OUTCOME_WRONG {
		t.Fatalf("wrong code: %v", vr.GetOutcome())
	}
	update(contract.UpdateVerifyIdentity, &dsrv1.VerifyIdentity{Code: codes[0]}, &vr)
	if vr.GetOutcome() != dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED {
		t.Fatalf("right code: %v", vr.GetOutcome())
	}
	waitFor("staff review", func(st *dsrv1.RequestStatus) bool { return st.GetStage() == string(request.StageStaffReview) })
	var ack dsrv1.ActionResult
	decision := approve()
	if err := signer.Sign(id, contract.UpdateDecide, decision.GetActor(), decision); err != nil {
		t.Fatal(err)
	}
	update(contract.UpdateDecide, decision, &ack)
	var out request.Outcome
	if err := run.Get(ctx, &out); err != nil {
		t.Fatal(err)
	}
	if out.Stage != request.StageCompleted || out.ErasureEventID == "" {
		t.Fatalf("outcome = %+v; want a completed deletion", out)
	}

	hist := &historypb.History{}
	it := c.GetWorkflowHistory(ctx, id, run.GetRunID(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(deletionHistory), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(deletionHistory, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d events of %s into %s", len(hist.Events), id, deletionHistory)
}
