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
// safe at every worker start.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enums.IndexedValueType{}
	for name, typ := range SearchAttributeTypes {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	})
	if err != nil {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}

// setStage moves the request to s and tells the search index.
func (r *run) setStage(ctx workflow.Context, s Stage) {
	r.stage = s
	r.event(ctx, "stage", "system", string(s))
	r.upsert(ctx, SAStage.ValueSet(string(s)))
	// The SDK's workflow metrics handler is silent during replay.
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"kind": contract.KindName(r.in.GetKind()), "stage": string(s)}).
		Counter(metrics.WorkflowStageMetric).Inc(1)
}

func (r *run) upsert(ctx workflow.Context, updates ...temporal.SearchAttributeUpdate) {
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
