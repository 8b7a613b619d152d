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
// A command without ids gets request "req-t", attempt 1. An action the
// holder does not implement, or a handler error, fails the test.
func (h Holder) Run(t testing.TB, pool *pgxpool.Pool, cmd holderkit.Command) holderkit.Result {
	t.Helper()
	handler, ok := h.Actions[cmd.Action]
	if !ok {
		t.Fatalf("%s does not implement %v", h.Name, cmd.Action)
	}
	if cmd.RequestID == "" {
		cmd.ID, cmd.RequestID, cmd.Attempt = "req-t."+h.Name+".1", "req-t", 1
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
