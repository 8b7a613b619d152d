package request

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/law/deadline"
	"madoguchi.dev/law/verification"
	"madoguchi.dev/platform/staffsig"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// Stage is where a request is in its lifecycle; it is also the DsrStage
// search attribute, so staff can list requests by stage.
type Stage string

// The lifecycle: received → verifying → (identity_review) → (awaiting_fee)
// → (staff_review) → fan_out → (awaiting_entrusted) → notifying → completed;
// or closed (unverified, unpaid, withdrawn, refused, identity_rejected).
const (
	StageReceived          Stage = contract.StageReceived
	StageVerifying         Stage = contract.StageVerifying
	StageLocating          Stage = contract.StageLocating
	StageIdentityReview    Stage = contract.StageIdentityReview
	StageAwaitingFee       Stage = contract.StageAwaitingFee
	StageStaffReview       Stage = contract.StageStaffReview
	StageFanOut            Stage = contract.StageFanOut
	StageAwaitingEntrusted Stage = contract.StageAwaitingEntrusted
	StageNotifying         Stage = contract.StageNotifying
	StageCompleted         Stage = contract.StageCompleted
	StageClosed            Stage = contract.StageClosed
)

// Why a request closed without completing.
const (
	ClosedUnverified       = contract.ClosedUnverified
	ClosedUnpaid           = contract.ClosedUnpaid
	ClosedWithdrawn        = contract.ClosedWithdrawn
	ClosedRefused          = contract.ClosedRefused
	ClosedIdentityRejected = contract.ClosedIdentityRejected
)

// Attention reasons (DsrAttention): what staff should look at.
const (
	AttentionAgentReview      = contract.AttentionAgentReview
	AttentionIdentityMismatch = contract.AttentionIdentityMismatch
	AttentionStaffDecision    = contract.AttentionStaffDecision
	AttentionEntrusted        = contract.AttentionEntrusted
	AttentionHolderEscalated  = contract.AttentionHolderEscalated
	AttentionDeadlineNear     = contract.AttentionDeadlineNear
	AttentionOverdue          = contract.AttentionOverdue
	AttentionCodesExhausted   = contract.AttentionCodesExhausted
)

// Outcome is the workflow's result.
type Outcome struct {
	Receipt        string            `json:"receipt"`
	Stage          Stage             `json:"stage"`
	ClosedReason   string            `json:"closed_reason,omitempty"`
	HolderOutcomes map[string]string `json:"holder_outcomes"`
	ErasureEventID string            `json:"erasure_event_id,omitempty"`
	PackageID      string            `json:"package_id,omitempty"`
}

// holderState is one holder's part in the current fan-out.
type holderState struct {
	Name       string
	Action     dsrv1.Action
	Attempts   int
	Outcome    dsrv1.Outcome
	Reason     string
	LegalBasis string
	Escalated  bool
	SentAt     time.Time
	AnsweredAt time.Time
}

// entrustedState is one entrusting company awaited for its instruction.
type entrustedState struct {
	CompanyID, CompanyName, Contact string
	Holders                         []string
	State                           string // waiting, proceed, declined, timed_out
	DueAt                           time.Time
	Note                            string
}

// run is one request's state; the update handlers and the main flow share
// it (Temporal runs them cooperatively, one at a time).
type run struct {
	in       *dsrv1.RequestSubmitted
	prepared Prepared
	stage    Stage
	// bundled: the request started with ChangeBundle202612.
	bundled bool
	// identity: the request started with ChangeIdentity202612.
	identity bool
	// binding is what holders are told the requester proved (nil before
	// ChangeIdentity202612).
	binding *CommandBinding

	deadlines       deadline.Deadlines
	warnAt          time.Time
	deadlineChanged workflow.Channel

	verification verification.State
	verifyDead   bool // no live code and no resend left
	codesIssued  int
	reminded     bool
	notices      int
	// identity review
	reviewDone     bool
	reviewApproved bool
	reviewReason   string
	mismatch       bool

	feeState string // none, awaiting, paid, expired
	feeDue   time.Time
	paid     bool

	// staffKeys check staff actions' signatures (the worker's
	// configuration: read by validators only); staffNonces are the nonces
	// of the signed staff actions accepted, by issue time.
	staffKeys   *staffsig.Keys
	staffNonces map[string]time.Time

	decision      *dsrv1.Decide
	withdrawn     bool
	withdrawnBy   string
	closedReason  string
	attention     []string
	linked        []string
	holders       []*holderState
	entrusted     []*entrustedState
	retry         workflow.Channel
	packageID     string
	packageExpiry time.Time
	timeline      []*dsrv1.TimelineEntry

	// With root set (ChangeCoalesceSearchAttributes), search attribute
	// updates are gathered in pendingSA and sent as one upsert, by a
	// coroutine on root, when the workflow waits; withNextStage waits for
	// the next stage change.
	root          workflow.Context
	pendingSA     []temporal.SearchAttributeUpdate
	withNextStage []temporal.SearchAttributeUpdate
}

func (r *run) event(ctx workflow.Context, event, actor, detail string) {
	r.timeline = append(r.timeline, &dsrv1.TimelineEntry{
		At: timestamppb.New(workflow.Now(ctx)), Event: event, Actor: actor, Detail: detail})
}

func (r *run) terminal() bool { return r.stage == StageCompleted || r.stage == StageClosed }

// beforeFanOut: a withdrawal still stops the request.
func (r *run) beforeFanOut() bool {
	switch r.stage {
	case StageReceived, StageVerifying, StageLocating, StageIdentityReview, StageAwaitingFee, StageStaffReview:
		return true
	}
	return false
}

func (r *run) holder(name string) *holderState {
	for _, h := range r.holders {
		if h.Name == name {
			return h
		}
	}
	return nil
}

func (r *run) company(id string) *entrustedState {
	for _, e := range r.entrusted {
		if e.CompanyID == id {
			return e
		}
	}
	return nil
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// status builds the answer to the status query.
func (r *run) status(waitingFor string) *dsrv1.RequestStatus {
	s := &dsrv1.RequestStatus{
		RequestId: r.in.GetRequestId(), Receipt: r.in.GetReceipt(), Kind: contract.KindName(r.in.GetKind()),
		Jurisdiction: r.in.GetJurisdiction(), Locale: r.in.GetLocale(), Stage: string(r.stage),
		WaitingFor: waitingFor, ReceivedAt: r.in.GetSubmittedAt(), DueAt: ts(r.deadlines.AnswerDue),
		WarnAt: ts(r.warnAt), Extended: r.deadlines.Extended, ExtensionReason: r.deadlines.ExtensionReason,
		Attention: append([]string(nil), r.attention...), ClosedReason: r.closedReason,
		LinkedReceipts: r.linked, Withdrawn: r.withdrawn, PackageId: r.packageID,
		PackageExpiresAt: ts(r.packageExpiry), Timeline: r.timeline, FiledByAgent: r.in.GetFiledByAgent(),
	}
	v := r.verification
	vs := &dsrv1.VerificationStatus{ExpiresAt: ts(v.ExpiresAt), ResendsLeft: int32(v.ResendsLeft())}
	switch {
	case v.Verified && r.stage == StageIdentityReview:
		vs.State = contract.VerificationReview
	case v.Verified:
		vs.State = contract.VerificationVerified
	case r.closedReason == ClosedUnverified:
		vs.State = contract.VerificationExpired
	case v.Locked:
		vs.State = contract.VerificationLocked
	case v.IssuedAt.IsZero():
		vs.State = contract.VerificationNotStarted
	default:
		vs.State = contract.VerificationPending
		vs.AttemptsLeft = int32(v.Policy.MaxAttempts - v.Attempts)
	}
	if r.closedReason == ClosedIdentityRejected {
		vs.State = contract.VerificationRejected
	}
	s.Verification = vs
	f := r.prepared.Fee
	s.Fee = &dsrv1.FeeStatus{Required: f.Required, AmountJpy: int64(f.AmountJPY), State: r.feeState,
		DueAt: ts(r.feeDue), Reason: f.Reason}
	for _, h := range r.holders {
		s.Holders = append(s.Holders, &dsrv1.HolderStatus{Name: h.Name, Action: contract.ActionName(h.Action),
			Attempts: int32(h.Attempts), Outcome: outcomeName(h.Outcome), Reason: h.Reason, Escalated: h.Escalated,
			LegalBasis: h.LegalBasis, SentAt: ts(h.SentAt), AnsweredAt: ts(h.AnsweredAt)})
	}
	for _, e := range r.entrusted {
		s.Entrusted = append(s.Entrusted, &dsrv1.EntrustedStatus{CompanyId: e.CompanyID, CompanyName: e.CompanyName,
			Holders: e.Holders, State: e.State, DueAt: ts(e.DueAt)})
	}
	if d := r.decision; d != nil {
		s.Decision = decisionName(d.GetOutcome())
		s.DecisionReasonCode = d.GetReasonCode()
	}
	return s
}

func outcomeName(o dsrv1.Outcome) string {
	if o == dsrv1.Outcome_OUTCOME_UNSPECIFIED {
		return ""
	}
	return o.String()
}

func decisionName(o dsrv1.DecisionOutcome) string {
	switch o {
	case dsrv1.DecisionOutcome_DECISION_OUTCOME_APPROVE:
		return "approve"
	case dsrv1.DecisionOutcome_DECISION_OUTCOME_REFUSE:
		return "refuse"
	case dsrv1.DecisionOutcome_DECISION_OUTCOME_PARTIALLY_REFUSE:
		return "partially_refuse"
	}
	return ""
}
