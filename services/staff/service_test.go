package staff

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"madoguchi.dev/platform/staffsig"
	"madoguchi.dev/proto/contract"
)

// updates records the updates sent and answers none (the outcome stays
// unknown, which the audit row says).
type updates struct {
	client.Client
	sent []client.UpdateWorkflowOptions
}

func (u *updates) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	u.sent = append(u.sent, o)
	return nil, errors.New("test: no Temporal")
}

// Every action leaves signed for the account that authenticated, for its
// request and its update; without a signing key nothing is sent.
func TestEachActionIsSignedForTheAuthenticatedAccountItsRequestAndUpdate(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	token, err := st.CreateAccount(ctx, "sato", "佐藤", RoleStaff)
	if err != nil {
		t.Fatal(err)
	}
	signing, verify, err := staffsig.NewKeyPair("s1")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := staffsig.ParseSigningKey(signing)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := staffsig.ParseVerifyKeys(verify)
	if err != nil {
		t.Fatal(err)
	}
	const receipt = "20261126-7K3M9Q"
	tc := &updates{}
	svc := &Service{Temporal: tc, Store: st, Signer: signer}
	actions := []Action{Approve(receipt, nil, map[string]string{"email": "new@example.jp"}, "承認"),
		Refuse(receipt, "grounds_not_met", "要件を満たしません", false), ReviewIdentity(receipt, true, ""),
		FeePaid(receipt, "PAY-1", 1000), Extend(receipt, "調査"), Entrusted(receipt, "acme", true, ""),
		RetryHolder(receipt, "billing", "復旧"), CloseWithdrawn(receipt, "電話で取下げ")}
	for _, a := range actions {
		if _, err := svc.Do(ctx, token, a); err == nil {
			t.Fatalf("%s: sent to no Temporal without an error", a.Name)
		}
	}
	if len(tc.sent) != len(actions) {
		t.Fatalf("%d updates sent, want %d", len(tc.sent), len(actions))
	}
	for i, o := range tc.sent {
		arg, ok := o.Args[0].(staffsig.Action)
		if !ok || o.WorkflowID != contract.WorkflowID(receipt) || o.UpdateName != actions[i].Update {
			t.Errorf("%s: sent %T to %s as %s", actions[i].Name, o.Args[0], o.WorkflowID, o.UpdateName)
			continue
		}
		got, err := keys.Verify(o.WorkflowID, o.UpdateName, arg, time.Now())
		if err != nil || got.Actor != "sato" || arg.GetActor() != "sato" {
			t.Errorf("%s: signed for %q (action names %q): %v; want sato's valid signature", actions[i].Name, got.Actor, arg.GetActor(), err)
		}
	}

	unsigned := &Service{Temporal: tc, Store: st}
	_, err = unsigned.Do(ctx, token, Extend(receipt, "調査"))
	var rej *RejectedError
	if !errors.As(err, &rej) || len(tc.sent) != len(actions) {
		t.Errorf("without a signing key: %v, %d updates sent; want rejected, nothing sent", err, len(tc.sent)-len(actions))
	}
}
