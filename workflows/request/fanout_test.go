package request_test

// The fan-out: every holder is sent the command and waited for until its
// SLA runs out, on one durable timer per round; silence is resent, then
// escalated to staff, never taken for success. Records held under
// entrustment (委託) are acted on only at the entrusting company's
// instruction.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/workflow"

	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/request"
)

// The commands of the usual path go out at the decision.
const sent = decidedAt

func TestHolderSilentPastItsSLAIsSentAttempt2(t *testing.T) {
	h := deletionJP(t)
	h.verifiedAndApproved()
	before := h.statusAt(sent + sla - time.Second)
	after := h.statusAt(sent + sla + time.Second)
	h.answer(sent+sla+5*time.Minute, h.result("act", "members", 2, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	out := h.completed()
	if out.HolderOutcomes["members"] != "OUTCOME_DONE" {
		t.Errorf("outcomes = %v", out.HolderOutcomes)
	}
	if got := h.attempts("members", "act"); !slices.Equal(got, []string{at(1, sent), at(2, sent+sla)}) {
		t.Errorf("commands = %v; want attempt 1 at once and attempt 2 when the SLA ran out", got)
	}
	if hs := holderStatus(before(), "members"); hs.GetAttempts() != 1 || hs.GetEscalated() {
		t.Errorf("just before the SLA: %v; want attempt 1", hs)
	}
	if hs := holderStatus(after(), "members"); hs.GetAttempts() != 2 || hs.GetEscalated() ||
		!hs.GetSentAt().AsTime().Equal(t0.Add(sent+sla)) {
		t.Errorf("just after the SLA: %v; want attempt 2 sent at the SLA", hs)
	}
}

func TestHolderSilentThroughMaxAttemptsIsEscalatedAndStillAwaited(t *testing.T) {
	h := deletionJP(t)
	h.verifiedAndApproved()
	escalation := sent + holderAttempts*sla
	before := h.statusAt(escalation - time.Second)
	after := h.statusAt(escalation + time.Second)
	week := 7 * 24 * time.Hour
	weekLater := h.statusAt(week)
	running := h.runningAt(week)
	h.answer(8*24*time.Hour, h.result("act", "members", holderAttempts, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	if !running() {
		t.Fatal("the request ended while a holder was silent: silence was taken as an answer")
	}
	out := h.completed() // the late answer still completes the request
	if out.HolderOutcomes["members"] != "OUTCOME_DONE" || len(h.erasureEvents()) != 1 {
		t.Errorf("outcomes %v, erasure events %d; want DONE and the event after the late answer", out.HolderOutcomes, len(h.erasureEvents()))
	}
	want := []string{at(1, sent), at(2, sent+sla), at(3, sent+2*sla)}
	if got := h.attempts("members", "act"); !slices.Equal(got, want) {
		t.Errorf("commands = %v; want %v and nothing after the escalation", got, want)
	}
	if st := before(); holderStatus(st, "members").GetEscalated() || len(st.GetAttention()) != 0 {
		t.Errorf("before the last SLA ran out: %v attention %v; want not escalated", holderStatus(st, "members"), st.GetAttention())
	}
	for name, st := range map[string]*dsrv1.RequestStatus{"after the last SLA": after(), "a week later": weekLater()} {
		hs := holderStatus(st, "members")
		if !hs.GetEscalated() || hs.GetAttempts() != holderAttempts || hs.GetOutcome() != "" ||
			st.GetStage() != "fan_out" || st.GetWaitingFor() != "results from: members" ||
			!slices.Contains(st.GetAttention(), request.AttentionHolderEscalated) {
			t.Errorf("%s: holder %v stage %q waiting %q attention %v; want escalated and still awaited",
				name, hs, st.GetStage(), st.GetWaitingFor(), st.GetAttention())
		}
	}
	if at, ok := h.attentionUpserted(request.AttentionHolderEscalated); !ok || at != escalation {
		t.Errorf("DsrAttention holder_escalated upserted at +%v (%v); want at +%v", at, ok, escalation)
	}
}

// Once the escalated holder has answered, there is nothing left for staff
// to chase: the escalation and the attention are cleared.
func TestEscalationIsClearedWhenTheHolderAnswers(t *testing.T) {
	h := deletionJP(t)
	h.verifiedAndApproved()
	h.answer(sent+holderAttempts*sla+time.Hour, h.result("act", "members", holderAttempts, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	st := h.finalStatus()
	if holderStatus(st, "members").GetEscalated() || slices.Contains(st.GetAttention(), request.AttentionHolderEscalated) ||
		slices.Contains(h.lastAttention(), request.AttentionHolderEscalated) {
		t.Errorf("after the escalated holder answered DONE: holder %v attention %v DsrAttention %v; want the escalation cleared "+
			"(BUG: fanOut never resets Escalated on an answer, so anyEscalated() keeps holder_escalated raised on a completed request)",
			holderStatus(st, "members"), st.GetAttention(), h.lastAttention())
	}
}

func TestRetryHolderUpdateResendsTheCommand(t *testing.T) {
	h := deletionJP(t)
	h.Holders = []request.HolderPlan{holder("members"), holder("billing")}
	h.verify(verifiedAt, codes[0])
	tooEarly := h.retryHolder(verifiedAt+30*time.Second, "members")
	h.decide(decidedAt, approve())
	h.answer(sent+time.Minute, h.result("act", "billing", 1, dsrv1.Outcome_OUTCOME_DONE))
	escalation := sent + holderAttempts*sla
	unknown := h.retryHolder(escalation+time.Minute, "ghost")
	answered := h.retryHolder(escalation+time.Minute+time.Second, "billing")
	noActor := h.update(escalation+time.Minute+2*time.Second, contract.UpdateRetryHolder, &dsrv1.RetryHolder{Holder: "members"})
	retried := h.retryHolder(escalation+2*time.Minute, "members")
	after := h.statusAt(escalation + 2*time.Minute + time.Second)
	h.answer(escalation+3*time.Minute, h.result("act", "members", holderAttempts+1, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	tooEarly.rejectedWith(t, `resending to a holder is not possible while the request is at stage "staff_review"`)
	unknown.rejectedWith(t, `holder "ghost" is not part of this request`)
	answered.rejectedWith(t, `holder "billing" has already answered`)
	noActor.rejectedWith(t, "actor")
	retried.succeeded(t)
	got := h.attempts("members", "act")
	if len(got) != holderAttempts+1 || got[holderAttempts] != at(holderAttempts+1, escalation+2*time.Minute) {
		t.Errorf("commands to members = %v; want attempt %d at the RetryHolder (+%v)", got, holderAttempts+1, escalation+2*time.Minute)
	}
	if hs := holderStatus(after(), "members"); hs.GetEscalated() || hs.GetAttempts() != holderAttempts+1 {
		t.Errorf("after RetryHolder: %v; want attempt %d, no longer escalated", hs, holderAttempts+1)
	}
}

// While the first commands of a round are still being sent, staff may
// already resend to a holder later in the list: its answer from the locate
// round is not an answer to this one.
func TestRetryHolderDuringTheFirstSendsIsNotRefusedWithTheLocateAnswer(t *testing.T) {
	h := deletionJP(t)
	h.Holders = []request.HolderPlan{holder("members"), holder("billing")}
	h.Slow = []slowSend{{Holder: "members", Attempt: 1, D: 10 * time.Second}}
	h.verifiedAndApproved()
	retried := h.retryHolder(decidedAt+5*time.Second, "billing")
	h.answer(sent+time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.answer(sent+time.Minute, h.result("act", "billing", 2, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	retried.succeeded(t)
	if got := h.attempts("billing", "act"); len(got) != 2 {
		t.Errorf("commands to billing = %v; want the first and the resent one", got)
	}
}

func TestRetryableFailureIsResentAtOnce(t *testing.T) {
	h := deletionJP(t)
	h.verifiedAndApproved()
	failed := h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_FAILED)
	failed.Retryable, failed.Reason = true, "database unavailable"
	h.answer(sent+time.Minute, failed)
	h.answer(sent+3*time.Minute, h.result("act", "members", 2, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	out := h.completed()
	if got := h.attempts("members", "act"); !slices.Equal(got, []string{at(1, sent), at(2, sent+time.Minute)}) {
		t.Errorf("commands = %v; want attempt 2 right after the retryable failure", got)
	}
	if out.HolderOutcomes["members"] != "OUTCOME_DONE" || len(h.erasureEvents()) != 1 {
		t.Errorf("outcomes %v; want DONE and the erasure announced", out.HolderOutcomes)
	}
	if _, raised := h.attentionUpserted(request.AttentionHolderEscalated); raised {
		t.Error("a retried failure that then succeeded was escalated")
	}
}

// A holder that is resent after a retryable failure is awaited like any
// other: the status shows it pending, and staff can resend to it.
func TestAHolderResentAfterARetryableFailureIsStillAwaited(t *testing.T) {
	h := deletionJP(t)
	h.verifiedAndApproved()
	failed := h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_FAILED)
	failed.Retryable = true
	h.answer(sent+time.Minute, failed)
	resent := h.statusAt(sent + 2*time.Minute)
	escalation := sent + time.Minute + (holderAttempts-1)*sla // attempts 2 and 3 each waited an SLA
	retried := h.retryHolder(escalation+time.Minute, "members")
	h.answer(escalation+2*time.Minute, h.result("act", "members", holderAttempts+1, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	st := resent()
	if hs := holderStatus(st, "members"); hs.GetOutcome() != "" || hs.GetAttempts() != 2 || st.GetWaitingFor() != "results from: members" {
		t.Errorf("after the resend: holder %v waiting %q; want attempt 2 pending with no outcome "+
			"(BUG: fanOut leaves Outcome=FAILED on a holder it resends to)", hs, st.GetWaitingFor())
	}
	retried.succeeded(t)
}

func TestNonRetryableFailureIsEscalatedAndTheRequestCompletesWithoutIt(t *testing.T) {
	h := deletionJP(t)
	h.Holders = []request.HolderPlan{holder("members"), holder("billing")}
	h.verifiedAndApproved()
	failed := h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_FAILED)
	failed.Reason = "litigation hold"
	h.answer(sent+time.Minute, failed)
	h.answer(sent+2*time.Minute, h.result("act", "billing", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	out := h.completed()
	if out.HolderOutcomes["members"] != "OUTCOME_FAILED" || out.HolderOutcomes["billing"] != "OUTCOME_DONE" {
		t.Errorf("outcomes = %v", out.HolderOutcomes)
	}
	if got := h.attempts("members", "act"); len(got) != 1 {
		t.Errorf("commands to members = %v; a non-retryable failure is not resent", got)
	}
	st := h.finalStatus()
	if hs := holderStatus(st, "members"); !hs.GetEscalated() || hs.GetReason() != "litigation hold" ||
		!slices.Contains(st.GetAttention(), request.AttentionHolderEscalated) {
		t.Errorf("members %v attention %v; want escalated with its reason", hs, st.GetAttention())
	}
	if ev := h.erasureEvents(); len(ev) != 1 || !slices.Equal(ev[0].Holders, []string{"billing"}) {
		t.Errorf("erasure events = %+v; want one naming billing only", ev)
	}
}

func TestALateFailureOfASupersededAttemptIsIgnored(t *testing.T) {
	h := deletionJP(t)
	h.verifiedAndApproved()
	late := h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_FAILED) // not retryable: would escalate
	late.Reason = "timeout talking to the database"
	h.answer(sent+sla+time.Minute, late)
	after := h.statusAt(sent + sla + time.Minute + time.Second)
	h.answer(sent+sla+2*time.Minute, h.result("act", "members", 2, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	out := h.completed()
	st := after()
	if hs := holderStatus(st, "members"); hs.GetOutcome() != "" || hs.GetEscalated() || hs.GetAttempts() != 2 || len(st.GetAttention()) != 0 {
		t.Errorf("after attempt 1's late failure: %v attention %v; want attempt 2 still awaited", hs, st.GetAttention())
	}
	if out.HolderOutcomes["members"] != "OUTCOME_DONE" {
		t.Errorf("outcome = %v; want attempt 2's DONE", out.HolderOutcomes)
	}
	if got := h.attempts("members", "act"); !slices.Equal(got, []string{at(1, sent), at(2, sent+sla)}) {
		t.Errorf("commands = %v", got)
	}
}

func TestResultsForAnotherRequestHolderOrActionAreIgnored(t *testing.T) {
	h := deletionJP(t)
	h.verifiedAndApproved()
	other := h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE)
	other.RequestId = "req-2"
	ghost := h.result("act", "ghost", 1, dsrv1.Outcome_OUTCOME_DONE)
	wrongAction := h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE)
	wrongAction.Action = dsrv1.Action_ACTION_EXPORT
	h.answer(sent+time.Minute, other)
	h.answer(sent+time.Minute, ghost)
	h.answer(sent+time.Minute, wrongAction)
	running := h.runningAt(sent + 2*time.Minute)
	h.answer(sent+3*time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_NOT_FOUND))
	h.run()

	if !running() {
		t.Error("the request ended on results that were not for it")
	}
	if out := h.completed(); out.HolderOutcomes["members"] != "OUTCOME_NOT_FOUND" || len(out.HolderOutcomes) != 1 {
		t.Errorf("outcomes = %v", out.HolderOutcomes)
	}
	if len(h.erasureEvents()) != 0 {
		t.Error("the other request's DONE caused an erasure event")
	}
}

// RetryHolder answers "will be resent": that must hold even when the update
// arrives while another holder's command is still being sent.
func TestRetryHolderWhileAnotherCommandIsBeingSentIsNotLost(t *testing.T) {
	h := deletionJP(t)
	once := func(name string) request.HolderPlan { return request.HolderPlan{Name: name, SLA: sla, MaxAttempts: 1} }
	h.Holders = []request.HolderPlan{once("members"), once("billing")}
	h.Slow = []slowSend{{Holder: "members", Attempt: 2, D: 5 * time.Minute}}
	h.verifiedAndApproved()
	escalation := sent + sla
	h.retryHolder(escalation+time.Minute, "members")        // its send takes five minutes
	b := h.retryHolder(escalation+2*time.Minute, "billing") // arrives meanwhile
	h.answer(escalation+10*time.Minute, h.result("act", "members", 2, dsrv1.Outcome_OUTCOME_DONE))
	h.answer(escalation+10*time.Minute, h.result("act", "billing", 2, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	b.succeeded(t)
	if got := h.attempts("billing", "act"); len(got) != 2 {
		t.Errorf("commands to billing = %v; want attempt 2 after the accepted RetryHolder "+
			"(BUG: RetryHolder uses retry.SendAsync on an unbuffered channel; it is dropped while fanOut is inside send())", got)
	}
}

// --- one SLA timer per round (ChangeFanOutRoundTimer) ---

// roundTimer is the Summary of a round's SLA timer.
func roundTimer(phase string) string { return "HolderSLA round " + phase }

// ended lists "start→end" of timers (end "running" while one runs, "x" for cancelled).
func ended(ts []timerRec) []string {
	var out []string
	for _, t := range ts {
		switch {
		case t.End < 0:
			out = append(out, fmt.Sprintf("%v→running", t.At))
		case t.Canceled:
			out = append(out, fmt.Sprintf("%v→x%v", t.At, t.End))
		default:
			out = append(out, fmt.Sprintf("%v→%v", t.At, t.End))
		}
	}
	return out
}

func slaHolder(name string, sla time.Duration, attempts int) request.HolderPlan {
	return request.HolderPlan{Name: name, SLA: sla, MaxAttempts: attempts}
}

// The round's commands are scheduled together: a slow send to one holder
// does not hold back the next, and each SLA runs from its own command.
func TestARoundsCommandsGoOutTogetherAndEachSLARunsFromItsOwnCommand(t *testing.T) {
	h := deletionJP(t)
	h.Holders = []request.HolderPlan{holder("members"), holder("billing")}
	h.Slow = []slowSend{{Holder: "members", Attempt: 1, D: 10 * time.Second}}
	h.verifiedAndApproved()
	h.answer(sent+sla+time.Minute, h.result("act", "members", 2, dsrv1.Outcome_OUTCOME_DONE))
	h.answer(sent+sla+time.Minute, h.result("act", "billing", 2, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	if got := h.attempts("billing", "act"); !slices.Equal(got, []string{at(1, sent), at(2, sent+sla)}) {
		t.Errorf("commands to billing = %v; want attempt 1 at once, beside the slow one to members, and attempt 2 an SLA later", got)
	}
	if got := h.attempts("members", "act"); len(got) != 2 || got[1] != at(2, sent+10*time.Second+sla) {
		t.Errorf("commands to members = %v; want attempt 2 an SLA after its slow attempt 1 was out (+%v)", got, sent+10*time.Second+sla)
	}
}

// Holders may have different SLAs: each is resent at its own deadline and
// escalated after its own MaxAttempts, while one timer serves the round.
func TestHoldersWithDifferentSLAsAreEachResentAtTheirOwnDeadlineOnOneTimer(t *testing.T) {
	h := deletionJP(t)
	fast, slow := 5*time.Minute, 20*time.Minute
	h.Holders = []request.HolderPlan{slaHolder("members", fast, holderAttempts), slaHolder("billing", slow, holderAttempts),
		slaHolder("crm", slow, holderAttempts)}
	h.verifiedAndApproved()
	h.answer(sent+time.Minute, h.result("act", "crm", 1, dsrv1.Outcome_OUTCOME_DONE))
	membersEscalated, billingEscalated := sent+holderAttempts*fast, sent+holderAttempts*slow
	between := h.statusAt(membersEscalated + time.Second)
	late := billingEscalated + 10*time.Minute
	h.answer(late, h.result("act", "members", holderAttempts, dsrv1.Outcome_OUTCOME_DONE))
	h.answer(late, h.result("act", "billing", holderAttempts, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	out := h.completed()
	if got, want := h.attempts("members", "act"), []string{at(1, sent), at(2, sent+fast), at(3, sent+2*fast)}; !slices.Equal(got, want) {
		t.Errorf("commands to members = %v; want %v (its SLA is %v)", got, want, fast)
	}
	if got, want := h.attempts("billing", "act"), []string{at(1, sent), at(2, sent+slow), at(3, sent+2*slow)}; !slices.Equal(got, want) {
		t.Errorf("commands to billing = %v; want %v (its SLA is %v)", got, want, slow)
	}
	if got := h.attempts("crm", "act"); !slices.Equal(got, []string{at(1, sent)}) {
		t.Errorf("commands to crm = %v; want one, it answered", got)
	}
	st := between()
	if !holderStatus(st, "members").GetEscalated() || holderStatus(st, "billing").GetEscalated() ||
		holderStatus(st, "billing").GetAttempts() != 1 {
		t.Errorf("after members' last SLA: members %v billing %v; want members escalated, billing still on attempt 1",
			holderStatus(st, "members"), holderStatus(st, "billing"))
	}
	if n := h.mostRunningAtOnce("HolderSLA"); n != 1 {
		t.Errorf("%d SLA timers ran at once; want one per round", n)
	}
	want := []string{
		fmt.Sprintf("%v→%v", sent, sent+fast), fmt.Sprintf("%v→%v", sent+fast, sent+2*fast),
		fmt.Sprintf("%v→%v", sent+2*fast, sent+3*fast), fmt.Sprintf("%v→%v", sent+3*fast, sent+slow),
		fmt.Sprintf("%v→%v", sent+slow, sent+2*slow), fmt.Sprintf("%v→%v", sent+2*slow, sent+3*slow),
	}
	if got := ended(h.timersNamed(roundTimer("act"))); !slices.Equal(got, want) {
		t.Errorf("round timers = %v; want one at a time for the earliest deadline: %v", got, want)
	}
	if out.HolderOutcomes["members"] != "OUTCOME_DONE" || out.HolderOutcomes["billing"] != "OUTCOME_DONE" {
		t.Errorf("outcomes = %v", out.HolderOutcomes)
	}
}

func TestAHolderSilentThroughMaxAttemptsIsEscalatedWhileTheOthersComplete(t *testing.T) {
	h := deletionJP(t)
	h.Holders = []request.HolderPlan{holder("members"), holder("billing"), holder("crm")}
	h.verifiedAndApproved()
	h.answer(sent+time.Minute, h.result("act", "crm", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.answer(sent+sla+time.Minute, h.result("act", "billing", 2, dsrv1.Outcome_OUTCOME_DONE))
	escalation := sent + holderAttempts*sla
	after := h.statusAt(escalation + time.Second)
	h.answer(escalation+time.Hour, h.result("act", "members", holderAttempts, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	out := h.completed()
	st := after()
	if hs := holderStatus(st, "members"); !hs.GetEscalated() || hs.GetAttempts() != holderAttempts || hs.GetOutcome() != "" ||
		st.GetWaitingFor() != "results from: members" || !slices.Contains(st.GetAttention(), request.AttentionHolderEscalated) {
		t.Errorf("after the last SLA: members %v waiting %q attention %v; want escalated and still awaited", hs, st.GetWaitingFor(), st.GetAttention())
	}
	for name, attempts := range map[string]int32{"billing": 2, "crm": 1} {
		if hs := holderStatus(st, name); hs.GetOutcome() != "OUTCOME_DONE" || hs.GetAttempts() != attempts || hs.GetEscalated() {
			t.Errorf("after the last SLA: %s %v; want DONE on attempt %d", name, hs, attempts)
		}
	}
	if at, ok := h.attentionUpserted(request.AttentionHolderEscalated); !ok || at != escalation {
		t.Errorf("DsrAttention holder_escalated upserted at +%v (%v); want at +%v", at, ok, escalation)
	}
	if got, want := h.attempts("members", "act"), []string{at(1, sent), at(2, sent+sla), at(3, sent+2*sla)}; !slices.Equal(got, want) {
		t.Errorf("commands to members = %v; want %v and nothing after the escalation", got, want)
	}
	if got, want := ended(h.timersNamed(roundTimer("act"))), []string{
		fmt.Sprintf("%v→%v", sent, sent+sla), fmt.Sprintf("%v→%v", sent+sla, sent+2*sla), fmt.Sprintf("%v→%v", sent+2*sla, escalation),
	}; !slices.Equal(got, want) {
		t.Errorf("round timers = %v; want %v and none while only the escalated holder is awaited", got, want)
	}
	if ev := h.erasureEvents(); len(ev) != 1 || !slices.Equal(ev[0].Holders, []string{"members", "billing", "crm"}) ||
		out.HolderOutcomes["members"] != "OUTCOME_DONE" {
		t.Errorf("erasure events %+v outcomes %v; want all three after members' late answer", ev, out.HolderOutcomes)
	}
}

// A staff resend gives the holder a whole SLA again from the new command.
func TestRetryHolderStartsThatHoldersSLAAgain(t *testing.T) {
	h := deletionJP(t)
	h.verifiedAndApproved()
	retried := h.retryHolder(sent+5*time.Minute, "members")
	atOldDeadline := h.statusAt(sent + sla + time.Second)
	h.answer(sent+sla+10*time.Minute, h.result("act", "members", 3, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	retried.succeeded(t)
	if got, want := h.attempts("members", "act"), []string{at(1, sent), at(2, sent+5*time.Minute), at(3, sent+5*time.Minute+sla)}; !slices.Equal(got, want) {
		t.Errorf("commands = %v; want %v: attempt 3 an SLA after the staff resend", got, want)
	}
	if hs := holderStatus(atOldDeadline(), "members"); hs.GetAttempts() != 2 {
		t.Errorf("at attempt 1's deadline: %v; want still attempt 2", hs)
	}
	if n := h.mostRunningAtOnce("HolderSLA"); n != 1 {
		t.Errorf("%d SLA timers ran at once; want one", n)
	}
}

// A resend whose deadline comes before the running timer's restarts it.
func TestRetryHolderWithAnEarlierDeadlineRestartsTheRoundTimer(t *testing.T) {
	h := deletionJP(t)
	long, short := 30*time.Minute, 10*time.Minute
	h.Holders = []request.HolderPlan{slaHolder("members", long, holderAttempts), slaHolder("billing", short, 1)}
	h.verifiedAndApproved()
	retryAt := sent + short + 2*time.Minute // billing was escalated at sent+short
	retried := h.retryHolder(retryAt, "billing")
	before := h.statusAt(retryAt + short - time.Second)
	after := h.statusAt(retryAt + short + time.Second)
	membersAnswer := retryAt + short + 3*time.Minute
	h.answer(membersAnswer, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.answer(membersAnswer+time.Hour, h.result("act", "billing", 2, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	retried.succeeded(t)
	if hs := holderStatus(before(), "billing"); hs.GetEscalated() || hs.GetAttempts() != 2 {
		t.Errorf("before the resend's SLA ran out: billing %v; want attempt 2, not escalated", hs)
	}
	if hs := holderStatus(after(), "billing"); !hs.GetEscalated() {
		t.Errorf("when the resend's SLA ran out: billing %v; want escalated again", hs)
	}
	want := []string{
		fmt.Sprintf("%v→%v", sent, sent+short),              // billing's deadline
		fmt.Sprintf("%v→x%v", sent+short, retryAt),          // members', until the resend to billing
		fmt.Sprintf("%v→%v", retryAt, retryAt+short),        // billing's new deadline
		fmt.Sprintf("%v→x%v", retryAt+short, membersAnswer), // members' again, until it answers
	}
	if got := ended(h.timersNamed(roundTimer("act"))); !slices.Equal(got, want) {
		t.Errorf("round timers = %v; want %v", got, want)
	}
	if n := h.mostRunningAtOnce("HolderSLA"); n != 1 {
		t.Errorf("%d SLA timers ran at once; want one", n)
	}
}

// When every holder has answered, the round's timer is cancelled: the
// request goes on at once, and no SLA timer is left running.
func TestTheRoundTimerIsCancelledWhenTheRoundEnds(t *testing.T) {
	h := deletionJP(t)
	h.Locate = []request.HolderPlan{holder("members")}
	h.Holders = []request.HolderPlan{holder("members"), holder("billing")}
	h.answer(verifiedAt+10*time.Second, h.result("locate", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.verifiedAndApproved()
	h.answer(sent+time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.answer(sent+2*time.Minute, h.result("act", "billing", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	if c := h.onlyNotice(request.NoticeCompletion); c.At != sent+2*time.Minute {
		t.Errorf("completion at +%v; want at the last answer (+%v), not after an SLA", c.At, sent+2*time.Minute)
	}
	if got, want := ended(h.timersNamed(roundTimer("locate"))), []string{fmt.Sprintf("%v→x%v", verifiedAt, verifiedAt+10*time.Second)}; !slices.Equal(got, want) {
		t.Errorf("locate round timers = %v; want %v", got, want)
	}
	if got, want := ended(h.timersNamed(roundTimer("act"))), []string{fmt.Sprintf("%v→x%v", sent, sent+2*time.Minute)}; !slices.Equal(got, want) {
		t.Errorf("act round timers = %v; want %v", got, want)
	}
}

// Requests recorded before ChangeFanOutRoundTimer replay the first fan-out:
// one command after another and a timer per holder.
func TestARequestFromBeforeTheRoundTimerKeepsATimerPerHolder(t *testing.T) {
	h := deletionJP(t)
	h.startedBeforeBundle()
	h.env.OnGetVersion(request.ChangeFanOutRoundTimer, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.Holders = []request.HolderPlan{holder("members"), holder("billing")}
	h.Slow = []slowSend{{Holder: "members", Attempt: 1, D: 10 * time.Second}}
	h.verifiedAndApproved()
	first := sent + 10*time.Second // billing's command waits for members'
	h.answer(sent+time.Minute, h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.answer(first+sla+time.Minute, h.result("act", "billing", 2, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	if got := h.attempts("billing", "act"); !slices.Equal(got, []string{at(1, first), at(2, first+sla)}) {
		t.Errorf("commands to billing = %v; want attempt 1 after members' and attempt 2 an SLA later", got)
	}
	if got, want := ended(h.timersNamed("HolderSLA members")), []string{fmt.Sprintf("%v→x%v", first, sent+time.Minute)}; !slices.Equal(got, want) {
		t.Errorf("members' timers = %v; want %v", got, want)
	}
	want := []string{fmt.Sprintf("%v→%v", first, first+sla), fmt.Sprintf("%v→x%v", first+sla, first+sla+time.Minute)}
	if got := ended(h.timersNamed("HolderSLA billing")); !slices.Equal(got, want) {
		t.Errorf("billing's timers = %v; want %v", got, want)
	}
	if got := h.timersNamed(roundTimer("act")); len(got) != 0 {
		t.Errorf("round timers = %v; want none in the first fan-out", ended(got))
	}
}

// --- 委託: records held on behalf of another company ---

var acme = &dsrv1.EntrustedRecord{CompanyId: "acme", CompanyName: "Acme 株式会社", ContactEmail: "privacy@acme.example", RecordCount: 3}

func (h *harness) instruct(d time.Duration, company string, proceed bool) *update {
	return h.update(d, contract.UpdateEntrustedInstruction,
		&dsrv1.EntrustedInstruction{Actor: staff, CompanyId: company, Proceed: proceed, Note: "phone call with Acme"})
}

func TestEntrustedRecordsAwaitTheCompanysInstructionAndProceedOnIt(t *testing.T) {
	h := deletionJP(t)
	h.verifiedAndApproved()
	first := h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE)
	first.Entrusted = []*dsrv1.EntrustedRecord{acme}
	answered := sent + time.Minute
	h.answer(answered, first)
	waiting := h.statusAt(answered + time.Second)
	unknown := h.instruct(answered+time.Minute, "globex", true)
	noActor := h.update(answered+time.Minute+time.Second, contract.UpdateEntrustedInstruction,
		&dsrv1.EntrustedInstruction{CompanyId: "acme", Proceed: true})
	proceed := h.instruct(answered+2*time.Minute, "acme", true)
	again := h.instruct(answered+2*time.Minute+time.Second, "acme", false)
	h.answer(answered+3*time.Minute, h.result("entrusted", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	out := h.completed()
	st := waiting()
	if st.GetStage() != "awaiting_entrusted" || !slices.Contains(st.GetAttention(), request.AttentionEntrusted) ||
		st.GetWaitingFor() != "instructions from entrusting companies: acme" {
		t.Errorf("after the entrusted records were reported: stage %q attention %v waiting %q",
			st.GetStage(), st.GetAttention(), st.GetWaitingFor())
	}
	e := entrustedStatus(st, "acme")
	if e.GetState() != "waiting" || !slices.Equal(e.GetHolders(), []string{"members"}) ||
		!e.GetDueAt().AsTime().Equal(t0.Add(answered+entrustedWait)) {
		t.Errorf("acme = %v; want waiting for members' records until +%v", e, answered+entrustedWait)
	}
	n := h.onlyNotice(request.NoticeEntrusted)
	if n.At != answered || n.To != request.RecipientCompany || n.CompanyEmail != acme.GetContactEmail() ||
		n.Data.CompanyName != acme.GetCompanyName() || !n.Data.ReplyDue.Equal(t0.Add(answered+entrustedWait)) {
		t.Errorf("entrusted notice at +%v = to %q %q %+v; want to Acme's contact with the due time", n.At, n.To, n.CompanyEmail, n.Data)
	}
	unknown.rejectedWith(t, `no records of entrusting company "globex"`)
	noActor.rejectedWith(t, "actor")
	proceed.succeeded(t)
	again.rejectedWith(t, `company "acme"'s instruction was already settled (proceed)`)
	s := h.sendsTo("members", "entrusted")
	if len(s) != 1 || s[0].At != answered+2*time.Minute || s[0].Attempt != 1 || !slices.Equal(s[0].Include, []string{"acme"}) ||
		s[0].Action != dsrv1.Action_ACTION_ERASE {
		t.Errorf("entrusted round = %+v; want members sent the erase again with Include=[acme] at the instruction", s)
	}
	if len(h.sendsTo("members", "act")) != 1 {
		t.Error("the first round was resent")
	}
	if out.HolderOutcomes["members"] != "OUTCOME_DONE" || len(h.notice(request.NoticeEntrustedReminder)) != 0 || len(h.staffAlerts()) != 0 {
		t.Errorf("outcomes %v reminders %d alerts %v", out.HolderOutcomes, len(h.notice(request.NoticeEntrustedReminder)), h.staffAlerts())
	}
	final := h.finalStatus()
	if entrustedStatus(final, "acme").GetState() != "proceed" || slices.Contains(final.GetAttention(), request.AttentionEntrusted) {
		t.Errorf("final acme %v attention %v", entrustedStatus(final, "acme"), final.GetAttention())
	}
}

// Silence is no instruction: the company is reminded, and when the time is
// up its records are left alone, staff are alerted and the request
// completes without them.
func TestSilentEntrustingCompanyIsRemindedThenTimesOutAndStaffAreAlerted(t *testing.T) {
	h := deletionJP(t)
	h.verifiedAndApproved()
	first := h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE)
	first.Entrusted = []*dsrv1.EntrustedRecord{acme}
	answered := sent + time.Minute
	h.answer(answered, first)
	due := answered + entrustedWait
	running := h.runningAt(due - time.Second)
	h.run()

	out := h.completed()
	if !running() {
		t.Error("ended before the entrusting company's time was up")
	}
	r := h.onlyNotice(request.NoticeEntrustedReminder)
	if r.At != due-entrustedReminderBefore || r.To != request.RecipientCompany || r.CompanyEmail != acme.GetContactEmail() {
		t.Errorf("reminder at +%v to %q %q; want Acme at +%v", r.At, r.To, r.CompanyEmail, due-entrustedReminderBefore)
	}
	if got := h.staffAlerts(); !slices.Equal(got, []string{"entrusted_timeout@" + due.String()}) {
		t.Errorf("staff alerts = %v; want entrusted_timeout at +%v", got, due)
	}
	if s := h.sendsTo("members", "entrusted"); len(s) != 0 {
		t.Errorf("commands after the timeout = %+v; the entrusted records must be left alone", s)
	}
	for _, s := range h.allSends() {
		if len(s.Include) != 0 {
			t.Errorf("a command included entrusted records: %+v", s)
		}
	}
	final := h.finalStatus()
	if entrustedStatus(final, "acme").GetState() != "timed_out" || slices.Contains(final.GetAttention(), request.AttentionEntrusted) {
		t.Errorf("final acme %v attention %v; want timed_out", entrustedStatus(final, "acme"), final.GetAttention())
	}
	if c := h.onlyNotice(request.NoticeCompletion); c.At != due || out.HolderOutcomes["members"] != "OUTCOME_DONE" {
		t.Errorf("completion at +%v outcomes %v; want at +%v", c.At, out.HolderOutcomes, due)
	}
}

func TestDeclinedEntrustedInstructionLeavesTheRecordsAlone(t *testing.T) {
	h := deletionJP(t)
	h.verifiedAndApproved()
	first := h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE)
	first.Entrusted = []*dsrv1.EntrustedRecord{acme}
	h.answer(sent+time.Minute, first)
	declined := h.instruct(sent+2*time.Minute, "acme", false)
	h.run()

	declined.succeeded(t)
	h.completed()
	if s := h.sendsTo("members", "entrusted"); len(s) != 0 || len(h.staffAlerts()) != 0 {
		t.Errorf("entrusted commands %+v alerts %v; want none after a decline", s, h.staffAlerts())
	}
	if c := h.onlyNotice(request.NoticeCompletion); c.At != sent+2*time.Minute {
		t.Errorf("completion at +%v; want right after the decline", c.At)
	}
	if st := entrustedStatus(h.finalStatus(), "acme"); st.GetState() != "declined" {
		t.Errorf("acme = %v; want declined", st)
	}
}

// Holders answer a resend of a command they already carried out from their
// processed-commands table (Replayed). Such an answer to the first round
// arriving during the entrusted round is not the entrusted round's answer.
func TestAStaleResultOfTheFirstRoundDoesNotAnswerTheEntrustedRound(t *testing.T) {
	h := deletionJP(t)
	h.verifiedAndApproved()
	first := h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE) // answers attempt 1 after attempt 2 was sent
	first.Entrusted = []*dsrv1.EntrustedRecord{acme}
	h.answer(sent+sla+time.Minute, first)
	h.instruct(sent+sla+2*time.Minute, "acme", true)
	replayed := h.result("act", "members", 2, dsrv1.Outcome_OUTCOME_DONE)
	replayed.Entrusted, replayed.Replayed = []*dsrv1.EntrustedRecord{acme}, true
	h.answer(sent+sla+3*time.Minute, replayed)
	running := h.runningAt(sent + sla + 3*time.Minute + time.Second)
	h.answer(sent+sla+4*time.Minute, h.result("entrusted", "members", 1, dsrv1.Outcome_OUTCOME_DONE))
	h.run()

	h.completed()
	if !running() {
		t.Errorf("the first round's replayed answer completed the entrusted round; want it ignored "+
			"(BUG: fanOut matches results by holder and action only, not by the round's command id %q)",
			request.CommandID(requestID, "entrusted-members", 1))
	}
	if c := h.onlyNotice(request.NoticeCompletion); c.At != sent+sla+4*time.Minute {
		t.Errorf("completion at +%v; want after the entrusted round's own answer (+%v)", c.At, sent+sla+4*time.Minute)
	}
}
