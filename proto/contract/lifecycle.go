package contract

// The values of RequestStatus that the workflow sets and the intake, the
// staff tools and the notices read: stages (also the DsrStage search
// attribute), closed reasons, verification states and fee states. Each is
// spelt here once.

// Stages of a request: received → verifying → locating → (identity_review)
// → (awaiting_fee) → (staff_review) → fan_out → (awaiting_entrusted) →
// notifying → completed; or closed.
const (
	StageReceived          = "received"
	StageVerifying         = "verifying"
	StageLocating          = "locating"
	StageIdentityReview    = "identity_review"
	StageAwaitingFee       = "awaiting_fee"
	StageStaffReview       = "staff_review"
	StageFanOut            = "fan_out"
	StageAwaitingEntrusted = "awaiting_entrusted"
	StageNotifying         = "notifying"
	StageCompleted         = "completed"
	StageClosed            = "closed"
)

// Stages lists every stage in lifecycle order.
func Stages() []string {
	return []string{StageReceived, StageVerifying, StageLocating, StageIdentityReview, StageAwaitingFee,
		StageStaffReview, StageFanOut, StageAwaitingEntrusted, StageNotifying, StageCompleted, StageClosed}
}

// Why a request closed without completing (RequestStatus.closed_reason).
const (
	ClosedUnverified       = "unverified"
	ClosedUnpaid           = "unpaid"
	ClosedWithdrawn        = "withdrawn"
	ClosedRefused          = "refused"
	ClosedIdentityRejected = "identity_rejected"
)

// ClosedReasons lists every closed reason.
func ClosedReasons() []string {
	return []string{ClosedUnverified, ClosedUnpaid, ClosedWithdrawn, ClosedRefused, ClosedIdentityRejected}
}

// Verification states (VerificationStatus.state).
const (
	VerificationNotStarted = "not_started"
	VerificationPending    = "pending"
	VerificationVerified   = "verified"
	VerificationLocked     = "locked"
	VerificationExpired    = "expired"
	VerificationReview     = "review"
	VerificationRejected   = "rejected"
)

// VerificationStates lists every verification state.
func VerificationStates() []string {
	return []string{VerificationNotStarted, VerificationPending, VerificationVerified, VerificationLocked,
		VerificationExpired, VerificationReview, VerificationRejected}
}

// Fee states (FeeStatus.state); empty while no fee is due.
const (
	FeeAwaiting = "awaiting"
	FeePaid     = "paid"
	FeeExpired  = "expired"
)

// Attention reasons (the DsrAttention search attribute): what staff
// should look at.
const (
	AttentionAgentReview      = "agent_review"
	AttentionIdentityMismatch = "identity_mismatch"
	AttentionStaffDecision    = "staff_decision"
	AttentionEntrusted        = "entrusted_instruction"
	AttentionHolderEscalated  = "holder_escalated"
	AttentionDeadlineNear     = "deadline_near"
	AttentionOverdue          = "overdue"
	AttentionCodesExhausted   = "verification_exhausted"
)
