// Package holdertest runs a data holder's handlers in its tests, the two
// ways every holder is tested: directly inside a database transaction, as
// holderkit does, and end to end as a command through embedded JetStream to
// a running holderkit.Holder. It is for tests only.
package holdertest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
)

// Holder is the holder under test: its registry name and its handlers.
type Holder struct {
	Name    string
	Actions map[dsrv1.Action]holderkit.HandlerFunc
}

// Run carries out cmd with the handler for cmd.Action inside a transaction
// on pool, as holderkit does, and returns its result; the effect commits.
// A command without ids gets request "req-t", attempt 1; one without a
// binding is from a requester whose identity is established: they proved
// control of the subject's e-mail address, and (after the locate, as the
// workflow tells holders) the member registry confirmed the member number
// they typed. Unbound tests the opposite. An
// action the holder does not implement, or a handler error, fails the test.
func (h Holder) Run(t testing.TB, pool *pgxpool.Pool, cmd holderkit.Command) holderkit.Result {
	t.Helper()
	handler, ok := h.Actions[cmd.Action]
	if !ok {
		t.Fatalf("%s does not implement %v", h.Name, cmd.Action)
	}
	if cmd.RequestID == "" {
		cmd.ID, cmd.RequestID, cmd.Attempt = "req-t."+h.Name+".1", "req-t", 1
	}
	if cmd.Binding == (holderkit.Binding{}) {
		cmd.Binding = holderkit.Binding{ProvenEmail: cmd.Subject.GetEmail(),
			MemberConfirmed: cmd.Action != dsrv1.Action_ACTION_LOCATE && cmd.Subject.GetMemberId() != ""}
	}
	ctx, cancel := context.WithTimeout(context.Background(), testinfra.Timeout)
	defer cancel()
	var res holderkit.Result
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		res, err = handler(ctx, tx, cmd)
		return err
	}); err != nil {
		t.Fatalf("%v: %v", cmd.Action, err)
	}
	return res
}

// Unbound runs every action of the holder but locate for subject, as typed
// by someone who proved control of another address only, and requires that
// each finds nothing and exports nothing: the binding rule (holderkit
// Command.Covers) holds for this holder. The effects run in transactions
// that roll back.
func (h Holder) Unbound(t testing.TB, pool *pgxpool.Pool, subject *dsrv1.Subject) {
	t.Helper()
	for action, handler := range h.Actions {
		if action == dsrv1.Action_ACTION_LOCATE {
			continue
		}
		cmd := holderkit.Command{ID: "req-u." + h.Name + ".1", RequestID: "req-u", Attempt: 1, Action: action, Subject: subject,
			Corrections: map[string]string{"name": "Mallory"}, Binding: holderkit.Binding{ProvenEmail: "mallory@attacker.example"}}
		ctx, cancel := context.WithTimeout(context.Background(), testinfra.Timeout)
		tx, err := pool.Begin(ctx)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		res, err := handler(ctx, tx, cmd)
		_ = tx.Rollback(ctx)
		cancel()
		if err != nil {
			t.Fatalf("%v for an unbound requester: %v", action, err)
		}
		if res.Outcome != dsrv1.Outcome_OUTCOME_NOT_FOUND || res.Export != nil || res.RecordsAffected != 0 {
			t.Errorf("%v for a requester who proved another address: %v, %d records, export %d bytes; want NOT_FOUND and nothing",
				action, res.Outcome, res.RecordsAffected, len(res.Export))
		}
	}
}

// Through sends one command (request "req-nats", attempt 1) through embedded
// JetStream to a holderkit.Holder running on pool and returns the result it
// publishes, with the key ring that opens the result's export.
func (h Holder) Through(t testing.TB, pool *pgxpool.Pool, action dsrv1.Action, subject *dsrv1.Subject) (*dsrv1.HolderResult, *seal.Ring) {
	t.Helper()
	_, js, ns := testinfra.NATS(t)
	ring := testinfra.Ring(t)
	hk := &holderkit.Holder{Name: h.Name, Namespace: ns, JS: js, Pool: pool, Ring: ring,
		Log: testinfra.Logger(t), Actions: h.Actions}
	testinfra.Go(t, hk.Run)
	sealed, err := ring.Message(subject)
	if err != nil {
		t.Fatal(err)
	}
	cmd := &dsrv1.HolderCommand{CommandId: "req-nats." + h.Name + ".1", RequestId: "req-nats", Receipt: "20261125-7K3M9Q",
		Holder: h.Name, Action: action, Attempt: 1, IssuedAt: timestamppb.Now(), Subject: sealed}
	ctx, cancel := context.WithTimeout(context.Background(), testinfra.Timeout)
	defer cancel()
	if _, err := bus.Publish(ctx, js, ns.Command(h.Name, contract.ActionName(action)), cmd.GetCommandId(), cmd.GetRequestId(), cmd); err != nil {
		t.Fatal(err)
	}
	m := testinfra.WaitStreamMsg(t, js, ns.StreamResults(), ns.Result(h.Name))
	var res dsrv1.HolderResult
	if err := proto.Unmarshal(m.Data, &res); err != nil {
		t.Fatal(err)
	}
	return &res, ring
}

// Count runs a query that returns one number, e.g. SELECT count(*).
func Count(t testing.TB, pool *pgxpool.Pool, query string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
