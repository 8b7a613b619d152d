package request_test

// Replay: the workflow code must still produce, command for command, the
// history a real server recorded for a complete deletion (wrong code, right
// code, locate round, signed staff approval, fan-out to two holders,
// completion notice, erasure event). A change that would break running
// requests fails here; see record_history_test.go to re-record after a
// deliberate change.

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/request"
)

func quietLogger() log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// historyBeforeConclusionEvent was recorded before the RequestConcluded
// announcement (ChangeAnnounceConclusion): requests that started then must
// still replay, and skip the announcement.
const historyBeforeConclusionEvent = "testdata/deletion_history_before_conclusion_event.json"

// historyBeforeRoundTimer was recorded before fan-out v2
// (ChangeFanOutRoundTimer): requests that started then must still replay
// the first fan-out, a command after another and a timer per holder.
const historyBeforeRoundTimer = "testdata/deletion_history_before_round_timer.json"

// historyBeforeCoalescedAttributes was recorded before
// ChangeCoalesceSearchAttributes: requests that started then must still
// replay an upsert per change, and their own first attributes.
const historyBeforeCoalescedAttributes = "testdata/deletion_history_before_coalesced_attributes.json"

// historyBeforeBundle was recorded before ChangeBundle202612, with a
// marker for each change: requests that started then must still replay,
// asking for each change where they did.
const historyBeforeBundle = "testdata/deletion_history_before_bundle.json"

// historyBeforeStaffSignatures was recorded before staff actions were
// signed (and before ChangeIdentity202612): its Decide carries an actor and
// no signature, which must replay as recorded.
const historyBeforeStaffSignatures = "testdata/deletion_history_before_staff_signatures.json"

func replay(t *testing.T, fn any) error {
	t.Helper()
	return replayFile(t, fn, deletionHistory)
}

func replayFile(t *testing.T, fn any, file string) error {
	t.Helper()
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("%v: record it with MADOGUCHI_RECORD_HISTORY=1 go test -run TestRecordDeletionHistory", err)
	}
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: contract.WorkflowType})
	return replayer.ReplayWorkflowHistoryFromJSONFile(quietLogger(), file)
}

func TestRecordedDeletionHistoryReplaysWithTheCurrentWorkflow(t *testing.T) {
	if err := replay(t, request.DataSubjectRequest); err != nil {
		t.Fatalf("the current workflow no longer replays a recorded deletion: %v", err)
	}
}

func TestHistoryFromBeforeTheConclusionEventStillReplays(t *testing.T) {
	if err := replayFile(t, request.DataSubjectRequest, historyBeforeConclusionEvent); err != nil {
		t.Fatalf("a request started before the conclusion event no longer replays: %v", err)
	}
}

func TestHistoryFromBeforeTheRoundTimerStillReplays(t *testing.T) {
	if err := replayFile(t, request.DataSubjectRequest, historyBeforeRoundTimer); err != nil {
		t.Fatalf("a request started before the per-round SLA timer no longer replays: %v", err)
	}
}

func TestHistoryFromBeforeCoalescedSearchAttributesStillReplays(t *testing.T) {
	if err := replayFile(t, request.DataSubjectRequest, historyBeforeCoalescedAttributes); err != nil {
		t.Fatalf("a request started before coalesced search attributes no longer replays: %v", err)
	}
}

func TestHistoryFromBeforeTheBundledChangeStillReplays(t *testing.T) {
	if err := replayFile(t, request.DataSubjectRequest, historyBeforeBundle); err != nil {
		t.Fatalf("a request started before the bundled change no longer replays: %v", err)
	}
}

func TestHistoryFromBeforeStaffSignaturesStillReplays(t *testing.T) {
	if err := replayFile(t, request.DataSubjectRequest, historyBeforeStaffSignatures); err != nil {
		t.Fatalf("a request whose staff decision was accepted unsigned no longer replays: %v", err)
	}
}

// The replay test can fail: a workflow that does one thing differently (a
// one-second pause before it starts, as a careless "fix" might add) is
// nondeterministic against the recorded history.
func TestReplayDetectsAChangedWorkflow(t *testing.T) {
	changed := func(ctx workflow.Context, in *dsrv1.RequestSubmitted) (*request.Outcome, error) {
		if err := workflow.Sleep(ctx, time.Second); err != nil {
			return nil, err
		}
		return request.DataSubjectRequest(ctx, in)
	}
	err := replay(t, changed)
	if err == nil {
		t.Fatal("a changed workflow replayed the recorded history without error: the replay test cannot fail")
	}
	// TMPRL1100 is the SDK's code for every nondeterminism error.
	if msg := err.Error(); !strings.Contains(msg, "TMPRL1100") && !strings.Contains(strings.ToLower(msg), "nondetermin") {
		t.Errorf("replay error = %v; want a nondeterminism error (TMPRL1100)", err)
	}
}
