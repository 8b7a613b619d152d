package request_test

// The binding rule (ChangeIdentity202612): a code proves control of an
// address, nothing more. Records are exported, changed or erased only when
// the proven address covers them, a member registry confirmed the typed
// member number by that address, or staff approved an identity review; and
// nothing about other requests is told before identity is established.

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"madoguchi.dev/law/verification"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/request"
)

func registryHolder(name string) request.HolderPlan {
	p := holder(name)
	p.MemberRegistry = true
	return p
}

// locateAnswer is a holder's locate result with the binding's counts.
func (h *harness) locateAnswer(name string, covered, unconfirmed int, memberConfirmed bool) *dsrv1.HolderResult {
	o := dsrv1.Outcome_OUTCOME_DONE
	switch {
	case unconfirmed > 0:
		o = dsrv1.Outcome_OUTCOME_PARTIAL
	case covered == 0:
		o = dsrv1.Outcome_OUTCOME_NOT_FOUND
	}
	r := h.result("locate", name, 1, o)
	r.RecordsAffected, r.RecordsUnconfirmed, r.MemberConfirmed = int32(covered), int32(unconfirmed), memberConfirmed
	return r
}

func TestRecordsFoundOnlyByATypedMemberNumberSendTheRequestToIdentityReview(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members *dsrv1.HolderResult
		billing *dsrv1.HolderResult
		// the member number was typed
		memberGiven bool
		wantStage   string
	}{
		// Someone else's member number with one's own address: the member
		// record holds another address, billing's record was found by number.
		{"another's member number", nil, nil, true, "identity_review"},
		// The member was erased; retained invoices hold no contact at all.
		{"an erased member's retained records", nil, nil, true, "identity_review"},
		// A member number that matches nothing is treated the same, so that
		// the course of a request never tells whether someone is a member.
		{"a member number nobody has", nil, nil, true, "identity_review"},
		{"the member's own number and address", nil, nil, true, "staff_review"},
		{"an address alone", nil, nil, false, "staff_review"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := deletionJP(t)
			h.MemberNumberGiven = tc.memberGiven
			h.Locate = []request.HolderPlan{registryHolder("members"), holder("billing")}
			h.Holders = h.Locate
			switch tc.name {
			case "another's member number":
				h.answer(2*time.Minute, h.locateAnswer("members", 0, 1, false))
				h.answer(2*time.Minute, h.locateAnswer("billing", 0, 1, false))
			case "an erased member's retained records":
				h.answer(2*time.Minute, h.locateAnswer("members", 0, 0, false))
				h.answer(2*time.Minute, h.locateAnswer("billing", 0, 1, false))
			case "a member number nobody has":
				h.answer(2*time.Minute, h.locateAnswer("members", 0, 0, false))
				h.answer(2*time.Minute, h.locateAnswer("billing", 0, 0, false))
			case "the member's own number and address":
				h.answer(2*time.Minute, h.locateAnswer("members", 1, 0, true))
				h.answer(2*time.Minute, h.locateAnswer("billing", 0, 1, false)) // linked by number, blank address
			case "an address alone":
				h.answer(2*time.Minute, h.locateAnswer("members", 1, 0, false))
				h.answer(2*time.Minute, h.locateAnswer("billing", 1, 0, false))
			}
			h.verify(verifiedAt, codes[0])
			after := h.statusAt(2*time.Minute + time.Second)
			h.withdraw(4 * time.Minute)
			h.run()

			st := after()
			if st.GetStage() != tc.wantStage {
				t.Errorf("stage after the locate = %q; want %q", st.GetStage(), tc.wantStage)
			}
			if review := slices.Contains(st.GetAttention(), request.AttentionIdentityMismatch); review != (tc.wantStage == "identity_review") {
				t.Errorf("attention = %v", st.GetAttention())
			}
			for _, s := range h.sendsTo("members", "locate") {
				if s.Binding == nil || s.Binding.MemberConfirmed || s.Binding.IdentityReviewed {
					t.Errorf("locate carried binding %+v; want what the code alone proved", s.Binding)
				}
			}
			h.closedAs(request.ClosedWithdrawn)
		})
	}
}

func TestOnlyTheMemberRegistryCanConfirmAMemberNumber(t *testing.T) {
	h := deletionJP(t)
	h.MemberNumberGiven = true
	h.Locate = []request.HolderPlan{holder("members"), holder("billing")} // no registry among them
	h.answer(2*time.Minute, h.locateAnswer("members", 1, 0, true))
	h.answer(2*time.Minute, h.locateAnswer("billing", 1, 0, true))
	h.verify(verifiedAt, codes[0])
	after := h.statusAt(2*time.Minute + time.Second)
	h.withdraw(4 * time.Minute)
	h.run()

	if st := after(); st.GetStage() != "identity_review" {
		t.Errorf("stage = %q; want identity_review: a holder that is not the member registry confirmed the number", st.GetStage())
	}
}

func TestHoldersAreToldWhatTheRequesterProvedAtEachStep(t *testing.T) {
	t.Run("a member number the registry confirmed", func(t *testing.T) {
		h := deletionJP(t)
		h.MemberNumberGiven = true
		h.Locate = []request.HolderPlan{registryHolder("members")}
		h.answer(2*time.Minute, h.locateAnswer("members", 1, 0, true))
		h.verify(verifiedAt, codes[0])
		h.decide(decidedAt, approve())
		h.answer(decidedAt+time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
		h.run()

		h.completed()
		act := h.sendsTo("members", "act")
		if len(act) != 1 || act[0].Binding == nil || !act[0].Binding.MemberConfirmed || act[0].Binding.IdentityReviewed {
			t.Errorf("act commands %+v; want one carrying the registry's confirmation and no review", act)
		}
	})
	t.Run("an identity review staff approved", func(t *testing.T) {
		h := deletionJP(t)
		h.MemberNumberGiven = true
		h.Locate = []request.HolderPlan{registryHolder("members")}
		h.answer(2*time.Minute, h.locateAnswer("members", 0, 1, false))
		h.verify(verifiedAt, codes[0])
		h.update(3*time.Minute, contract.UpdateReviewIdentity, &dsrv1.ReviewIdentity{Actor: staff, Approve: true})
		h.decide(4*time.Minute, approve())
		h.answer(5*time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
		h.run()

		h.completed()
		act := h.sendsTo("members", "act")
		if len(act) != 1 || act[0].Binding == nil || !act[0].Binding.IdentityReviewed || act[0].Binding.MemberConfirmed {
			t.Errorf("act commands %+v; want one carrying the approved review", act)
		}
	})
}

// A duplicate notice names the person's other requests: it goes out only
// once identity is established, which for an agent means after staff
// approved the review — never on the code alone.
func TestOtherRequestsAreReportedOnlyOnceIdentityIsEstablished(t *testing.T) {
	in := submitted(dsrv1.RequestKind_REQUEST_KIND_DELETION, contract.JurisdictionJP)
	in.FiledByAgent = true
	h := newHarness(t, in)
	h.Related = request.Related{OpenSameKind: []string{"20260520-XYZXYZ"}}
	h.verify(verifiedAt, codes[0])
	inReview := h.statusAt(verifiedAt + 30*time.Second)
	h.update(3*time.Minute, contract.UpdateReviewIdentity, &dsrv1.ReviewIdentity{Actor: staff, Approve: true})
	h.decide(4*time.Minute, approve())
	h.answer(5*time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	if st := inReview(); len(st.GetLinkedReceipts()) != 0 || len(h.relatedIn) != 1 {
		t.Errorf("during the review: linked %v; want nothing linked yet", st.GetLinkedReceipts())
	}
	n := h.onlyNotice(request.NoticeDuplicateLinked)
	if n.At < 3*time.Minute {
		t.Errorf("duplicate notice at +%v; want after the review was approved at +3m", n.At)
	}
	if s := h.sendsTo("members", "act"); len(s) != 1 || !s[0].Binding.IdentityReviewed {
		t.Errorf("act commands %+v; want the review in their binding", s)
	}
}

func TestARejectedReviewTellsTheFilerNothingAboutOtherRequests(t *testing.T) {
	in := submitted(dsrv1.RequestKind_REQUEST_KIND_DISCLOSURE, contract.JurisdictionJP)
	in.FiledByAgent = true
	h := newHarness(t, in)
	h.Related = request.Related{OpenSameKind: []string{"20260520-XYZXYZ"}, AccessesLast12Months: 5}
	h.verify(verifiedAt, codes[0])
	h.update(3*time.Minute, contract.UpdateReviewIdentity, &dsrv1.ReviewIdentity{Actor: staff, Approve: false, Reason: "委任状が確認できません"})
	h.run()

	h.closedAs(request.ClosedIdentityRejected)
	if len(h.relatedIn) != 0 || len(h.notice(request.NoticeDuplicateLinked)) != 0 {
		t.Errorf("related requests looked up %d times, %d duplicate notices; want none", len(h.relatedIn),
			len(h.notice(request.NoticeDuplicateLinked)))
	}
}

// Codes are checked by a keyed digest only the worker computes: history
// keeps the request's sealed secret and digests, never the code or its
// plain hash.
func TestCodesAreCheckedByTheWorkersKeyedDigest(t *testing.T) {
	h := deletionJP(t)
	wrong := h.verify(1*time.Minute, "000000")
	malformed := h.verify(90*time.Second, "12ab")
	right := h.verify(2*time.Minute, "１２３４５６")
	h.withdraw(3 * time.Minute)
	h.run()

	wantVerify(t, wrong, dsrv1.VerifyOutcome_VERIFY_OUTCOME_WRONG, maxAttempts-1, maxResends)
	wantVerify(t, malformed, dsrv1.VerifyOutcome_VERIFY_OUTCOME_MALFORMED, maxAttempts-1, maxResends)
	wantVerify(t, right, dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED, 0, 0)
	issues := h.allIssues()
	if len(issues) != 1 || issues[0].Secret == nil {
		t.Fatalf("codes issued %+v; want one, made from the request's sealed secret", issues)
	}
	if len(h.digests) != 2 || h.digests[0].Code != "000000" || h.digests[1].Code != "123456" ||
		h.digests[0].Secret == nil || h.digests[1].Issue != 0 {
		t.Errorf("digests asked %+v; want the two well-formed codes, normalised, under the secret", h.digests)
	}
	for _, d := range h.digests {
		if bytes.Equal(d.Secret.GetCiphertext(), []byte(d.Code)) {
			t.Error("the secret is the code")
		}
	}
	plain := verification.HashCode(codes[0])
	for _, rec := range h.digests {
		mac, _ := h.codes.MAC(rec.Secret, "verification", rec.RequestID, rec.Issue, codes[0])
		if bytes.Equal(mac, plain) {
			t.Error("the digest is the code's plain SHA-256")
		}
	}
}
