// Package tracing carries OpenTelemetry trace context through Madoguchi:
// W3C TraceContext (and Baggage) over HTTP, NATS message headers, the
// intake's outbox rows and Temporal headers. It exports spans over OTLP/gRPC
// only when the standard OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variable is
// set; otherwise the global tracer provider is left as it is.
//
// Spans carry no personal data: names hold operations and NATS subjects,
// attributes only request ids, receipts, holders, subjects, actions and
// outcomes. Never names, e-mail addresses, phone numbers or free text.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Name is the instrumentation scope of Madoguchi's own spans.
const Name = "madoguchi.dev/platform/tracing"

// Attribute keys Madoguchi puts on its spans (the only ones).
const (
	AttrRequestID = attribute.Key("madoguchi.request_id")
	AttrReceipt   = attribute.Key("madoguchi.receipt")
	AttrHolder    = attribute.Key("madoguchi.holder")
	AttrAction    = attribute.Key("madoguchi.action")
	AttrOutcome   = attribute.Key("madoguchi.outcome")
	// AttrSubject is the NATS subject (semantic convention name).
	AttrSubject = attribute.Key("messaging.destination.name")
	// AttrConsumer is the durable consumer that processes a message.
	AttrConsumer = attribute.Key("messaging.consumer.group.name")
	AttrSystem   = attribute.Key("messaging.system")
)

var propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(
	propagation.TraceContext{}, propagation.Baggage{})

// Propagator is W3C TraceContext + Baggage, the one every hop uses (also
// before Setup, so that tests and tools propagate without it).
func Propagator() propagation.TextMapPropagator { return propagator }

// Tracer returns Madoguchi's tracer from the global provider at the time of
// the call, so a provider installed later (by Setup or a test) is used.
func Tracer() trace.Tracer { return otel.Tracer(Name) }

// Recording reports whether spans are recorded: a tracer provider of the
// SDK is installed (by Setup with an OTLP endpoint, or by a test). Without
// one every span is a no-op, and a hot path may skip making them.
func Recording() bool {
	_, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider)
	return ok
}

// Setup installs the propagator globally and, when an OTLP endpoint is
// configured, a tracer provider exporting to it. Call it once per process;
// shutdown flushes the spans still buffered.
func Setup(ctx context.Context, serviceName string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagator)
	noop := func(context.Context) error { return nil }
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return noop, nil
	}
	exp, err := otlptracegrpc.New(ctx)
	if err != nil {
		return noop, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the default name.
	res, err := resource.New(ctx, resource.WithTelemetrySDK(),
		resource.WithAttributes(attribute.String("service.name", serviceName)), resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		_ = exp.Shutdown(ctx)
		return noop, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// HeaderCarrier adapts NATS message headers to a TextMapCarrier. NATS
// header names are case-sensitive; Get also finds a name in another case.
type HeaderCarrier nats.Header

var _ propagation.TextMapCarrier = HeaderCarrier(nil)

// Get returns the first value of key.
func (c HeaderCarrier) Get(key string) string {
	if vs := c[key]; len(vs) > 0 {
		return vs[0]
	}
	for k, vs := range c {
		if len(vs) > 0 && strings.EqualFold(k, key) {
			return vs[0]
		}
	}
	return ""
}

// Set replaces key's values.
func (c HeaderCarrier) Set(key, value string) {
	for k := range c {
		if k != key && strings.EqualFold(k, key) {
			delete(c, k)
		}
	}
	c[key] = []string{value}
}

// Keys lists the header names.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// Inject writes ctx's trace context into NATS headers (h must not be nil).
func Inject(ctx context.Context, h nats.Header) {
	if h == nil {
		return
	}
	propagator.Inject(ctx, HeaderCarrier(h))
}

// Extract returns ctx with the trace context found in NATS headers (ctx
// unchanged when there is none or it is malformed).
func Extract(ctx context.Context, h nats.Header) context.Context {
	if h == nil {
		return ctx
	}
	return propagator.Extract(ctx, HeaderCarrier(h))
}

// TraceParent returns the W3C traceparent and tracestate of ctx's span, for
// storing beside a message that is sent later (the outbox); both are "" when
// ctx has no valid span. Baggage is deliberately not stored.
func TraceParent(ctx context.Context) (traceparent, tracestate string) {
	m := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, m)
	return m["traceparent"], m["tracestate"]
}

// WithTraceParent returns ctx with the remote span context stored by
// TraceParent (ctx unchanged when traceparent is empty or malformed).
func WithTraceParent(ctx context.Context, traceparent, tracestate string) context.Context {
	if traceparent == "" {
		return ctx
	}
	m := propagation.MapCarrier{"traceparent": traceparent}
	if tracestate != "" {
		m["tracestate"] = tracestate
	}
	return propagation.TraceContext{}.Extract(ctx, m)
}
