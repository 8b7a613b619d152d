package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/natsauth"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// natsAttacker is a connection with one user's credentials that keeps what
// the server refused.
type natsAttacker struct {
	user string
	nc   *nats.Conn
	js   jetstream.JetStream
	mu   sync.Mutex
	errs []string
}

func attackNATSAs(t *testing.T, user string) *natsAttacker {
	t.Helper()
	a := &natsAttacker{user: user}
	nc, err := stk.ConnectNATS(user, nats.Name("attacker"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			a.mu.Lock()
			a.errs = append(a.errs, strings.ToLower(err.Error()))
			a.mu.Unlock()
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if a.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	a.nc = nc
	return a
}

// refused waits for the server's permissions violation of action
// ("Publish to", "Subscription to") on subject.
func (a *natsAttacker) refused(t *testing.T, action, subject string) {
	t.Helper()
	want := strings.ToLower(fmt.Sprintf("%s %q", action, subject))
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		a.mu.Lock()
		for _, e := range a.errs {
			if strings.Contains(e, want) {
				a.mu.Unlock()
				return
			}
		}
		a.mu.Unlock()
	}
	t.Errorf("%s: the server did not refuse %s %q", a.user, action, subject)
}

// A holder's pod is taken over: the attacker has that holder's NATS seed.
// It can neither forge another holder's "locate done", a request.concluded
// event with an old date (which would have the retention purge erase a
// live request's personal data), an erasure event or a command, nor read
// another holder's commands, nor purge or delete a stream; and without the
// seed nobody gets in at all.
func TestAttackNATSAHoldersCredentialsForgeNothingAndReadNoOtherHoldersCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := stk.Runtime.Namespace

	// A live request, waiting for its verification code.
	email := "nats-attack-" + randomToken() + "@example.jp"
	status, acc, _ := submit(t, fmt.Sprintf(`{"kind":"deletion","jurisdiction":"JP","locale":"ja","subject":{"name":"被害 太郎","email":%q}}`, email), "")
	if status != http.StatusAccepted {
		t.Fatalf("submit = %d", status)
	}
	live := func() int {
		return countRows(t, "intake", "SELECT count(*) FROM requests WHERE id = $1 AND concluded_at IS NULL AND purged_at IS NULL", acc.ID)
	}
	if live() != 1 {
		t.Fatal("the request is not stored as live")
	}

	// Everything on our subjects, as the admin sees it.
	tapConn, err := stk.ConnectNATS(natsauth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	defer tapConn.Close()
	tap, err := tapConn.SubscribeSync(ns.Root + ".>")
	if err != nil {
		t.Fatal(err)
	}
	if err := tapConn.Flush(); err != nil {
		t.Fatal(err)
	}

	attacker := attackNATSAs(t, natsauth.Holder("members"))
	old := timestamppb.New(time.Now().AddDate(-5, 0, 0))
	forged := []struct {
		subject string
		m       proto.Message
	}{
		{ns.Result("billing"), &dsrv1.HolderResult{CommandId: acc.ID + ".billing.locate.1", RequestId: acc.ID, Receipt: acc.Receipt,
			Holder: "billing", Action: dsrv1.Action_ACTION_LOCATE, Outcome: dsrv1.Outcome_OUTCOME_DONE}},
		{ns.RequestConcluded(), &dsrv1.RequestConcluded{EventId: acc.ID + ".concluded", RequestId: acc.ID, Receipt: acc.Receipt,
			Stage: "completed", ConcludedAt: old}},
		{ns.ErasureCompleted(), &dsrv1.ErasureCompleted{RequestId: acc.ID, Receipt: acc.Receipt}},
		{ns.Command("billing", "erase"), &dsrv1.HolderCommand{CommandId: acc.ID + ".billing.1", RequestId: acc.ID}},
		{ns.Command("members", "erase"), &dsrv1.HolderCommand{CommandId: acc.ID + ".members.1", RequestId: acc.ID}},
	}
	for _, f := range forged {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, err := bus.Publish(pctx, attacker.js, f.subject, "forged-"+f.subject, acc.ID, f.m)
		cancel()
		if err == nil {
			t.Errorf("%s: the stream acked the forged message", f.subject)
		}
		attacker.refused(t, "Publish to", f.subject)
	}
	// None of it reached a subject; the live request is still live.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		m, err := tap.NextMsg(time.Until(deadline))
		if err != nil {
			break
		}
		for _, f := range forged {
			if m.Subject == f.subject && (strings.HasPrefix(m.Header.Get(nats.MsgIdHdr), "forged-") || m.Header.Get(contract.HeaderRequestID) == acc.ID) {
				t.Errorf("a forged message reached %s", m.Subject)
			}
		}
	}
	if live() != 1 {
		t.Error("the forged request.concluded event concluded the live request: the purge would erase it")
	}

	// Another holder's commands: not by subscribing (to its subjects or to
	// the inboxes deliveries travel to), not through a consumer of its own
	// or billing's, not by fetching from billing's durable.
	for _, subj := range []string{ns.CommandsFor("billing"), "_INBOX.>"} {
		sub, err := attacker.nc.SubscribeSync(subj)
		if err != nil {
			t.Fatal(err)
		}
		attacker.refused(t, "Subscription to", subj)
		if m, err := sub.NextMsg(300 * time.Millisecond); err == nil {
			t.Errorf("received %s on %s", m.Subject, subj)
		}
	}
	stream := ns.StreamCommands()
	for _, durable := range []string{natsauth.Holder("members"), natsauth.Holder("billing")} {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := attacker.js.CreateOrUpdateConsumer(cctx, stream, jetstream.ConsumerConfig{Durable: durable, FilterSubject: ns.CommandsFor("billing")})
		cancel()
		if err == nil {
			t.Errorf("created consumer %s on billing's commands", durable)
		}
		attacker.refused(t, "Publish to", "$JS.API.CONSUMER.CREATE."+stream+"."+durable+"."+ns.CommandsFor("billing"))
	}
	inbox := natsauth.InboxPrefix(attacker.user) + ".steal"
	stolen, err := attacker.nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	next := "$JS.API.CONSUMER.MSG.NEXT." + stream + "." + natsauth.Holder("billing")
	if err := attacker.nc.PublishRequest(next, inbox, []byte(`{"batch":10,"expires":500000000}`)); err != nil {
		t.Fatal(err)
	}
	attacker.refused(t, "Publish to", next)
	if m, err := stolen.NextMsg(time.Second); err == nil {
		t.Errorf("fetched from billing's durable: %s", m.Subject)
	}

	// The streams: no purge, no deletion (requests as any client can send
	// them; the server drops them, so no answer comes).
	for _, name := range []string{stream, ns.StreamEvents()} {
		for _, api := range []string{"$JS.API.STREAM.PURGE.", "$JS.API.STREAM.DELETE."} {
			if m, err := attacker.nc.Request(api+name, nil, 500*time.Millisecond); err == nil {
				t.Errorf("%s%s answered: %s", api, name, m.Data)
			}
			attacker.refused(t, "Publish to", api+name)
		}
	}
	admin, err := jetstream.New(tapConn)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{stream, ns.StreamEvents()} {
		if _, err := admin.Stream(ctx, name); err != nil {
			t.Errorf("stream %s after the attack: %v", name, err)
		}
	}

	// Without the seed: refused at the door.
	if nc, err := nats.Connect(stk.NATS.URL, nats.Name("no-credentials")); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Errorf("connect without credentials: %v; want an authorization violation", err)
	}

	// The same event from the worker's user is acted on: the check above
	// would have seen the forged one.
	worker := attackNATSAs(t, natsauth.Worker)
	if _, err := bus.Publish(ctx, worker.js, ns.RequestConcluded(), acc.ID+".concluded", acc.ID, forged[1].m); err != nil {
		t.Fatalf("the worker announces the conclusion: %v", err)
	}
	for live() == 1 {
		select {
		case <-ctx.Done():
			t.Fatal("the intake never recorded the worker's request.concluded event")
		case <-time.After(100 * time.Millisecond):
		}
	}
}
