package intake

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"madoguchi.dev/platform/tracing"
)

// The server span continues the caller's trace, is named by the route
// pattern and sees neither the secret in the path nor who the client is;
// the handlers still get the real request.
func TestServerSpanHonoursTraceparentAndRecordsNoClientOrSecret(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	const secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	var handlerTrace trace.SpanContext
	var handlerBaggage int
	var seenPath, seenUA, seenAddr string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status/{token}", func(w http.ResponseWriter, r *http.Request) {
		handlerTrace = trace.SpanContextFromContext(r.Context())
		handlerBaggage = baggage.FromContext(r.Context()).Len()
		seenPath, seenUA, seenAddr = r.URL.Path, r.UserAgent(), r.RemoteAddr
		w.WriteHeader(http.StatusNoContent)
	})
	req := httptest.NewRequest(http.MethodGet, "/status/"+secret+"?x=hanako@example.jp", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.Header.Set("tracestate", "vendor=hanako")
	req.Header.Set("baggage", "email=hanako")
	req.Header.Set("User-Agent", "Mozilla/5.0 hanako")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.RemoteAddr = "198.51.100.9:4711"
	w := httptest.NewRecorder()
	traced(mux).ServeHTTP(w, req)

	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d", w.Code)
	}
	if handlerTrace.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("handler trace = %s", handlerTrace.TraceID())
	}
	if ts := handlerTrace.TraceState().String(); ts != "" || handlerBaggage != 0 {
		t.Errorf("tracestate %q and %d baggage members taken from the public, want none", ts, handlerBaggage)
	}
	if seenPath != "/status/"+secret || seenUA != "Mozilla/5.0 hanako" || seenAddr != "198.51.100.9:4711" {
		t.Errorf("handler saw path %q UA %q addr %q, want the real request", seenPath, seenUA, seenAddr)
	}
	spans := sr.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.SpanKind() != trace.SpanKindServer || s.Name() != "GET /status/{token}" || s.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("span %q kind %s parent %s", s.Name(), s.SpanKind(), s.Parent().SpanID())
	}
	for _, kv := range s.Attributes() {
		v := kv.Value.Emit()
		for _, bad := range []string{secret, "hanako", "203.0.113.7", "198.51.100.9", "Mozilla"} {
			if strings.Contains(v, bad) {
				t.Errorf("span attribute %s = %q carries %q", kv.Key, v, bad)
			}
		}
	}
}

// Without a recording tracer provider (no exporter configured) no span is
// made, but the caller's trace still reaches the handler, and with it the
// outbox row and every hop after it; tracestate and baggage still do not.
func TestWithoutAnExporterTheCallersTraceStillReachesTheHandler(t *testing.T) {
	if tracing.Recording() {
		t.Fatal("a recording tracer provider is installed globally")
	}
	var got trace.SpanContext
	var gotBaggage int
	var stored string
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/requests", func(w http.ResponseWriter, r *http.Request) {
		got = trace.SpanContextFromContext(r.Context())
		gotBaggage = baggage.FromContext(r.Context()).Len()
		stored, _ = tracing.TraceParent(r.Context())
		w.WriteHeader(http.StatusAccepted)
	})
	req := httptest.NewRequest(http.MethodPost, "/api/v1/requests", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.Header.Set("tracestate", "vendor=hanako")
	req.Header.Set("baggage", "email=hanako")
	w := httptest.NewRecorder()
	traced(mux).ServeHTTP(w, req)

	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d", w.Code)
	}
	if got.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || got.SpanID().String() != "00f067aa0ba902b7" || !got.IsRemote() {
		t.Errorf("handler's span context = %s/%s remote=%v, want the caller's", got.TraceID(), got.SpanID(), got.IsRemote())
	}
	if ts := got.TraceState().String(); ts != "" || gotBaggage != 0 {
		t.Errorf("tracestate %q and %d baggage members taken from the public, want none", ts, gotBaggage)
	}
	if want := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"; stored != want {
		t.Errorf("traceparent the outbox would store = %q, want %q", stored, want)
	}
}
