package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"madoguchi.dev/platform/tracing"
	"madoguchi.dev/proto/contract"
	"madoguchi.dev/workflows/request"
)

// spanRecorder keeps every span the stack's components make. It is installed
// as the global tracer provider during package initialisation, before
// TestMain starts the stack, so every tracer and interceptor reports to it.
var spanRecorder = func() *tracetest.SpanRecorder {
	sr := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)))
	return sr
}()

// A request submitted with a traceparent is one trace from the HTTP request
// through the outbox, NATS, the bridge, Temporal (workflow and activities)
// to the holders and back; and no span carries the person's data.
func TestTracingFollowsARequestFromHTTPThroughTemporalToTheHolders(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := newPrivacyCanary()
	privacySeedMember(ctx, t, c)

	var tid trace.TraceID
	var parent trace.SpanID
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(parent[:])
	traceparent := fmt.Sprintf("00-%s-%s-01", tid, parent)

	body := fmt.Sprintf(`{"kind":"deletion","jurisdiction":"JP","locale":"ja","subject":{"name":%q,"name_kana":%q,"email":%q,"phone":%q,"member_id":%q},"details":%q}`,
		c.Name, c.NameKana, c.Email, c.Phone, c.MemberID, c.Details)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, stk.IntakeURL+"/api/v1/requests", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "trace-"+randomToken())
	req.Header.Set("traceparent", traceparent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("submit = %d %s, want 202", resp.StatusCode, raw)
	}
	var acc accepted
	if err := json.Unmarshal(raw, &acc); err != nil || acc.Receipt == "" {
		t.Fatalf("202 body %s: %v", raw, err)
	}
	receipt := acc.Receipt

	// The outbox row keeps the server span's context (same trace), nothing else.
	if n := countRows(t, "intake", "SELECT count(*) FROM outbox o JOIN requests r ON r.id = o.request_id WHERE r.receipt = $1 AND o.traceparent LIKE $2",
		receipt, "00-"+tid.String()+"-%-01"); n != 1 {
		t.Errorf("outbox rows of %s carrying trace %s = %d, want 1", receipt, tid, n)
	}

	privacyDrive(ctx, t, receipt, c)
	var out request.Outcome
	if err := temporal.GetWorkflow(ctx, contract.WorkflowID(receipt), "").Get(ctx, &out); err != nil {
		t.Fatalf("workflow %s: %v", contract.WorkflowID(receipt), err)
	}

	ns := stk.Runtime.Namespace
	type want struct {
		what string
		ok   func(s sdktrace.ReadOnlySpan) bool
	}
	wants := []want{
		{"intake HTTP server span (child of the caller's span)", func(s sdktrace.ReadOnlySpan) bool {
			return s.SpanKind() == trace.SpanKindServer && s.Name() == "POST /api/v1/requests" && s.Parent().SpanID() == parent
		}},
		{"outbox publish of the submitted request", func(s sdktrace.ReadOnlySpan) bool {
			return s.SpanKind() == trace.SpanKindProducer && s.Name() == "publish "+ns.RequestSubmitted()
		}},
		{"bridge dispatcher consuming it", func(s sdktrace.ReadOnlySpan) bool {
			return s.SpanKind() == trace.SpanKindConsumer && attr(s, tracing.AttrConsumer) == "dispatcher" &&
				attr(s, tracing.AttrReceipt) == receipt
		}},
		{"bridge starting the workflow", func(s sdktrace.ReadOnlySpan) bool {
			return s.SpanKind() == trace.SpanKindClient && s.Name() == "StartWorkflow:"+contract.WorkflowType
		}},
		{"the workflow run", func(s sdktrace.ReadOnlySpan) bool { return s.Name() == "RunWorkflow:"+contract.WorkflowType }},
		{"an activity", func(s sdktrace.ReadOnlySpan) bool { return strings.HasPrefix(s.Name(), "RunActivity:") }},
		{"a holder command published by an activity", func(s sdktrace.ReadOnlySpan) bool {
			return s.SpanKind() == trace.SpanKindProducer && strings.HasPrefix(s.Name(), "publish "+ns.Command("members", ""))
		}},
		{"the members holder carrying out a command", func(s sdktrace.ReadOnlySpan) bool {
			return s.SpanKind() == trace.SpanKindConsumer && attr(s, tracing.AttrConsumer) == "holder-members" &&
				attr(s, tracing.AttrHolder) == "members" && attr(s, tracing.AttrOutcome) != ""
		}},
		{"the bridge delivering a holder result as a signal", func(s sdktrace.ReadOnlySpan) bool {
			return s.SpanKind() == trace.SpanKindClient && strings.HasPrefix(s.Name(), "SignalWorkflow:")
		}},
	}
	var missing []string
	var inTrace []sdktrace.ReadOnlySpan
	deadline := time.Now().Add(30 * time.Second)
	for {
		inTrace = inTrace[:0]
		for _, s := range spanRecorder.Ended() {
			if s.SpanContext().TraceID() == tid {
				inTrace = append(inTrace, s)
			}
		}
		missing = missing[:0]
		for _, w := range wants {
			found := false
			for _, s := range inTrace {
				if w.ok(s) {
					found = true
					break
				}
			}
			if !found {
				missing = append(missing, w.what)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if len(missing) > 0 {
		var names []string
		for _, s := range inTrace {
			names = append(names, fmt.Sprintf("%s(%s)", s.Name(), s.SpanKind()))
		}
		sort.Strings(names)
		t.Errorf("trace %s lacks: %s\nits %d spans: %s", tid, strings.Join(missing, "; "), len(inTrace), strings.Join(names, ", "))
	}

	t.Logf("trace %s: %d spans", tid, len(inTrace))

	// No span anywhere (ended or still open) names the person: span names,
	// attributes, event attributes and status texts are scanned.
	sc := &privacyScanner{c: c, seen: map[string]bool{}, bytesN: map[string]int{}}
	scanAttrs := func(where string, kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			sc.scanString("spans", where+" attribute "+string(kv.Key), kv.Value.Emit())
		}
	}
	scanSpan := func(s sdktrace.ReadOnlySpan) {
		where := "span " + s.Name()
		sc.scanString("spans", where+" name", s.Name())
		sc.scanString("spans", where+" status", s.Status().Description)
		scanAttrs(where, s.Attributes())
		for _, e := range s.Events() {
			scanAttrs(where+" event "+e.Name, e.Attributes)
		}
		for _, l := range s.Links() {
			scanAttrs(where+" link", l.Attributes)
		}
	}
	for _, s := range spanRecorder.Ended() {
		scanSpan(s)
	}
	for _, s := range spanRecorder.Started() {
		scanSpan(s)
	}
	if sc.bytesN["spans"] == 0 {
		t.Fatal("no span was scanned")
	}
	for _, l := range sc.leaks {
		t.Errorf("LEAK of %s in %s: …%s…", l.what, l.where, l.excerpt)
	}
}

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) string {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value.Emit()
		}
	}
	return ""
}
