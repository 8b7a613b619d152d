package request

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"madoguchi.dev/law/grounds"
	"madoguchi.dev/law/kind"
	"madoguchi.dev/law/verification"
	"madoguchi.dev/platform/staffsig"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// register installs the status query and every update. Each update has a
// validator: an action that does not fit the request's stage is rejected
// with the reason, before anything is written to history. A staff action
// is checked for its staff signature first (checkStaff); the person's own
// updates are not signed.
func (r *run) register(ctx, actx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, contract.QueryStatus, func() (*dsrv1.RequestStatus, error) {
		return r.status(r.waitingFor()), nil
	}, workflow.QueryHandlerOptions{Description: "The request's current picture, without personal data"}); err != nil {
		return err
	}
	type reg struct {
		name      string
		handler   any
		validator any
		desc      string
	}
	for _, u := range []reg{
		{contract.UpdateVerifyIdentity, r.onVerify(ctx), r.validateVerify, "The person enters the e-mailed code"},
		{contract.UpdateResendCode, r.onResend(ctx, actx), r.validateResend, "The person asks for a new code"},
		{contract.UpdateWithdraw, r.onWithdraw(ctx), r.validateWithdraw, "The person withdraws the request"},
		{contract.UpdateReviewIdentity, r.onReviewIdentity(ctx), r.validateReviewIdentity, "Staff settle an identity review"},
		{contract.UpdateDecide, r.onDecide(ctx), r.validateDecide, "Staff approve or refuse, with reasons"},
		{contract.UpdateMarkFeePaid, r.onFeePaid(ctx), r.validateFeePaid, "Payment received (provider webhook or staff)"},
		{contract.UpdateExtendDeadline, r.onExtend(ctx, actx), r.validateExtend, "Staff extend the due date, with reason"},
		{contract.UpdateEntrustedInstruction, r.onEntrusted(ctx), r.validateEntrusted, "Record the entrusting company's instruction"},
		{contract.UpdateRetryHolder, r.onRetryHolder(ctx), r.validateRetryHolder, "Resend the command to a holder"},
		{contract.UpdateCloseWithdrawn, r.onCloseWithdrawn(ctx), r.validateCloseWithdrawn, "Staff close as withdrawn on the person's behalf"},
	} {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler,
			workflow.UpdateHandlerOptions{Validator: u.validator, Description: u.desc}); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) waitingFor() string {
	switch r.stage {
	case StageVerifying:
		return "the person's verification code"
	case StageIdentityReview:
		return "staff identity review"
	case StageAwaitingFee:
		return "payment of the fee"
	case StageStaffReview:
		return "a staff decision"
	case StageFanOut, StageLocating:
		return "results from: " + strings.Join(r.pendingHolders(), ", ")
	case StageAwaitingEntrusted:
		var waiting []string
		for _, e := range r.entrusted {
			if e.State == "waiting" {
				waiting = append(waiting, e.CompanyID)
			}
		}
		return "instructions from entrusting companies: " + strings.Join(waiting, ", ")
	}
	return ""
}

var errTerminal = errors.New("the request is already completed or closed")

func stageError(action string, s Stage) error {
	return fmt.Errorf("%s is not possible while the request is at stage %q", action, s)
}

// checkStaff is the first check of every staff action's validator: the
// action is signed by a key the worker trusts (platform/staffsig), for this
// request and update, within minutes of the workflow's time, and its nonce
// was not accepted before. The keys are the worker's configuration; a
// validator may read it, as Temporal runs validators when an update arrives
// and never on replay.
func (r *run) checkStaff(ctx workflow.Context, update string, u staffsig.Action) error {
	s, err := r.staffKeys.Verify(workflow.GetInfo(ctx).WorkflowExecution.ID, update, u, workflow.Now(ctx))
	if err != nil {
		return err
	}
	if _, used := r.staffNonces[s.Nonce]; used {
		return staffsig.ErrReplayed
	}
	return nil
}

// acceptStaff is the first step of every staff action's handler: it keeps
// the signature's nonce, so that the action cannot be accepted again, and
// returns the signed actor, whom history records. An action accepted
// before signatures (in the history of an older request) has none; its
// actor field stands, as it did. Nonces issued longer than
// staffsig.MaxAge ago are dropped: checkStaff refuses them as stale.
func (r *run) acceptStaff(ctx workflow.Context, u staffsig.Action) string {
	sig := u.GetSignature()
	if sig == nil {
		return u.GetActor()
	}
	now := workflow.Now(ctx)
	for n, issued := range r.staffNonces {
		if now.Sub(issued) > staffsig.MaxAge {
			delete(r.staffNonces, n)
		}
	}
	if r.staffNonces == nil {
		r.staffNonces = map[string]time.Time{}
	}
	r.staffNonces[hex.EncodeToString(sig.GetNonce())] = sig.GetIssuedAt().AsTime()
	return sig.GetActor()
}

func ack(r *run, msg string) *dsrv1.ActionResult {
	return &dsrv1.ActionResult{Stage: string(r.stage), Message: msg}
}

// --- the person ---

func (r *run) validateVerify(u *dsrv1.VerifyIdentity) error {
	if r.stage != StageVerifying {
		return stageError("verification", r.stage)
	}
	if len(u.GetCode()) > 32 {
		return errors.New("the code is too long")
	}
	return nil
}

func (r *run) onVerify(ctx workflow.Context) func(workflow.Context, *dsrv1.VerifyIdentity) (*dsrv1.VerifyIdentityResult, error) {
	return func(hctx workflow.Context, u *dsrv1.VerifyIdentity) (*dsrv1.VerifyIdentityResult, error) {
		var next verification.State
		var out verification.Outcome
		if r.identity {
			var err error
			if next, out, err = r.checkKeyed(hctx, u.GetCode()); err != nil {
				return nil, err
			}
		} else {
			next, out = r.verification.Check(u.GetCode(), workflow.Now(ctx))
		}
		r.verification = next
		res := &dsrv1.VerifyIdentityResult{AttemptsLeft: int32(out.AttemptsLeft), ResendsLeft: int32(next.ResendsLeft())}
		switch out.Result {
		case verification.Verified:
			res.Outcome = dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED
			r.event(ctx, "verified", "person", "")
		case verification.Wrong:
			res.Outcome = dsrv1.VerifyOutcome_VERIFY_OUTCOME_WRONG
			r.event(ctx, "wrong_code", "person", fmt.Sprintf("%d attempts left", out.AttemptsLeft))
		case verification.Locked:
			res.Outcome = dsrv1.VerifyOutcome_VERIFY_OUTCOME_LOCKED
			r.event(ctx, "code_locked", "person", "too many wrong codes")
			if next.ResendsLeft() == 0 {
				r.verifyDead = true
			}
		case verification.Expired:
			res.Outcome = dsrv1.VerifyOutcome_VERIFY_OUTCOME_EXPIRED
		case verification.AlreadyVerified:
			res.Outcome = dsrv1.VerifyOutcome_VERIFY_OUTCOME_ALREADY_VERIFIED
		default:
			res.Outcome = dsrv1.VerifyOutcome_VERIFY_OUTCOME_MALFORMED
		}
		return res, nil
	}
}

// checkKeyed checks a typed code by its keyed digest, which only the
// worker's CodeDigest can compute. The state is read again after the
// digest arrives, and the digest made again if a resend replaced the code
// meanwhile, so that two checks in flight never overwrite each other.
func (r *run) checkKeyed(ctx workflow.Context, typed string) (verification.State, verification.Outcome, error) {
	code := verification.NormalizeCode(typed)
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	for {
		issue := r.codesIssued - 1
		if !r.verification.Comparable(code, workflow.Now(ctx)) {
			next, out := r.verification.CheckDigest(code, nil, workflow.Now(ctx))
			return next, out, nil
		}
		var digest []byte
		err := workflow.ExecuteLocalActivity(lctx, CodeDigestActivity, CodeMACInput{RequestID: r.in.GetRequestId(),
			Secret: r.prepared.CodeSecret, Issue: issue, Code: code}).Get(ctx, &digest)
		if err != nil {
			return verification.State{}, verification.Outcome{}, fmt.Errorf("code digest: %w", err)
		}
		if issue == r.codesIssued-1 {
			next, out := r.verification.CheckDigest(code, digest, workflow.Now(ctx))
			return next, out, nil
		}
	}
}

// CodeDigestActivity is the registered name of Activities.CodeDigest, run as
// a local activity from the verify update.
const CodeDigestActivity = "CodeDigest"

func (r *run) validateResend(*dsrv1.ResendCode) error {
	if r.stage != StageVerifying {
		return stageError("a new code", r.stage)
	}
	if r.verification.ResendsLeft() == 0 {
		return errors.New("no more codes can be sent for this request")
	}
	return nil
}

// Handlers that run activities must use their own context: the main flow's
// coroutine may be blocked while an update runs.
func (r *run) onResend(_, _ workflow.Context) func(workflow.Context, *dsrv1.ResendCode) (*dsrv1.ResendCodeResult, error) {
	return func(ctx workflow.Context, _ *dsrv1.ResendCode) (*dsrv1.ResendCodeResult, error) {
		if err := r.issueCode(ctx, activityContext(ctx)); err != nil {
			return nil, err
		}
		r.event(ctx, "code_resent", "person", "")
		return &dsrv1.ResendCodeResult{ResendsLeft: int32(r.verification.ResendsLeft())}, nil
	}
}

func (r *run) validateWithdraw(u *dsrv1.Withdraw) error {
	if r.terminal() {
		return errTerminal
	}
	if r.withdrawn {
		return errors.New("the request has already been withdrawn")
	}
	if len(u.GetReason()) > 2000 {
		return errors.New("the reason is too long")
	}
	return nil
}

func (r *run) onWithdraw(ctx workflow.Context) func(workflow.Context, *dsrv1.Withdraw) (*dsrv1.ActionResult, error) {
	return func(_ workflow.Context, _ *dsrv1.Withdraw) (*dsrv1.ActionResult, error) {
		return r.withdraw(ctx, "person"), nil
	}
}

func (r *run) withdraw(ctx workflow.Context, actor string) *dsrv1.ActionResult {
	r.withdrawn, r.withdrawnBy = true, actor
	if r.beforeFanOut() {
		r.event(ctx, "withdrawn", actor, "before processing: the request will be closed")
		return ack(r, "withdrawn; the request will be closed")
	}
	r.event(ctx, "withdrawn", actor, "after processing began: recorded and reported")
	return ack(r, "withdrawal recorded; processing had already begun and will be reported")
}

// --- staff ---

func (r *run) validateReviewIdentity(ctx workflow.Context, u *dsrv1.ReviewIdentity) error {
	if err := r.checkStaff(ctx, contract.UpdateReviewIdentity, u); err != nil {
		return err
	}
	if r.stage != StageIdentityReview {
		return stageError("an identity review", r.stage)
	}
	if !u.GetApprove() && strings.TrimSpace(u.GetReason()) == "" {
		return errors.New("a rejected identity review needs a reason for the notice")
	}
	return nil
}

func (r *run) onReviewIdentity(ctx workflow.Context) func(workflow.Context, *dsrv1.ReviewIdentity) (*dsrv1.ActionResult, error) {
	return func(_ workflow.Context, u *dsrv1.ReviewIdentity) (*dsrv1.ActionResult, error) {
		actor := r.acceptStaff(ctx, u)
		r.reviewDone, r.reviewApproved = true, u.GetApprove()
		r.reviewReason = u.GetReason()
		r.event(ctx, "identity_review", actor, map[bool]string{true: "approved", false: "rejected: " + u.GetReason()}[u.GetApprove()])
		return ack(r, "identity review recorded"), nil
	}
}

func (r *run) validateDecide(ctx workflow.Context, u *dsrv1.Decide) error {
	if err := r.checkStaff(ctx, contract.UpdateDecide, u); err != nil {
		return err
	}
	if r.stage != StageStaffReview {
		return stageError("a decision", r.stage)
	}
	d := grounds.Decision{Outcome: grounds.Outcome(decisionName(u.GetOutcome())),
		Reason: grounds.RefusalReason(u.GetReasonCode()), Explanation: u.GetExplanation()}
	if err := d.Validate(); err != nil {
		return err
	}
	k, _ := kind.Parse(contract.KindName(r.in.GetKind()))
	if u.GetOutcome() != dsrv1.DecisionOutcome_DECISION_OUTCOME_REFUSE {
		if k.NeedsArt35Grounds() {
			var gs []grounds.Ground
			for _, g := range u.GetGrounds() {
				gs = append(gs, grounds.Ground(g))
			}
			if err := grounds.ValidateGrounds(k, gs); err != nil {
				return err
			}
		}
		if (k == kind.Correction || k == kind.Addition) && len(u.GetCorrections()) == 0 {
			return errors.New("approving a correction needs the approved new values")
		}
	}
	if u.GetManifestlyExcessive() && r.in.GetJurisdiction() != contract.JurisdictionGDPR {
		return errors.New("manifestly excessive applies to GDPR requests only")
	}
	return nil
}

func (r *run) onDecide(ctx workflow.Context) func(workflow.Context, *dsrv1.Decide) (*dsrv1.ActionResult, error) {
	return func(_ workflow.Context, u *dsrv1.Decide) (*dsrv1.ActionResult, error) {
		actor := r.acceptStaff(ctx, u)
		r.decision = u
		detail := decisionName(u.GetOutcome())
		if u.GetReasonCode() != "" {
			detail += " (" + u.GetReasonCode() + ")"
		}
		if len(u.GetGrounds()) > 0 {
			detail += " grounds: " + strings.Join(u.GetGrounds(), ",")
		}
		r.event(ctx, "decided", actor, detail)
		return ack(r, "decision recorded: "+decisionName(u.GetOutcome())), nil
	}
}

func (r *run) validateFeePaid(ctx workflow.Context, u *dsrv1.MarkFeePaid) error {
	if err := r.checkStaff(ctx, contract.UpdateMarkFeePaid, u); err != nil {
		return err
	}
	if r.stage != StageAwaitingFee {
		return stageError("marking the fee paid", r.stage)
	}
	if u.GetAmountJpy() != 0 && u.GetAmountJpy() < int64(r.prepared.Fee.AmountJPY) {
		return fmt.Errorf("paid %d JPY, but the fee is %d JPY", u.GetAmountJpy(), r.prepared.Fee.AmountJPY)
	}
	return nil
}

func (r *run) onFeePaid(ctx workflow.Context) func(workflow.Context, *dsrv1.MarkFeePaid) (*dsrv1.ActionResult, error) {
	return func(_ workflow.Context, u *dsrv1.MarkFeePaid) (*dsrv1.ActionResult, error) {
		actor := r.acceptStaff(ctx, u)
		r.paid = true
		r.event(ctx, "fee_paid", actor, u.GetReference())
		return ack(r, "payment recorded"), nil
	}
}

func (r *run) validateExtend(ctx workflow.Context, u *dsrv1.ExtendDeadline) error {
	if err := r.checkStaff(ctx, contract.UpdateExtendDeadline, u); err != nil {
		return err
	}
	if r.terminal() {
		return errTerminal
	}
	if nb := r.deadlines.ExtensionNoticeBy; !nb.IsZero() && workflow.Now(ctx).After(nb) {
		return errors.New("the time to extend (and tell the person) has passed")
	}
	if strings.TrimSpace(u.GetReason()) == "" {
		return errors.New("an extension needs a reason (it goes into the notice)")
	}
	if r.deadlines.Extended {
		return errors.New("the due date has already been extended once")
	}
	if !r.deadlines.ExtensionPossible {
		return errors.New("this request's due date cannot be extended")
	}
	return nil
}

func (r *run) onExtend(_, _ workflow.Context) func(workflow.Context, *dsrv1.ExtendDeadline) (*dsrv1.ActionResult, error) {
	return func(ctx workflow.Context, u *dsrv1.ExtendDeadline) (*dsrv1.ActionResult, error) {
		actor := r.acceptStaff(ctx, u)
		actx := activityContext(ctx)
		previous := r.deadlines.AnswerDue
		var ext Extended
		err := workflow.ExecuteActivity(actx, a.ExtendDeadline, ExtendInput{Deadlines: r.deadlines,
			RequestedAt: workflow.Now(ctx), Reason: u.GetReason()}).Get(ctx, &ext)
		if err != nil {
			return nil, err
		}
		r.deadlines, r.warnAt = ext.Deadlines, ext.WarnAt
		r.deadlineChanged.SendAsync(true)
		r.upsert(ctx, SADueAt.ValueSet(r.deadlines.AnswerDue))
		r.lower(ctx, AttentionDeadlineNear)
		r.lower(ctx, AttentionOverdue)
		r.event(ctx, "extended", actor, "new due "+r.deadlines.AnswerDue.Format("2006-01-02"))
		r.notify(ctx, actx, NoticeExtension, NoticeData{DueAt: r.deadlines.AnswerDue, PreviousDueAt: previous, ReasonText: u.GetReason()})
		return ack(r, "due date extended to "+r.deadlines.AnswerDue.Format("2006-01-02")), nil
	}
}

func (r *run) validateEntrusted(ctx workflow.Context, u *dsrv1.EntrustedInstruction) error {
	if err := r.checkStaff(ctx, contract.UpdateEntrustedInstruction, u); err != nil {
		return err
	}
	e := r.company(u.GetCompanyId())
	if e == nil {
		return fmt.Errorf("no records of entrusting company %q are awaiting an instruction", u.GetCompanyId())
	}
	if e.State != "waiting" {
		return fmt.Errorf("company %q's instruction was already settled (%s)", u.GetCompanyId(), e.State)
	}
	return nil
}

func (r *run) onEntrusted(ctx workflow.Context) func(workflow.Context, *dsrv1.EntrustedInstruction) (*dsrv1.ActionResult, error) {
	return func(_ workflow.Context, u *dsrv1.EntrustedInstruction) (*dsrv1.ActionResult, error) {
		actor := r.acceptStaff(ctx, u)
		e := r.company(u.GetCompanyId())
		e.State, e.Note = "declined", u.GetNote()
		if u.GetProceed() {
			e.State = "proceed"
		}
		r.event(ctx, "entrusted_instruction", actor, e.CompanyID+": "+e.State)
		return ack(r, "instruction recorded: "+e.State), nil
	}
}

func (r *run) validateRetryHolder(ctx workflow.Context, u *dsrv1.RetryHolder) error {
	if err := r.checkStaff(ctx, contract.UpdateRetryHolder, u); err != nil {
		return err
	}
	if r.stage != StageFanOut && r.stage != StageAwaitingEntrusted && r.stage != StageLocating {
		return stageError("resending to a holder", r.stage)
	}
	h := r.holder(u.GetHolder())
	if h == nil {
		return fmt.Errorf("holder %q is not part of this request", u.GetHolder())
	}
	if h.Outcome != dsrv1.Outcome_OUTCOME_UNSPECIFIED {
		return fmt.Errorf("holder %q has already answered (%s)", u.GetHolder(), h.Outcome)
	}
	return nil
}

func (r *run) onRetryHolder(ctx workflow.Context) func(workflow.Context, *dsrv1.RetryHolder) (*dsrv1.ActionResult, error) {
	return func(_ workflow.Context, u *dsrv1.RetryHolder) (*dsrv1.ActionResult, error) {
		actor := r.acceptStaff(ctx, u)
		r.retry.SendAsync(u.GetHolder())
		r.event(ctx, "holder_retry", actor, u.GetHolder())
		return ack(r, "command to "+u.GetHolder()+" will be resent"), nil
	}
}

func (r *run) validateCloseWithdrawn(ctx workflow.Context, u *dsrv1.CloseWithdrawn) error {
	if err := r.checkStaff(ctx, contract.UpdateCloseWithdrawn, u); err != nil {
		return err
	}
	if strings.TrimSpace(u.GetReason()) == "" {
		return errors.New("closing as withdrawn needs a reason")
	}
	return r.validateWithdraw(&dsrv1.Withdraw{})
}

func (r *run) onCloseWithdrawn(ctx workflow.Context) func(workflow.Context, *dsrv1.CloseWithdrawn) (*dsrv1.ActionResult, error) {
	return func(_ workflow.Context, u *dsrv1.CloseWithdrawn) (*dsrv1.ActionResult, error) {
		return r.withdraw(ctx, r.acceptStaff(ctx, u)), nil
	}
}

// companiesWaiting reports whether any entrusting company is still awaited.
func (r *run) companiesWaiting() bool {
	return slices.ContainsFunc(r.entrusted, func(e *entrustedState) bool { return e.State == "waiting" })
}
