// Package request holds the DataSubjectRequest workflow: the lifecycle of
// one privacy request, from receipt to the last notice, on durable timers.
// workflow.go, fanout.go, handlers.go, state.go and download.go are
// deterministic workflow code; activities.go, download_activities.go and
// notice.go do the I/O.
package request

import (
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"madoguchi.dev/law/kind"
	"madoguchi.dev/law/verification"
	"madoguchi.dev/platform/staffsig"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/notify"
)

// a is nil-valued: the workflow only needs its activities' method names.
var a *Activities

// activityContext gives activities a short timeout and unlimited retries
// with backoff: a notice or a command is never skipped, only delayed.
func activityContext(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
}

// DataSubjectRequest carries one request through its lifecycle:
//
//	received → receipt notice → identity verification (code, TTL, attempts,
//	reminder) → locate records (委託, mismatches) → staff identity review
//	(agents, mismatches) → fee (disclosure-type kinds) → staff decision
//	(data-changing kinds) → fan-out to holders → entrusting companies'
//	instructions → disclosure package / completion notice → erasure event
//
// or closed as unverified, unpaid, withdrawn, refused or identity_rejected —
// always with a notice saying why.
//
// DataSubjectRequest itself trusts no staff key, so it accepts no staff
// action: it is the workflow as replays see it. Workers register
// Workflow(keys).
func DataSubjectRequest(ctx workflow.Context, in *dsrv1.RequestSubmitted) (*Outcome, error) {
	return dataSubjectRequest(ctx, in, nil)
}

// Workflow is DataSubjectRequest on a worker that trusts the staff keys
// keys (MADOGUCHI_STAFF_VERIFY_KEYS): a staff action is accepted only when
// one of them signed it (platform/staffsig). Only update validators read
// the keys, and Temporal runs validators when an update arrives, never on
// replay; handlers record what the accepted update's input in history
// holds. So the worker's current keys apply at once to every running
// request, whenever it started (a rotated or revoked key included), and a
// change of keys never changes how a history replays.
func Workflow(keys *staffsig.Keys) func(workflow.Context, *dsrv1.RequestSubmitted) (*Outcome, error) {
	return func(ctx workflow.Context, in *dsrv1.RequestSubmitted) (*Outcome, error) {
		return dataSubjectRequest(ctx, in, keys)
	}
}

func dataSubjectRequest(ctx workflow.Context, in *dsrv1.RequestSubmitted, keys *staffsig.Keys) (*Outcome, error) {
	if in.GetReceipt() == "" || in.GetRequestId() == "" || in.GetPersonal() == nil {
		return nil, temporal.NewNonRetryableApplicationError("input lacks request id, receipt or personal data", "InvalidInput", nil)
	}
	r := &run{in: in, stage: StageReceived, feeState: "none", staffKeys: keys,
		deadlineChanged: workflow.NewBufferedChannel(ctx, 4), retry: workflow.NewBufferedChannel(ctx, 64)}
	actx := activityContext(ctx)
	if err := r.register(ctx, actx); err != nil {
		return nil, err
	}
	r.versions(ctx)
	coalesce := r.has(ctx, ChangeCoalesceSearchAttributes)
	if coalesce {
		r.coalesceUpserts(ctx)
	}
	if !coalesce || !startedWithAttributes(ctx, in) {
		r.upsert(ctx, startAttributes(in)...)
	}
	r.event(ctx, "received", "person", contract.KindName(in.GetKind()))

	err := workflow.ExecuteActivity(actx, a.Prepare, PrepareInput{RequestID: in.GetRequestId(), Kind: in.GetKind(), Jurisdiction: in.GetJurisdiction(),
		ReceivedAt: in.GetSubmittedAt().AsTime(), Personal: in.GetPersonal()}).Get(ctx, &r.prepared)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	r.deadlines, r.warnAt = r.prepared.Deadlines, r.prepared.WarnAt
	r.verification = verification.NewState(r.prepared.Settings.Verification)
	r.upsert(ctx, SADueAt.ValueSet(r.deadlines.AnswerDue))
	workflow.Go(ctx, r.watchDeadline)
	r.notify(ctx, actx, NoticeReceipt, NoticeData{DueAt: r.deadlines.AnswerDue})

	out, err := r.lifecycle(ctx, actx)
	if err != nil {
		return nil, err
	}
	// Added while requests were running: histories recorded before it have
	// no marker here and replay without the announcement.
	if r.has(ctx, ChangeAnnounceConclusion) {
		err := workflow.ExecuteActivity(actx, a.PublishRequestConcluded, ConcludedInput{RequestID: in.GetRequestId(),
			Receipt: in.GetReceipt(), Stage: string(out.Stage), ClosedReason: out.ClosedReason, At: workflow.Now(ctx)}).Get(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("announce conclusion: %w", err)
		}
	}
	// Let update handlers in flight answer before the workflow closes.
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	r.flushUpserts(ctx)
	return out, nil
}

// close ends the request without completing it, with a notice saying why.
func (r *run) close(ctx, actx workflow.Context, reason string, notice notify.Kind, data NoticeData) (*Outcome, error) {
	r.closedReason = reason
	r.event(ctx, "closed", "system", reason)
	r.notify(ctx, actx, notice, data)
	r.setStage(ctx, StageClosed)
	for _, a := range []string{AttentionDeadlineNear, AttentionOverdue, AttentionStaffDecision} {
		r.lower(ctx, a)
	}
	return &Outcome{Receipt: r.in.GetReceipt(), Stage: StageClosed, ClosedReason: reason, HolderOutcomes: map[string]string{}}, nil
}

// notify sends a notice to the person; failures are retried by Temporal
// without limit (a notice is part of the answer and is never skipped).
func (r *run) notify(ctx, actx workflow.Context, kindName notify.Kind, data NoticeData) {
	r.notifyTo(ctx, actx, kindName, RecipientPerson, "", data)
}

func (r *run) notifyTo(ctx, actx workflow.Context, kindName notify.Kind, to, companyEmail string, data NoticeData) {
	data.Kind, data.Jurisdiction = contract.KindName(r.in.GetKind()), r.in.GetJurisdiction()
	data.ReceivedAt = r.in.GetSubmittedAt().AsTime()
	if data.DueAt.IsZero() {
		data.DueAt = r.deadlines.AnswerDue
	}
	r.notices++
	id := fmt.Sprintf("%s.%s.%d", r.in.GetRequestId(), kindName, r.notices)
	err := workflow.ExecuteActivity(actx, a.SendNotice, NoticeInput{ID: id, Kind: kindName, To: to, CompanyEmail: companyEmail,
		Receipt: r.in.GetReceipt(), Locale: r.in.GetLocale(), Personal: r.in.GetPersonal(), Data: data}).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Error("notice not sent", "kind", kindName, "error", err)
		r.event(ctx, "notice_failed", "system", string(kindName))
		return
	}
	r.event(ctx, "notice_sent", "system", string(kindName)+" → "+to)
}

func (r *run) decisionData() NoticeData {
	d := NoticeData{Decision: "approve"}
	if r.decision != nil {
		d.Decision = decisionName(r.decision.GetOutcome())
		d.ReasonCode, d.ReasonText = r.decision.GetReasonCode(), r.decision.GetExplanation()
	}
	return d
}

func (r *run) holderNames(results map[string]*dsrv1.HolderResult) []string {
	var out []string
	for _, h := range r.prepared.Plan.Holders {
		if res := results[h.Name]; res != nil {
			out = append(out, h.Name+": "+res.GetOutcome().String())
		}
	}
	return out
}

// until is the duration from now to t (0 when past).
func until(ctx workflow.Context, t time.Time) time.Duration {
	d := t.Sub(workflow.Now(ctx))
	if d < 0 {
		return 0
	}
	return d
}

// issueCode e-mails a new code (first or resend) and records its hash.
func (r *run) issueCode(ctx, actx workflow.Context) error {
	n := r.codesIssued
	now := workflow.Now(ctx)
	expires := now.Add(r.prepared.Settings.Verification.CodeTTL)
	var hash []byte
	err := workflow.ExecuteActivity(actx, a.IssueVerificationCode, IssueInput{RequestID: r.in.GetRequestId(),
		Receipt: r.in.GetReceipt(), Locale: r.in.GetLocale(), Personal: r.in.GetPersonal(), Issue: n,
		ExpiresAt: expires, Kind: contract.KindName(r.in.GetKind()), Jurisdiction: r.in.GetJurisdiction(),
		Secret: r.codeSecret()}).Get(ctx, &hash)
	if err != nil {
		return fmt.Errorf("issue verification code: %w", err)
	}
	next, err := r.verification.Issue(hash, now)
	if err != nil {
		return err
	}
	r.verification, r.codesIssued, r.reminded = next, n+1, false
	r.event(ctx, "code_sent", "system", fmt.Sprintf("code %d, valid until %s", n+1, expires.Format(time.RFC3339)))
	return nil
}

// codeSecret is the request's code secret, nil for a request recorded
// before ChangeIdentity202612 (its codes keep their SHA-256 digests).
func (r *run) codeSecret() *dsrv1.Sealed {
	if !r.identity {
		return nil
	}
	return r.prepared.CodeSecret
}

// bindLocated reads the locate round under the binding rule: a member
// registry's confirmation of the member number covers the records linked
// to it; any record left unconfirmed sends the request to identity review.
func (r *run) bindLocated(located map[string]*dsrv1.HolderResult) {
	unconfirmed := 0
	for _, h := range r.prepared.Locate {
		res := located[h.Name]
		if h.MemberRegistry && res.GetMemberConfirmed() {
			r.binding.MemberConfirmed = true
		}
		unconfirmed += int(res.GetRecordsUnconfirmed())
	}
	if unconfirmed > 0 && !r.binding.MemberConfirmed {
		r.mismatch = true
	}
}

// awaitVerification waits for the code, reminding before expiry; it returns
// false when the request must close (expired, exhausted or withdrawn).
func (r *run) awaitVerification(ctx, actx workflow.Context) bool {
	for {
		done := func() bool { return r.verification.Verified || r.withdrawn || r.verifyDead }
		issued, locked := r.codesIssued, r.verification.Locked
		changed := func() bool { return done() || r.codesIssued != issued || r.verification.Locked != locked }
		if at, ok := r.verification.ReminderAt(); ok && !r.reminded {
			if ok, _ := workflow.AwaitWithTimeout(ctx, until(ctx, at), changed); !ok {
				r.reminded = true
				_ = workflow.ExecuteActivity(actx, a.IssueVerificationCode, IssueInput{RequestID: r.in.GetRequestId(),
					Receipt: r.in.GetReceipt(), Locale: r.in.GetLocale(), Personal: r.in.GetPersonal(),
					Issue: r.codesIssued - 1, ExpiresAt: r.verification.ExpiresAt, Reminder: true,
					Kind: contract.KindName(r.in.GetKind()), Jurisdiction: r.in.GetJurisdiction(),
					Secret: r.codeSecret()}).Get(ctx, nil)
				r.event(ctx, "code_reminder", "system", "")
				continue
			}
		} else if ok, _ := workflow.AwaitWithTimeout(ctx, until(ctx, r.verification.ExpiresAt), changed); !ok {
			// Expired. The person may still ask for a new code while resends are left.
			if r.verification.ResendsLeft() == 0 {
				return false
			}
			r.event(ctx, "code_expired", "system", "")
			// Grace: the request stays open one more code lifetime for a resend.
			if ok, _ := workflow.AwaitWithTimeout(ctx, r.prepared.Settings.Verification.CodeTTL, changed); !ok {
				return false
			}
		}
		if done() {
			return r.verification.Verified && !r.withdrawn
		}
	}
}

// checkRelated links open requests of the same kind about the same person
// and enforces the CCPA limit of access requests.
func (r *run) checkRelated(ctx, actx workflow.Context, k kind.Kind) (*Outcome, error) {
	var rel Related
	err := workflow.ExecuteActivity(actx, a.FindRelated, RelatedInput{Receipt: r.in.GetReceipt(),
		SubjectRef: r.prepared.SubjectRef, Kind: string(k), Jurisdiction: r.in.GetJurisdiction(),
		Now: workflow.Now(ctx)}).Get(ctx, &rel)
	if err != nil {
		return nil, fmt.Errorf("find related requests: %w", err)
	}
	if len(rel.OpenSameKind) > 0 {
		r.linked = rel.OpenSameKind
		r.event(ctx, "linked", "system", fmt.Sprintf("%d open request(s) of the same kind", len(rel.OpenSameKind)))
		r.notify(ctx, actx, NoticeDuplicateLinked, NoticeData{Linked: rel.OpenSameKind})
	}
	if limit := r.prepared.Settings.CCPAAccessLimit; r.in.GetJurisdiction() == contract.JurisdictionCCPA &&
		k == kind.Disclosure && limit > 0 && rel.AccessesLast12Months >= limit {
		r.decision = &dsrv1.Decide{Actor: "system", Outcome: dsrv1.DecisionOutcome_DECISION_OUTCOME_REFUSE,
			ReasonCode:  "manifestly_unfounded_or_excessive",
			Explanation: fmt.Sprintf("CCPA: at most %d access requests in 12 months (Cal. Civ. Code §1798.100(d))", limit)}
		out, err := r.close(ctx, actx, ClosedRefused, NoticeDecision, r.decisionData())
		return out, err
	}
	return nil, nil
}

// awaitFee asks for payment and waits, reminding before the window closes.
func (r *run) awaitFee(ctx, actx workflow.Context) bool {
	r.setStage(ctx, StageAwaitingFee)
	w := r.prepared.Settings.Payment.Window(workflow.Now(ctx))
	r.feeState, r.feeDue = contract.FeeAwaiting, w.Due
	r.upsert(ctx, SAFeeState.ValueSet("awaiting"))
	r.notify(ctx, actx, NoticeFeeInstructions, NoticeData{FeeJPY: r.prepared.Fee.AmountJPY, FeeDue: w.Due})
	settled := func() bool { return r.paid || r.withdrawn }
	if ok, _ := workflow.AwaitWithTimeout(ctx, until(ctx, w.RemindAt), settled); !ok {
		r.notify(ctx, actx, NoticeFeeReminder, NoticeData{FeeJPY: r.prepared.Fee.AmountJPY, FeeDue: w.Due})
		_, _ = workflow.AwaitWithTimeout(ctx, until(ctx, w.Due), settled)
	}
	if r.paid {
		r.feeState = contract.FeePaid
	} else if !r.withdrawn {
		r.feeState = contract.FeeExpired
	}
	r.upsert(ctx, SAFeeState.ValueSet(r.feeState))
	return r.paid && !r.withdrawn
}

// collectEntrusted gathers the entrusting companies whose records holders
// left alone.
func (r *run) collectEntrusted(ctx workflow.Context, results map[string]*dsrv1.HolderResult) {
	for _, h := range r.prepared.Plan.Holders {
		for _, e := range results[h.Name].GetEntrusted() {
			c := r.company(e.GetCompanyId())
			if c == nil {
				c = &entrustedState{CompanyID: e.GetCompanyId(), CompanyName: e.GetCompanyName(),
					Contact: e.GetContactEmail(), State: "waiting"}
				r.entrusted = append(r.entrusted, c)
			}
			c.Holders = append(c.Holders, h.Name)
		}
	}
}

// awaitEntrusted notifies each entrusting company, waits for its
// instruction (reminding once), and acts on the records of those that say
// proceed. Silence until the timer fires counts as no instruction: the
// records are left alone and staff are alerted.
func (r *run) awaitEntrusted(ctx, actx workflow.Context, results map[string]*dsrv1.HolderResult) {
	r.setStage(ctx, StageAwaitingEntrusted)
	r.raise(ctx, AttentionEntrusted)
	s := r.prepared.Settings
	due := workflow.Now(ctx).Add(s.EntrustedWait)
	for _, c := range r.entrusted {
		c.DueAt = due
		r.notifyTo(ctx, actx, NoticeEntrusted, RecipientCompany, c.Contact, NoticeData{CompanyName: c.CompanyName, ReplyDue: due})
	}
	settled := func() bool { return !r.companiesWaiting() }
	if ok, _ := workflow.AwaitWithTimeout(ctx, until(ctx, due.Add(-s.EntrustedReminderBefore)), settled); !ok {
		for _, c := range r.entrusted {
			if c.State == "waiting" {
				r.notifyTo(ctx, actx, NoticeEntrustedReminder, RecipientCompany, c.Contact, NoticeData{CompanyName: c.CompanyName, ReplyDue: due})
			}
		}
		_, _ = workflow.AwaitWithTimeout(ctx, until(ctx, due), settled)
	}
	var proceed []string
	holders := map[string]bool{}
	for _, c := range r.entrusted {
		switch c.State {
		case "waiting":
			c.State = "timed_out"
			r.event(ctx, "entrusted_timeout", "system", c.CompanyID)
			r.notifyTo(ctx, actx, NoticeStaffAlert, RecipientStaff, "", NoticeData{Alert: "entrusted_timeout", CompanyName: c.CompanyName})
		case "proceed":
			proceed = append(proceed, c.CompanyID)
			for _, h := range c.Holders {
				holders[h] = true
			}
		}
	}
	r.lower(ctx, AttentionEntrusted)
	if len(proceed) == 0 {
		return
	}
	var plans []HolderPlan
	for _, h := range r.prepared.Plan.Holders {
		if holders[h.Name] {
			plans = append(plans, h)
		}
	}
	r.setStage(ctx, StageFanOut)
	again := r.fanOut(ctx, actx, fanOutSpec{Phase: "entrusted", Action: r.prepared.Plan.Action, Holders: plans,
		Include: proceed, Corrections: r.decision.GetCorrections(), Track: true})
	for name, res := range again {
		results[name] = res
	}
}

// assemblePackage builds the disclosure package and schedules its purge
// (requests from before ChangeIdentity202612; since, deliverPackage).
func (r *run) assemblePackage(ctx, actx workflow.Context, results map[string]*dsrv1.HolderResult) (PackageRef, error) {
	var exports []*dsrv1.Sealed
	for _, h := range r.prepared.Plan.Holders {
		if ex := results[h.Name].GetExport(); ex != nil {
			exports = append(exports, ex)
		}
	}
	expires := workflow.Now(ctx).Add(r.prepared.Settings.PackageTTL)
	var ref PackageRef
	err := workflow.ExecuteActivity(actx, a.AssemblePackage, PackageInput{RequestID: r.in.GetRequestId(),
		Receipt: r.in.GetReceipt(), Locale: r.in.GetLocale(), Kind: contract.KindName(r.in.GetKind()),
		Exports: exports, ExpiresAt: expires}).Get(ctx, &ref)
	if err != nil {
		return ref, fmt.Errorf("assemble package: %w", err)
	}
	r.packageID, r.packageExpiry = ref.ID, ref.ExpiresAt
	r.event(ctx, "package_ready", "system", fmt.Sprintf("%d holder export(s)", len(exports)))
	// The purge outlives this workflow: an abandoned child waits out the TTL.
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        contract.WorkflowID(r.in.GetReceipt()) + "-purge",
		TaskQueue:         contract.TaskQueue,
		ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, PurgePackageWorkflowName, ref.ID, ref.ExpiresAt)
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return ref, fmt.Errorf("schedule package purge: %w", err)
	}
	return ref, nil
}

// PurgePackageWorkflowName is the registered name of PurgePackage.
const PurgePackageWorkflowName = "PurgeDisclosurePackage"

// PurgePackage deletes a disclosure package when its link expires (the
// packages of requests from before ChangeIdentity202612; DisclosurePackage
// purges the newer ones).
func PurgePackage(ctx workflow.Context, id string, expiresAt time.Time) error {
	if err := workflow.Sleep(ctx, until(ctx, expiresAt)); err != nil {
		return err
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	return workflow.ExecuteActivity(actx, a.PurgePackage, id).Get(ctx, nil)
}

// watchDeadline raises "deadline near" at the warning time and "overdue"
// when the due date passes; an extension restarts it.
func (r *run) watchDeadline(ctx workflow.Context) {
	for !r.terminal() {
		next, alert := r.warnAt, AttentionDeadlineNear
		if r.hasAttention(AttentionDeadlineNear) || !workflow.Now(ctx).Before(r.warnAt) {
			next, alert = r.deadlines.AnswerDue, AttentionOverdue
		}
		if r.hasAttention(AttentionOverdue) {
			// Nothing more to watch until an extension moves the date.
			r.deadlineChanged.Receive(ctx, nil)
			continue
		}
		tctx, cancel := workflow.WithCancel(ctx)
		timer := workflow.NewTimerWithOptions(tctx, until(ctx, next), workflow.TimerOptions{Summary: "Deadline " + alert})
		sel := workflow.NewSelector(ctx)
		fired := false
		sel.AddFuture(timer, func(f workflow.Future) { fired = f.Get(ctx, nil) == nil })
		sel.AddReceive(r.deadlineChanged, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.Select(ctx)
		cancel()
		if fired && !r.terminal() {
			r.raise(ctx, alert)
			r.notifyTo(ctx, workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second}),
				NoticeStaffAlert, RecipientStaff, "", NoticeData{Alert: alert})
		}
	}
}

func (r *run) hasAttention(a string) bool {
	for _, x := range r.attention {
		if x == a {
			return true
		}
	}
	return false
}
