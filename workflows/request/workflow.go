// Package request holds the DataSubjectRequest workflow (deterministic code
// only: workflow.go), its activities (activities.go) and its worker.
package request

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// activities is nil-valued: the workflow only needs its method names.
var a *Activities

// DataSubjectRequest carries one request from receipt to completion: it
// plans the fan-out, sends a command to every holder that serves the
// request's action, waits for each result on a durable per-holder timer
// (resending, then escalating to staff; silence is never success), and for
// deletions and erasures announces the erasure to internal services.
func DataSubjectRequest(ctx workflow.Context, in *dsrv1.RequestSubmitted) (*Outcome, error) {
	if in.GetReceipt() == "" || in.GetPersonal() == nil {
		return nil, temporal.NewNonRetryableApplicationError("input lacks receipt or personal data", "InvalidInput", nil)
	}
	st := &Status{
		RequestID: in.GetRequestId(), Receipt: in.GetReceipt(), Kind: contract.KindName(in.GetKind()),
		Jurisdiction: in.GetJurisdiction(), Stage: StageReceived, Holders: map[string]*HolderProgress{},
	}
	if err := workflow.SetQueryHandler(ctx, contract.QueryStatus, func() (*Status, error) { return st, nil }); err != nil {
		return nil, err
	}
	log := workflow.GetLogger(ctx)
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		SAReceipt.ValueSet(in.GetReceipt()), SAKind.ValueSet(st.Kind),
		SAJurisdiction.ValueSet(in.GetJurisdiction()), SAStage.ValueSet(string(StageReceived)),
		SANeedsAttention.ValueSet(false)); err != nil {
		return nil, err
	}

	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	var plan Plan
	if err := workflow.ExecuteActivity(actx, a.PlanFanOut, in.GetKind()).Get(ctx, &plan); err != nil {
		return nil, fmt.Errorf("plan fan-out: %w", err)
	}

	setStage(ctx, st, StageFanOut)
	results := fanOut(ctx, actx, in, plan, st)

	out := &Outcome{Receipt: in.GetReceipt(), HolderOutcomes: map[string]string{}}
	var erased []string
	for _, h := range plan.Holders {
		r := results[h.Name]
		out.HolderOutcomes[h.Name] = r.GetOutcome().String()
		if r.GetOutcome() == dsrv1.Outcome_OUTCOME_DONE || r.GetOutcome() == dsrv1.Outcome_OUTCOME_PARTIAL ||
			r.GetOutcome() == dsrv1.Outcome_OUTCOME_RETAINED_BY_LAW {
			erased = append(erased, h.Name)
		}
	}
	if plan.Action == dsrv1.Action_ACTION_ERASE && len(erased) > 0 {
		setStage(ctx, st, StageNotifying)
		err := workflow.ExecuteActivity(actx, a.PublishErasureCompleted, ErasureInput{
			RequestID: in.GetRequestId(), Receipt: in.GetReceipt(), Personal: in.GetPersonal(), Holders: erased,
		}).Get(ctx, &out.ErasureEventID)
		if err != nil {
			return nil, fmt.Errorf("publish erasure completed: %w", err)
		}
	}
	setStage(ctx, st, StageCompleted)
	out.Stage = st.Stage
	log.Info("request completed", "receipt", in.GetReceipt())
	return out, nil
}

// holderWait is the state of one holder while its result is awaited.
type holderWait struct {
	plan    HolderPlan
	attempt int
	timer   workflow.Future
	cancel  workflow.CancelFunc
}

// fanOut sends every command and collects every result. Each holder has its
// own durable timer; when it fires the command is resent (a new attempt),
// and after MaxAttempts the holder is escalated to staff and waited for
// without a timer, because silence is never success.
func fanOut(ctx, actx workflow.Context, in *dsrv1.RequestSubmitted, plan Plan, st *Status) map[string]*dsrv1.HolderResult {
	results := map[string]*dsrv1.HolderResult{}
	waits := map[string]*holderWait{}
	send := func(w *holderWait) {
		w.attempt++
		p := st.Holders[w.plan.Name]
		p.Attempts, p.SentAt = w.attempt, workflow.Now(ctx)
		err := workflow.ExecuteActivity(actx, a.SendHolderCommand, SendInput{
			RequestID: in.GetRequestId(), Receipt: in.GetReceipt(), Holder: w.plan.Name,
			Action: plan.Action, Attempt: w.attempt, Personal: in.GetPersonal(),
		}).Get(ctx, nil)
		if err != nil {
			// Retries are unlimited; this is reached only on cancellation.
			workflow.GetLogger(ctx).Error("send holder command failed", "holder", w.plan.Name, "error", err)
		}
		tctx, cancel := workflow.WithCancel(ctx)
		w.timer, w.cancel = workflow.NewTimer(tctx, w.plan.SLA), cancel
	}
	for _, h := range plan.Holders {
		st.Holders[h.Name] = &HolderProgress{Action: contract.ActionName(plan.Action)}
		w := &holderWait{plan: h}
		waits[h.Name] = w
		send(w)
	}
	resultCh := workflow.GetSignalChannel(ctx, contract.SignalHolderResult)
	for len(waits) > 0 {
		st.WaitingFor = fmt.Sprintf("results from %d holder(s)", len(waits))
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(resultCh, func(c workflow.ReceiveChannel, _ bool) {
			var r dsrv1.HolderResult
			c.Receive(ctx, &r)
			w, ok := waits[r.GetHolder()]
			if !ok || r.GetRequestId() != in.GetRequestId() {
				return // late duplicate, or not ours
			}
			p := st.Holders[r.GetHolder()]
			p.Outcome, p.Reason, p.AnsweredAt = r.GetOutcome().String(), r.GetReason(), workflow.Now(ctx)
			if r.GetOutcome() == dsrv1.Outcome_OUTCOME_FAILED && r.GetRetryable() && w.attempt < w.plan.MaxAttempts {
				w.cancel()
				send(w)
				return
			}
			w.cancel()
			delete(waits, r.GetHolder())
			results[r.GetHolder()] = &r
			if r.GetOutcome() == dsrv1.Outcome_OUTCOME_FAILED {
				p.Escalated = true
				setAttention(ctx, st)
			}
		})
		for _, h := range plan.Holders {
			w, ok := waits[h.Name]
			if !ok || w.timer == nil {
				continue
			}
			sel.AddFuture(w.timer, func(f workflow.Future) {
				if err := f.Get(ctx, nil); err != nil {
					var canceled *temporal.CanceledError
					if errors.As(err, &canceled) {
						return
					}
				}
				w.timer = nil
				if w.attempt < w.plan.MaxAttempts {
					send(w)
					return
				}
				st.Holders[w.plan.Name].Escalated = true
				setAttention(ctx, st)
			})
		}
		sel.Select(ctx)
	}
	st.WaitingFor = ""
	return results
}

func setStage(ctx workflow.Context, st *Status, s Stage) {
	st.Stage = s
	if err := workflow.UpsertTypedSearchAttributes(ctx, SAStage.ValueSet(string(s))); err != nil {
		workflow.GetLogger(ctx).Warn("upsert stage failed", "error", err)
	}
}

func setAttention(ctx workflow.Context, st *Status) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, SANeedsAttention.ValueSet(true)); err != nil {
		workflow.GetLogger(ctx).Warn("upsert attention failed", "error", err)
	}
}
