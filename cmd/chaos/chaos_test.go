package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/bridge"
	"madoguchi.dev/services/holderkit"
	"madoguchi.dev/services/intake"
	"madoguchi.dev/services/outbox"
	"madoguchi.dev/workflows/request"
)

// The intake is killed (kill -9) after the request and its outbox row
// committed and before the relay published it: the client got no answer and
// nothing is on the stream. When the intake is back, its relay announces what
// was committed, the client's retry with the same Idempotency-Key gets the
// same request, and every request runs once.
func TestIntakeKilledBetweenCommitAndPublish(t *testing.T) {
	people := newMembers(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	stop(t, "intake")
	ensureRunningAfter(t, "intake")
	// The commit the dead intake made: the very submission path of its
	// HTTP handlers, with no relay running to publish.
	svc := &intake.Service{Pool: openPool(t, "intake"), Ring: stk.Runtime.Ring, Namespace: stk.Runtime.Namespace, Log: zerolog.Nop()}
	var reqs []*req
	for _, p := range people {
		key := "chaos-" + randomToken()
		a, err := svc.Submit(ctx, submission(p), key)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, &req{person: p, ID: a.ID, Receipt: a.Receipt, IdempotencyKey: key})
	}
	published := countByRequest(t, ctx, stk.Runtime.Namespace.StreamRequests(), stk.Runtime.Namespace.RequestSubmitted())
	for _, r := range reqs {
		if n := countRows(t, "intake", "SELECT count(*) FROM outbox WHERE request_id = $1 AND sent_at IS NULL", r.ID); n != 1 {
			t.Fatalf("%s: unsent outbox rows = %d, want 1 (committed, not yet announced)", r.Receipt, n)
		}
		if published[r.ID] != 0 {
			t.Fatalf("%s: published while the intake was down", r.Receipt)
		}
	}

	start(t, "intake")
	// The client never got its 202 and retries with the same key.
	for _, r := range reqs {
		a, hdr, err := post(ctx, r.person, r.IdempotencyKey)
		if err != nil {
			t.Fatal(err)
		}
		if a.ID != r.ID || a.Receipt != r.Receipt || hdr.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry answered %+v (replayed %q), want the committed request %s", a, hdr.Get("Idempotent-Replayed"), r.Receipt)
		}
	}
	each(t, 2*time.Minute, reqs, drive)
	completeAll(t, reqs)
	assertExactlyOnce(t, reqs)
}

// The outbox relay dies in the middle of a batch: some messages reached the
// stream, none was marked sent. The restarted relay publishes the whole batch
// again; the stream's dedup (Nats-Msg-Id = request id) drops the second copies,
// and every request runs once.
func TestOutboxRelayKilledMidBatch(t *testing.T) {
	people := newMembers(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := stk.Runtime.Namespace

	stop(t, "intake")
	ensureRunningAfter(t, "intake")
	pool := openPool(t, "intake")
	svc := &intake.Service{Pool: pool, Ring: stk.Runtime.Ring, Namespace: ns, Log: zerolog.Nop()}
	var reqs []*req
	for _, p := range people {
		key := "chaos-" + randomToken()
		a, err := svc.Submit(ctx, submission(p), key)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, &req{person: p, ID: a.ID, Receipt: a.Receipt, IdempotencyKey: key})
	}

	// A relay that dies after publishing two of the four.
	own, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	dying := &outbox.Relay{Pool: pool, JS: &crashingJS{JetStream: own, left: 2}, Log: zerolog.Nop()}
	if n, err := dying.RelayOnce(ctx); !errors.Is(err, errRelayKilled) || n != 0 {
		t.Fatalf("dying relay = %d, %v; want it killed before marking anything sent", n, err)
	}
	published := countByRequest(t, ctx, ns.StreamRequests(), ns.RequestSubmitted())
	for i, r := range reqs {
		want := 0
		if i < 2 {
			want = 1
		}
		if published[r.ID] != want {
			t.Fatalf("%s: on the stream %d times before the restart, want %d", r.Receipt, published[r.ID], want)
		}
		if n := countRows(t, "intake", "SELECT count(*) FROM outbox WHERE request_id = $1 AND sent_at IS NULL", r.ID); n != 1 {
			t.Fatalf("%s: unsent outbox rows = %d, want 1", r.Receipt, n)
		}
	}

	start(t, "intake")
	eventually(t, time.Minute, "the restarted relay marks the batch sent", func() (bool, string) {
		n := 0
		for _, r := range reqs {
			n += countRows(t, "intake", "SELECT count(*) FROM outbox WHERE request_id = $1 AND sent_at IS NOT NULL", r.ID)
		}
		return n == len(reqs), fmt.Sprintf("%d of %d sent", n, len(reqs))
	})
	// Published twice, stored once.
	published = countByRequest(t, ctx, ns.StreamRequests(), ns.RequestSubmitted())
	for _, r := range reqs {
		if published[r.ID] != 1 {
			t.Errorf("%s: on the stream %d times, want 1 (dedup by Nats-Msg-Id)", r.Receipt, published[r.ID])
		}
	}
	each(t, 2*time.Minute, reqs, drive)
	completeAll(t, reqs)
	assertExactlyOnce(t, reqs)
}

// The NATS server restarts (JetStream data kept) twice: while the relay
// publishes and the dispatcher starts workflows, and while commands and
// results are on their way to and from the holders.
func TestNATSServerRestartKeepsEveryRequest(t *testing.T) {
	people := append([]person{seeded(t, emily)}, newMembers(t, 2)...)
	reqs := submitAll(t, people)
	restartNATS(t)
	each(t, 2*time.Minute, reqs, toStaffReview)
	each(t, time.Minute, reqs, approve)
	restartNATS(t)
	completeAll(t, reqs)
	assertExactlyOnce(t, reqs)
}

// PostgreSQL restarts (an immediate shutdown, then crash recovery) twice:
// while requests are being submitted (clients retry with their
// Idempotency-Key) and the relay claims and marks outbox rows, and while the
// holders carry out their commands in their databases.
func TestPostgresRestartKeepsEveryRequest(t *testing.T) {
	if pg == nil {
		t.Skip("no private PostgreSQL cluster (server binaries missing): a shared server is not restarted")
	}
	people := newMembers(t, 3)
	reqs := submitAll(t, people[:1])
	restarted := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		restarted <- pg.Restart(ctx)
	}()
	reqs = append(reqs, submitAll(t, people[1:])...)
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	each(t, 2*time.Minute, reqs, toStaffReview)
	each(t, time.Minute, reqs, approve)
	restartPostgres(t)
	completeAll(t, reqs)
	assertExactlyOnce(t, reqs)
}

// The worker dies while a fan-out is in progress (the members holder has
// not answered yet; the others answer while no worker runs). The workflows
// resume on the restarted worker, and members' late answers finish them.
func TestWorkerKilledInTheMiddleOfAFanOut(t *testing.T) {
	people := append([]person{seeded(t, ichiro)}, newMembers(t, 2)...)
	reqs := submitAll(t, people)
	each(t, 2*time.Minute, reqs, toStaffReview)

	// Members goes quiet, so that the fan-out is certainly unfinished when
	// the worker dies.
	stop(t, "holder:members")
	ensureRunningAfter(t, "holder:members")
	each(t, time.Minute, reqs, approve)
	each(t, time.Minute, reqs, func(ctx context.Context, r *req) error {
		_, err := awaitStatus(ctx, r, "erase sent to members", func(s *dsrv1.RequestStatus) bool {
			m := holderStatus(s, "members")
			return s.GetStage() == string(request.StageFanOut) && m != nil && m.GetAction() == "erase" &&
				m.GetAttempts() >= 1 && m.GetAnsweredAt() == nil
		})
		return err
	})

	// The status counts an attempt when the workflow schedules the send;
	// the command exists once the activity has published it. Only then may
	// the worker die, or no command would be waiting for members.
	ns := stk.Runtime.Namespace
	eventually(t, time.Minute, "the erase commands wait in the stream for members", func() (bool, string) {
		n := testinfra.SubjectCount(t, js, ns.StreamCommands(), ns.Command("members", "erase"))
		return n >= uint64(len(reqs)), fmt.Sprintf("%d of %d", n, len(reqs))
	})
	stop(t, "worker")
	ensureRunningAfter(t, "worker")
	// Members comes back and answers while no worker runs.
	start(t, "holder:members")
	eventually(t, time.Minute, "members carries out the erasures", func() (bool, string) {
		n := 0
		for _, r := range reqs {
			n += countRows(t, "members", "SELECT count(*) FROM holderkit_processed_commands WHERE request_id = $1 AND action = 'erase'", r.ID)
		}
		return n == len(reqs), fmt.Sprintf("%d of %d", n, len(reqs))
	})
	start(t, "worker")
	completeAll(t, reqs)
	assertExactlyOnce(t, reqs)
}

// The dispatcher starts a request's workflow and dies before acking the
// message: JetStream redelivers it (after the ack wait) to the restarted
// dispatcher, which finds the workflow started and acks. A second dispatch
// of the same message (a competing dispatcher) starts nothing either.
func TestDispatcherKilledAfterStartingAWorkflowBeforeAcking(t *testing.T) {
	ns := stk.Runtime.Namespace
	stop(t, "bridge")
	ensureRunningAfter(t, "bridge")
	reqs := submitAll(t, newMembers(t, 3))
	ids := map[string]*req{}
	for _, r := range reqs {
		ids[r.ID] = r
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The dying dispatcher takes the messages from its durable consumer.
	cons, err := js.Consumer(ctx, ns.StreamRequests(), "dispatcher")
	if err != nil {
		t.Fatal(err)
	}
	dying := &bridge.Bridge{JS: js, Temporal: temporal, Namespace: ns, Log: zerolog.Nop()}
	dispatched := 0
	for dispatched < len(reqs) && ctx.Err() == nil {
		batch, err := cons.Fetch(len(reqs), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for msg := range batch.Messages() {
			if ids[msg.Headers().Get(contract.HeaderRequestID)] == nil {
				continue // not this scenario's: left for the real dispatcher
			}
			if err := dying.Dispatch(ctx, msg); err != nil {
				t.Fatalf("dispatch: %v", err)
			}
			// A competing dispatcher handles the same message: no second workflow.
			if err := dying.Dispatch(ctx, msg); err != nil {
				t.Fatalf("second dispatch of the same message: %v", err)
			}
			dispatched++
			// … and the process dies here: no ack, no nak.
		}
	}
	if dispatched != len(reqs) {
		t.Fatalf("dispatched %d of %d", dispatched, len(reqs))
	}

	start(t, "bridge")
	each(t, 2*time.Minute, reqs, drive)
	eventually(t, 2*time.Minute, "the restarted dispatcher acks the redelivered messages", func() (bool, string) {
		info, err := cons.Info(ctx)
		if err != nil {
			return false, err.Error()
		}
		return info.NumAckPending == 0 && info.NumPending == 0 && info.NumRedelivered == 0,
			fmt.Sprintf("ack pending %d, pending %d, redelivered %d", info.NumAckPending, info.NumPending, info.NumRedelivered)
	})
	completeAll(t, reqs)
	assertExactlyOnce(t, reqs)
}

// A holder is down for longer than its SLA: the workflow resends, then
// escalates to staff and keeps waiting. When the holder is back it finds the
// command twice in its queue, carries it out once and answers both; the
// request completes.
func TestHolderDownLongerThanItsSLA(t *testing.T) {
	people := append([]person{seeded(t, taro)}, newMembers(t, 2)...)
	reqs := submitAll(t, people)
	each(t, 2*time.Minute, reqs, toStaffReview)

	stop(t, "holder:"+slowHolder)
	ensureRunningAfter(t, "holder:"+slowHolder)
	each(t, time.Minute, reqs, approve)
	each(t, time.Minute, reqs, func(ctx context.Context, r *req) error {
		_, err := awaitStatus(ctx, r, slowHolder+" escalated", func(s *dsrv1.RequestStatus) bool {
			h := holderStatus(s, slowHolder)
			return h != nil && h.GetAction() == "erase" && h.GetAttempts() == slowHolderAttempts && h.GetEscalated() &&
				h.GetAnsweredAt() == nil && slices.Contains(s.GetAttention(), request.AttentionHolderEscalated)
		})
		return err
	})

	start(t, "holder:"+slowHolder)
	completeAll(t, reqs)
	assertExactlyOnce(t, reqs)
}

// Garbage on every subject a consumer reads — submitted requests, every
// holder's commands, every holder's results, erasure events — is
// dead-lettered with a reason, and every consumer goes on: a request filed
// afterwards completes and its erasure event reaches the subscriber.
func TestPoisonMessageOnEverySubjectIsDeadLetteredAndConsumersKeepGoing(t *testing.T) {
	ns := stk.Runtime.Namespace
	tok := randomToken()
	service := "chaos-" + tok

	// An internal subscriber to erasure events, as any service would run.
	var mu sync.Mutex
	erased := map[string]int{}
	subCtx, stopSub := context.WithCancel(context.Background())
	subDone := make(chan error, 1)
	go func() {
		subDone <- holderkit.OnErasure(subCtx, js, ns, service, zerolog.Nop(), func(_ context.Context, ev *dsrv1.ErasureCompleted) error {
			mu.Lock()
			erased[ev.GetRequestId()]++
			mu.Unlock()
			return nil
		})
	}()
	defer func() {
		stopSub()
		if err := <-subDone; err != nil {
			t.Errorf("erasure subscriber: %v", err)
		}
	}()

	// subject → the consumer that must dead-letter it
	want := map[string]string{
		ns.RequestSubmitted(): "dispatcher",
		ns.ErasureCompleted(): "erasure-" + service,
	}
	for _, h := range stk.HolderNames() {
		want[ns.Command(h, "erase")] = "holder-" + h
		want[ns.Result(h)] = "results"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	body := append([]byte{0x0f}, []byte("not protobuf "+tok)...) // wire type 7: never decodes
	for subject := range want {
		msg := nats.NewMsg(subject)
		msg.Data = body
		msg.Header.Set("Chaos-Poison", tok)
		if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID("poison-"+tok+"-"+subject)); err != nil {
			t.Fatal(err)
		}
	}

	eventually(t, time.Minute, "every poison message is dead-lettered", func() (bool, string) {
		got := map[string]deadLetter{}
		for _, d := range deadLetters(t, ctx)[""] {
			if d.header["Chaos-Poison"] != nil && d.header["Chaos-Poison"][0] == tok {
				got[d.subject] = d
			}
		}
		var missing []string
		for subject, source := range want {
			d, ok := got[subject]
			switch {
			case !ok:
				missing = append(missing, subject)
			case d.source != source || d.reason == "" || strings.Contains(d.reason, tok) || string(d.data) != string(body):
				t.Fatalf("dead letter of %s: source %q reason %q, want source %q, a reason that does not quote the body, and the body kept",
					subject, d.source, d.reason, source)
			}
		}
		return len(missing) == 0, "missing " + strings.Join(missing, ", ")
	})

	// Every consumer keeps going.
	reqs := submitAll(t, newMembers(t, 1))
	each(t, 2*time.Minute, reqs, drive)
	completeAll(t, reqs)
	assertExactlyOnce(t, reqs)
	eventually(t, time.Minute, "the subscriber receives the erasure event", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return erased[reqs[0].ID] >= 1, "not yet"
	})
}

// crashingJS publishes through JetStream until its budget is spent, then
// "kills the process": it waits for what was published to be stored and
// fails every further publish, so the relay returns before marking anything.
type crashingJS struct {
	jetstream.JetStream
	mu   sync.Mutex
	left int
}

var errRelayKilled = errors.New("relay process killed")

func (c *crashingJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left == 0 {
		select {
		case <-c.JetStream.PublishAsyncComplete():
		case <-time.After(10 * time.Second):
		}
		return nil, errRelayKilled
	}
	c.left--
	return c.JetStream.PublishMsgAsync(m, opts...)
}

func restartNATS(t *testing.T) {
	t.Helper()
	if err := stk.NATS.Restart(); err != nil {
		t.Fatal(err)
	}
}

func restartPostgres(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
}

// openPool opens a pool on a component's database for the test's lifetime.
func openPool(t *testing.T, component string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgdb.Open(context.Background(), stk.Databases[component])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
