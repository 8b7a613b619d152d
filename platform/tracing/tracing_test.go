package tracing_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"madoguchi.dev/platform/tracing"
)

func newSpan(t *testing.T) (context.Context, trace.Span) {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer("test").Start(context.Background(), "op")
}

func TestTraceContextSurvivesARoundTripThroughNATSHeaders(t *testing.T) {
	ctx, span := newSpan(t)
	defer span.End()
	m, _ := baggage.NewMember("tenant", "care")
	bag, _ := baggage.New(m)
	ctx = baggage.ContextWithBaggage(ctx, bag)

	msg := nats.NewMsg("dsr.requests.submitted")
	msg.Header.Set("Madoguchi-Request-Id", "0195d3d0-0000-7000-8000-000000000001")
	tracing.Inject(ctx, msg.Header)
	if msg.Header.Get("traceparent") == "" {
		t.Fatalf("no traceparent header after Inject: %v", msg.Header)
	}

	got := tracing.Extract(context.Background(), msg.Header)
	sc := trace.SpanContextFromContext(got)
	if !sc.IsValid() || !sc.IsRemote() || sc.TraceID() != span.SpanContext().TraceID() || sc.SpanID() != span.SpanContext().SpanID() {
		t.Errorf("extracted %v, want remote %v", sc, span.SpanContext())
	}
	if !sc.IsSampled() {
		t.Errorf("sampled flag lost")
	}
	if v := baggage.FromContext(got).Member("tenant").Value(); v != "care" {
		t.Errorf("baggage tenant = %q, want care", v)
	}
	if msg.Header.Get("Madoguchi-Request-Id") == "" {
		t.Errorf("Inject removed another header")
	}
}

func TestExtractFindsAHeaderNameInAnotherCase(t *testing.T) {
	ctx, span := newSpan(t)
	defer span.End()
	h := nats.Header{}
	tracing.Inject(ctx, h)
	upper := nats.Header{"Traceparent": h["traceparent"]}
	if sc := trace.SpanContextFromContext(tracing.Extract(context.Background(), upper)); sc.TraceID() != span.SpanContext().TraceID() {
		t.Errorf("Traceparent not found: %v", sc)
	}
	// Set replaces a differently spelt name instead of adding a second one.
	tracing.HeaderCarrier(upper).Set("traceparent", "x")
	if len(upper) != 1 || upper.Get("traceparent") != "x" {
		t.Errorf("after Set: %v", upper)
	}
}

func TestMissingOrMalformedContextLeavesTheContextAlone(t *testing.T) {
	for _, h := range []nats.Header{nil, {}, {"traceparent": {"00-zz-zz-01"}}, {"traceparent": {""}}} {
		if sc := trace.SpanContextFromContext(tracing.Extract(context.Background(), h)); sc.IsValid() {
			t.Errorf("Extract(%v) = %v, want no span", h, sc)
		}
	}
	tracing.Inject(context.Background(), nil) // must not panic
	h := nats.Header{}
	tracing.Inject(context.Background(), h)
	if len(h) != 0 {
		t.Errorf("Inject without a span wrote %v", h)
	}
}

func TestTraceParentRoundTripForTheOutbox(t *testing.T) {
	ctx, span := newSpan(t)
	defer span.End()
	tp, ts := tracing.TraceParent(ctx)
	if tp == "" {
		t.Fatal("no traceparent for a valid span")
	}
	sc := trace.SpanContextFromContext(tracing.WithTraceParent(context.Background(), tp, ts))
	if sc.TraceID() != span.SpanContext().TraceID() || sc.SpanID() != span.SpanContext().SpanID() {
		t.Errorf("restored %v, want %v", sc, span.SpanContext())
	}
	if tp, ts := tracing.TraceParent(context.Background()); tp != "" || ts != "" {
		t.Errorf("TraceParent without a span = %q %q", tp, ts)
	}
	if got := tracing.WithTraceParent(context.Background(), "", ""); trace.SpanContextFromContext(got).IsValid() {
		t.Errorf("empty traceparent made a span context")
	}
}

func TestSetupWithoutAnEndpointLeavesTheProviderAlone(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	shutdown, err := tracing.Setup(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, span := tracing.Tracer().Start(context.Background(), "x"); span.SpanContext().IsValid() {
		t.Errorf("Setup without an endpoint installed a recording provider")
	}
}
