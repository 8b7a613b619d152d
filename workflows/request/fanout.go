package request

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// fanOutSpec is one round of commands.
type fanOutSpec struct {
	// Phase names the round ("locate", "act", "entrusted-<company>"): it
	// keeps command ids distinct between rounds.
	Phase       string
	Action      dsrv1.Action
	Holders     []HolderPlan
	Include     []string
	Corrections map[string]string
	// Track puts the holders in the status (the acting rounds; not locate).
	Track bool
}

// holderWait is one holder while its result is awaited.
type holderWait struct {
	plan    HolderPlan
	attempt int
	timer   workflow.Future
	cancel  workflow.CancelFunc
}

// fanOut sends every command of a round and collects every result. Each
// holder has its own durable timer; when it fires the command is resent
// (a new attempt), and after MaxAttempts the holder is escalated to staff
// and waited for without a timer: silence is never success. Staff can
// resend at any time with the RetryHolder update.
func (r *run) fanOut(ctx, actx workflow.Context, spec fanOutSpec) map[string]*dsrv1.HolderResult {
	results := map[string]*dsrv1.HolderResult{}
	waits := map[string]*holderWait{}
	progress := func(name string) *holderState {
		if !spec.Track {
			return &holderState{}
		}
		return r.holder(name)
	}
	send := func(w *holderWait) {
		w.attempt++
		p := progress(w.plan.Name)
		p.Attempts, p.SentAt = w.attempt, workflow.Now(ctx)
		p.Outcome, p.Reason, p.LegalBasis = dsrv1.Outcome_OUTCOME_UNSPECIFIED, "", ""
		err := workflow.ExecuteActivity(actx, a.SendHolderCommand, SendInput{
			RequestID: r.in.GetRequestId(), Receipt: r.in.GetReceipt(), Holder: w.plan.Name,
			Action: spec.Action, Attempt: w.attempt, Personal: r.in.GetPersonal(), Include: spec.Include,
			Corrections: spec.Corrections, Phase: spec.Phase,
		}).Get(ctx, nil)
		if err != nil {
			// Retries are unlimited; this is reached only on cancellation.
			workflow.GetLogger(ctx).Error("send holder command failed", "holder", w.plan.Name, "error", err)
		}
		if w.cancel != nil {
			w.cancel()
		}
		tctx, cancel := workflow.WithCancel(ctx)
		w.timer = workflow.NewTimerWithOptions(tctx, w.plan.SLA, workflow.TimerOptions{Summary: "HolderSLA " + w.plan.Name})
		w.cancel = cancel
	}
	// Every holder's state is reset before the first command goes out: send
	// yields, and a staff update handled then must not see a holder's answer
	// from the previous round as an answer to this one.
	for _, h := range spec.Holders {
		if spec.Track && r.holder(h.Name) == nil {
			r.holders = append(r.holders, &holderState{Name: h.Name, Action: spec.Action})
		} else if spec.Track {
			*r.holder(h.Name) = holderState{Name: h.Name, Action: spec.Action}
		}
		waits[h.Name] = &holderWait{plan: h}
	}
	for _, h := range spec.Holders {
		send(waits[h.Name])
	}
	resultCh := workflow.GetSignalChannel(ctx, contract.SignalHolderResult)
	for len(waits) > 0 && ctx.Err() == nil {
		sel := workflow.NewSelector(ctx)
		// A cancelled request stops waiting (timers are cancelled with it).
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		sel.AddReceive(resultCh, func(c workflow.ReceiveChannel, _ bool) {
			var res dsrv1.HolderResult
			c.Receive(ctx, &res)
			w, ok := waits[res.GetHolder()]
			if !ok || res.GetRequestId() != r.in.GetRequestId() || res.GetAction() != spec.Action ||
				!strings.HasPrefix(res.GetCommandId(), r.in.GetRequestId()+"."+spec.Phase+"-"+res.GetHolder()+".") {
				return // a late duplicate, another round's result, or not ours
			}
			if res.GetOutcome() == dsrv1.Outcome_OUTCOME_FAILED && attemptOf(res.GetCommandId()) < w.attempt {
				return // a failure of an attempt already superseded by a resend
			}
			p := progress(res.GetHolder())
			p.Outcome, p.Reason, p.LegalBasis, p.AnsweredAt = res.GetOutcome(), res.GetReason(), res.GetLegalBasis(), workflow.Now(ctx)
			if spec.Track {
				r.event(ctx, "holder_result", res.GetHolder(), contract.ActionName(spec.Action)+": "+res.GetOutcome().String())
			}
			if res.GetOutcome() == dsrv1.Outcome_OUTCOME_FAILED && res.GetRetryable() && w.attempt < w.plan.MaxAttempts {
				send(w)
				return
			}
			w.cancel()
			delete(waits, res.GetHolder())
			results[res.GetHolder()] = &res
			p.Escalated = false
			if res.GetOutcome() == dsrv1.Outcome_OUTCOME_FAILED {
				p.Escalated = true
				r.raise(ctx, AttentionHolderEscalated)
			}
		})
		sel.AddReceive(r.retry, func(c workflow.ReceiveChannel, _ bool) {
			var name string
			c.Receive(ctx, &name)
			if w, ok := waits[name]; ok {
				progress(name).Escalated = false
				send(w)
			}
		})
		for _, h := range spec.Holders {
			w, ok := waits[h.Name]
			if !ok || w.timer == nil {
				continue
			}
			timer := w.timer
			sel.AddFuture(timer, func(f workflow.Future) {
				var canceled *temporal.CanceledError
				if err := f.Get(ctx, nil); errors.As(err, &canceled) || w.timer != timer {
					return
				}
				w.timer = nil
				if w.attempt < w.plan.MaxAttempts {
					if spec.Track {
						r.event(ctx, "holder_resend", "system", fmt.Sprintf("%s: no answer within %s", w.plan.Name, w.plan.SLA))
					}
					send(w)
					return
				}
				progress(w.plan.Name).Escalated = true
				r.raise(ctx, AttentionHolderEscalated)
			})
		}
		sel.Select(ctx)
	}
	if spec.Track && !r.anyEscalated() {
		r.lower(ctx, AttentionHolderEscalated)
	}
	return results
}

func (r *run) anyEscalated() bool {
	for _, h := range r.holders {
		if h.Escalated {
			return true
		}
	}
	return false
}

// pendingHolders names the holders of the current round still awaited.
func (r *run) pendingHolders() []string {
	var out []string
	for _, h := range r.holders {
		if h.Outcome == dsrv1.Outcome_OUTCOME_UNSPECIFIED {
			out = append(out, h.Name)
		}
	}
	return out
}

// attemptOf reads the attempt from a command id "<request>.<holder>.<n>".
func attemptOf(commandID string) int {
	i := strings.LastIndexByte(commandID, '.')
	n, err := strconv.Atoi(commandID[i+1:])
	if err != nil {
		return 0
	}
	return n
}
