package request_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/notify"
	"madoguchi.dev/workflows/request"
)

// A deletion runs receipt → code → staff decision → fan-out → completion
// notice → erasure event, telling the person at the start and at the end.
func TestDeletionRunsFromReceiptThroughDecisionAndFanOutToTheErasureEvent(t *testing.T) {
	h := newHarness(t, submitted(dsrv1.RequestKind_REQUEST_KIND_DELETION, contract.JurisdictionJP))
	h.Holders = []request.HolderPlan{holder("members"), holder("billing")}
	verifying := h.statusAt(30 * time.Second)
	v := h.verify(verifiedAt, codes[0])
	waitingForStaff := h.statusAt(verifiedAt + 30*time.Second)
	d := h.decide(decidedAt, approve())
	fanningOut := h.statusAt(decidedAt + time.Minute)
	h.answer(decidedAt+2*time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.answer(decidedAt+3*time.Minute, h.result("act", "billing", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	out := h.completed()
	if got := v.verifyResult(t); got.GetOutcome() != dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED {
		t.Errorf("right code: %v", got.GetOutcome())
	}
	d.succeeded(t)
	if out.Receipt != receipt || out.ErasureEventID != requestID+".erasure-completed" ||
		out.HolderOutcomes["members"] != "OUTCOME_DONE" || out.HolderOutcomes["billing"] != "OUTCOME_DONE" {
		t.Errorf("outcome = %+v", out)
	}
	wantStages := []string{"received", "verifying", "staff_review", "fan_out", "notifying", "completed"}
	if got := h.stages(); !slices.Equal(got, wantStages) {
		t.Errorf("DsrStage went %v, want %v", got, wantStages)
	}
	if got := h.noticeKinds(request.RecipientPerson); !slices.Equal(got, []notify.Kind{request.NoticeReceipt, request.NoticeCompletion}) {
		t.Errorf("notices to the person = %v, want receipt then completion", got)
	}
	due, _ := deadlinesOf(t, contract.JurisdictionJP)
	if n := h.onlyNotice(request.NoticeReceipt); !n.Data.DueAt.Equal(due.AnswerDue) || n.At != 0 {
		t.Errorf("receipt notice at +%v says due %v, want at once with due %v", n.At, n.Data.DueAt, due.AnswerDue)
	}
	if c := h.onlyNotice(request.NoticeCompletion); c.Data.Decision != "approve" ||
		!slices.Equal(c.Data.Holders, []string{"members: OUTCOME_DONE", "billing: OUTCOME_DONE"}) {
		t.Errorf("completion notice data = %+v", c.Data)
	}
	if is := h.allIssues(); len(is) != 1 || is[0].Issue != 0 || !is[0].ExpiresAt.Equal(t0.Add(codeTTL)) || is[0].Reminder {
		t.Errorf("codes issued = %+v, want one code valid for %v", is, codeTTL)
	}
	for _, s := range h.allSends() {
		if s.At != decidedAt || s.Action != dsrv1.Action_ACTION_ERASE || s.Attempt != 1 || s.Phase != "act" ||
			s.RequestID != requestID || !proto.Equal(s.Personal, h.in.GetPersonal()) {
			t.Errorf("command %+v; want attempt 1 of this request's erase command at the decision", s)
		}
	}
	if len(h.allSends()) != 2 {
		t.Errorf("%d commands sent, want one per holder", len(h.allSends()))
	}
	ev := h.erasureEvents()
	if len(ev) != 1 || !slices.Equal(ev[0].Holders, []string{"members", "billing"}) || ev[0].Receipt != receipt {
		t.Errorf("erasure events = %+v", ev)
	}

	if st := verifying(); st.GetStage() != "verifying" || st.GetVerification().GetState() != "pending" ||
		st.GetVerification().GetAttemptsLeft() != maxAttempts || st.GetWaitingFor() != "the person's verification code" {
		t.Errorf("status while verifying = stage %q verification %v waiting %q", st.GetStage(), st.GetVerification(), st.GetWaitingFor())
	}
	if st := waitingForStaff(); st.GetStage() != "staff_review" || st.GetVerification().GetState() != "verified" ||
		!slices.Equal(st.GetAttention(), []string{request.AttentionStaffDecision}) {
		t.Errorf("status after verification = stage %q verification %q attention %v", st.GetStage(), st.GetVerification().GetState(), st.GetAttention())
	}
	st := fanningOut()
	if st.GetStage() != "fan_out" || st.GetDecision() != "approve" || st.GetWaitingFor() != "results from: members, billing" {
		t.Errorf("status during fan-out = stage %q decision %q waiting %q", st.GetStage(), st.GetDecision(), st.GetWaitingFor())
	}
	if hs := holderStatus(st, "members"); hs.GetAttempts() != 1 || hs.GetAction() != "erase" || hs.GetOutcome() != "" ||
		!hs.GetSentAt().AsTime().Equal(t0.Add(decidedAt)) {
		t.Errorf("members during fan-out = %v", hs)
	}
	if len(st.GetAttention()) != 0 {
		t.Errorf("attention after the decision = %v, want none", st.GetAttention())
	}
	if final := h.finalStatus(); final.GetStage() != "completed" || len(final.GetAttention()) != 0 ||
		holderStatus(final, "billing").GetOutcome() != "OUTCOME_DONE" {
		t.Errorf("final status = %v", final)
	}
}

// Input without request id, receipt or personal data fails the workflow at
// once with a non-retryable InvalidInput error: nothing is prepared or sent.
func TestInvalidInputFailsWithANonRetryableError(t *testing.T) {
	for name, change := range map[string]func(*dsrv1.RequestSubmitted){
		"no request id":    func(in *dsrv1.RequestSubmitted) { in.RequestId = "" },
		"no receipt":       func(in *dsrv1.RequestSubmitted) { in.Receipt = "" },
		"no personal data": func(in *dsrv1.RequestSubmitted) { in.Personal = nil },
	} {
		t.Run(name, func(t *testing.T) {
			in := submitted(dsrv1.RequestKind_REQUEST_KIND_DELETION, contract.JurisdictionJP)
			change(in)
			h := newHarness(t, in)
			h.run()

			if !h.env.IsWorkflowCompleted() {
				t.Fatal("workflow did not end")
			}
			var appErr *temporal.ApplicationError
			if err := h.env.GetWorkflowError(); !errors.As(err, &appErr) {
				t.Fatalf("error = %v, want an application error", err)
			}
			if !appErr.NonRetryable() || appErr.Type() != "InvalidInput" {
				t.Errorf("error non-retryable=%v type=%q, want non-retryable InvalidInput", appErr.NonRetryable(), appErr.Type())
			}
			if h.prepares != 0 || len(h.allNotices()) != 0 || len(h.allIssues()) != 0 {
				t.Errorf("invalid input still prepared (%d), noticed (%d) or issued codes (%d)", h.prepares, len(h.allNotices()), len(h.allIssues()))
			}
		})
	}
}

// --- withdrawal (取下げ) ---

// Before the fan-out a withdrawal closes the request as withdrawn, with the
// Withdrawn notice; nothing is sent to holders.
func TestWithdrawalBeforeFanOutClosesWithdrawnWithTheWithdrawnNotice(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kind  dsrv1.RequestKind
		agent bool
		at    time.Duration
		stage string
	}{
		{"while verifying", dsrv1.RequestKind_REQUEST_KIND_DELETION, false, 30 * time.Second, "verifying"},
		{"in identity review", dsrv1.RequestKind_REQUEST_KIND_DELETION, true, 2 * time.Minute, "identity_review"},
		{"awaiting the fee", dsrv1.RequestKind_REQUEST_KIND_DISCLOSURE, false, 2 * time.Minute, "awaiting_fee"},
		{"in staff review", dsrv1.RequestKind_REQUEST_KIND_DELETION, false, 2 * time.Minute, "staff_review"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := submitted(tc.kind, contract.JurisdictionJP)
			in.FiledByAgent = tc.agent
			h := newHarness(t, in)
			if tc.at > verifiedAt {
				h.verify(verifiedAt, codes[0])
			}
			before := h.statusAt(tc.at - time.Second)
			w := h.withdraw(tc.at)
			h.run()

			if st := before(); st.GetStage() != tc.stage {
				t.Fatalf("test setup: stage before the withdrawal = %q; want %q", st.GetStage(), tc.stage)
			}
			w.succeeded(t)
			if res, _ := w.result.(*dsrv1.ActionResult); res.GetMessage() != "withdrawn; the request will be closed" {
				t.Errorf("withdraw answered %v", w.result)
			}
			h.closedAs(request.ClosedWithdrawn)
			if n := h.onlyNotice(request.NoticeWithdrawn); n.At != tc.at || n.To != request.RecipientPerson {
				t.Errorf("withdrawn notice at +%v to %q; want at +%v to the person", n.At, n.To, tc.at)
			}
			if st := h.finalStatus(); !st.GetWithdrawn() || len(st.GetAttention()) != 0 {
				t.Errorf("final status withdrawn %v attention %v", st.GetWithdrawn(), st.GetAttention())
			}
			if len(h.allSends()) != 0 {
				t.Error("commands were sent for a withdrawn request")
			}
		})
	}
}

// Staff may close a request as withdrawn on the person's behalf (e.g. a
// phone call), with a reason.
func TestStaffCloseWithdrawnNeedsAReasonAndClosesLikeAWithdrawal(t *testing.T) {
	h := deletionJP(t)
	h.verify(verifiedAt, codes[0])
	noReason := h.update(2*time.Minute, contract.UpdateCloseWithdrawn, &dsrv1.CloseWithdrawn{Actor: staff})
	ok := h.update(3*time.Minute, contract.UpdateCloseWithdrawn, &dsrv1.CloseWithdrawn{Actor: staff, Reason: "withdrawn by phone"})
	h.run()

	noReason.rejectedWith(t, "closing as withdrawn needs a reason")
	ok.succeeded(t)
	h.closedAs(request.ClosedWithdrawn)
	h.onlyNotice(request.NoticeWithdrawn)
}

// After the fan-out has begun the withdrawal cannot undo what holders did:
// it is recorded, shown, reported in the completion notice, and the request
// completes.
func TestWithdrawalAfterFanOutIsRecordedAndTheRequestCompletes(t *testing.T) {
	h := deletionJP(t)
	h.verifiedAndApproved()
	w := h.withdraw(decidedAt + time.Minute)
	after := h.statusAt(decidedAt + time.Minute + time.Second)
	second := h.withdraw(decidedAt + 2*time.Minute)
	byStaff := h.update(decidedAt+2*time.Minute+time.Second, contract.UpdateCloseWithdrawn,
		&dsrv1.CloseWithdrawn{Actor: staff, Reason: "phone"})
	h.answer(decidedAt+3*time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	w.succeeded(t)
	if res, _ := w.result.(*dsrv1.ActionResult); res.GetMessage() != "withdrawal recorded; processing had already begun and will be reported" {
		t.Errorf("withdraw answered %v", w.result)
	}
	if st := after(); !st.GetWithdrawn() || st.GetStage() != "fan_out" {
		t.Errorf("after the withdrawal: withdrawn %v stage %q; want recorded, still fan_out", st.GetWithdrawn(), st.GetStage())
	}
	second.rejectedWith(t, "the request has already been withdrawn")
	byStaff.rejectedWith(t, "the request has already been withdrawn")
	if c := h.onlyNotice(request.NoticeCompletion); !c.Data.Withdrawn {
		t.Errorf("completion notice %+v; want it to report the withdrawal", c.Data)
	}
	if len(h.notice(request.NoticeWithdrawn)) != 0 {
		t.Error("a Withdrawn notice was sent although the request completed")
	}
	if len(h.erasureEvents()) != 1 {
		t.Error("the erasure that happened was not announced")
	}
}

// --- related requests ---

func TestDuplicateRequestIsLinkedAndReportedAndTheRequestContinues(t *testing.T) {
	h := deletionJP(t)
	h.Related = request.Related{OpenSameKind: []string{"20260520-XYZXYZ"}}
	h.verify(verifiedAt, codes[0])
	after := h.statusAt(verifiedAt + time.Second)
	h.decide(decidedAt, approve())
	h.answer(decidedAt+time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	n := h.onlyNotice(request.NoticeDuplicateLinked)
	if n.At != verifiedAt || !slices.Equal(n.Data.Linked, []string{"20260520-XYZXYZ"}) || n.To != request.RecipientPerson {
		t.Errorf("duplicate notice at +%v = %+v; want at verification naming the open request", n.At, n.Data)
	}
	if st := after(); !slices.Equal(st.GetLinkedReceipts(), []string{"20260520-XYZXYZ"}) || st.GetStage() != "staff_review" {
		t.Errorf("after verification: linked %v stage %q; want linked, still going on", st.GetLinkedReceipts(), st.GetStage())
	}
}

// CCPA: a business need not answer more than two access requests by one
// person in 12 months (Cal. Civ. Code §1798.130(b)); a third is refused.
func TestCCPAThirdAccessRequestInTwelveMonthsIsRefused(t *testing.T) {
	for _, tc := range []struct {
		previous int
		refused  bool
	}{{1, false}, {2, true}} {
		t.Run(fmt.Sprintf("%d previous", tc.previous), func(t *testing.T) {
			h := newHarness(t, submitted(dsrv1.RequestKind_REQUEST_KIND_DISCLOSURE, contract.JurisdictionCCPA))
			h.Related = request.Related{AccessesLast12Months: tc.previous}
			h.verify(verifiedAt, codes[0])
			h.answer(decidedAt, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_NOT_FOUND))
			h.run()

			if got := h.relatedIn; len(got) != 1 || got[0].Jurisdiction != contract.JurisdictionCCPA || got[0].Kind != "disclosure" {
				t.Errorf("FindRelated inputs = %+v", got)
			}
			if !tc.refused {
				h.completed()
				return
			}
			h.closedAs(request.ClosedRefused)
			n := h.onlyNotice(request.NoticeDecision)
			if n.At != verifiedAt || n.Data.Decision != "refuse" || n.Data.ReasonCode != "manifestly_unfounded_or_excessive" {
				t.Errorf("decision notice at +%v = %+v; want an immediate refusal", n.At, n.Data)
			}
			if len(h.allSends()) != 0 {
				t.Error("commands were sent for a refused access request")
			}
		})
	}
}

// --- the answer ---

// A request from before ChangeIdentity202612 keeps its course: the link in
// the completion notice alone opens the package (download_test.go has the
// course of requests since).
func TestDisclosurePackageIsAssembledFromTheExportsAndPurgedWhenItsLinkExpires(t *testing.T) {
	h := newHarness(t, submitted(dsrv1.RequestKind_REQUEST_KIND_DISCLOSURE, contract.JurisdictionCCPA)) // free, no staff decision
	h.startedBeforeIdentity()
	h.Holders = []request.HolderPlan{holder("members"), holder("billing"), holder("support")}
	h.verify(verifiedAt, codes[0])
	exportOf := func(name string) *dsrv1.Sealed {
		return &dsrv1.Sealed{KeyId: "k1", Ciphertext: []byte(name + " export"), Type: "dsr.v1.Export"}
	}
	support := h.result("act", "support", 1, dsrv1.Outcome_OUTCOME_DONE)
	support.Export = exportOf("support")
	h.answer(2*time.Minute, support)
	h.answer(3*time.Minute, h.result("act", "billing", 1, dsrv1.Outcome_OUTCOME_NOT_FOUND))
	members := h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE)
	members.Export = exportOf("members")
	done := 4 * time.Minute
	h.answer(done, members)
	h.run()

	out := h.completed()
	if got := h.attempts("members", "act"); !slices.Equal(got, []string{at(1, verifiedAt)}) {
		t.Errorf("commands = %v; want an export right after verification", got)
	}
	if s := h.sendsTo("members", "act"); len(s) == 1 && s[0].Action != dsrv1.Action_ACTION_EXPORT {
		t.Errorf("action = %v; want export", s[0].Action)
	}
	if len(h.packages) != 1 {
		t.Fatalf("AssemblePackage called %d times; want once", len(h.packages))
	}
	p := h.packages[0]
	if len(p.Exports) != 2 || !proto.Equal(p.Exports[0], exportOf("members")) || !proto.Equal(p.Exports[1], exportOf("support")) ||
		!p.ExpiresAt.Equal(t0.Add(done+packageTTL)) || p.Kind != "disclosure" || p.Receipt != receipt {
		t.Errorf("package input = %+v; want the two exports in plan order, expiring after %v", p, packageTTL)
	}
	c := h.onlyNotice(request.NoticeCompletion)
	if c.At != done || c.Data.DownloadToken != "download-token-1" || !c.Data.DownloadExpiresAt.Equal(t0.Add(done+packageTTL)) {
		t.Errorf("completion notice at +%v = %+v; want the download token and its expiry", c.At, c.Data)
	}
	if out.PackageID != "pkg-1" || out.ErasureEventID != "" || len(h.erasureEvents()) != 0 {
		t.Errorf("outcome = %+v; want the package and no erasure event", out)
	}
	if st := h.finalStatus(); st.GetPackageId() != "pkg-1" || !st.GetPackageExpiresAt().AsTime().Equal(t0.Add(done+packageTTL)) {
		t.Errorf("final status package %q expires %v", st.GetPackageId(), st.GetPackageExpiresAt().AsTime())
	}
	h.mu.Lock()
	purges := slices.Clone(h.purges)
	h.mu.Unlock()
	if len(purges) != 1 || purges[0].ID != "pkg-1" || purges[0].At != done+packageTTL {
		t.Errorf("purges = %+v; want pkg-1 purged when its link expires (+%v), after the request completed", purges, done+packageTTL)
	}
}

// The erasure event names the holders that erased: DONE, PARTIAL and
// RETAINED_BY_LAW (it erased what the law allows), not NOT_FOUND or FAILED.
func TestDeletionPublishesTheErasureEventNamingTheHoldersThatErased(t *testing.T) {
	h := deletionJP(t)
	outcomes := map[string]dsrv1.Outcome{
		"members": dsrv1.Outcome_OUTCOME_DONE, "billing": dsrv1.Outcome_OUTCOME_RETAINED_BY_LAW,
		"support": dsrv1.Outcome_OUTCOME_NOT_FOUND, "logs": dsrv1.Outcome_OUTCOME_PARTIAL, "crm": dsrv1.Outcome_OUTCOME_FAILED,
	}
	h.Holders = nil
	for _, name := range []string{"members", "billing", "support", "logs", "crm"} {
		h.Holders = append(h.Holders, holder(name))
		h.answer(decidedAt+time.Minute, h.result("act", name, 1, outcomes[name]))
	}
	h.verifiedAndApproved()
	h.run()

	out := h.completed()
	ev := h.erasureEvents()
	if len(ev) != 1 || !slices.Equal(ev[0].Holders, []string{"members", "billing", "logs"}) ||
		ev[0].RequestID != requestID || !proto.Equal(ev[0].Personal, h.in.GetPersonal()) {
		t.Errorf("erasure events = %+v; want one naming members, billing, logs", ev)
	}
	if out.ErasureEventID != requestID+".erasure-completed" || out.HolderOutcomes["crm"] != "OUTCOME_FAILED" {
		t.Errorf("outcome = %+v", out)
	}
}

func TestDeletionThatFindsNothingPublishesNoErasureEvent(t *testing.T) {
	h := deletionJP(t)
	h.verifiedAndApproved()
	h.answer(decidedAt+time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_NOT_FOUND))
	h.run()

	if out := h.completed(); out.ErasureEventID != "" || len(h.erasureEvents()) != 0 {
		t.Errorf("erasure announced although nothing was found: %+v", h.erasureEvents())
	}
	h.onlyNotice(request.NoticeCompletion)
}

// Every request announces its end once, completed or closed, so that the
// intake can start the retention clock on its personal data (policy §7).
func TestEveryConcludedRequestIsAnnouncedOnceWithHowItEnded(t *testing.T) {
	t.Run("completed", func(t *testing.T) {
		h := deletionJP(t)
		h.verifiedAndApproved()
		h.answer(decidedAt+time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
		h.run()
		h.completed()
		c := h.conclusions()
		if len(c) != 1 || c[0].Stage != string(request.StageCompleted) || c[0].ClosedReason != "" ||
			c[0].RequestID != requestID || c[0].Receipt != h.in.GetReceipt() || c[0].At.IsZero() {
			t.Errorf("conclusions = %+v; want one, completed", c)
		}
	})
	t.Run("closed", func(t *testing.T) {
		h := newHarness(t, submitted(dsrv1.RequestKind_REQUEST_KIND_DELETION, contract.JurisdictionJP))
		h.withdraw(30 * time.Second)
		h.run()
		h.closedAs(request.ClosedWithdrawn)
		c := h.conclusions()
		if len(c) != 1 || c[0].Stage != string(request.StageClosed) || c[0].ClosedReason != request.ClosedWithdrawn {
			t.Errorf("conclusions = %+v; want one, closed as withdrawn", c)
		}
	})
}

// 利用目的の通知 is answered from the privacy policy: no holder is asked,
// the completion notice is the answer (the Art. 38 fee applies).
func TestPurposeNoticeCompletesWithACompletionNoticeAndNoHolders(t *testing.T) {
	h := newHarness(t, submitted(dsrv1.RequestKind_REQUEST_KIND_PURPOSE_NOTICE, contract.JurisdictionJP))
	h.verify(verifiedAt, codes[0])
	h.payFee(2*time.Minute, 1000)
	h.run()

	out := h.completed()
	if len(out.HolderOutcomes) != 0 || out.PackageID != "" || len(h.allSends()) != 0 || len(h.packages) != 0 {
		t.Errorf("outcome %+v, %d commands, %d packages; want none", out, len(h.allSends()), len(h.packages))
	}
	if c := h.onlyNotice(request.NoticeCompletion); c.At != 2*time.Minute || c.Data.Kind != "purpose_notice" {
		t.Errorf("completion notice at +%v = %+v", c.At, c.Data)
	}
	want := []string{"received", "verifying", "awaiting_fee", "notifying", "completed"}
	if got := h.stages(); !slices.Equal(got, want) {
		t.Errorf("stages = %v; want %v", got, want)
	}
}
