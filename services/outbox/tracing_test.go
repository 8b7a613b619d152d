package outbox_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"madoguchi.dev/platform/testinfra"
)

// The relayed message continues the trace of the transaction that wrote
// the row: the row keeps the W3C traceparent, the relay injects it.
func TestRelayedMessageContinuesTheTraceOfTheEnqueueingRequest(t *testing.T) {
	r := newRig(t)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	ctx, span := tp.Tracer("test").Start(context.Background(), "POST /api/v1/requests")
	defer span.End()
	id := uuid.NewString()
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		return enqueueRequestSubmitted(ctx, tx, id, r.ns.RequestSubmitted())
	})
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := r.pool.QueryRow(ctx, "SELECT traceparent FROM outbox WHERE request_id = $1", id).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := "00-" + span.SpanContext().TraceID().String() + "-" + span.SpanContext().SpanID().String() + "-01"; stored != want {
		t.Errorf("stored traceparent %q, want %q", stored, want)
	}
	r.relayOnce(t)
	msg := testinfra.WaitStreamMsg(t, r.js, r.ns.StreamRequests(), r.ns.RequestSubmitted())
	got := msg.Header.Get("traceparent")
	if len(got) != 55 || got[3:35] != span.SpanContext().TraceID().String() {
		t.Errorf("message traceparent %q, want trace %s", got, span.SpanContext().TraceID())
	}
}

// A row written without a trace is relayed without trace headers.
func TestUntracedRowIsRelayedWithoutTraceHeaders(t *testing.T) {
	r := newRig(t)
	r.enqueue(t, 1)
	if n := r.relayOnce(t); n != 1 {
		t.Fatalf("relayed %d, want 1", n)
	}
	msg := testinfra.WaitStreamMsg(t, r.js, r.ns.StreamRequests(), r.ns.RequestSubmitted())
	if got := msg.Header.Get("traceparent"); got != "" {
		t.Errorf("untraced row relayed with traceparent %q", got)
	}
}
