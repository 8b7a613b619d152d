package bus_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

const durable = "t-consumer"

// fixture is one embedded NATS server with the streams, a consumer on the
// events stream and a record of what its handler saw.
type fixture struct {
	js   jetstream.JetStream
	ns   contract.Namespace
	cons bus.Consumer

	mu    sync.Mutex
	calls map[string]int // event id -> handler calls
	done  chan seen      // every successfully handled message
}

type seen struct {
	id        string
	delivered uint64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	_, js, ns := testinfra.NATS(t)
	return &fixture{js: js, ns: ns, calls: map[string]int{}, done: make(chan seen, 100),
		cons: bus.Consumer{Namespace: ns, Stream: ns.StreamEvents(), Durable: durable,
			FilterSubjects: []string{ns.ErasureCompleted()}, Log: testinfra.Logger(t)}}
}

// run consumes with h, which gets the decoded event; a nil error acks.
func (f *fixture) run(t *testing.T, h func(ev *dsrv1.ErasureCompleted, delivered uint64) error) {
	t.Helper()
	testinfra.Go(t, func(ctx context.Context) error {
		return f.cons.Run(ctx, f.js, func(ctx context.Context, msg jetstream.Msg) error {
			var ev dsrv1.ErasureCompleted
			if err := bus.Decode(msg, &ev); err != nil {
				return bus.Poison("%v", err)
			}
			meta, err := msg.Metadata()
			if err != nil {
				return err
			}
			f.mu.Lock()
			f.calls[ev.GetEventId()]++
			f.mu.Unlock()
			if err := h(&ev, meta.NumDelivered); err != nil {
				return err
			}
			f.done <- seen{ev.GetEventId(), meta.NumDelivered}
			return nil
		})
	})
}

func (f *fixture) publish(t *testing.T, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testinfra.Timeout)
	defer cancel()
	ev := &dsrv1.ErasureCompleted{EventId: id, RequestId: "req-" + id, Receipt: "20261125-" + id}
	if _, err := bus.Publish(ctx, f.js, f.ns.ErasureCompleted(), id, "req-"+id, ev); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) waitHandled(t *testing.T, id string) seen {
	t.Helper()
	timeout := time.After(testinfra.Timeout)
	for {
		select {
		case s := <-f.done:
			if s.id == id {
				return s
			}
		case <-timeout:
			t.Fatalf("message %s was never handled successfully", id)
		}
	}
}

func (f *fixture) callCount(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

// waitSettled waits until the consumer has nothing pending or unacked.
func (f *fixture) waitSettled(t *testing.T) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testinfra.Timeout)
	defer cancel()
	for {
		c, err := f.js.Consumer(ctx, f.ns.StreamEvents(), durable)
		if err == nil {
			info, err := c.Info(ctx)
			if err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
				return info
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("consumer never settled")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (f *fixture) deadLetter(t *testing.T) *jetstream.RawStreamMsg {
	t.Helper()
	return testinfra.WaitStreamMsg(t, f.js, f.ns.StreamDeadLetter(), f.ns.DeadLetter(durable))
}

func (f *fixture) deadLetterCount(t *testing.T) uint64 {
	t.Helper()
	return testinfra.SubjectCount(t, f.js, f.ns.StreamDeadLetter(), f.ns.DeadLetter(durable))
}

func fastBackoff(t *testing.T) {
	old := bus.Backoff
	bus.Backoff = []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}
	t.Cleanup(func() { bus.Backoff = old })
}

func TestPoisonMessageIsDeadLetteredWithItsReasonAndConsumingGoesOn(t *testing.T) {
	f := newFixture(t)
	f.publish(t, "bad")
	f.publish(t, "good")
	f.run(t, func(ev *dsrv1.ErasureCompleted, _ uint64) error {
		if ev.GetEventId() == "bad" {
			return bus.Poison("event %s is nonsense", ev.GetEventId())
		}
		return nil
	})
	f.waitHandled(t, "good")

	dl := f.deadLetter(t)
	if got := dl.Header.Get(contract.HeaderDeadReason); !strings.Contains(got, "event bad is nonsense") {
		t.Errorf("dead-letter reason = %q", got)
	}
	if got := dl.Header.Get(contract.HeaderDeadSubject); got != f.ns.ErasureCompleted() {
		t.Errorf("dead-letter original subject = %q", got)
	}
	if got := dl.Header.Get(contract.HeaderDeadSource); got != durable {
		t.Errorf("dead-letter source = %q", got)
	}
	if got := dl.Header.Get(contract.HeaderRequestID); got != "req-bad" {
		t.Errorf("request id header not kept: %q", got)
	}
	var ev dsrv1.ErasureCompleted
	if err := proto.Unmarshal(dl.Data, &ev); err != nil || ev.GetEventId() != "bad" {
		t.Errorf("dead-lettered body is not the original message: %v %v", &ev, err)
	}

	f.waitSettled(t)
	if n := f.callCount("bad"); n != 1 {
		t.Errorf("poison message handled %d times, want 1 (never retried)", n)
	}
	if n := f.deadLetterCount(t); n != 1 {
		t.Errorf("%d dead letters, want 1", n)
	}
}

func TestHandlerErrorIsRetriedAndProcessedOnRedelivery(t *testing.T) {
	fastBackoff(t)
	f := newFixture(t)
	f.publish(t, "flaky")
	f.run(t, func(ev *dsrv1.ErasureCompleted, delivered uint64) error {
		if delivered == 1 {
			return errors.New("database briefly unavailable")
		}
		return nil
	})
	s := f.waitHandled(t, "flaky")
	if s.delivered != 2 {
		t.Errorf("processed on delivery %d, want 2", s.delivered)
	}
	f.waitSettled(t)
	if n := f.callCount("flaky"); n != 2 {
		t.Errorf("handler called %d times, want 2", n)
	}
	if n := f.deadLetterCount(t); n != 0 {
		t.Errorf("a retried-then-processed message was dead-lettered (%d)", n)
	}
}

func TestPanickingHandlerDeadLettersTheMessageAndKeepsConsuming(t *testing.T) {
	f := newFixture(t)
	f.publish(t, "boom")
	f.publish(t, "after")
	f.run(t, func(ev *dsrv1.ErasureCompleted, _ uint64) error {
		if ev.GetEventId() == "boom" {
			var m map[string]int
			m["nil map"]++ // panics
		}
		return nil
	})
	f.waitHandled(t, "after")
	dl := f.deadLetter(t)
	if got := dl.Header.Get(contract.HeaderDeadReason); !strings.Contains(got, "panicked") {
		t.Errorf("dead-letter reason = %q, want it to say the handler panicked", got)
	}
	f.waitSettled(t)
	if n := f.callCount("boom"); n != 1 {
		t.Errorf("panicking message handled %d times, want 1", n)
	}
}

func TestMessageFailingEveryDeliveryIsDeadLetteredAfterMaxDeliver(t *testing.T) {
	fastBackoff(t)
	f := newFixture(t)
	f.cons.MaxDeliver = 3
	f.publish(t, "doomed")
	f.publish(t, "fine")
	f.run(t, func(ev *dsrv1.ErasureCompleted, _ uint64) error {
		if ev.GetEventId() == "doomed" {
			return errors.New("still failing")
		}
		return nil
	})
	f.waitHandled(t, "fine")
	dl := f.deadLetter(t)
	reason := dl.Header.Get(contract.HeaderDeadReason)
	if !strings.Contains(reason, "max deliveries") || !strings.Contains(reason, "still failing") {
		t.Errorf("dead-letter reason = %q", reason)
	}
	f.waitSettled(t)
	if n := f.callCount("doomed"); n != 3 {
		t.Errorf("handler called %d times, want MaxDeliver = 3", n)
	}
}

func TestPublishWithTheSameMessageIDStoresOneMessage(t *testing.T) {
	_, js, ns := testinfra.NATS(t)
	ctx := context.Background()
	ev := &dsrv1.ErasureCompleted{EventId: "ev-1"}
	first, err := bus.Publish(ctx, js, ns.ErasureCompleted(), "ev-1", "req-1", ev)
	if err != nil {
		t.Fatal(err)
	}
	second, err := bus.Publish(ctx, js, ns.ErasureCompleted(), "ev-1", "req-1", ev)
	if err != nil {
		t.Fatal(err)
	}
	if first.Duplicate || !second.Duplicate {
		t.Errorf("duplicate flags: first %v, second %v", first.Duplicate, second.Duplicate)
	}
	if _, err := bus.Publish(ctx, js, ns.ErasureCompleted(), "ev-2", "req-1", ev); err != nil {
		t.Fatal(err)
	}
	if n := testinfra.SubjectCount(t, js, ns.StreamEvents(), ns.ErasureCompleted()); n != 2 {
		t.Errorf("stream holds %d messages, want 2 (ev-1 once, ev-2)", n)
	}
	m := testinfra.WaitStreamMsg(t, js, ns.StreamEvents(), ns.ErasureCompleted())
	if m.Header.Get(contract.HeaderType) != "dsr.v1.ErasureCompleted" || m.Header.Get(contract.HeaderRequestID) != "req-1" ||
		m.Header.Get("Content-Type") != contract.ContentType {
		t.Errorf("headers = %v", m.Header)
	}
}

func TestPublishToASubjectWithoutStreamFails(t *testing.T) {
	_, js, ns := testinfra.NATS(t)
	if _, err := bus.Publish(context.Background(), js, ns.Root+".nowhere", "x", "", &dsrv1.ErasureCompleted{}); err == nil {
		t.Error("publish to a subject no stream captures reported success")
	}
}

func TestDecodeRefusesAMessageOfAnotherType(t *testing.T) {
	_, js, ns := testinfra.NATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), testinfra.Timeout)
	defer cancel()
	if _, err := bus.Publish(ctx, js, ns.ErasureCompleted(), "x", "", &dsrv1.HolderResult{CommandId: "c"}); err != nil {
		t.Fatal(err)
	}
	c, err := js.OrderedConsumer(ctx, ns.StreamEvents(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := c.Next(jetstream.FetchMaxWait(testinfra.Timeout))
	if err != nil {
		t.Fatal(err)
	}
	var ev dsrv1.ErasureCompleted
	if err := bus.Decode(msg, &ev); err == nil || !strings.Contains(err.Error(), "dsr.v1.HolderResult") {
		t.Errorf("Decode of a HolderResult as ErasureCompleted: err = %v", err)
	}
	var res dsrv1.HolderResult
	if err := bus.Decode(msg, &res); err != nil || res.GetCommandId() != "c" {
		t.Errorf("Decode as the right type: %v, %v", &res, err)
	}
}

func TestDeclareStreamsIsRepeatableAndCreatesEveryStream(t *testing.T) {
	_, js, ns := testinfra.NATS(t)
	ctx := context.Background()
	if err := bus.DeclareStreams(ctx, js, ns, bus.StreamOptions{}); err != nil {
		t.Fatalf("second declaration failed: %v", err)
	}
	for _, name := range []string{ns.StreamRequests(), ns.StreamCommands(), ns.StreamResults(), ns.StreamEvents(), ns.StreamDeadLetter()} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Errorf("stream %s: %v", name, err)
			continue
		}
		if d := s.CachedInfo().Config.Duplicates; d != bus.DefaultStreamOptions.DedupWindow {
			t.Errorf("stream %s dedup window %s", name, d)
		}
	}
}

// With Concurrency n the handler works on n messages at once: n handlers
// each wait until all n have started, which one-at-a-time consumption
// could never satisfy.
func TestConsumerWithConcurrencyHandlesThatManyMessagesAtOnce(t *testing.T) {
	f := newFixture(t)
	const n = 4
	f.cons.Concurrency = n
	var started sync.WaitGroup
	started.Add(n)
	allIn := make(chan struct{})
	go func() { started.Wait(); close(allIn) }()
	f.run(t, func(ev *dsrv1.ErasureCompleted, delivered uint64) error {
		if delivered == 1 {
			started.Done()
		}
		select {
		case <-allIn:
			return nil
		case <-time.After(testinfra.Timeout):
			return errors.New("the other handlers never started")
		}
	})
	ids := []string{"c1", "c2", "c3", "c4"}
	for _, id := range ids {
		f.publish(t, id)
	}
	for range ids {
		select {
		case s := <-f.done:
			if s.delivered != 1 {
				t.Errorf("message %s handled on delivery %d; want the first", s.id, s.delivered)
			}
		case <-time.After(testinfra.Timeout):
			t.Fatal("not every message was handled: the handlers did not run at once")
		}
	}
	f.waitSettled(t)
}

// Shutting down lets every handler in flight finish and ack: Run returns
// only after them, so no work is torn in half or left for redelivery.
func TestConsumerShutdownWaitsForEveryHandlerInFlight(t *testing.T) {
	f := newFixture(t)
	f.cons.Concurrency = 3
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	entered := make(chan string, 3)
	release := make(chan struct{})
	var finished sync.Map
	done := make(chan error, 1)
	go func() {
		done <- f.cons.Run(ctx, f.js, func(ctx context.Context, msg jetstream.Msg) error {
			var ev dsrv1.ErasureCompleted
			if err := bus.Decode(msg, &ev); err != nil {
				return bus.Poison("%v", err)
			}
			entered <- ev.GetEventId()
			<-release
			finished.Store(ev.GetEventId(), true)
			return nil
		})
	}()
	for _, id := range []string{"s1", "s2", "s3"} {
		f.publish(t, id)
	}
	var inFlight []string
	for len(inFlight) < 3 {
		select {
		case id := <-entered:
			inFlight = append(inFlight, id)
		case <-time.After(testinfra.Timeout):
			t.Fatalf("only %v reached the handler", inFlight)
		}
	}
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while three handlers were still working", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(testinfra.Timeout):
		t.Fatal("Run did not return after its handlers finished")
	}
	for _, id := range inFlight {
		if _, ok := finished.Load(id); !ok {
			t.Errorf("handler for %s did not finish before Run returned", id)
		}
	}
	f.waitSettled(t)
}

// Declaring the streams again, unchanged, updates none of them (every
// component declares them when it starts); a changed setting is applied.
func TestDeclareStreamsUpdatesOnlyWhatChanged(t *testing.T) {
	nc, js, ns := testinfra.NATS(t)
	ctx := context.Background()
	updated := make(chan string, 16)
	sub, err := nc.Subscribe("$JS.EVENT.ADVISORY.STREAM.UPDATED.>", func(m *nats.Msg) {
		updated <- m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := bus.DeclareStreams(ctx, js, ns, bus.StreamOptions{}); err != nil {
		t.Fatalf("declaring again: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case name := <-updated:
		t.Errorf("stream %s was updated although nothing changed", name)
	case <-time.After(300 * time.Millisecond):
	}
	longer := 2 * bus.DefaultStreamOptions.EventsReplay
	if err := bus.DeclareStreams(ctx, js, ns, bus.StreamOptions{EventsReplay: longer}); err != nil {
		t.Fatalf("declaring a longer replay window: %v", err)
	}
	select {
	case name := <-updated:
		if name != ns.StreamEvents() {
			t.Errorf("stream %s updated; want only %s", name, ns.StreamEvents())
		}
	case <-time.After(testinfra.Timeout):
		t.Fatal("the changed replay window was not applied")
	}
	s, err := js.Stream(ctx, ns.StreamEvents())
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.MaxAge; got != longer {
		t.Errorf("events stream MaxAge = %s; want %s", got, longer)
	}
}
