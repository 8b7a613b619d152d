package staff

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// Action is one staff action on a request, ready to be sent: the Temporal
// update it becomes, and what goes into the audit row.
type Action struct {
	// Name is the audit action ("approve", "refuse", "extend", …).
	Name    string
	Receipt string
	// Update is the Temporal update name (contract.Update*).
	Update string
	// Fields are the non-personal details recorded in the audit row.
	Fields map[string]any
	// Reason is the "why" recorded in the audit row.
	Reason string
	// build makes the update's argument for the acting staff member.
	build func(actor string) proto.Message
	// invalid is set when the action cannot be sent as given.
	invalid error
}

// Arg returns the update argument as actor would send it.
func (a Action) Arg(actor string) proto.Message {
	if a.build == nil {
		return nil
	}
	return a.build(actor)
}

// Err reports why the action cannot be sent as given (nil if it can).
func (a Action) Err() error {
	if a.invalid != nil {
		return a.invalid
	}
	if strings.TrimSpace(a.Receipt) == "" || !receiptRE.MatchString(a.Receipt) {
		return fmt.Errorf("%q is not a receipt number", a.Receipt)
	}
	if a.build == nil {
		return errors.New("empty action")
	}
	return nil
}

// ActionNames lists every staff action.
var ActionNames = []string{"approve", "refuse", "review-identity", "fee-paid", "extend", "entrusted", "retry-holder", "close-withdrawn"}

// Approve decides to carry out the request. grounds are the Art. 35 grounds
// confirmed (suspension, erasure, third_party_stop); corrections the approved
// new values (correction, addition) — their values are personal data and go
// to the workflow encrypted, never into the audit log (only the field names).
func Approve(receipt string, grounds []string, corrections map[string]string, explanation string) Action {
	fields := map[string]any{"outcome": "approve"}
	if len(grounds) > 0 {
		fields["grounds"] = grounds
	}
	if len(corrections) > 0 {
		names := make([]string, 0, len(corrections))
		for k := range corrections {
			names = append(names, k)
		}
		sort.Strings(names)
		fields["correction_fields"] = names
	}
	return Action{Name: "approve", Receipt: receipt, Update: contract.UpdateDecide, Fields: fields, Reason: explanation,
		build: func(actor string) proto.Message {
			return &dsrv1.Decide{Actor: actor, Outcome: dsrv1.DecisionOutcome_DECISION_OUTCOME_APPROVE,
				Grounds: grounds, Corrections: corrections, Explanation: explanation}
		}}
}

// Refuse refuses the request (or part of it, with partial) for a reason code
// with the explanation that goes into the notice.
func Refuse(receipt, reasonCode, text string, partial bool) Action {
	outcome, name := dsrv1.DecisionOutcome_DECISION_OUTCOME_REFUSE, "refuse"
	if partial {
		outcome, name = dsrv1.DecisionOutcome_DECISION_OUTCOME_PARTIALLY_REFUSE, "partially_refuse"
	}
	a := Action{Name: "refuse", Receipt: receipt, Update: contract.UpdateDecide,
		Fields: map[string]any{"outcome": name, "reason_code": reasonCode}, Reason: text,
		build: func(actor string) proto.Message {
			return &dsrv1.Decide{Actor: actor, Outcome: outcome, ReasonCode: reasonCode, Explanation: text}
		}}
	if strings.TrimSpace(reasonCode) == "" {
		a.invalid = errors.New("a refusal needs a reason code (--reason)")
	} else if strings.TrimSpace(text) == "" {
		a.invalid = errors.New("a refusal needs the explanation for the notice (--text)")
	}
	return a
}

// ReviewIdentity settles a staff identity review.
func ReviewIdentity(receipt string, approve bool, reason string) Action {
	a := Action{Name: "review-identity", Receipt: receipt, Update: contract.UpdateReviewIdentity,
		Fields: map[string]any{"approve": approve}, Reason: reason,
		build: func(actor string) proto.Message {
			return &dsrv1.ReviewIdentity{Actor: actor, Approve: approve, Reason: reason}
		}}
	if !approve && strings.TrimSpace(reason) == "" {
		a.invalid = errors.New("rejecting an identity needs a reason (--reason)")
	}
	return a
}

// FeePaid records payment of the fee.
func FeePaid(receipt, reference string, amountJPY int64) Action {
	a := Action{Name: "fee-paid", Receipt: receipt, Update: contract.UpdateMarkFeePaid,
		Fields: map[string]any{"reference": reference, "amount_jpy": amountJPY}, Reason: "payment " + reference,
		build: func(actor string) proto.Message {
			return &dsrv1.MarkFeePaid{Actor: actor, Reference: reference, AmountJpy: amountJPY}
		}}
	if strings.TrimSpace(reference) == "" {
		a.invalid = errors.New("a payment needs its reference (--reference)")
	} else if amountJPY < 0 {
		a.invalid = errors.New("the amount cannot be negative")
	}
	return a
}

// Extend extends the due date once, with the reason that goes into the notice.
func Extend(receipt, reason string) Action {
	a := Action{Name: "extend", Receipt: receipt, Update: contract.UpdateExtendDeadline, Reason: reason,
		build: func(actor string) proto.Message { return &dsrv1.ExtendDeadline{Actor: actor, Reason: reason} }}
	if strings.TrimSpace(reason) == "" {
		a.invalid = errors.New("an extension needs a reason (--reason)")
	}
	return a
}

// Entrusted records an entrusting company's (委託元) instruction.
func Entrusted(receipt, companyID string, proceed bool, note string) Action {
	a := Action{Name: "entrusted", Receipt: receipt, Update: contract.UpdateEntrustedInstruction,
		Fields: map[string]any{"company_id": companyID, "proceed": proceed}, Reason: note,
		build: func(actor string) proto.Message {
			return &dsrv1.EntrustedInstruction{Actor: actor, CompanyId: companyID, Proceed: proceed, Note: note}
		}}
	if strings.TrimSpace(companyID) == "" {
		a.invalid = errors.New("name the entrusting company (--company)")
	}
	return a
}

// RetryHolder resends the command to a holder (e.g. after escalation).
func RetryHolder(receipt, holder, reason string) Action {
	a := Action{Name: "retry-holder", Receipt: receipt, Update: contract.UpdateRetryHolder,
		Fields: map[string]any{"holder": holder}, Reason: reason,
		build: func(actor string) proto.Message { return &dsrv1.RetryHolder{Actor: actor, Holder: holder} }}
	if strings.TrimSpace(holder) == "" {
		a.invalid = errors.New("name the holder (--holder)")
	}
	return a
}

// CloseWithdrawn closes the request as withdrawn on the person's behalf.
func CloseWithdrawn(receipt, reason string) Action {
	a := Action{Name: "close-withdrawn", Receipt: receipt, Update: contract.UpdateCloseWithdrawn, Reason: reason,
		build: func(actor string) proto.Message { return &dsrv1.CloseWithdrawn{Actor: actor, Reason: reason} }}
	if strings.TrimSpace(reason) == "" {
		a.invalid = errors.New("closing as withdrawn needs a reason (--reason)")
	}
	return a
}
