package request_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/workflow"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/request"
)

// A deletion with a locate round, a staff decision and an erase round.
func deletionThroughStaff(t *testing.T) *harness {
	h := deletionJP(t)
	h.Locate = []request.HolderPlan{holder("members")}
	h.Holders = []request.HolderPlan{holder("members"), holder("billing")}
	h.answer(verifiedAt+time.Minute, h.result("locate", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.verifiedAndApproved()
	h.answer(decidedAt+2*time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.answer(decidedAt+3*time.Minute, h.result("act", "billing", 1, dsrv1.Outcome_OUTCOME_DONE))
	return h
}

// indexed is what the search index holds after every upsert, in order.
func (h *harness) indexed() map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]string{}
	for _, u := range h.upserts {
		for k, v := range u.SA.GetUntypedValues() {
			out[k.GetName()] = fmt.Sprint(v)
		}
	}
	return out
}

// upsertWithStage is the upsert that set DsrStage to stage.
func (h *harness) upsertWithStage(stage request.Stage) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range h.upserts {
		if s, ok := u.SA.GetKeyword(request.SAStage); ok && s == string(stage) {
			var keys []string
			for k := range u.SA.GetUntypedValues() {
				keys = append(keys, k.GetName())
			}
			slices.Sort(keys)
			return keys
		}
	}
	return nil
}

func (h *harness) upsertCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.upserts)
}

// Attributes changed together go out together: a stage with the attention
// reason it raises, an attention lowered with the next stage, the subject's
// pseudonym with the stage after verification. The index ends the same as
// with one upsert per change, in fewer upserts.
func TestSearchAttributesChangedTogetherGoOutAsOneUpsert(t *testing.T) {
	h := deletionThroughStaff(t)
	h.run()
	h.completed()

	old := deletionThroughStaff(t)
	old.startedBeforeBundle()
	old.env.OnGetVersion(request.ChangeCoalesceSearchAttributes, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	old.run()
	old.completed()

	for stage, want := range map[request.Stage][]string{
		request.StageLocating:    {"DsrStage", "DsrSubjectRef"},
		request.StageStaffReview: {"DsrAttention", "DsrNeedsAttention", "DsrStage"},
		request.StageFanOut:      {"DsrAttention", "DsrNeedsAttention", "DsrStage"},
	} {
		if got := h.upsertWithStage(stage); !slices.Equal(got, want) {
			t.Errorf("the upsert of stage %s set %v; want %v", stage, got, want)
		}
		if got := old.upsertWithStage(stage); !slices.Equal(got, []string{"DsrStage"}) {
			t.Errorf("before the change, the upsert of stage %s set %v; want the stage alone", stage, got)
		}
	}
	if got, want := h.stages(), old.stages(); !slices.Equal(got, want) {
		t.Errorf("stages %v; before the change %v", got, want)
	}
	if got, want := h.indexed(), old.indexed(); !maps.Equal(got, want) {
		t.Errorf("index ends as %v; before the change %v", got, want)
	}
	if n, before := h.upsertCount(), old.upsertCount(); n != before-3 {
		t.Errorf("%d upserts; want 3 fewer than the %d before the change", n, before)
	}
}

// The bridge starts a request with its first attributes; the workflow then
// does not upsert them again. Started without (an older bridge, a test
// client), it upserts them itself.
func TestARequestStartedWithItsAttributesDoesNotUpsertThemAgain(t *testing.T) {
	with := deletionThroughStaff(t)
	if err := with.env.SetTypedSearchAttributesOnStart(request.StartSearchAttributes(with.in)); err != nil {
		t.Fatal(err)
	}
	with.run()
	with.completed()
	without := deletionThroughStaff(t)
	without.run()
	without.completed()

	if got := with.indexed()[request.SAReceipt.GetName()]; got != "" {
		t.Errorf("started with its attributes, the workflow upserted DsrReceipt %q", got)
	}
	if got := with.upsertCount(); got != without.upsertCount()-1 {
		t.Errorf("%d upserts started with the attributes; want one fewer than the %d without", got, without.upsertCount())
	}
	if got := without.indexed()[request.SAReceipt.GetName()]; got != receipt {
		t.Errorf("started without attributes, DsrReceipt upserted as %q; want %q", got, receipt)
	}
	if got := without.stages(); len(got) == 0 || got[0] != string(request.StageReceived) {
		t.Errorf("started without attributes, stages %v; want %s first", got, request.StageReceived)
	}
}
