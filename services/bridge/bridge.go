// Package bridge connects JetStream to Temporal: submitted requests become
// workflow starts, and holder results become workflow signals. It knows the
// workflow only through the names in proto/contract.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/metrics"
	"madoguchi.dev/platform/tracing"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// Shapes the intake and the registry produce; anything else is poison
// (and never becomes a workflow id or a metric label).
var (
	receiptRE = regexp.MustCompile(`^[0-9]{8}-[0-9A-Z]{6}$`)
	idRE      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	holderRE  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)
)

// Bridge runs the dispatcher and the results consumer.
type Bridge struct {
	JS        jetstream.JetStream
	Temporal  client.Client
	Namespace contract.Namespace
	Log       zerolog.Logger
	// Concurrency is how many workflow starts, and separately how many
	// signals, may be in flight at once (default DefaultConcurrency). Each is
	// one round trip to Temporal; one at a time, the dispatcher and the
	// results consumer wait on the server most of the time.
	Concurrency int
	// StartAttributes, when set, gives the search attributes a request's
	// workflow starts with (its receipt, kind, first stage): in the index
	// from the start, and not upserted again by the workflow.
	StartAttributes func(*dsrv1.RequestSubmitted) temporal.SearchAttributes
}

// DefaultConcurrency is the bridge's default Concurrency.
const DefaultConcurrency = 16

// Run consumes both streams until ctx ends.
func (b *Bridge) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return bus.Consumer{Namespace: b.Namespace, Stream: b.Namespace.StreamRequests(), Durable: "dispatcher",
			FilterSubjects: []string{b.Namespace.RequestSubmitted()}, Concurrency: b.concurrency(), Log: b.Log}.Run(gctx, b.JS, b.Dispatch)
	})
	g.Go(func() error {
		return bus.Consumer{Namespace: b.Namespace, Stream: b.Namespace.StreamResults(), Durable: "results",
			FilterSubjects: []string{b.Namespace.AllResults()}, Concurrency: b.concurrency(), Log: b.Log}.Run(gctx, b.JS, b.DeliverResult)
	})
	return g.Wait()
}

func (b *Bridge) concurrency() int {
	if b.Concurrency <= 0 {
		return DefaultConcurrency
	}
	return b.Concurrency
}

// Dispatch starts the request's workflow. The workflow id is derived from the
// receipt and duplicates are rejected by Temporal, so a redelivered event
// never starts a second workflow; the message is acked only after Temporal
// has accepted (or already has) the workflow.
func (b *Bridge) Dispatch(ctx context.Context, msg jetstream.Msg) error {
	var ev dsrv1.RequestSubmitted
	if err := bus.Decode(msg, &ev); err != nil {
		return bus.Poison("%v", err)
	}
	if ev.GetRequestId() == "" || ev.GetReceipt() == "" || ev.GetKind() == dsrv1.RequestKind_REQUEST_KIND_UNSPECIFIED || ev.GetPersonal() == nil {
		return bus.Poison("RequestSubmitted lacks request_id, receipt, kind or personal data")
	}
	if !receiptRE.MatchString(ev.GetReceipt()) || !idRE.MatchString(ev.GetRequestId()) {
		return bus.Poison("RequestSubmitted has a malformed receipt or request id")
	}
	id := contract.WorkflowID(ev.GetReceipt())
	// ctx is the consumer span in the request's trace; the tracing
	// interceptor carries it into the workflow's headers.
	trace.SpanFromContext(ctx).SetAttributes(tracing.AttrRequestID.String(ev.GetRequestId()), tracing.AttrReceipt.String(ev.GetReceipt()))
	log := b.Log.With().Str("request_id", ev.GetRequestId()).Str("workflow_id", id).Logger()
	var sa temporal.SearchAttributes
	if b.StartAttributes != nil {
		sa = b.StartAttributes(&ev)
	}
	_, err := b.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		TypedSearchAttributes:    sa,
		ID:                       id,
		TaskQueue:                contract.TaskQueue,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without this the SDK quietly returns the running workflow, and a
		// redelivery would be logged as a new start.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		Memo: map[string]any{
			"receipt": ev.GetReceipt(), "kind": contract.KindName(ev.GetKind()),
			"jurisdiction": ev.GetJurisdiction(), "request_id": ev.GetRequestId(),
		},
	}, contract.WorkflowType, &ev)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started):
		log.Info().Msg("workflow already started; redelivery acknowledged")
		return nil
	case err != nil:
		return fmt.Errorf("start workflow: %w", err)
	}
	log.Info().Msg("workflow started")
	return nil
}

// DeliverResult signals a holder's result to its request's workflow.
func (b *Bridge) DeliverResult(ctx context.Context, msg jetstream.Msg) error {
	var res dsrv1.HolderResult
	if err := bus.Decode(msg, &res); err != nil {
		return bus.Poison("%v", err)
	}
	if res.GetReceipt() == "" || res.GetHolder() == "" || res.GetOutcome() == dsrv1.Outcome_OUTCOME_UNSPECIFIED {
		return bus.Poison("HolderResult lacks receipt, holder or outcome")
	}
	if !receiptRE.MatchString(res.GetReceipt()) || !holderRE.MatchString(res.GetHolder()) {
		return bus.Poison("HolderResult has a malformed receipt or holder name")
	}
	id := contract.WorkflowID(res.GetReceipt())
	trace.SpanFromContext(ctx).SetAttributes(tracing.AttrReceipt.String(res.GetReceipt()), tracing.AttrHolder.String(res.GetHolder()),
		tracing.AttrAction.String(contract.ActionName(res.GetAction())), tracing.AttrOutcome.String(res.GetOutcome().String()))
	err := b.Temporal.SignalWorkflow(ctx, id, "", contract.SignalHolderResult, &res)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		// The workflow has finished (or never existed): nothing is waiting.
		// Dead-letter it so staff can see a result nobody consumed.
		return bus.Poison("no running workflow %s for result of holder %s", id, res.GetHolder())
	}
	if err != nil {
		return fmt.Errorf("signal %s: %w", id, err)
	}
	if res.GetCompletedAt() != nil {
		metrics.HolderResultSeconds.WithLabelValues(res.GetHolder(), res.GetOutcome().String()).
			Observe(time.Since(res.GetCompletedAt().AsTime()).Seconds())
	}
	b.Log.Info().Str("request_id", res.GetRequestId()).Str("holder", res.GetHolder()).
		Str("outcome", res.GetOutcome().String()).Msg("holder result delivered")
	return nil
}
