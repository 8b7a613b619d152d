package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"madoguchi.dev/platform/devinfra"
	"madoguchi.dev/platform/staffsig"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/request"
)

// E2EResult is phase 2.
type E2EResult struct {
	N         int     `json:"n"`
	Completed int     `json:"completed"`
	Failed    int     `json:"failed"`
	Seconds   float64 `json:"seconds"`
	PerSec    float64 `json:"completions_per_sec"`
	// Latency is submit → workflow completed, per request.
	Latency Dist `json:"latency"`
	// Steps: submit → code mail read, verified → staff_review, decided → completed.
	CodeWait   Dist `json:"code_wait"`
	ToReview   Dist `json:"verified_to_staff_review"`
	ToComplete Dist `json:"decided_to_completed"`
	// History of one completed request.
	Activities   int            `json:"activities_per_request"`
	HistoryLen   int            `json:"history_events_per_request"`
	EventsByType map[string]int `json:"history_events_by_type"`
	Entrusted    int            `json:"entrusted_instructions"`
	// UpdateRetries counts updates refused (not yet at the stage) and sent again.
	UpdateRetries int        `json:"update_retries"`
	Bare          BareResult `json:"bare_baseline"`
	Ratio         float64    `json:"ratio"`
	Errors        []string   `json:"errors,omitempty"`
	// Rounds: each round drives N requests, then runs the bare baseline;
	// the figures above are the round with the median ratio, since the bare
	// baseline alone swings widely between runs on a shared machine
	// (docs/performance.md).
	Rounds []E2ERound `json:"rounds,omitempty"`
}

// E2ERound is one round's throughput beside its own baseline.
type E2ERound struct {
	PerSec     float64 `json:"completions_per_sec"`
	BarePerSec float64 `json:"bare_completions_per_sec"`
	Ratio      float64 `json:"ratio"`
}

func (b *bench) e2ePhase(ctx context.Context, res *Results) error {
	rounds := max(1, b.cfg.E2ERounds)
	var all []*E2EResult
	var failed error
	for i := 0; i < rounds; i++ {
		// Every second round runs the bare baseline first (with the
		// previous round's activity count), so that whatever one side
		// leaves behind on the machine slows the other side as often as it
		// is slowed by it.
		bareFirst := 0
		if i%2 == 1 && len(all) > 0 {
			bareFirst = all[len(all)-1].Activities
		}
		r, err := b.e2eRound(ctx, i, bareFirst)
		if r != nil {
			all = append(all, r)
		}
		if err != nil {
			failed = err
			break
		}
	}
	if len(all) == 0 {
		return failed
	}
	byRatio := slices.Clone(all)
	slices.SortFunc(byRatio, func(a, b *E2EResult) int { return cmp.Compare(a.Ratio, b.Ratio) })
	median := byRatio[len(byRatio)/2]
	for _, r := range all {
		median.Rounds = append(median.Rounds, E2ERound{PerSec: r.PerSec, BarePerSec: r.Bare.PerSec, Ratio: round2(r.Ratio)})
	}
	res.E2E = median
	if len(all) > 1 {
		logf("e2e: median ratio %.0f%% over %d rounds", median.Ratio*100, len(all))
	}
	return failed
}

// BareResult: N bare workflows, each running Activities trivial activities
// one after another (as the request workflow runs its own), on the same
// Temporal dev server, worker process and SDK.
type BareResult struct {
	N          int     `json:"n"`
	Activities int     `json:"activities_per_workflow"`
	Completed  int     `json:"completed"`
	Seconds    float64 `json:"seconds"`
	PerSec     float64 `json:"completions_per_sec"`
	Latency    Dist    `json:"latency"`
}

// e2eRound drives N requests to completion, then runs the bare baseline
// with as many activities as one request ran; or, when bareFirst > 0, runs
// the bare baseline with bareFirst activities first.
func (b *bench) e2eRound(ctx context.Context, round, bareFirst int) (*E2EResult, error) {
	n := b.cfg.E2EN
	r := &E2EResult{N: n}
	if bareFirst > 0 {
		if err := b.e2eBare(ctx, r, bareFirst); err != nil {
			return nil, err
		}
	}
	pctx, cancel := context.WithTimeout(ctx, b.cfg.E2ETimeout)
	defer cancel()

	// The person's mailbox and the staff desk poll only while requests are
	// driven: the bare baseline that follows must not share the machine
	// with them.
	dctx, stopDrivers := context.WithCancel(pctx)
	defer stopDrivers()
	mb := newMailbox(b.stk.Mail)
	go mb.run(dctx)
	desk := newDesk(b.tc)
	go desk.run(dctx)

	var total, codeWait, toReview, toComplete latencies
	var mu sync.Mutex
	var first string
	var wg sync.WaitGroup
	start := time.Now()
	var last time.Time
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &driver{b: b, mb: mb, desk: desk, i: round*n + i}
			err := d.drive(pctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.Failed++
				if len(r.Errors) < 10 {
					r.Errors = append(r.Errors, err.Error())
				}
				return
			}
			r.Completed++
			r.Entrusted += d.entrusted
			r.UpdateRetries += d.retries
			if d.done.After(last) {
				last = d.done
			}
			if first == "" {
				first = d.workflowID
			}
			total.add(d.done.Sub(d.submitted))
			codeWait.add(d.codeAt.Sub(d.submitted))
			toReview.add(d.reviewAt.Sub(d.verifiedAt))
			toComplete.add(d.done.Sub(d.decidedAt))
		}()
	}
	wg.Wait()
	stopDrivers()
	el := last.Sub(start)
	r.Seconds, r.PerSec = round1(el.Seconds()), round2(rate(r.Completed, el))
	r.Latency, r.CodeWait = distOf(total.snapshot()), distOf(codeWait.snapshot())
	r.ToReview, r.ToComplete = distOf(toReview.snapshot()), distOf(toComplete.snapshot())
	mb.mu.Lock()
	bySearch := mb.bySearch
	mb.mu.Unlock()
	logf("e2e: %d/%d completed in %.1fs = %.2f/s (p50 %.0f ms, p99 %.0f ms; %d failed); codes found by search: %d; code wait p50/max %.0f/%.0f ms",
		r.Completed, n, r.Seconds, r.PerSec, r.Latency.P50ms, r.Latency.P99ms, r.Failed, bySearch, r.CodeWait.P50ms, r.CodeWait.MaxMs)
	if r.Completed == 0 {
		return nil, fmt.Errorf("no request completed: %v", r.Errors)
	}

	// Count the activities of one real request from its history.
	var err error
	if r.Activities, r.HistoryLen, r.EventsByType, err = b.historyShape(ctx, first); err != nil {
		return r, fmt.Errorf("history of %s: %w", first, err)
	}
	logf("one request: %d history events, %d activities", r.HistoryLen, r.Activities)

	if bareFirst == 0 {
		if err := b.e2eBare(ctx, r, r.Activities); err != nil {
			return r, err
		}
	}
	if r.Bare.PerSec > 0 {
		r.Ratio = r.PerSec / r.Bare.PerSec
	}
	if r.Failed > 0 {
		return r, fmt.Errorf("%d of %d requests did not complete: %s", r.Failed, n, strings.Join(r.Errors, "; "))
	}
	return r, nil
}

// e2eBare runs the round's bare baseline: N workflows of activities each.
func (b *bench) e2eBare(ctx context.Context, r *E2EResult, activities int) error {
	bctx, cancel := context.WithTimeout(ctx, b.cfg.E2ETimeout)
	defer cancel()
	var err error
	if r.Bare, err = b.bareBaseline(bctx, r.N, activities); err != nil {
		return fmt.Errorf("bare baseline: %w", err)
	}
	logf("bare: %d workflows × %d activities in %.1fs = %.2f/s", r.Bare.Completed, r.Bare.Activities, r.Bare.Seconds, r.Bare.PerSec)
	return nil
}

// driver plays the person and the staff for one request.
type driver struct {
	b          *bench
	mb         *mailbox
	desk       *desk
	i          int
	workflowID string
	entrusted  int
	retries    int

	submitted, codeAt, verifiedAt, reviewAt, decidedAt, done time.Time
}

func (d *driver) drive(ctx context.Context) error {
	b := d.b
	email := fmt.Sprintf("bench-%s-e%d@example.jp", b.runID, d.i)
	codeCh := d.mb.expect(email)
	c := newClient(b.stk.IntakeURL)
	defer c.close()
	d.submitted = time.Now()
	// No member number: an unconfirmed one would send every request to
	// identity review (the binding rule), which the round does not settle.
	code, a, err := c.submit(ctx, deletionBody(email, ""), fmt.Sprintf("bench-%s-e%d", b.runID, d.i))
	if err != nil || code != http.StatusAccepted {
		return fmt.Errorf("request %d: submit = %d %v", d.i, code, err)
	}
	d.workflowID = contract.WorkflowID(a.Receipt)
	b.track(d.workflowID)
	defer d.desk.forget(d.workflowID)

	// The person reads the code from the mail.
	var otp string
	select {
	case otp = <-codeCh:
	case <-ctx.Done():
		return fmt.Errorf("request %d: no code mail: %w", d.i, ctx.Err())
	}
	d.codeAt = time.Now()
	var vr dsrv1.VerifyIdentityResult
	if err := d.update(ctx, contract.UpdateVerifyIdentity, &dsrv1.VerifyIdentity{Code: otp}, &vr); err != nil {
		return err
	}
	if vr.GetOutcome() != dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED {
		return fmt.Errorf("request %d: verification %v (code %q)", d.i, vr.GetOutcome(), otp)
	}
	d.verifiedAt = time.Now()

	// Staff approve once the request waits for them.
	select {
	case <-d.desk.await(d.workflowID, request.StageStaffReview):
	case <-ctx.Done():
		return fmt.Errorf("request %d: stage %s not reached: %w", d.i, request.StageStaffReview, ctx.Err())
	}
	d.reviewAt = time.Now()
	var ar dsrv1.ActionResult
	if err := d.update(ctx, contract.UpdateDecide, &dsrv1.Decide{Actor: "bench-staff",
		Outcome: dsrv1.DecisionOutcome_DECISION_OUTCOME_APPROVE, Explanation: "性能測定"}, &ar); err != nil {
		return err
	}
	d.decidedAt = time.Now()

	// Wait for completion, answering entrusting companies if any appear.
	run := b.tc.GetWorkflow(ctx, d.workflowID, "")
	doneCh := make(chan error, 1)
	var out request.Outcome
	go func() { doneCh <- run.Get(ctx, &out) }()
	answered := map[string]bool{}
	atEntrusted := d.desk.await(d.workflowID, request.StageAwaitingEntrusted)
	for {
		select {
		case err := <-doneCh:
			d.done = time.Now()
			if err != nil {
				return fmt.Errorf("request %d: %w", d.i, err)
			}
			if out.Stage != request.StageCompleted {
				return fmt.Errorf("request %d: ended %s (%s)", d.i, out.Stage, out.ClosedReason)
			}
			return nil
		case <-atEntrusted:
			// Once answered, the request may come back to the stage for
			// another company: watch for it again.
			atEntrusted = d.desk.await(d.workflowID, request.StageAwaitingEntrusted)
			st := d.status(ctx)
			if st.GetStage() != string(request.StageAwaitingEntrusted) {
				continue
			}
			for _, e := range st.GetEntrusted() {
				if e.GetState() != "waiting" || answered[e.GetCompanyId()] {
					continue
				}
				if err := d.update(ctx, contract.UpdateEntrustedInstruction, &dsrv1.EntrustedInstruction{Actor: "bench-staff",
					CompanyId: e.GetCompanyId(), Proceed: true, Note: "性能測定"}, &ar); err != nil {
					return err
				}
				answered[e.GetCompanyId()] = true
				d.entrusted++
			}
		case <-ctx.Done():
			return fmt.Errorf("request %d: not completed: %w", d.i, ctx.Err())
		}
	}
}

// update sends a Temporal update, retrying for up to a minute while it is
// refused: the workflow may not have started yet, or not yet reached the
// stage (the code mail goes out just before the stage becomes verifying).
func (d *driver) update(ctx context.Context, name string, arg, result any) error {
	deadline := time.Now().Add(time.Minute)
	for {
		// A staff action is signed afresh for each attempt, as the staff
		// side signs it (its cost is part of what is measured).
		if a, ok := arg.(staffsig.Action); ok {
			if err := d.b.staff.Sign(d.workflowID, name, a.GetActor(), a); err != nil {
				return fmt.Errorf("request %d: sign %s: %w", d.i, name, err)
			}
		}
		h, err := d.b.tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: d.workflowID,
			UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err == nil {
			if err = h.Get(ctx, result); err == nil {
				return nil
			}
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("request %d: update %s: %w", d.i, name, err)
		}
		d.retries++
		time.Sleep(300 * time.Millisecond)
	}
}

func (d *driver) status(ctx context.Context) *dsrv1.RequestStatus {
	v, err := d.b.tc.QueryWorkflow(ctx, d.workflowID, "", contract.QueryStatus)
	if err != nil {
		return nil
	}
	var s dsrv1.RequestStatus
	if v.Get(&s) != nil {
		return nil
	}
	return &s
}

// desk plays the privacy office's staff for a round. As staff do with the
// Temporal UI's saved views, it lists the requests waiting at a stage by the
// DsrStage search attribute, every 300 ms: one visibility query for all the
// round's requests, where a status query per request and poll would put
// hundreds of queries a second on the worker and the server that no office
// would send.
type desk struct {
	tc      client.Client
	mu      sync.Mutex
	waiting map[request.Stage]map[string]chan struct{} // stage → workflow id → closed when seen there
}

func newDesk(tc client.Client) *desk {
	return &desk{tc: tc, waiting: map[request.Stage]map[string]chan struct{}{}}
}

// await returns a channel closed once the workflow is seen at stage.
func (d *desk) await(workflowID string, stage request.Stage) <-chan struct{} {
	ch := make(chan struct{})
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.waiting[stage] == nil {
		d.waiting[stage] = map[string]chan struct{}{}
	}
	d.waiting[stage][workflowID] = ch
	return ch
}

// forget stops watching the workflow at every stage.
func (d *desk) forget(workflowID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.waiting {
		delete(w, workflowID)
	}
}

func (d *desk) run(ctx context.Context) {
	for ctx.Err() == nil {
		d.mu.Lock()
		var stages []request.Stage
		for st, w := range d.waiting {
			if len(w) > 0 {
				stages = append(stages, st)
			}
		}
		d.mu.Unlock()
		for _, st := range stages {
			d.list(ctx, st)
		}
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// list wakes the waiters of every running request visibility shows at stage.
func (d *desk) list(ctx context.Context, stage request.Stage) {
	q := fmt.Sprintf("%s = '%s' AND ExecutionStatus = 'Running'", contract.SAStage, stage)
	var token []byte
	for {
		resp, err := d.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q, PageSize: 1000, NextPageToken: token})
		if err != nil {
			return // the next round tries again
		}
		d.mu.Lock()
		for _, e := range resp.GetExecutions() {
			id := e.GetExecution().GetWorkflowId()
			if ch, ok := d.waiting[stage][id]; ok {
				close(ch)
				delete(d.waiting[stage], id)
			}
		}
		d.mu.Unlock()
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return
		}
	}
}

// mailbox reads verification codes from mailpit for many waiting drivers
// with one poller instead of one search per driver. Each poll reads only the
// messages that arrived since the last (pages, newest first, until one seen
// before): listing the newest 200 every time would cost mailpit CPU during
// a round, taken from the servers being measured, and would miss codes when
// more than 200 mails arrive between two polls (docs/performance.md). A driver
// that waits long falls back to a search.
type mailbox struct {
	m       *devinfra.Mailpit
	mu      sync.Mutex
	waiting map[string]chan string
	seen    map[string]bool
	// unread are code mails whose text could not be read yet: read again
	// at the next poll (the pages stop at the first message seen).
	unread []devinfra.MailSummary
	// bySearch counts the codes found only by the fallback search.
	bySearch int
}

// codeRE finds the code on its labelled line (ja: 確認コード：, en: Verification code:).
var codeRE = regexp.MustCompile(`(?:確認コード|[Cc]ode)\s*[：:]\s*(\d{6})\b`)

// codeSubject marks the verification-code notice (ja and en templates).
func codeSubject(s string) bool {
	return strings.Contains(s, "確認コード") || strings.Contains(strings.ToLower(s), "verification code")
}

func newMailbox(m *devinfra.Mailpit) *mailbox {
	return &mailbox{m: m, waiting: map[string]chan string{}, seen: map[string]bool{}}
}

func (mb *mailbox) expect(addr string) <-chan string {
	ch := make(chan string, 1)
	mb.mu.Lock()
	mb.waiting[strings.ToLower(addr)] = ch
	mb.mu.Unlock()
	return ch
}

func (mb *mailbox) run(ctx context.Context) {
	since := map[string]time.Time{}
	for ctx.Err() == nil {
		codes := mb.unread
		mb.unread = nil
		for _, s := range mb.arrived(ctx) {
			if codeSubject(s.Subject) {
				codes = append(codes, s)
			}
		}
		for _, s := range codes {
			for _, to := range s.To {
				if mb.deliver(ctx, strings.ToLower(to.Address), s.ID) != nil {
					mb.unread = append(mb.unread, s)
				}
			}
		}
		// Fallback: a search for anyone still waiting after 15 s.
		mb.mu.Lock()
		var late []string
		for addr := range mb.waiting {
			if t, ok := since[addr]; !ok {
				since[addr] = time.Now()
			} else if time.Since(t) > 15*time.Second {
				late = append(late, addr)
				since[addr] = time.Now()
			}
		}
		mb.mu.Unlock()
		for _, addr := range late {
			if found, err := mb.m.Messages(ctx, fmt.Sprintf("to:%q", addr)); err == nil {
				for _, s := range found {
					if codeSubject(s.Subject) {
						if mb.deliver(ctx, addr, s.ID) == nil {
							mb.mu.Lock()
							mb.bySearch++
							mb.mu.Unlock()
						}
						break
					}
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// mailPage is how many messages one request for new mail lists.
const mailPage = 50

// arrived returns the messages that arrived since the last poll, newest
// first, and marks them seen. It pages until a message an earlier poll saw:
// every older one was seen then. Messages arriving meanwhile push older ones
// to later pages, so a page may repeat one of this poll's (skipped) but never
// skips one; the newcomers themselves are read by the next poll.
func (mb *mailbox) arrived(ctx context.Context) []devinfra.MailSummary {
	var out []devinfra.MailSummary
	fresh := map[string]bool{}
	done := func() []devinfra.MailSummary {
		for _, s := range out {
			mb.seen[s.ID] = true
		}
		return out
	}
	for start := 0; ; start += mailPage {
		page, err := mb.m.Page(ctx, start, mailPage)
		if err != nil {
			return nil // nothing marked: the next poll reads these again
		}
		for _, s := range page {
			if mb.seen[s.ID] {
				return done()
			}
			if !fresh[s.ID] {
				fresh[s.ID] = true
				out = append(out, s)
			}
		}
		if len(page) < mailPage {
			return done()
		}
	}
}

// deliver hands the code in message id to the driver waiting at addr, if
// any; an error means the text could not be read and should be tried again.
func (mb *mailbox) deliver(ctx context.Context, addr, id string) error {
	mb.mu.Lock()
	ch, ok := mb.waiting[addr]
	mb.mu.Unlock()
	if !ok {
		return nil
	}
	text, err := mb.m.MessageText(ctx, id)
	if err != nil {
		return err
	}
	if m := codeRE.FindStringSubmatch(text); m != nil {
		c := m[1]
		mb.mu.Lock()
		delete(mb.waiting, addr)
		mb.mu.Unlock()
		ch <- c
	}
	return nil
}

// historyShape counts the events of one completed request's history.
func (b *bench) historyShape(ctx context.Context, workflowID string) (activities, events int, byType map[string]int, err error) {
	byType = map[string]int{}
	it := b.tc.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return 0, 0, nil, err
		}
		events++
		t := strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")
		byType[t]++
		if ev.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED {
			activities++
		}
	}
	return activities, events, byType, nil
}

// The bare baseline: a workflow that runs n no-op activities in sequence.
const bareWorkflowName, bareActivityName = "BenchBare", "BenchNoop"

func bareWorkflow(ctx workflow.Context, n int) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	for i := 0; i < n; i++ {
		if err := workflow.ExecuteActivity(ctx, bareActivityName, i).Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

func bareActivity(_ context.Context, i int) (int, error) { return i, nil }

func (b *bench) bareBaseline(ctx context.Context, n, activities int) (BareResult, error) {
	r := BareResult{N: n, Activities: activities}
	// A plain client: no payload codec, as a bare Temporal application.
	c, err := client.DialContext(ctx, client.Options{HostPort: b.stk.Temporal.HostPort, Namespace: b.stk.Temporal.Namespace,
		Logger: quietSDKLogger{}})
	if err != nil {
		return r, err
	}
	defer c.Close()
	queue := "bench-bare-" + b.runID
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(bareWorkflow, workflow.RegisterOptions{Name: bareWorkflowName})
	w.RegisterActivityWithOptions(bareActivity, activity.RegisterOptions{Name: bareActivityName})
	if err := w.Start(); err != nil {
		return r, err
	}
	defer w.Stop()
	var lat latencies
	var mu sync.Mutex
	var last time.Time
	var wg sync.WaitGroup
	var firstErr error
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("bare-%s-%d", b.runID, i), TaskQueue: queue},
				bareWorkflowName, activities)
			if err == nil {
				err = run.Get(ctx, nil)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			now := time.Now()
			lat.add(now.Sub(t))
			r.Completed++
			if now.After(last) {
				last = now
			}
		}()
	}
	wg.Wait()
	el := last.Sub(start)
	r.Seconds, r.PerSec, r.Latency = round1(el.Seconds()), round2(rate(r.Completed, el)), distOf(lat.snapshot())
	if r.Completed < n {
		return r, fmt.Errorf("%d of %d bare workflows completed: %v", r.Completed, n, firstErr)
	}
	return r, nil
}

type quietSDKLogger struct{}

func (quietSDKLogger) Debug(string, ...any) {}
func (quietSDKLogger) Info(string, ...any)  {}
func (quietSDKLogger) Warn(string, ...any)  {}
func (quietSDKLogger) Error(string, ...any) {}
