package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/platform/tracing"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// The handler runs in the publisher's trace, under a consumer span that is
// a child of the publish span; a dead letter keeps the trace headers.
func TestTraceContextTravelsFromPublishToTheHandlerAndIntoDeadLetters(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	f := newFixture(t)
	ctx, root := tracing.Tracer().Start(context.Background(), "caller")
	tid := root.SpanContext().TraceID()
	for _, id := range []string{"traced", "poisoned"} {
		ev := &dsrv1.ErasureCompleted{EventId: id, RequestId: "0195d3d0-0000-7000-8000-000000000001", Receipt: "20261125-ABCDEF"}
		if _, err := bus.Publish(ctx, f.js, f.ns.ErasureCompleted(), id, ev.GetRequestId(), ev); err != nil {
			t.Fatal(err)
		}
	}
	root.End()

	got := make(chan trace.SpanContext, 2)
	testinfra.Go(t, func(rctx context.Context) error {
		return f.cons.Run(rctx, f.js, func(ctx context.Context, msg jetstream.Msg) error {
			var ev dsrv1.ErasureCompleted
			if err := bus.Decode(msg, &ev); err != nil {
				return bus.Poison("%v", err)
			}
			got <- trace.SpanContextFromContext(ctx)
			if ev.GetEventId() == "poisoned" {
				return bus.Poison("refused")
			}
			return nil
		})
	})
	for range 2 {
		select {
		case sc := <-got:
			if sc.TraceID() != tid || sc.IsRemote() {
				t.Errorf("handler context = %v, want a local span in trace %s", sc, tid)
			}
		case <-time.After(testinfra.Timeout):
			t.Fatal("handler never called")
		}
	}
	if tp := f.deadLetter(t).Header.Get("traceparent"); tp == "" || tp[3:35] != tid.String() {
		t.Errorf("dead letter traceparent = %q, want trace %s", tp, tid)
	}

	f.waitSettled(t)
	// A consumer span ends just after its ack: wait for both.
	for deadline := time.Now().Add(testinfra.Timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if len(sr.Ended()) >= 5 {
			break
		}
	}
	var publishes, consumes int
	for _, s := range sr.Ended() {
		if s.SpanContext().TraceID() != tid {
			continue
		}
		switch s.SpanKind() {
		case trace.SpanKindProducer:
			publishes++
			if s.Name() != "publish "+f.ns.ErasureCompleted() || s.Parent().SpanID() != root.SpanContext().SpanID() {
				t.Errorf("publish span %q parent %s", s.Name(), s.Parent().SpanID())
			}
		case trace.SpanKindConsumer:
			consumes++
			if s.Name() != "process "+f.ns.ErasureCompleted() || !s.Parent().IsRemote() {
				t.Errorf("consumer span %q, parent %v", s.Name(), s.Parent())
			}
		}
	}
	if publishes != 2 || consumes != 2 {
		t.Errorf("spans in the trace: %d publish, %d consume; want 2 and 2", publishes, consumes)
	}
}
