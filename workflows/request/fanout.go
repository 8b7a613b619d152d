package request

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

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
	// Fan-out v1: the holder's own SLA timer.
	timer  workflow.Future
	cancel workflow.CancelFunc
	// Fan-out v2: when its SLA runs out; zero once escalated (no deadline).
	due time.Time
}

// fanOut sends every command of a round and collects every result. A
// silent holder is resent its command when its SLA runs out (a new
// attempt), and after MaxAttempts escalated to staff and waited for without
// a deadline: silence is never success. Staff can resend at any time with
// the RetryHolder update.
//
// Requests recorded before ChangeFanOutRoundTimer keep the first version:
// commands one after another, a durable timer per holder, so each holder
// cost a workflow task and two timer events. Since then the round's
// commands go out together and one timer serves the round.
func (r *run) fanOut(ctx, actx workflow.Context, spec fanOutSpec) map[string]*dsrv1.HolderResult {
	if !r.has(ctx, ChangeFanOutRoundTimer) {
		return r.fanOutHolderTimers(ctx, actx, spec)
	}
	return r.fanOutRoundTimer(ctx, actx, spec)
}

// progress is the holder's part in the status, or a scratch one for the
// rounds the status does not track.
func (r *run) progress(spec fanOutSpec, name string) *holderState {
	if !spec.Track {
		return &holderState{}
	}
	return r.holder(name)
}

// startRound resets every holder's state before the first command goes
// out: sending yields, and a staff update handled then must not see a
// holder's answer from the previous round as an answer to this one.
func (r *run) startRound(spec fanOutSpec) map[string]*holderWait {
	waits := map[string]*holderWait{}
	for _, h := range spec.Holders {
		if spec.Track && r.holder(h.Name) == nil {
			r.holders = append(r.holders, &holderState{Name: h.Name, Action: spec.Action})
		} else if spec.Track {
			*r.holder(h.Name) = holderState{Name: h.Name, Action: spec.Action}
		}
		waits[h.Name] = &holderWait{plan: h}
	}
	return waits
}

// startAttempt counts a new attempt in the status and schedules its command.
func (r *run) startAttempt(ctx, actx workflow.Context, spec fanOutSpec, w *holderWait) workflow.Future {
	w.attempt++
	p := r.progress(spec, w.plan.Name)
	p.Attempts, p.SentAt = w.attempt, workflow.Now(ctx)
	p.Outcome, p.Reason, p.LegalBasis = dsrv1.Outcome_OUTCOME_UNSPECIFIED, "", ""
	return workflow.ExecuteActivity(actx, a.SendHolderCommand, SendInput{
		RequestID: r.in.GetRequestId(), Receipt: r.in.GetReceipt(), Holder: w.plan.Name,
		Action: spec.Action, Attempt: w.attempt, Personal: r.in.GetPersonal(), Include: spec.Include,
		Corrections: spec.Corrections, Phase: spec.Phase, Binding: r.binding,
	})
}

// awaitSent waits for a command to be sent.
func awaitSent(ctx workflow.Context, w *holderWait, sent workflow.Future) {
	if err := sent.Get(ctx, nil); err != nil {
		// Retries are unlimited; this is reached only on cancellation.
		workflow.GetLogger(ctx).Error("send holder command failed", "holder", w.plan.Name, "error", err)
	}
}

// forRound tells whether a result answers this round's current attempt.
func (r *run) forRound(spec fanOutSpec, waits map[string]*holderWait, res *dsrv1.HolderResult) (*holderWait, bool) {
	w, ok := waits[res.GetHolder()]
	if !ok || res.GetRequestId() != r.in.GetRequestId() || res.GetAction() != spec.Action ||
		!strings.HasPrefix(res.GetCommandId(), r.in.GetRequestId()+"."+spec.Phase+"-"+res.GetHolder()+".") {
		return nil, false // a late duplicate, another round's result, or not ours
	}
	if res.GetOutcome() == dsrv1.Outcome_OUTCOME_FAILED && attemptOf(res.GetCommandId()) < w.attempt {
		return nil, false // a failure of an attempt already superseded by a resend
	}
	return w, true
}

// fanOutRoundTimer is fan-out v2. The round's commands are scheduled
// together; each awaited holder has a deadline (its command sent + its
// SLA), and one durable timer runs for the earliest of them.
func (r *run) fanOutRoundTimer(ctx, actx workflow.Context, spec fanOutSpec) map[string]*dsrv1.HolderResult {
	results := map[string]*dsrv1.HolderResult{}
	waits := r.startRound(spec)
	// send schedules the holders' commands at once and waits for them; each
	// SLA runs from when its own command is out, as the v1 timer did.
	send := func(ws ...*holderWait) {
		sel := workflow.NewSelector(ctx)
		for _, w := range ws {
			sel.AddFuture(r.startAttempt(ctx, actx, spec, w), func(f workflow.Future) {
				awaitSent(ctx, w, f)
				w.due = workflow.Now(ctx).Add(w.plan.SLA)
			})
		}
		for range ws {
			sel.Select(ctx)
		}
	}
	var first []*holderWait
	for _, h := range spec.Holders {
		first = append(first, waits[h.Name])
	}
	send(first...)

	var (
		timer       workflow.Future
		timerDue    time.Time // the deadline the running timer was started for
		cancelTimer workflow.CancelFunc
	)
	stopTimer := func() {
		if cancelTimer != nil {
			cancelTimer()
		}
		timer, cancelTimer = nil, nil
	}
	// expired handles every holder whose deadline has passed, in the round's order.
	expired := func() {
		now := workflow.Now(ctx)
		var resend []*holderWait
		for _, h := range spec.Holders {
			w, ok := waits[h.Name]
			if !ok || w.due.IsZero() || w.due.After(now) {
				continue
			}
			w.due = time.Time{}
			if w.attempt < w.plan.MaxAttempts {
				if spec.Track {
					r.event(ctx, "holder_resend", "system", fmt.Sprintf("%s: no answer within %s", w.plan.Name, w.plan.SLA))
				}
				resend = append(resend, w)
				continue
			}
			r.progress(spec, w.plan.Name).Escalated = true
			r.raise(ctx, AttentionHolderEscalated)
		}
		if len(resend) > 0 {
			send(resend...)
		}
	}
	resultCh := workflow.GetSignalChannel(ctx, contract.SignalHolderResult)
	for len(waits) > 0 && ctx.Err() == nil {
		sel := workflow.NewSelector(ctx)
		// A cancelled request stops waiting (the timer is cancelled with it).
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		r.addAnswers(ctx, sel, resultCh, spec, waits, results, func(w *holderWait) { send(w) }, nil)
		// The timer is (re)started only once nothing else is ready: answers
		// already received may end the round, and a timer started and
		// cancelled in the same workflow task still costs two events. A
		// timer for a deadline that has since moved later is kept (it fires
		// early, finds nothing due, and the next one starts): restarting it
		// would cost two events at every answer, and most rounds end first.
		if !sel.HasPending() {
			switch next := earliestDue(spec, waits); {
			case next.IsZero():
				stopTimer() // only escalated holders left: no deadline to wait for
			case timer == nil || next.Before(timerDue):
				stopTimer()
				tctx, cancel := workflow.WithCancel(ctx)
				timer = workflow.NewTimerWithOptions(tctx, until(ctx, next), workflow.TimerOptions{Summary: "HolderSLA round " + spec.Phase})
				timerDue, cancelTimer = next, cancel
			}
			if timer != nil {
				sel.AddFuture(timer, func(f workflow.Future) {
					stopTimer()
					if f.Get(ctx, nil) != nil {
						return // cancelled with the request
					}
					expired()
				})
			}
		}
		sel.Select(ctx)
	}
	stopTimer() // no timer outlives its round
	if spec.Track && !r.anyEscalated() {
		r.lower(ctx, AttentionHolderEscalated)
	}
	return results
}

// addAnswers adds to sel the two things a round waits for besides its
// timers: a holder's result (recorded; a retryable failure with attempts
// left is resent, anything else ends that holder's part, after answered(w)
// when given) and staff's RetryHolder (that holder's command sent again).
func (r *run) addAnswers(ctx workflow.Context, sel workflow.Selector, resultCh workflow.ReceiveChannel, spec fanOutSpec,
	waits map[string]*holderWait, results map[string]*dsrv1.HolderResult, send func(*holderWait), answered func(*holderWait)) {
	sel.AddReceive(resultCh, func(c workflow.ReceiveChannel, _ bool) {
		var res dsrv1.HolderResult
		c.Receive(ctx, &res)
		w, ok := r.forRound(spec, waits, &res)
		if !ok {
			return
		}
		p := r.progress(spec, res.GetHolder())
		p.Outcome, p.Reason, p.LegalBasis, p.AnsweredAt = res.GetOutcome(), res.GetReason(), res.GetLegalBasis(), workflow.Now(ctx)
		if spec.Track {
			r.event(ctx, "holder_result", res.GetHolder(), contract.ActionName(spec.Action)+": "+res.GetOutcome().String())
		}
		if res.GetOutcome() == dsrv1.Outcome_OUTCOME_FAILED && res.GetRetryable() && w.attempt < w.plan.MaxAttempts {
			send(w)
			return
		}
		if answered != nil {
			answered(w)
		}
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
			r.progress(spec, name).Escalated = false
			send(w)
		}
	})
}

// earliestDue is the earliest deadline of the holders still awaited (zero
// when none has one).
func earliestDue(spec fanOutSpec, waits map[string]*holderWait) time.Time {
	var next time.Time
	for _, h := range spec.Holders {
		if w, ok := waits[h.Name]; ok && !w.due.IsZero() && (next.IsZero() || w.due.Before(next)) {
			next = w.due
		}
	}
	return next
}

// fanOutHolderTimers is fan-out v1, kept for the requests whose history it
// recorded: each command is sent after the previous one, and each holder
// has its own durable timer.
func (r *run) fanOutHolderTimers(ctx, actx workflow.Context, spec fanOutSpec) map[string]*dsrv1.HolderResult {
	results := map[string]*dsrv1.HolderResult{}
	send := func(w *holderWait) {
		awaitSent(ctx, w, r.startAttempt(ctx, actx, spec, w))
		if w.cancel != nil {
			w.cancel()
		}
		tctx, cancel := workflow.WithCancel(ctx)
		w.timer = workflow.NewTimerWithOptions(tctx, w.plan.SLA, workflow.TimerOptions{Summary: "HolderSLA " + w.plan.Name})
		w.cancel = cancel
	}
	waits := r.startRound(spec)
	for _, h := range spec.Holders {
		send(waits[h.Name])
	}
	resultCh := workflow.GetSignalChannel(ctx, contract.SignalHolderResult)
	for len(waits) > 0 && ctx.Err() == nil {
		sel := workflow.NewSelector(ctx)
		// A cancelled request stops waiting (timers are cancelled with it).
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		// Its own timer goes first: v1 cancelled it before the bookkeeping.
		r.addAnswers(ctx, sel, resultCh, spec, waits, results, send, func(w *holderWait) { w.cancel() })
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
				r.progress(spec, w.plan.Name).Escalated = true
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
