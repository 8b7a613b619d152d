package request_test

import (
	"slices"
	"testing"

	"madoguchi.dev/workflows/request"
)

// A request started now records ChangeBundle202612, and runs with every
// change before it (coalesced search attributes, one SLA timer per fan-out
// round, the conclusion announced), and the change after it,
// ChangeIdentity202612.
func TestANewRequestRecordsTheBundleAndHasEveryEarlierChange(t *testing.T) {
	h := deletionThroughStaff(t)
	h.run()
	h.completed()

	if want := []string{request.ChangeBundle202612 + "=1", request.ChangeIdentity202612 + "=1"}; !slices.Equal(h.versions, want) {
		t.Errorf("GetVersion asked %v; want %v alone", h.versions, want)
	}
	if got, want := h.upsertWithStage(request.StageLocating), []string{"DsrStage", "DsrSubjectRef"}; !slices.Equal(got, want) {
		t.Errorf("the upsert of stage locating set %v; want %v (coalesced)", got, want)
	}
	if len(h.timersNamed(roundTimer("act"))) == 0 {
		t.Error("no round timer in the fan-out; want one per round")
	}
	if len(h.concluded) != 1 {
		t.Errorf("%d conclusions announced; want 1", len(h.concluded))
	}
}

// A request recorded before the bundle has no marker for it: it asks for
// each change where it always did, so that its history replays.
func TestARequestFromBeforeTheBundleAsksForEachChangeWhereItDid(t *testing.T) {
	h := deletionThroughStaff(t)
	h.startedBeforeBundle()
	h.startedBeforeIdentity()
	h.run()
	h.completed()

	want := []string{request.ChangeBundle202612 + "=-1", request.ChangeIdentity202612 + "=-1", request.ChangeCoalesceSearchAttributes + "=1",
		request.ChangeFanOutRoundTimer + "=1", request.ChangeFanOutRoundTimer + "=1", request.ChangeAnnounceConclusion + "=1"}
	if !slices.Equal(h.versions, want) {
		t.Errorf("GetVersion asked %v; want %v", h.versions, want)
	}
}
