package request

import (
	"context"
	"fmt"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"madoguchi.dev/platform/metrics"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// Search attributes the workflow keeps current at every stage change, so
// that staff can find requests in the Temporal UI and with
// `temporal workflow list --query` (saved views in the README).
var (
	SAReceipt        = temporal.NewSearchAttributeKeyKeyword(contract.SAReceipt)
	SAKind           = temporal.NewSearchAttributeKeyKeyword(contract.SAKind)
	SAJurisdiction   = temporal.NewSearchAttributeKeyKeyword(contract.SAJurisdiction)
	SAStage          = temporal.NewSearchAttributeKeyKeyword(contract.SAStage)
	SANeedsAttention = temporal.NewSearchAttributeKeyBool(contract.SANeedsAttention)
	SAAttention      = temporal.NewSearchAttributeKeyKeywordList(contract.SAAttention)
	SADueAt          = temporal.NewSearchAttributeKeyTime(contract.SADueAt)
	SAFeeState       = temporal.NewSearchAttributeKeyKeyword(contract.SAFeeState)
	SASubjectRef     = temporal.NewSearchAttributeKeyKeyword(contract.SASubjectRef)
)

// SearchAttributeTypes lists them for registration.
var SearchAttributeTypes = map[string]enums.IndexedValueType{
	contract.SAReceipt:        enums.INDEXED_VALUE_TYPE_KEYWORD,
	contract.SAKind:           enums.INDEXED_VALUE_TYPE_KEYWORD,
	contract.SAJurisdiction:   enums.INDEXED_VALUE_TYPE_KEYWORD,
	contract.SAStage:          enums.INDEXED_VALUE_TYPE_KEYWORD,
	contract.SANeedsAttention: enums.INDEXED_VALUE_TYPE_BOOL,
	contract.SAAttention:      enums.INDEXED_VALUE_TYPE_KEYWORD_LIST,
	contract.SADueAt:          enums.INDEXED_VALUE_TYPE_DATETIME,
	contract.SAFeeState:       enums.INDEXED_VALUE_TYPE_KEYWORD,
	contract.SASubjectRef:     enums.INDEXED_VALUE_TYPE_KEYWORD,
}

// RegisterSearchAttributes adds the attributes that the namespace lacks;
// safe at every worker and bridge start, also when both start at once.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	missing, err := missingSearchAttributes(ctx, c, namespace)
	if err != nil || len(missing) == 0 {
		return err
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	})
	if err != nil {
		// Another component may have added them meanwhile.
		if still, lerr := missingSearchAttributes(ctx, c, namespace); lerr == nil && len(still) == 0 {
			return nil
		}
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}

func missingSearchAttributes(ctx context.Context, c client.Client, namespace string) (map[string]enums.IndexedValueType, error) {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enums.IndexedValueType{}
	for name, typ := range SearchAttributeTypes {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	return missing, nil
}

// StartSearchAttributes are the attributes a request starts with; the
// bridge sets them when it starts the workflow, so the request is in the
// index from its first moment and the workflow need not upsert them.
func StartSearchAttributes(in *dsrv1.RequestSubmitted) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(startAttributes(in)...)
}

func startAttributes(in *dsrv1.RequestSubmitted) []temporal.SearchAttributeUpdate {
	return []temporal.SearchAttributeUpdate{SAReceipt.ValueSet(in.GetReceipt()), SAKind.ValueSet(contract.KindName(in.GetKind())),
		SAJurisdiction.ValueSet(in.GetJurisdiction()), SAStage.ValueSet(string(StageReceived)),
		SANeedsAttention.ValueSet(false), SAFeeState.ValueSet("none")}
}

// startedWithAttributes: the workflow's start holds StartSearchAttributes.
func startedWithAttributes(ctx workflow.Context, in *dsrv1.RequestSubmitted) bool {
	have := workflow.GetTypedSearchAttributes(ctx).GetUntypedValues()
	for key, want := range StartSearchAttributes(in).GetUntypedValues() {
		if got, ok := have[key]; !ok || got != want {
			return false
		}
	}
	return true
}

// Coalesced search attributes (ChangeCoalesceSearchAttributes). Every
// upsert is a command, a history event, a write to the visibility store and,
// on Temporal Cloud, a billed action, so the updates made between two points
// where the workflow waits go out as one upsert when it waits (a stage and
// its attention reason, an attention lowered and the next stage), and the
// subject's pseudonym goes out with the next stage (docs/performance.md has
// the counts).

// coalesceUpserts turns coalescing on. The first update gathered starts a
// coroutine that sends them all: it runs once the coroutine that made them
// waits, in the same workflow task, so nothing is delayed past the task
// that decided it. It ends once it has sent them: a request parked for days
// in the worker's cache keeps no coroutine for it (a standing one would be
// a goroutine more for every cached request; docs/performance.md).
func (r *run) coalesceUpserts(ctx workflow.Context) {
	r.root = ctx
}

// coalescing: updates are gathered (ChangeCoalesceSearchAttributes).
func (r *run) coalescing() bool { return r.root != nil }

// flushUpserts sends the gathered updates now (later ones of a key win).
func (r *run) flushUpserts(ctx workflow.Context) {
	if len(r.pendingSA) == 0 {
		return
	}
	updates := r.pendingSA
	r.pendingSA = nil
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		workflow.GetLogger(ctx).Warn("upsert search attributes failed", "error", err)
	}
}

// upsertWithNextStage defers updates to the next stage change; a request
// recorded before ChangeCoalesceSearchAttributes upserts them at once.
func (r *run) upsertWithNextStage(ctx workflow.Context, updates ...temporal.SearchAttributeUpdate) {
	if !r.coalescing() {
		r.upsert(ctx, updates...)
		return
	}
	r.withNextStage = append(r.withNextStage, updates...)
}

// setStage moves the request to s and tells the search index.
func (r *run) setStage(ctx workflow.Context, s Stage) {
	r.stage = s
	r.event(ctx, "stage", "system", string(s))
	r.upsert(ctx, append(r.withNextStage, SAStage.ValueSet(string(s)))...)
	r.withNextStage = nil
	// The SDK's workflow metrics handler is silent during replay.
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"kind": contract.KindName(r.in.GetKind()), "stage": string(s)}).
		Counter(metrics.WorkflowStageMetric).Inc(1)
}

func (r *run) upsert(ctx workflow.Context, updates ...temporal.SearchAttributeUpdate) {
	if r.coalescing() {
		if len(r.pendingSA) == 0 {
			workflow.Go(r.root, r.flushUpserts)
		}
		r.pendingSA = append(r.pendingSA, updates...)
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		workflow.GetLogger(ctx).Warn("upsert search attributes failed", "error", err)
	}
}

// raise adds an attention reason; lower removes one.
func (r *run) raise(ctx workflow.Context, reason string) {
	for _, a := range r.attention {
		if a == reason {
			return
		}
	}
	r.attention = append(r.attention, reason)
	r.event(ctx, "attention", "system", reason)
	if reason == AttentionDeadlineNear || reason == AttentionOverdue {
		workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"alert": reason}).Counter(metrics.WorkflowDeadlineMetric).Inc(1)
	}
	r.syncAttention(ctx)
}

func (r *run) lower(ctx workflow.Context, reason string) {
	out := r.attention[:0]
	changed := false
	for _, a := range r.attention {
		if a == reason {
			changed = true
			continue
		}
		out = append(out, a)
	}
	r.attention = out
	if changed {
		r.syncAttention(ctx)
	}
}

func (r *run) syncAttention(ctx workflow.Context) {
	r.upsert(ctx, SANeedsAttention.ValueSet(len(r.attention) > 0), SAAttention.ValueSet(append([]string{}, r.attention...)))
}
