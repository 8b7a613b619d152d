package request_test

import (
	"slices"
	"testing"
	"time"

	"madoguchi.dev/platform/staffsig"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/request"
)

// signedBy makes, when sent, a decision signed by s (on the harness's
// clock shifted by skew) for update up on workflow wf, then edited.
func (h *harness) signedBy(s *staffsig.Signer, skew time.Duration, wf, up string, edit func(*dsrv1.Decide)) func() any {
	return func() any {
		signer := *s
		signer.Now = func() time.Time { return h.env.Now().Add(skew) }
		d := approve()
		if err := signer.Sign(wf, up, d.GetActor(), d); err != nil {
			h.t.Errorf("sign: %v", err)
		}
		if edit != nil {
			edit(d)
		}
		return d
	}
}

// timelineEvents lists a status's timeline as "event by actor".
func timelineEvents(st *dsrv1.RequestStatus) []string {
	var out []string
	for _, e := range st.GetTimeline() {
		out = append(out, e.GetEvent()+" by "+e.GetActor())
	}
	return out
}

// Anyone who reaches the Temporal frontend can send a staff update naming
// any actor. The workflow takes a staff action only when the staff side
// signed it for this request and this update, just now: every other one
// is rejected with the reason, and the request is left as it was.
func TestAStaffActionNotSignedByTheStaffSideForThisRequestJustNowIsRejected(t *testing.T) {
	h := deletionJP(t)
	h.verify(verifiedAt, codes[0])
	forger, _ := newStaffKey(t, "staff-test") // the trusted key's id, another key
	stranger, _ := newStaffKey(t, "staff-mallory")
	self := h.workflowID()
	before := h.statusAt(2 * time.Minute)
	attempts := []struct {
		name string
		arg  func() any
		want string
	}{
		{"unsigned", func() any { return approve() }, "not signed"},
		{"another key under the trusted id", h.signedBy(forger, 0, self, contract.UpdateDecide, nil), "does not match"},
		{"a key the worker does not trust", h.signedBy(stranger, 0, self, contract.UpdateDecide, nil), "does not trust"},
		{"signed for another request", h.signedBy(h.staffKey, 0, contract.WorkflowID("20260601-ZZZZZZ"), contract.UpdateDecide, nil), "does not match"},
		{"signed for another update", h.signedBy(h.staffKey, 0, self, contract.UpdateExtendDeadline, nil), "does not match"},
		{"altered after signing", h.signedBy(h.staffKey, 0, self, contract.UpdateDecide, func(d *dsrv1.Decide) {
			d.Outcome, d.ReasonCode, d.Explanation = dsrv1.DecisionOutcome_DECISION_OUTCOME_REFUSE, "other", "x"
		}), "does not match"},
		{"another actor named after signing", h.signedBy(h.staffKey, 0, self, contract.UpdateDecide, func(d *dsrv1.Decide) {
			d.Actor = "staff-suzuki"
		}), "does not match"},
		{"stale", h.signedBy(h.staffKey, -staffsig.MaxAge-time.Second, self, contract.UpdateDecide, nil), "stale"},
		{"from the future", h.signedBy(h.staffKey, staffsig.MaxSkew+time.Second, self, contract.UpdateDecide, nil), "in the future"},
	}
	var sent []*update
	for i, a := range attempts {
		sent = append(sent, h.send(2*time.Minute+time.Duration(i+1)*time.Second, contract.UpdateDecide, a.arg))
	}
	after := h.statusAt(2*time.Minute + time.Duration(len(attempts)+1)*time.Second)
	decided := h.decide(decidedAt, approve())
	h.answer(decidedAt+time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	for i, a := range attempts {
		t.Run(a.name, func(t *testing.T) { sent[i].rejectedWith(t, a.want) })
	}
	decided.succeeded(t)
	b, a := before(), after()
	if a.GetStage() != string(request.StageStaffReview) || !slices.Equal(timelineEvents(a), timelineEvents(b)) ||
		!slices.Equal(a.GetAttention(), b.GetAttention()) || a.GetDecision() != "" {
		t.Errorf("after the rejected actions: stage %s, attention %v, decision %q, timeline %v; want it as before: %s, %v, none, %v",
			a.GetStage(), a.GetAttention(), a.GetDecision(), timelineEvents(a), b.GetStage(), b.GetAttention(), timelineEvents(b))
	}
	if got := h.attempts("members", "act"); !slices.Equal(got, []string{at(1, decidedAt)}) {
		t.Errorf("commands = %v; want the first only at the signed decision (+%v)", got, decidedAt)
	}
}

// A signature is accepted once: the same signed action sent again (its
// nonce re-played) is rejected even where a freshly signed one is taken.
func TestTheSameSignedStaffActionIsAcceptedOnlyOnce(t *testing.T) {
	h := deletionJP(t)
	h.verifiedAndApproved()
	escalation := sent + holderAttempts*sla
	var first any
	retried := h.send(escalation+time.Minute, contract.UpdateRetryHolder, func() any {
		first = h.signed(contract.UpdateRetryHolder, &dsrv1.RetryHolder{Actor: staff, Holder: "members"})
		return first
	})
	replayed := h.send(escalation+time.Minute+30*time.Second, contract.UpdateRetryHolder, func() any { return first })
	again := h.retryHolder(escalation+2*time.Minute, "members")
	h.answer(escalation+3*time.Minute, h.result("act", "members", holderAttempts+2, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	retried.succeeded(t)
	replayed.rejectedWith(t, "used before")
	again.succeeded(t)
	want := []string{at(holderAttempts+1, escalation+time.Minute), at(holderAttempts+2, escalation+2*time.Minute)}
	if got := h.attempts("members", "act"); !slices.Equal(got[holderAttempts:], want) {
		t.Errorf("commands after the escalation = %v; want %v (none for the replay)", got[holderAttempts:], want)
	}
}

// The actor history records is the one the staff side signed for; the
// action's own actor field, which anyone can fill in, is only checked
// against it.
func TestHistoryRecordsTheSignedActor(t *testing.T) {
	h := deletionJP(t)
	h.verify(verifiedAt, codes[0])
	decided := h.send(decidedAt, contract.UpdateDecide, func() any {
		d := approve()
		d.Actor = ""
		if err := h.staffKey.Sign(h.workflowID(), contract.UpdateDecide, "staff-sato", d); err != nil {
			t.Error(err)
		}
		return d
	})
	h.answer(decidedAt+time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	decided.succeeded(t)
	events := timelineEvents(h.finalStatus())
	if !slices.Contains(events, "decided by staff-sato") {
		t.Errorf("timeline %v; want the decision by the signed actor staff-sato", events)
	}
}

// A request started before staff actions were signed (and before the
// bundled and identity changes) takes signed actions as a new one does,
// and refuses unsigned ones.
func TestARequestFromBeforeSignaturesTakesSignedStaffActionsOnly(t *testing.T) {
	h := deletionJP(t)
	h.startedBeforeBundle()
	h.startedBeforeIdentity()
	h.verify(verifiedAt, codes[0])
	unsigned := h.unsigned(2*time.Minute, contract.UpdateDecide, approve())
	decided := h.decide(decidedAt, approve())
	h.answer(decidedAt+time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	unsigned.rejectedWith(t, "not signed")
	decided.succeeded(t)
	if events := timelineEvents(h.finalStatus()); !slices.Contains(events, "decided by "+staff) {
		t.Errorf("timeline %v; want the decision by %s", events, staff)
	}
}

// The person's own updates are not staff actions: they carry no signature.
func TestThePersonsOwnUpdatesNeedNoSignature(t *testing.T) {
	h := deletionJP(t)
	code := h.verify(verifiedAt, codes[0])
	withdrawn := h.withdraw(2 * time.Minute)
	h.run()

	h.closedAs(request.ClosedWithdrawn)
	if r := code.verifyResult(t); r.GetOutcome() != dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED {
		t.Errorf("verification: %v", r.GetOutcome())
	}
	withdrawn.succeeded(t)
}
