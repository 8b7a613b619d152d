package tracing

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// TemporalInterceptor is the OpenTelemetry interceptor for Temporal clients
// (client.Options.Interceptors): it writes the caller's trace context into
// the headers of workflow starts, signals, queries and updates, and, for
// workers made from that client, starts workflow and activity spans in the
// same trace. Spans are named by operation and workflow / activity type and
// carry only workflow, run and activity ids (dsr-<receipt>: no personal data).
//
// The header holds the W3C traceparent/tracestate only (no baggage) and is
// sealed by the client's payload codec like every other payload, so the
// history Temporal stores stays ciphertext; workers need the same codec.
func TemporalInterceptor() (interceptor.Interceptor, error) {
	t, err := temporalotel.NewTracer(temporalotel.TracerOptions{
		TextMapPropagator: propagation.TraceContext{},
		DisableBaggage:    true,
		// Resolve the global provider at each span, not once at dial time.
		SpanStarter: func(ctx context.Context, _ trace.Tracer, name string, opts ...trace.SpanStartOption) trace.Span {
			_, span := otel.Tracer("temporal-sdk-go").Start(ctx, name, opts...)
			return redacted{span}
		},
	})
	if err != nil {
		return nil, err
	}
	return interceptor.NewTracingInterceptor(encodedHeaders{t}), nil
}

// encodedHeaders turns on the SDK's header encoding, which the contrib
// tracer does not expose.
type encodedHeaders struct{ interceptor.Tracer }

func (t encodedHeaders) Options() interceptor.TracerOptions {
	o := t.Tracer.Options()
	o.EncodeHeaders = true
	return o
}

// redacted keeps error texts out of spans: a failed activity's error may
// quote a mail server's answer naming an address, or other data.
type redacted struct{ trace.Span }

func (s redacted) RecordError(err error, _ ...trace.EventOption) {
	if err != nil {
		s.Span.AddEvent("exception", trace.WithAttributes(attribute.String("exception.type", fmt.Sprintf("%T", err))))
	}
}

func (s redacted) SetStatus(code codes.Code, _ string) { s.Span.SetStatus(code, "") }
