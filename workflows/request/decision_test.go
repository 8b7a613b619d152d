package request_test

// The fee (APPI Art. 38: disclosure-type kinds only) and the staff decision
// (every kind that changes or stops data, every GDPR request).

import (
	"maps"
	"slices"
	"testing"
	"time"

	"madoguchi.dev/law/fee"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/notify"
	"madoguchi.dev/workflows/request"
)

// --- fee ---

func TestDisclosureAsksForTheFeeAndContinuesOncePaid(t *testing.T) {
	h := newHarness(t, submitted(dsrv1.RequestKind_REQUEST_KIND_DISCLOSURE, contract.JurisdictionJP))
	early := h.payFee(30*time.Second, 1000)
	h.verify(verifiedAt, codes[0])
	awaiting := h.statusAt(verifiedAt + time.Second)
	tooLittle := h.payFee(2*time.Minute, 500)
	noActor := h.update(2*time.Minute+time.Second, contract.UpdateMarkFeePaid, &dsrv1.MarkFeePaid{AmountJpy: 1000})
	paid := h.payFee(3*time.Minute, 1000)
	after := h.statusAt(3*time.Minute + time.Second)
	res := h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE)
	res.Export = &dsrv1.Sealed{KeyId: "k1", Ciphertext: []byte("members export")}
	h.answer(4*time.Minute, res)
	h.run()

	h.completed()
	window := h.Settings.Payment.Window(t0.Add(verifiedAt))
	early.rejectedWith(t, `marking the fee paid is not possible while the request is at stage "verifying"`)
	st := awaiting()
	if st.GetStage() != "awaiting_fee" || st.GetWaitingFor() != "payment of the fee" {
		t.Errorf("after verification: stage %q waiting %q; want awaiting_fee", st.GetStage(), st.GetWaitingFor())
	}
	if f := st.GetFee(); !f.GetRequired() || f.GetAmountJpy() != 1000 || f.GetState() != "awaiting" ||
		!f.GetDueAt().AsTime().Equal(window.Due) || f.GetReason() != fee.ReasonAPPIDisclosure {
		t.Errorf("fee status = %v; want 1000 JPY awaiting, due %v", f, window.Due)
	}
	n := h.onlyNotice(request.NoticeFeeInstructions)
	if n.At != verifiedAt || n.Data.FeeJPY != 1000 || !n.Data.FeeDue.Equal(window.Due) {
		t.Errorf("fee instructions at +%v = %+v; want at verification, 1000 JPY, due %v", n.At, n.Data, window.Due)
	}
	tooLittle.rejectedWith(t, "paid 500 JPY, but the fee is 1000 JPY")
	noActor.rejectedWith(t, "actor")
	paid.succeeded(t)
	if st := after(); st.GetStage() != "fan_out" || st.GetFee().GetState() != "paid" {
		t.Errorf("after payment: stage %q fee %q; want fan_out, paid", st.GetStage(), st.GetFee().GetState())
	}
	if got := h.attempts("members", "act"); !slices.Equal(got, []string{at(1, 3*time.Minute)}) {
		t.Errorf("export commands = %v; want one at payment", got)
	}
	if len(h.notice(request.NoticeFeeReminder)) != 0 {
		t.Error("a paid fee was reminded")
	}
}

func TestUnpaidFeeIsRemindedThenClosedUnpaidAtTheDueTime(t *testing.T) {
	h := newHarness(t, submitted(dsrv1.RequestKind_REQUEST_KIND_DISCLOSURE, contract.JurisdictionJP))
	h.verify(verifiedAt, codes[0])
	window := h.Settings.Payment.Window(t0.Add(verifiedAt))
	remindAt, due := window.RemindAt.Sub(t0), window.Due.Sub(t0)
	open := h.runningAt(due - time.Second)
	h.run()

	h.closedAs(request.ClosedUnpaid)
	if !open() {
		t.Error("closed before the payment was due")
	}
	if r := h.onlyNotice(request.NoticeFeeReminder); r.At != remindAt || r.Data.FeeJPY != 1000 {
		t.Errorf("fee reminder at +%v (%+v); want at +%v", r.At, r.Data, remindAt)
	}
	if n := h.onlyNotice(request.NoticeUnpaid); n.At != due || n.Data.FeeJPY != 1000 {
		t.Errorf("unpaid notice at +%v (%+v); want at the due time +%v", n.At, n.Data, due)
	}
	want := []notify.Kind{request.NoticeReceipt, request.NoticeFeeInstructions, request.NoticeFeeReminder, request.NoticeUnpaid}
	if got := h.noticeKinds(request.RecipientPerson); !slices.Equal(got, want) {
		t.Errorf("notices = %v; want %v", got, want)
	}
	if f := h.finalStatus().GetFee(); f.GetState() != "expired" {
		t.Errorf("fee state = %q; want expired", f.GetState())
	}
	if len(h.allSends()) != 0 {
		t.Error("commands were sent for an unpaid request")
	}
}

// APPI Art. 38 allows a fee only for disclosure-type kinds: the others go
// from verification straight to staff review.
func TestDeletionAndOtherFreeKindsNeverAskAFee(t *testing.T) {
	for _, k := range []dsrv1.RequestKind{
		dsrv1.RequestKind_REQUEST_KIND_DELETION, dsrv1.RequestKind_REQUEST_KIND_CORRECTION,
		dsrv1.RequestKind_REQUEST_KIND_ADDITION, dsrv1.RequestKind_REQUEST_KIND_SUSPENSION,
		dsrv1.RequestKind_REQUEST_KIND_ERASURE, dsrv1.RequestKind_REQUEST_KIND_THIRD_PARTY_STOP,
	} {
		t.Run(contract.KindName(k), func(t *testing.T) {
			h := newHarness(t, submitted(k, contract.JurisdictionJP))
			h.verify(verifiedAt, codes[0])
			after := h.statusAt(verifiedAt + time.Second)
			h.withdraw(2 * time.Minute)
			h.run()

			st := after()
			if st.GetStage() != "staff_review" || st.GetFee().GetRequired() || st.GetFee().GetState() != "none" {
				t.Errorf("after verification: stage %q fee %v; want staff_review with no fee", st.GetStage(), st.GetFee())
			}
			if len(h.notice(request.NoticeFeeInstructions)) != 0 || slices.Contains(h.stages(), "awaiting_fee") {
				t.Error("a fee was asked for")
			}
		})
	}
}

// --- staff decision ---

func TestDeletionWaitsInStaffReviewForADecision(t *testing.T) {
	h := deletionJP(t)
	early := h.decide(30*time.Second, approve())
	h.verify(verifiedAt, codes[0])
	waiting := h.statusAt(verifiedAt + time.Second)
	week := 7 * 24 * time.Hour
	weekLater := h.statusAt(week - time.Second)
	h.decide(week, approve())
	h.answer(week+time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	early.rejectedWith(t, `a decision is not possible while the request is at stage "verifying"`)
	for name, st := range map[string]*dsrv1.RequestStatus{"after verification": waiting(), "a week later": weekLater()} {
		if st.GetStage() != "staff_review" || !slices.Equal(st.GetAttention(), []string{request.AttentionStaffDecision}) ||
			st.GetWaitingFor() != "a staff decision" {
			t.Errorf("%s: stage %q attention %v waiting %q; want staff_review, staff_decision", name, st.GetStage(), st.GetAttention(), st.GetWaitingFor())
		}
	}
	if at, ok := h.attentionUpserted(request.AttentionStaffDecision); !ok || at != verifiedAt {
		t.Errorf("DsrAttention staff_decision upserted at +%v (%v); want at +%v", at, ok, verifiedAt)
	}
	if got := h.attempts("members", "act"); !slices.Equal(got, []string{at(1, week)}) {
		t.Errorf("commands = %v; want the first only at the decision (+%v)", got, week)
	}
}

func TestRefusalNeedsAReasonCodeAndClosesRefusedWithADecisionNotice(t *testing.T) {
	h := deletionJP(t)
	h.verify(verifiedAt, codes[0])
	noReason := h.decide(2*time.Minute, refuse("", "we keep it"))
	unknownReason := h.decide(2*time.Minute+1*time.Second, refuse("because", "we keep it"))
	noExplanation := h.decide(2*time.Minute+2*time.Second, refuse("breach_of_other_law", " "))
	reasonOnApproval := h.decide(2*time.Minute+3*time.Second,
		&dsrv1.Decide{Actor: staff, Outcome: dsrv1.DecisionOutcome_DECISION_OUTCOME_APPROVE, ReasonCode: "other"})
	noActor := h.decide(2*time.Minute+4*time.Second,
		&dsrv1.Decide{Outcome: dsrv1.DecisionOutcome_DECISION_OUTCOME_REFUSE, ReasonCode: "other", Explanation: "x"})
	excessive := refuse("other", "x")
	excessive.ManifestlyExcessive = true
	notGDPR := h.decide(2*time.Minute+5*time.Second, excessive)
	refused := h.decide(3*time.Minute, refuse("breach_of_other_law", "会社法により保存義務があります"))
	h.run()

	noReason.rejectedWith(t, "a refusal needs a reason code")
	unknownReason.rejectedWith(t, "unknown refusal reason")
	noExplanation.rejectedWith(t, "a refusal needs an explanation")
	reasonOnApproval.rejectedWith(t, "an approval carries no refusal reason")
	noActor.rejectedWith(t, "actor")
	notGDPR.rejectedWith(t, "manifestly excessive applies to GDPR requests only")
	refused.succeeded(t)
	h.closedAs(request.ClosedRefused)
	n := h.onlyNotice(request.NoticeDecision)
	if n.At != 3*time.Minute || n.Data.Decision != "refuse" || n.Data.ReasonCode != "breach_of_other_law" ||
		n.Data.ReasonText != "会社法により保存義務があります" {
		t.Errorf("decision notice at +%v = %+v; want the refusal with its reason and explanation", n.At, n.Data)
	}
	if st := h.finalStatus(); st.GetDecision() != "refuse" || st.GetDecisionReasonCode() != "breach_of_other_law" || len(st.GetAttention()) != 0 {
		t.Errorf("final status decision %q/%q attention %v", st.GetDecision(), st.GetDecisionReasonCode(), st.GetAttention())
	}
	if len(h.allSends()) != 0 {
		t.Error("commands were sent for a refused request")
	}
}

// Erasure (消去, Art. 35) can only be approved on an Art. 35 ground that
// applies to it.
func TestErasureApprovalNeedsArt35Grounds(t *testing.T) {
	h := newHarness(t, submitted(dsrv1.RequestKind_REQUEST_KIND_ERASURE, contract.JurisdictionJP))
	h.verify(verifiedAt, codes[0])
	none := h.decide(2*time.Minute, approve())
	wrongGround := approve()
	wrongGround.Grounds = []string{"provision_without_consent"} // an Art. 35(3) ground: third_party_stop only
	wrong := h.decide(2*time.Minute+time.Second, wrongGround)
	withGround := approve()
	withGround.Grounds = []string{"no_longer_needed"}
	ok := h.decide(3*time.Minute, withGround)
	h.answer(4*time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	none.rejectedWith(t, "needs at least one Art. 35 ground")
	wrong.rejectedWith(t, "ground does not apply")
	ok.succeeded(t)
	h.completed()
	if s := h.sendsTo("members", "act"); len(s) != 1 || s[0].At != 3*time.Minute || s[0].Action != dsrv1.Action_ACTION_ERASE {
		t.Errorf("commands = %+v; want one erase at the approval", s)
	}
}

// Correction (訂正) is approved with the new values, and only those go to the
// holders.
func TestCorrectionApprovalNeedsTheNewValuesWhichGoToTheHolders(t *testing.T) {
	h := newHarness(t, submitted(dsrv1.RequestKind_REQUEST_KIND_CORRECTION, contract.JurisdictionJP))
	h.Holders = []request.HolderPlan{holder("members"), holder("billing")}
	h.verify(verifiedAt, codes[0])
	none := h.decide(2*time.Minute, approve())
	withValues := approve()
	corrections := map[string]string{"address": "山口県下関市1-2-3", "name_kana": "ヤマダ タロウ"}
	withValues.Corrections = corrections
	ok := h.decide(3*time.Minute, withValues)
	h.answer(4*time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.answer(4*time.Minute, h.result("act", "billing", 1, dsrv1.Outcome_OUTCOME_NOT_FOUND))
	h.run()

	none.rejectedWith(t, "approving a correction needs the approved new values")
	ok.succeeded(t)
	h.completed()
	sends := h.allSends()
	if len(sends) != 2 {
		t.Fatalf("%d commands; want one per holder", len(sends))
	}
	for _, s := range sends {
		if s.Action != dsrv1.Action_ACTION_CORRECT || !maps.Equal(s.Corrections, corrections) {
			t.Errorf("command to %s: action %v corrections %v; want correct with the approved values", s.Holder, s.Action, s.Corrections)
		}
	}
	if len(h.erasureEvents()) != 0 {
		t.Error("a correction announced an erasure")
	}
}

// GDPR: every request, even a disclosure, is a staff decision (manifestly
// unfounded or excessive is staff's call).
func TestEveryGDPRRequestWaitsForAStaffDecision(t *testing.T) {
	h := newHarness(t, submitted(dsrv1.RequestKind_REQUEST_KIND_DISCLOSURE, contract.JurisdictionGDPR))
	h.verify(verifiedAt, codes[0])
	after := h.statusAt(verifiedAt + time.Second)
	excessive := refuse("manifestly_unfounded_or_excessive", "the fifth identical request this month")
	excessive.ManifestlyExcessive = true
	ok := h.decide(2*time.Minute, excessive)
	h.run()

	if st := after(); st.GetStage() != "staff_review" || st.GetFee().GetRequired() {
		t.Errorf("GDPR disclosure after verification: stage %q fee %v; want staff_review, free", st.GetStage(), st.GetFee())
	}
	ok.succeeded(t)
	h.closedAs(request.ClosedRefused)
}
