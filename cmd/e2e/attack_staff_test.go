package e2e

// Attacks on staff actions, on real servers: the attacker reaches the
// Temporal frontend (a leaked client certificate, a compromised component)
// and can read request histories through the payload codec, but does not
// hold the staff signing key. Whatever they send straight to a workflow —
// a staff action under a made-up name, or a signature dsrctl made, sent
// again — is rejected, and the request stays as it was.

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"madoguchi.dev/cmd/dsrctl/cli"
	"madoguchi.dev/platform/codec"
	"madoguchi.dev/platform/staffsig"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/staff"
	"madoguchi.dev/workflows/request"
)

// straight sends a staff update to the workflow directly through a
// Temporal client, as the attacker does, and returns the workflow's answer.
func straight(ctx context.Context, receipt, name string, arg any) (*dsrv1.ActionResult, error) {
	h, err := temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: contract.WorkflowID(receipt),
		UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		return nil, err
	}
	var res dsrv1.ActionResult
	return &res, h.Get(ctx, &res)
}

// acceptedUpdate is the argument of the update name that a request's
// workflow accepted, read from its history (decrypted with the payload
// key, as someone who can read histories reads it).
func acceptedUpdate[T any, P interface {
	*T
	staffsig.Action
}](ctx context.Context, t *testing.T, receipt, name string) P {
	t.Helper()
	it := temporal.GetWorkflowHistory(ctx, contract.WorkflowID(receipt), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		acc := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes()
		if acc == nil || acc.GetAcceptedRequest().GetInput().GetName() != name {
			continue
		}
		var arg P = new(T)
		if err := codec.DataConverter(stk.Runtime.Ring).FromPayloads(acc.GetAcceptedRequest().GetInput().GetArgs(), arg); err != nil {
			t.Fatalf("decode the accepted %s: %v", name, err)
		}
		return arg
	}
	t.Fatalf("no %s accepted in the history of %s", name, receipt)
	return nil
}

// rejected requires that the workflow refused the update, saying why.
func rejected(t *testing.T, what string, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: %v; want rejected with %q", what, err, want)
	}
}

func events(st *dsrv1.RequestStatus, event string) []string {
	var out []string
	for _, e := range st.GetTimeline() {
		if e.GetEvent() == event {
			out = append(out, e.GetActor())
		}
	}
	return out
}

func TestAttackStaffActionsSentStraightToTemporalAreRejected(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	staffID, tok := newStaff(t, staff.RoleStaff)
	extended, target := newPerson(), newPerson()
	r := file(t, "deletion", extended, nil)
	v := file(t, "deletion", target, nil)
	verify(ctx, t, r, extended.email)
	verify(ctx, t, v, target.email)
	waitStage(ctx, t, r, request.StageStaffReview)
	before := waitStage(ctx, t, v, request.StageStaffReview)
	audited := len(auditRows(t, v))

	// 1. A decision under a made-up actor, without a signature.
	_, err := straight(ctx, v, contract.UpdateDecide, &dsrv1.Decide{Actor: "staff-director",
		Outcome: dsrv1.DecisionOutcome_DECISION_OUTCOME_APPROVE, Explanation: "至急対応"})
	rejected(t, "an unsigned decision under a made-up actor", err, "not signed")

	// 2. Staff extend r's due date with dsrctl; the signed action is in
	// r's history. Sent again to r, or to v, it is rejected.
	act(t, tok, r, cli.ExitOK, "due date extended to", "extend", r, "--reason", "調査に時間を要するため")
	signed := acceptedUpdate[dsrv1.ExtendDeadline](ctx, t, r, contract.UpdateExtendDeadline)
	if sig := signed.GetSignature(); sig.GetActor() != staffID || len(sig.GetSignature()) == 0 {
		t.Fatalf("dsrctl's extension carries signature %v; want one for %s", sig, staffID)
	}
	_, err = straight(ctx, r, contract.UpdateExtendDeadline, signed)
	rejected(t, "dsrctl's extension re-played on its request", err, "used before")
	_, err = straight(ctx, v, contract.UpdateExtendDeadline, signed)
	rejected(t, "dsrctl's extension re-played on another request", err, "does not match")
	renamed := acceptedUpdate[dsrv1.ExtendDeadline](ctx, t, r, contract.UpdateExtendDeadline)
	renamed.Actor, renamed.Reason = "staff-director", "別の理由"
	_, err = straight(ctx, v, contract.UpdateExtendDeadline, renamed)
	rejected(t, "dsrctl's extension altered", err, "does not match")

	// Nothing changed: v waits for its decision as before, with no audit
	// row; r was extended once, by the staff member who did it.
	after := status(ctx, t, v)
	if after.GetStage() != before.GetStage() || after.GetExtended() || after.GetDecision() != "" ||
		len(after.GetTimeline()) != len(before.GetTimeline()) || !after.GetDueAt().AsTime().Equal(before.GetDueAt().AsTime()) {
		t.Errorf("the target after the attacks: stage %s, extended %v, decision %q, %d timeline entries, due %v; want as before: %s, not extended, none, %d, %v",
			after.GetStage(), after.GetExtended(), after.GetDecision(), len(after.GetTimeline()), after.GetDueAt().AsTime(),
			before.GetStage(), len(before.GetTimeline()), before.GetDueAt().AsTime())
	}
	if n := len(auditRows(t, v)); n != audited {
		t.Errorf("%d audit rows for the target, want %d: nothing was done by staff", n, audited)
	}
	st := status(ctx, t, r)
	if got := events(st, "extended"); !slices.Equal(got, []string{staffID}) || st.GetStage() != string(request.StageStaffReview) {
		t.Errorf("extended request: stage %s, extensions by %v; want one by %s, still in staff review", st.GetStage(), got, staffID)
	}
}
