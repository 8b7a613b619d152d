package request

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/pseudonym"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/registry"
)

// Activities carry the workflow's I/O. Their inputs hold personal data only
// in sealed form, and the payload codec encrypts them in history as well.
type Activities struct {
	JS        jetstream.JetStream
	Namespace contract.Namespace
	Ring      *seal.Ring
	Pseudonym pseudonym.Key
	Registry  *registry.Registry
}

// HolderPlan is one holder in a fan-out.
type HolderPlan struct {
	Name        string        `json:"name"`
	SLA         time.Duration `json:"sla"`
	MaxAttempts int           `json:"max_attempts"`
}

// Plan is the fan-out for a request, fixed once in history so that a
// registry change does not alter a running request.
type Plan struct {
	Action  dsrv1.Action `json:"action"`
	Holders []HolderPlan `json:"holders"`
}

// ActionFor maps a request kind to what holders are told to do.
func ActionFor(k dsrv1.RequestKind) dsrv1.Action {
	switch k {
	case dsrv1.RequestKind_REQUEST_KIND_DISCLOSURE:
		return dsrv1.Action_ACTION_EXPORT
	case dsrv1.RequestKind_REQUEST_KIND_CORRECTION, dsrv1.RequestKind_REQUEST_KIND_ADDITION:
		return dsrv1.Action_ACTION_CORRECT
	case dsrv1.RequestKind_REQUEST_KIND_DELETION, dsrv1.RequestKind_REQUEST_KIND_ERASURE:
		return dsrv1.Action_ACTION_ERASE
	case dsrv1.RequestKind_REQUEST_KIND_SUSPENSION:
		return dsrv1.Action_ACTION_SUSPEND
	case dsrv1.RequestKind_REQUEST_KIND_THIRD_PARTY_STOP:
		return dsrv1.Action_ACTION_STOP_PROVISION
	case dsrv1.RequestKind_REQUEST_KIND_THIRD_PARTY_RECORD_DISCLOSURE:
		return dsrv1.Action_ACTION_EXPORT_PROVISION_RECORDS
	default:
		// 利用目的の通知 is answered from the policy itself: no holder acts.
		return dsrv1.Action_ACTION_UNSPECIFIED
	}
}

// PlanFanOut reads the registry for the holders serving the kind's action.
func (a *Activities) PlanFanOut(_ context.Context, kind dsrv1.RequestKind) (Plan, error) {
	p := Plan{Action: ActionFor(kind)}
	if p.Action == dsrv1.Action_ACTION_UNSPECIFIED {
		return p, nil
	}
	for _, h := range a.Registry.Serving(p.Action) {
		p.Holders = append(p.Holders, HolderPlan{Name: h.Name, SLA: h.SLA.Duration, MaxAttempts: h.MaxAttempts})
	}
	return p, nil
}

// SendInput is one command to one holder.
type SendInput struct {
	RequestID string        `json:"request_id"`
	Receipt   string        `json:"receipt"`
	Holder    string        `json:"holder"`
	Action    dsrv1.Action  `json:"action"`
	Attempt   int           `json:"attempt"`
	Personal  *dsrv1.Sealed `json:"personal"`
}

// CommandID is stable per attempt: redelivery of one attempt deduplicates,
// a resend is a new message.
func CommandID(requestID, holder string, attempt int) string {
	return fmt.Sprintf("%s.%s.%d", requestID, holder, attempt)
}

// SendHolderCommand publishes the command. Holders get only the subject's
// identifiers, resealed: never the free text or the agent's details.
func (a *Activities) SendHolderCommand(ctx context.Context, in SendInput) error {
	var pd dsrv1.PersonalData
	if err := a.Ring.OpenMessage(in.Personal, &pd); err != nil {
		return temporal.NewNonRetryableApplicationError("personal data envelope cannot be opened", "SealError", err)
	}
	subject, err := a.Ring.Message(&dsrv1.Subject{Email: pd.GetSubject().GetEmail(), MemberId: pd.GetSubject().GetMemberId(),
		Phone: pd.GetSubject().GetPhone(), Name: pd.GetSubject().GetName(), NameKana: pd.GetSubject().GetNameKana()})
	if err != nil {
		return err
	}
	id := CommandID(in.RequestID, in.Holder, in.Attempt)
	cmd := &dsrv1.HolderCommand{
		CommandId: id, RequestId: in.RequestID, Receipt: in.Receipt, Holder: in.Holder,
		Action: in.Action, Attempt: int32(in.Attempt), IssuedAt: timestamppb.Now(), Subject: subject,
	}
	_, err = bus.Publish(ctx, a.JS, a.Namespace.Command(in.Holder, contract.ActionName(in.Action)), id, in.RequestID, cmd)
	return err
}

// ErasureInput announces a completed erasure.
type ErasureInput struct {
	RequestID string        `json:"request_id"`
	Receipt   string        `json:"receipt"`
	Personal  *dsrv1.Sealed `json:"personal"`
	Holders   []string      `json:"holders"`
}

// PublishErasureCompleted publishes the event with pseudonymous ids only,
// and returns its event id (stable: a retried activity is deduplicated).
func (a *Activities) PublishErasureCompleted(ctx context.Context, in ErasureInput) (string, error) {
	var pd dsrv1.PersonalData
	if err := a.Ring.OpenMessage(in.Personal, &pd); err != nil {
		return "", temporal.NewNonRetryableApplicationError("personal data envelope cannot be opened", "SealError", err)
	}
	s := pd.GetSubject()
	var ids []string
	for _, p := range []string{a.Pseudonym.Of(pseudonym.MemberID, s.GetMemberId()), a.Pseudonym.Of(pseudonym.Email, s.GetEmail()),
		a.Pseudonym.Of(pseudonym.Phone, s.GetPhone())} {
		if p != "" {
			ids = append(ids, p)
		}
	}
	id := in.RequestID + ".erasure-completed"
	ev := &dsrv1.ErasureCompleted{EventId: id, RequestId: in.RequestID, Receipt: in.Receipt,
		SubjectPseudonyms: ids, Holders: in.Holders, CompletedAt: timestamppb.Now()}
	if _, err := bus.Publish(ctx, a.JS, a.Namespace.ErasureCompleted(), id, in.RequestID, ev); err != nil {
		return "", err
	}
	return id, nil
}
