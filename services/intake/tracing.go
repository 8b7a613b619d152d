package intake

import (
	"context"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"madoguchi.dev/platform/tracing"
)

type originalRequestKey struct{}

// traced honours an incoming W3C traceparent and runs every request under
// an HTTP server span (otelhttp). The span sees a redacted copy of the
// request: the path with status and download secrets replaced (routeOf),
// no client address, no User-Agent, no tracestate or baggage, and the server
// named "intake" rather than by the client's Host header. The handlers get
// the real request.
//
// When no span is recorded (no exporter configured), the middleware only
// carries the caller's traceparent into the request's context, for the
// outbox row and the hops after it: otelhttp's wrapping, the request copy
// and a no-op span cost a measurable share of the server's CPU per
// submission for a span nobody records (docs/performance.md).
func traced(next http.Handler) http.Handler {
	inner := otelhttp.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		orig := r.Context().Value(originalRequestKey{}).(*http.Request)
		r2 := orig.WithContext(r.Context())
		next.ServeHTTP(w, r2)
		// The mux's pattern ("POST /api/v1/requests", "GET /status/{token}")
		// names the span; it holds no secret.
		r.Pattern = r2.Pattern
		if r2.MultipartForm != nil {
			// net/http removes the temporary files of the request it made.
			orig.MultipartForm = r2.MultipartForm
		}
	}), "intake",
		otelhttp.WithPropagators(tracing.Propagator()),
		otelhttp.WithServerName("intake"),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if r.Pattern != "" {
				return r.Pattern
			}
			return r.Method
		}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !tracing.Recording() {
			if tp := r.Header.Get("Traceparent"); tp != "" {
				// Like the span path: tracestate and baggage are not taken.
				r = r.WithContext(tracing.WithTraceParent(r.Context(), tp, ""))
			}
			next.ServeHTTP(w, r)
			return
		}
		safe := r.Clone(context.WithValue(r.Context(), originalRequestKey{}, r))
		safe.URL.Path, safe.URL.RawPath, safe.URL.RawQuery = routeOf(r), "", ""
		safe.RequestURI = ""
		safe.RemoteAddr = ""
		// Only the caller's traceparent is taken from the public: tracestate
		// and baggage are free text that would travel on to NATS and Temporal.
		for _, h := range []string{"User-Agent", "X-Forwarded-For", "Forwarded", "X-Real-Ip", "Tracestate", "Baggage"} {
			safe.Header.Del(h)
		}
		inner.ServeHTTP(w, safe)
	})
}
