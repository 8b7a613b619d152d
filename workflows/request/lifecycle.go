package request

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"madoguchi.dev/law/fee"
	"madoguchi.dev/law/kind"
	"madoguchi.dev/law/verification"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/notify"
)

// step is one stage of the lifecycle. It returns an Outcome when it ends
// the request (closed, or completed), nil to go on to the next step.
type step func(ctx, actx workflow.Context, k kind.Kind) (*Outcome, error)

// lifecycle runs the steps in the law's order: identity (Art. 37), where
// the records are (委託), staff identity review, fee (Art. 38), the staff
// decision (Art. 34, 35), then acting and answering.
func (r *run) lifecycle(ctx, actx workflow.Context) (*Outcome, error) {
	k, _ := kind.Parse(contract.KindName(r.in.GetKind()))
	for _, s := range []step{r.verify, r.relatedBeforeIdentity, r.locate, r.reviewIdentity, r.relatedAfterIdentity,
		r.payFee, r.decide, r.stopIfWithdrawn} {
		if out, err := s(ctx, actx, k); out != nil || err != nil {
			return out, err
		}
	}
	return r.actAndAnswer(ctx, actx, k)
}

// closeWithdrawn ends a request the person withdrew before anything was
// changed.
func (r *run) closeWithdrawn(ctx, actx workflow.Context) (*Outcome, error) {
	return r.close(ctx, actx, ClosedWithdrawn, NoticeWithdrawn, NoticeData{})
}

// closeWithdrawnOr closes the request as withdrawn when the person
// withdrew during the wait that just ended, else for reason.
func (r *run) closeWithdrawnOr(ctx, actx workflow.Context, reason string, notice notify.Kind, data NoticeData) (*Outcome, error) {
	if r.withdrawn {
		return r.closeWithdrawn(ctx, actx)
	}
	return r.close(ctx, actx, reason, notice, data)
}

// stopIfWithdrawn closes a request withdrawn during the last wait.
func (r *run) stopIfWithdrawn(ctx, actx workflow.Context, _ kind.Kind) (*Outcome, error) {
	if r.withdrawn {
		return r.closeWithdrawn(ctx, actx)
	}
	return nil, nil
}

// awaitStaff raises attention, waits for staff (done) or a withdrawal, and
// lowers it again; it reports whether staff answered first.
func (r *run) awaitStaff(ctx workflow.Context, attention string, done func() bool) bool {
	r.raise(ctx, attention)
	_ = workflow.Await(ctx, func() bool { return done() || r.withdrawn })
	r.lower(ctx, attention)
	return !r.withdrawn
}

// verify (APPI Art. 37): a code by e-mail. The stage opens once the code
// exists, so nothing can be checked against no code.
func (r *run) verify(ctx, actx workflow.Context, _ kind.Kind) (*Outcome, error) {
	if err := r.issueCode(ctx, actx); err != nil {
		return nil, err
	}
	r.setStage(ctx, StageVerifying)
	if !r.awaitVerification(ctx, actx) {
		if r.verifyDead && !r.withdrawn {
			r.raise(ctx, AttentionCodesExhausted)
		}
		return r.closeWithdrawnOr(ctx, actx, ClosedUnverified, NoticeUnverified, NoticeData{})
	}
	// Every path from here changes the stage within an activity or two.
	r.upsertWithNextStage(ctx, SASubjectRef.ValueSet(r.prepared.SubjectRef))
	return nil, nil
}

// relatedBeforeIdentity: duplicates are linked and reported, never
// dropped. A request recorded before ChangeIdentity202612 reports them
// here; one since reports them only once identity is established
// (relatedAfterIdentity): a code proves an address, not who the records of
// the typed identifiers belong to.
func (r *run) relatedBeforeIdentity(ctx, actx workflow.Context, k kind.Kind) (*Outcome, error) {
	if !r.identity {
		return r.checkRelated(ctx, actx, k)
	}
	r.binding = &CommandBinding{}
	return nil, nil
}

func (r *run) relatedAfterIdentity(ctx, actx workflow.Context, k kind.Kind) (*Outcome, error) {
	if r.identity {
		return r.checkRelated(ctx, actx, k)
	}
	return nil, nil
}

// locate asks where the records are, and for whom (委託), and whether the
// proven contact covers them.
func (r *run) locate(ctx, actx workflow.Context, _ kind.Kind) (*Outcome, error) {
	if len(r.prepared.Locate) > 0 {
		r.setStage(ctx, StageLocating)
		located := r.fanOut(ctx, actx, fanOutSpec{Phase: "locate", Action: dsrv1.Action_ACTION_LOCATE,
			Holders: r.prepared.Locate, Track: true})
		if r.identity {
			r.bindLocated(located)
		} else {
			for _, res := range located {
				if res.GetOutcome() == dsrv1.Outcome_OUTCOME_PARTIAL && res.GetReason() == "identifiers_mismatch" {
					r.mismatch = true
				}
			}
		}
	}
	if r.identity && r.prepared.MemberNumberGiven && !r.binding.MemberConfirmed {
		// A member number that no member record confirms by the proven
		// address goes to review whether or not records exist, so that the
		// request's course never tells whether someone is a member.
		r.mismatch = true
	}
	return nil, nil
}

// reviewIdentity: staff check every agent (代理人) and every request with
// records the proven contact does not cover.
func (r *run) reviewIdentity(ctx, actx workflow.Context, _ kind.Kind) (*Outcome, error) {
	if !verification.NeedsStaffReview(r.in.GetFiledByAgent(), !r.mismatch) {
		return nil, nil
	}
	reason := AttentionIdentityMismatch
	if r.in.GetFiledByAgent() {
		reason = AttentionAgentReview
	}
	r.setStage(ctx, StageIdentityReview)
	if !r.awaitStaff(ctx, reason, func() bool { return r.reviewDone }) {
		return r.closeWithdrawn(ctx, actx)
	}
	if !r.reviewApproved {
		return r.close(ctx, actx, ClosedIdentityRejected, NoticeDecision,
			NoticeData{Decision: "refuse", ReasonCode: "identity_not_verified", ReasonText: r.reviewReason})
	}
	if r.identity {
		r.binding.IdentityReviewed = true
	}
	return nil, nil
}

// payFee (APPI Art. 38): disclosure-type kinds only.
func (r *run) payFee(ctx, actx workflow.Context, _ kind.Kind) (*Outcome, error) {
	if !r.prepared.Fee.Required || r.awaitFee(ctx, actx) {
		return nil, nil
	}
	return r.closeWithdrawnOr(ctx, actx, ClosedUnpaid, NoticeUnpaid, NoticeData{FeeJPY: r.prepared.Fee.AmountJPY})
}

// decide: staff decide every kind that changes or stops data (Art. 34,
// 35) and every GDPR request (manifestly unfounded or excessive is
// staff's call, and may carry a reasonable fee: GDPR Art. 12(5)).
func (r *run) decide(ctx, actx workflow.Context, k kind.Kind) (*Outcome, error) {
	if !k.ChangesData() && !k.NeedsArt35Grounds() && r.in.GetJurisdiction() != contract.JurisdictionGDPR {
		return nil, nil
	}
	r.setStage(ctx, StageStaffReview)
	if !r.awaitStaff(ctx, AttentionStaffDecision, func() bool { return r.decision != nil }) {
		return r.closeWithdrawn(ctx, actx)
	}
	if r.decision.GetOutcome() == dsrv1.DecisionOutcome_DECISION_OUTCOME_REFUSE {
		return r.close(ctx, actx, ClosedRefused, NoticeDecision, r.decisionData())
	}
	if r.decision.GetManifestlyExcessive() && !r.prepared.Fee.Required {
		j, _ := kind.ParseJurisdiction(r.in.GetJurisdiction())
		if f, err := fee.Assess(k, j, true, r.prepared.Settings.Fee); err == nil && f.Required {
			r.prepared.Fee = f
			return r.payFee(ctx, actx, k)
		}
	}
	return nil, nil
}

// actAndAnswer has every holder that serves the kind's action act, waits
// for the entrusting companies' instructions, answers the person and tells
// internal services of an erasure.
func (r *run) actAndAnswer(ctx, actx workflow.Context, _ kind.Kind) (*Outcome, error) {
	out := &Outcome{Receipt: r.in.GetReceipt(), HolderOutcomes: map[string]string{}}
	plan := r.prepared.Plan
	results := map[string]*dsrv1.HolderResult{}
	if len(plan.Holders) > 0 {
		r.setStage(ctx, StageFanOut)
		results = r.fanOut(ctx, actx, fanOutSpec{Phase: "act", Action: plan.Action, Holders: plan.Holders,
			Corrections: r.decision.GetCorrections(), Track: true})
	}
	// Records held under entrustment: only on the company's instruction.
	r.collectEntrusted(ctx, results)
	if len(r.entrusted) > 0 {
		r.awaitEntrusted(ctx, actx, results)
	}
	for _, h := range plan.Holders {
		out.HolderOutcomes[h.Name] = results[h.Name].GetOutcome().String()
	}
	if err := r.answer(ctx, actx, plan, results, out); err != nil {
		return nil, err
	}
	if err := r.announceErasure(ctx, actx, plan, results, out); err != nil {
		return nil, err
	}
	r.setStage(ctx, StageCompleted)
	r.lower(ctx, AttentionDeadlineNear)
	r.lower(ctx, AttentionOverdue)
	out.Stage = r.stage
	return out, nil
}

// answer sends the disclosure package or the completion notice.
func (r *run) answer(ctx, actx workflow.Context, plan Plan, results map[string]*dsrv1.HolderResult, out *Outcome) error {
	r.setStage(ctx, StageNotifying)
	data := r.decisionData()
	data.Holders = r.holderNames(results)
	data.Withdrawn = r.withdrawn
	if plan.Action == dsrv1.Action_ACTION_EXPORT || plan.Action == dsrv1.Action_ACTION_EXPORT_PROVISION_RECORDS {
		if r.identity {
			// The token stays out of history: the completion notice gets
			// the sealed secret to derive the link from (download.go).
			ref, link, err := r.deliverPackage(ctx, actx, results)
			if err != nil {
				return err
			}
			out.PackageID = ref.ID
			data.DownloadLink, data.DownloadExpiresAt = link, ref.ExpiresAt
		} else {
			ref, err := r.assemblePackage(ctx, actx, results)
			if err != nil {
				return err
			}
			out.PackageID = ref.ID
			data.DownloadToken, data.DownloadExpiresAt = ref.Token, ref.ExpiresAt
		}
	}
	r.notify(ctx, actx, NoticeCompletion, data)
	return nil
}

// announceErasure publishes the erasure event for internal services
// (pseudonymous ids only) when any holder erased.
func (r *run) announceErasure(ctx, actx workflow.Context, plan Plan, results map[string]*dsrv1.HolderResult, out *Outcome) error {
	if plan.Action != dsrv1.Action_ACTION_ERASE {
		return nil
	}
	var erased []string
	for _, h := range plan.Holders {
		switch results[h.Name].GetOutcome() {
		case dsrv1.Outcome_OUTCOME_DONE, dsrv1.Outcome_OUTCOME_PARTIAL, dsrv1.Outcome_OUTCOME_RETAINED_BY_LAW:
			erased = append(erased, h.Name)
		}
	}
	if len(erased) == 0 {
		return nil
	}
	err := workflow.ExecuteActivity(actx, a.PublishErasureCompleted, ErasureInput{RequestID: r.in.GetRequestId(),
		Receipt: r.in.GetReceipt(), Personal: r.in.GetPersonal(), Holders: erased}).Get(ctx, &out.ErasureEventID)
	if err != nil {
		return fmt.Errorf("publish erasure completed: %w", err)
	}
	r.event(ctx, "erasure_announced", "system", out.ErasureEventID)
	return nil
}
