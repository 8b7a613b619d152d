package request_test

// Identity (APPI Art. 37): a one-time code by e-mail, with a TTL, a limit
// of wrong attempts per code and of resends, a reminder before expiry; and
// staff review for agents (代理人) and for details that do not match the
// records.

import (
	"slices"
	"testing"
	"time"

	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/notify"
	"madoguchi.dev/workflows/request"
)

func deletionJP(t *testing.T) *harness {
	return newHarness(t, submitted(dsrv1.RequestKind_REQUEST_KIND_DELETION, contract.JurisdictionJP))
}

func wantVerify(t *testing.T, u *update, outcome dsrv1.VerifyOutcome, attemptsLeft, resendsLeft int32) {
	t.Helper()
	r := u.verifyResult(t)
	if r.GetOutcome() != outcome || r.GetAttemptsLeft() != attemptsLeft || r.GetResendsLeft() != resendsLeft {
		t.Errorf("code at +%v: %v attempts_left %d resends_left %d; want %v %d %d", u.at,
			r.GetOutcome(), r.GetAttemptsLeft(), r.GetResendsLeft(), outcome, attemptsLeft, resendsLeft)
	}
}

func TestRightCodeVerifiesAndTheRequestContinues(t *testing.T) {
	h := deletionJP(t)
	v := h.verify(verifiedAt, codes[0])
	after := h.statusAt(verifiedAt + time.Second)
	h.withdraw(verifiedAt + time.Minute)
	h.run()

	wantVerify(t, v, dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED, 0, 0)
	if st := after(); st.GetStage() != "staff_review" || st.GetVerification().GetState() != "verified" {
		t.Errorf("after the right code: stage %q verification %q; want staff_review, verified", st.GetStage(), st.GetVerification().GetState())
	}
	if got := h.relatedIn; len(got) != 1 || got[0].SubjectRef != "psn_subject" || got[0].Kind != "deletion" {
		t.Errorf("FindRelated inputs = %+v; want one lookup by the subject's pseudonym once verified", got)
	}
}

func TestWrongCodeUsesUpAnAttemptAndAMalformedOneDoesNot(t *testing.T) {
	h := deletionJP(t)
	wrong := h.verify(1*time.Minute, "000000")
	afterWrong := h.statusAt(1*time.Minute + time.Second)
	malformed := h.verify(2*time.Minute, "12ab")
	right := h.verify(3*time.Minute, "１２３４５６") // full-width, as an IME types it
	h.withdraw(4 * time.Minute)
	h.run()

	wantVerify(t, wrong, dsrv1.VerifyOutcome_VERIFY_OUTCOME_WRONG, maxAttempts-1, maxResends)
	if v := afterWrong().GetVerification(); v.GetState() != "pending" || v.GetAttemptsLeft() != maxAttempts-1 {
		t.Errorf("status after a wrong code = %v; want pending with %d attempts left", v, maxAttempts-1)
	}
	wantVerify(t, malformed, dsrv1.VerifyOutcome_VERIFY_OUTCOME_MALFORMED, maxAttempts-1, maxResends)
	wantVerify(t, right, dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED, 0, 0)
	h.closedAs(request.ClosedWithdrawn)
}

func TestAfterMaxAttemptsTheCodeIsLockedAndAResentCodeWorks(t *testing.T) {
	h := deletionJP(t)
	w1 := h.verify(1*time.Minute, "000000")
	w2 := h.verify(2*time.Minute, "000000")
	w3 := h.verify(3*time.Minute, "000000")
	dead := h.verify(4*time.Minute, codes[0]) // the right code, too late
	locked := h.statusAt(4*time.Minute + time.Second)
	r := h.resend(5 * time.Minute)
	old := h.verify(6*time.Minute, codes[0])
	fresh := h.verify(7*time.Minute, codes[1])
	after := h.statusAt(7*time.Minute + time.Second)
	h.withdraw(8 * time.Minute)
	h.run()

	wantVerify(t, w1, dsrv1.VerifyOutcome_VERIFY_OUTCOME_WRONG, 2, maxResends)
	wantVerify(t, w2, dsrv1.VerifyOutcome_VERIFY_OUTCOME_WRONG, 1, maxResends)
	wantVerify(t, w3, dsrv1.VerifyOutcome_VERIFY_OUTCOME_LOCKED, 0, maxResends)
	wantVerify(t, dead, dsrv1.VerifyOutcome_VERIFY_OUTCOME_LOCKED, 0, maxResends)
	if v := locked().GetVerification(); v.GetState() != "locked" {
		t.Errorf("status after %d wrong codes = %v; want locked", maxAttempts, v)
	}
	r.succeeded(t)
	if res, _ := r.result.(*dsrv1.ResendCodeResult); res.GetResendsLeft() != maxResends-1 {
		t.Errorf("resend result = %v; want %d resends left", r.result, maxResends-1)
	}
	is := h.allIssues()
	if len(is) != 2 || is[1].Issue != 1 || is[1].At != 5*time.Minute || !is[1].ExpiresAt.Equal(t0.Add(5*time.Minute+codeTTL)) {
		t.Errorf("codes issued = %+v; want a second code (issue 1) at +5m valid for %v", is, codeTTL)
	}
	wantVerify(t, old, dsrv1.VerifyOutcome_VERIFY_OUTCOME_WRONG, maxAttempts-1, maxResends-1)
	wantVerify(t, fresh, dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED, 0, 0)
	if st := after(); st.GetStage() != "staff_review" {
		t.Errorf("stage after the new code = %q; want staff_review", st.GetStage())
	}
	h.closedAs(request.ClosedWithdrawn)
}

// Each code is reminded once, ReminderBefore its expiry; a resent code gets
// its own reminder.
func TestAReminderIsSentBeforeEachCodeExpires(t *testing.T) {
	h := deletionJP(t)
	h.resend(50 * time.Minute)
	v := h.verify(100*time.Minute, codes[1])
	h.withdraw(101 * time.Minute)
	h.run()

	wantVerify(t, v, dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED, 0, 0)
	first, second := codeTTL-reminderBefore, 50*time.Minute+codeTTL-reminderBefore
	if got := h.reminders(); !slices.Equal(got, []time.Duration{first, second}) {
		t.Errorf("reminders sent at %v; want %v and %v", got, first, second)
	}
	for _, i := range h.allIssues() {
		if i.Reminder && i.At == first && (i.Issue != 0 || !i.ExpiresAt.Equal(t0.Add(codeTTL))) {
			t.Errorf("first reminder = %+v; want code 0 expiring at +%v", i.IssueInput, codeTTL)
		}
		if i.Reminder && i.At == second && (i.Issue != 1 || !i.ExpiresAt.Equal(t0.Add(50*time.Minute+codeTTL))) {
			t.Errorf("second reminder = %+v; want code 1", i.IssueInput)
		}
	}
}

// With resends left, an expired code keeps the request open one more code
// lifetime for a resend; nothing by then closes it as unverified, with the
// Unverified notice.
func TestNoCodeAndNoResendClosesUnverifiedOneCodeLifetimeAfterExpiry(t *testing.T) {
	h := deletionJP(t)
	expired := h.verify(codeTTL+time.Minute, codes[0])
	open := h.runningAt(2*codeTTL - time.Second)
	h.run()

	h.closedAs(request.ClosedUnverified)
	wantVerify(t, expired, dsrv1.VerifyOutcome_VERIFY_OUTCOME_EXPIRED, 0, maxResends)
	if !open() {
		t.Error("closed before the grace period after expiry ended")
	}
	n := h.onlyNotice(request.NoticeUnverified)
	if n.At != 2*codeTTL || n.To != request.RecipientPerson {
		t.Errorf("unverified notice at +%v to %q; want at +%v to the person", n.At, n.To, 2*codeTTL)
	}
	if got := h.noticeKinds(request.RecipientPerson); !slices.Equal(got, []notify.Kind{request.NoticeReceipt, request.NoticeUnverified}) {
		t.Errorf("notices = %v", got)
	}
	if st := h.finalStatus(); st.GetVerification().GetState() != "expired" || len(st.GetAttention()) != 0 {
		t.Errorf("final status verification %v attention %v; want expired, no attention", st.GetVerification(), st.GetAttention())
	}
	if len(h.allSends()) != 0 || len(h.relatedIn) != 0 {
		t.Error("an unverified request went on to related requests or holders")
	}
}

func TestResendDuringTheGraceAfterExpiryIssuesAWorkingCode(t *testing.T) {
	h := deletionJP(t)
	r := h.resend(codeTTL + 30*time.Minute)
	v := h.verify(codeTTL+40*time.Minute, codes[1])
	h.withdraw(codeTTL + 41*time.Minute)
	h.run()

	r.succeeded(t)
	wantVerify(t, v, dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED, 0, 0)
	h.closedAs(request.ClosedWithdrawn)
	if len(h.notice(request.NoticeUnverified)) != 0 {
		t.Error("closed as unverified although a new code was asked for in time")
	}
}

// When no resend is left, the last code's expiry closes the request at once.
func TestLastCodeExpiringWithNoResendsLeftClosesAtItsExpiry(t *testing.T) {
	h := deletionJP(t)
	h.resend(1 * time.Minute)
	h.resend(2 * time.Minute)
	last := 2*time.Minute + codeTTL
	open := h.runningAt(last - time.Second)
	h.run()

	h.closedAs(request.ClosedUnverified)
	if !open() {
		t.Error("closed before the last code expired")
	}
	if n := h.onlyNotice(request.NoticeUnverified); n.At != last {
		t.Errorf("unverified notice at +%v; want at the last code's expiry +%v", n.At, last)
	}
}

func TestResendBeyondMaxResendsIsRejected(t *testing.T) {
	h := deletionJP(t)
	r1 := h.resend(1 * time.Minute)
	r2 := h.resend(2 * time.Minute)
	r3 := h.resend(3 * time.Minute)
	v := h.verify(4*time.Minute, codes[2])
	h.withdraw(5 * time.Minute)
	h.run()

	r1.succeeded(t)
	r2.succeeded(t)
	r3.rejectedWith(t, "no more codes can be sent")
	if n := len(h.allIssues()); n != 1+maxResends {
		t.Errorf("%d codes issued; want %d", n, 1+maxResends)
	}
	wantVerify(t, v, dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED, 0, 0)
}

// Locking the last code, with no resend left, ends verification: the
// request closes as unverified and staff are told why (verification_exhausted).
func TestLockingTheLastCodeClosesUnverifiedAndFlagsStaff(t *testing.T) {
	h := deletionJP(t)
	h.resend(1 * time.Minute)
	h.resend(2 * time.Minute)
	var last *update
	for i := range maxAttempts {
		last = h.verify(time.Duration(3+i)*time.Minute, "000000")
	}
	h.run()

	wantVerify(t, last, dsrv1.VerifyOutcome_VERIFY_OUTCOME_LOCKED, 0, 0)
	h.closedAs(request.ClosedUnverified)
	if n := h.onlyNotice(request.NoticeUnverified); n.At != 5*time.Minute {
		t.Errorf("unverified notice at +%v; want at once (+5m)", n.At)
	}
	if st := h.finalStatus(); !slices.Contains(st.GetAttention(), request.AttentionCodesExhausted) {
		t.Errorf("attention = %v; want %s", st.GetAttention(), request.AttentionCodesExhausted)
	}
	if _, ok := h.attentionUpserted(request.AttentionCodesExhausted); !ok {
		t.Errorf("DsrAttention never carried %s", request.AttentionCodesExhausted)
	}
}

func TestVerificationIsRejectedOutsideTheVerifyingStage(t *testing.T) {
	h := deletionJP(t)
	h.verify(verifiedAt, codes[0])
	again := h.verify(verifiedAt+time.Minute, codes[0])
	resend := h.resend(verifiedAt + 2*time.Minute)
	h.withdraw(verifiedAt + 3*time.Minute)
	h.run()

	again.rejectedWith(t, `verification is not possible while the request is at stage "staff_review"`)
	resend.rejectedWith(t, `a new code is not possible while the request is at stage "staff_review"`)
}

// A code locked by wrong attempts is dead: reminding the person of it
// before its expiry would send them back to a code that can no longer work.
func TestNoReminderIsSentForALockedCode(t *testing.T) {
	h := deletionJP(t)
	for i := range maxAttempts {
		h.verify(time.Duration(1+i)*time.Minute, "000000")
	}
	h.run()

	h.closedAs(request.ClosedUnverified)
	if got := h.reminders(); len(got) != 0 {
		t.Errorf("reminders for the locked code sent at %v; want none (BUG: awaitVerification does not wake on a lock)", got)
	}
}

// --- staff identity review ---

func TestAgentFilingGoesToStaffIdentityReviewAndApprovalContinues(t *testing.T) {
	in := submitted(dsrv1.RequestKind_REQUEST_KIND_DELETION, contract.JurisdictionJP)
	in.FiledByAgent = true
	h := newHarness(t, in)
	early := h.update(30*time.Second, contract.UpdateReviewIdentity, &dsrv1.ReviewIdentity{Actor: staff, Approve: true})
	h.verify(verifiedAt, codes[0])
	inReview := h.statusAt(verifiedAt + time.Second)
	noActor := h.update(verifiedAt+30*time.Second, contract.UpdateReviewIdentity, &dsrv1.ReviewIdentity{Approve: true})
	ok := h.update(2*time.Minute, contract.UpdateReviewIdentity, &dsrv1.ReviewIdentity{Actor: staff, Approve: true})
	after := h.statusAt(2*time.Minute + time.Second)
	h.decide(3*time.Minute, refuse("grounds_not_met", "not needed")) // ends the test
	h.run()

	early.rejectedWith(t, `an identity review is not possible while the request is at stage "verifying"`)
	st := inReview()
	if st.GetStage() != "identity_review" || !slices.Equal(st.GetAttention(), []string{request.AttentionAgentReview}) ||
		st.GetVerification().GetState() != "review" || !st.GetFiledByAgent() || st.GetWaitingFor() != "staff identity review" {
		t.Errorf("agent's request after the code: stage %q attention %v verification %q agent %v waiting %q",
			st.GetStage(), st.GetAttention(), st.GetVerification().GetState(), st.GetFiledByAgent(), st.GetWaitingFor())
	}
	if at, found := h.attentionUpserted(request.AttentionAgentReview); !found || at != verifiedAt {
		t.Errorf("DsrAttention agent_review upserted at +%v (found %v); want at +%v", at, found, verifiedAt)
	}
	noActor.rejectedWith(t, "actor")
	ok.succeeded(t)
	if st := after(); st.GetStage() != "staff_review" || slices.Contains(st.GetAttention(), request.AttentionAgentReview) {
		t.Errorf("after approval: stage %q attention %v; want staff_review without agent_review", st.GetStage(), st.GetAttention())
	}
	h.closedAs(request.ClosedRefused)
}

func TestRejectedIdentityReviewClosesIdentityRejectedWithADecisionNotice(t *testing.T) {
	in := submitted(dsrv1.RequestKind_REQUEST_KIND_DELETION, contract.JurisdictionJP)
	in.FiledByAgent = true
	h := newHarness(t, in)
	h.verify(verifiedAt, codes[0])
	noReason := h.update(2*time.Minute, contract.UpdateReviewIdentity, &dsrv1.ReviewIdentity{Actor: staff, Approve: false})
	rejected := h.update(3*time.Minute, contract.UpdateReviewIdentity,
		&dsrv1.ReviewIdentity{Actor: staff, Approve: false, Reason: "委任状 missing"})
	h.run()

	noReason.rejectedWith(t, "needs a reason")
	rejected.succeeded(t)
	h.closedAs(request.ClosedIdentityRejected)
	n := h.onlyNotice(request.NoticeDecision)
	if n.At != 3*time.Minute || n.Data.Decision != "refuse" || n.Data.ReasonCode != "identity_not_verified" || n.Data.ReasonText != "委任状 missing" {
		t.Errorf("decision notice at +%v = %+v; want refuse identity_not_verified with the staff's reason", n.At, n.Data)
	}
	if st := h.finalStatus(); st.GetVerification().GetState() != "rejected" || len(st.GetAttention()) != 0 {
		t.Errorf("final verification %q attention %v; want rejected, none", st.GetVerification().GetState(), st.GetAttention())
	}
	if len(h.allSends()) != 0 {
		t.Error("commands were sent for a request whose identity was rejected")
	}
}

// The locate round asks holders whether the details match their records: a
// PARTIAL "identifiers_mismatch" sends the request to staff identity review;
// matching details go straight on.
// A request from before ChangeIdentity202612 goes to review on a locate's
// identifiers_mismatch, as it always did (binding_test.go has the rule of
// requests since).
func TestIdentifiersMismatchFromLocateSendsTheRequestToIdentityReview(t *testing.T) {
	for _, tc := range []struct {
		name      string
		outcome   dsrv1.Outcome
		reason    string
		wantStage string
	}{
		{"mismatch", dsrv1.Outcome_OUTCOME_PARTIAL, "identifiers_mismatch", "identity_review"},
		{"match", dsrv1.Outcome_OUTCOME_DONE, "", "staff_review"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := deletionJP(t)
			h.startedBeforeIdentity()
			h.Locate = []request.HolderPlan{holder("members")}
			h.verify(verifiedAt, codes[0])
			res := h.result("locate", "members", 1, tc.outcome)
			res.Reason = tc.reason
			h.answer(2*time.Minute, res)
			after := h.statusAt(2*time.Minute + time.Second)
			if tc.wantStage == "identity_review" {
				h.update(3*time.Minute, contract.UpdateReviewIdentity, &dsrv1.ReviewIdentity{Actor: staff, Approve: true})
			}
			approved := h.statusAt(3*time.Minute + time.Second)
			h.withdraw(4 * time.Minute)
			h.run()

			if got := h.attempts("members", "locate"); !slices.Equal(got, []string{at(1, verifiedAt)}) {
				t.Errorf("locate commands = %v; want one right after verification", got)
			}
			if s := h.sendsTo("members", "locate"); len(s) == 1 && s[0].Action != dsrv1.Action_ACTION_LOCATE {
				t.Errorf("locate round sent action %v", s[0].Action)
			}
			st := after()
			if st.GetStage() != tc.wantStage {
				t.Errorf("stage after the locate result = %q; want %q", st.GetStage(), tc.wantStage)
			}
			if mismatch := slices.Contains(st.GetAttention(), request.AttentionIdentityMismatch); mismatch != (tc.wantStage == "identity_review") {
				t.Errorf("attention = %v", st.GetAttention())
			}
			if st := approved(); st.GetStage() != "staff_review" || slices.Contains(st.GetAttention(), request.AttentionIdentityMismatch) {
				t.Errorf("after review: stage %q attention %v; want staff_review", st.GetStage(), st.GetAttention())
			}
			h.closedAs(request.ClosedWithdrawn)
		})
	}
}
