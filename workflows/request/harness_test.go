package request_test

// The specifications in this package run the DataSubjectRequest workflow in
// the SDK's test environment: activities are mocked (their own I/O is tested
// elsewhere), the person, the staff and the holders are played by delayed
// callbacks (updates and signals at fixed offsets from the start), and time
// is skipped, so a code TTL of an hour or a due date two weeks out costs
// nothing. Each test is named after the rule it specifies.
//
// The harness below mirrors the real Prepare activity with the real policy
// packages (deadline, fee): only the settings are shortened and the holder
// lists are given by the test.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/law/deadline"
	"madoguchi.dev/law/fee"
	"madoguchi.dev/law/kind"
	"madoguchi.dev/law/verification"
	"madoguchi.dev/platform/onetime"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/staffsig"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/notify"
	"madoguchi.dev/workflows/request"
)

var jst = time.FixedZone("JST", 9*3600)

// t0 is when every test request is received: Monday 1 June 2026, 10:00 JST
// (no Japanese holiday in the following three weeks).
var t0 = time.Date(2026, 6, 1, 10, 0, 0, 0, jst)

const (
	requestID = "req-1"
	receipt   = "20260601-ABCDEF"

	// Verification settings of every test request.
	codeTTL        = time.Hour
	reminderBefore = 15 * time.Minute
	maxAttempts    = 3
	maxResends     = 2

	// Every holder answers within sla, and is sent the command at most
	// holderAttempts times before it is escalated.
	sla            = 10 * time.Minute
	holderAttempts = 3

	entrustedWait           = 2 * time.Hour
	entrustedReminderBefore = 30 * time.Minute
	packageTTL              = 24 * time.Hour

	staff = "staff-tanaka"
)

// codes[n] is the code e-mailed as issue n (0 first, then resends).
var codes = []string{"123456", "654321", "246810"}

func testSettings() request.Settings {
	s := request.DefaultSettings()
	s.Verification = verification.Policy{CodeTTL: codeTTL, MaxAttempts: maxAttempts, MaxResends: maxResends,
		ReminderBefore: reminderBefore, CodeLength: 6}
	s.Payment = fee.PaymentPolicy{WindowDays: 3, ReminderDaysBefore: 1}
	s.EntrustedWait, s.EntrustedReminderBefore = entrustedWait, entrustedReminderBefore
	s.PackageTTL = packageTTL
	return s
}

func holder(name string) request.HolderPlan {
	return request.HolderPlan{Name: name, SLA: sla, MaxAttempts: holderAttempts}
}

func submitted(k dsrv1.RequestKind, jurisdiction string) *dsrv1.RequestSubmitted {
	return &dsrv1.RequestSubmitted{
		RequestId: requestID, Receipt: receipt, Kind: k, Jurisdiction: jurisdiction, Locale: "ja",
		SubmittedAt: timestamppb.New(t0),
		Personal:    &dsrv1.Sealed{KeyId: "k1", Nonce: []byte{1, 2, 3}, Ciphertext: []byte("opaque"), Type: "dsr.v1.PersonalData"},
	}
}

// deadlinesOf is what Prepare fixes for a request received at t0.
func deadlinesOf(t *testing.T, jurisdiction string) (deadline.Deadlines, time.Time) {
	t.Helper()
	d, err := deadline.Policy{}.Due(kind.Jurisdiction(jurisdiction), t0)
	if err != nil {
		t.Fatal(err)
	}
	return d, deadline.Policy{}.WarnAt(d)
}

// Records of what the workflow asked of its activities, with the offset
// from t0 at which it asked.
type (
	noticeRec struct {
		At time.Duration
		request.NoticeInput
		// LinkToken is the token SendNotice derives for the link from
		// Data.DownloadLink (the real activity writes it into the mail).
		LinkToken string
	}
	// downloadCodeRec is one download code mailed, with the code itself
	// (what the person reads in the mail).
	downloadCodeRec struct {
		At time.Duration
		request.DownloadCodeInput
		Code string
	}
	issueRec struct {
		At time.Duration
		request.IssueInput
	}
	sendRec struct {
		At time.Duration
		request.SendInput
	}
	upsertRec struct {
		At time.Duration
		SA temporal.SearchAttributes
	}
	purgeRec struct {
		At time.Duration
		ID string
	}
	// timerRec is one durable timer: when it started, for how long, and
	// when it fired or was cancelled (End is -1 while it runs).
	timerRec struct {
		ID       string
		Summary  string
		At, D    time.Duration
		End      time.Duration
		Canceled bool
	}
)

// slowSend makes one command's SendHolderCommand take d of workflow time.
type slowSend struct {
	Holder  string
	Attempt int
	D       time.Duration
}

// harness runs one request against mocked activities and records what the
// workflow asked of them.
type harness struct {
	t    *testing.T
	env  *testsuite.TestWorkflowEnvironment
	acts *request.Activities
	in   *dsrv1.RequestSubmitted

	// What Prepare and FindRelated answer; tests may change them before run.
	Settings request.Settings
	Holders  []request.HolderPlan // the acting round, for kinds with an action
	Locate   []request.HolderPlan
	Related  request.Related
	Slow     []slowSend
	// MemberNumberGiven is what Prepare finds in the personal data.
	MemberNumberGiven bool

	mu        sync.Mutex // activity mocks run on their own goroutines
	prepares  int
	notices   []noticeRec
	issues    []issueRec
	sends     []sendRec
	relatedIn []request.RelatedInput
	packages  []request.PackageInput
	purges    []purgeRec
	stored    []request.StoreInput
	// tokens are the download tokens StorePackage stored packages under.
	tokens        []string
	downloadCodes []downloadCodeRec
	macChecks     []request.CodeMACInput
	// payloads are the JSON of every activity's input and result and of
	// every child workflow's input: what history would keep.
	payloads []string
	// codes derives download secrets, tokens and codes as the worker does,
	// with a ring of the test's own.
	codes     onetime.Codes
	erasures  []request.ErasureInput
	concluded []request.ConcludedInput
	extends   []request.ExtendInput
	upserts   []upsertRec
	timers    []timerRec
	// summary is the Summary of the timer being started (observer).
	summary string
	// versions: each workflow.GetVersion the workflow asked, in order, as
	// "change=version".
	versions []string
	// digests: each typed code the workflow had the worker digest.
	digests []request.CodeMACInput
	// staffKey signs staff actions as services/staff does, on the test's
	// clock; the workflow trusts its public key (StaffKeys) alone.
	staffKey  *staffsig.Signer
	StaffKeys *staffsig.Keys
}

func newHarness(t *testing.T, in *dsrv1.RequestSubmitted) *harness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	ring, err := seal.NewRing("verify-test", map[string][]byte{"verify-test": []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, env: suite.NewTestWorkflowEnvironment(), acts: &request.Activities{}, in: in,
		Settings: testSettings(), Holders: []request.HolderPlan{holder("members")}, codes: onetime.Codes{Ring: ring}}
	h.staffKey, h.StaffKeys = newStaffKey(t, "staff-test")
	h.staffKey.Now = h.env.Now
	h.env.SetStartTime(t0)
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: h.workflowID()})
	h.env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&observer{h: h}}})
	h.recordTimers()
	request.Register(h.env, h.acts, h.StaffKeys)
	return h
}

// newStaffKey makes a staff signing key of id, as `madoguchi keygen
// --staff` does, and the verification keys that trust it alone.
func newStaffKey(t *testing.T, id string) (*staffsig.Signer, *staffsig.Keys) {
	t.Helper()
	signing, verify, err := staffsig.NewKeyPair(id)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := staffsig.ParseSigningKey(signing)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := staffsig.ParseVerifyKeys(verify)
	if err != nil {
		t.Fatal(err)
	}
	return signer, keys
}

// workflowID is the id of the request's workflow, as the bridge starts it.
func (h *harness) workflowID() string { return contract.WorkflowID(h.in.GetReceipt()) }

// recordTimers keeps every timer the workflow starts, with the Summary
// that observer saw (the test environment's listeners get only ids).
func (h *harness) recordTimers() {
	end := func(id string, canceled bool) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for i := range h.timers {
			if h.timers[i].ID == id && h.timers[i].End < 0 {
				h.timers[i].End, h.timers[i].Canceled = h.since(), canceled
			}
		}
	}
	h.env.SetOnTimerScheduledListener(func(id string, d time.Duration) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.timers = append(h.timers, timerRec{ID: id, Summary: h.summary, At: h.since(), D: d, End: -1})
	})
	h.env.SetOnTimerFiredListener(func(id string) { end(id, false) })
	h.env.SetOnTimerCanceledListener(func(id string) { end(id, true) })
}

// observer tells the harness what the workflow asks of the SDK that the
// test environment's listeners do not show: each timer's Summary as it
// starts, and each GetVersion.
type observer struct {
	interceptor.WorkerInterceptorBase
	h *harness
}

func (t *observer) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &observerActivity{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, h: t.h}
}

// observerActivity keeps each activity's input and result as JSON.
type observerActivity struct {
	interceptor.ActivityInboundInterceptorBase
	h *harness
}

func (o *observerActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	res, err := o.Next.ExecuteActivity(ctx, in)
	o.h.keepPayload(in.Args...)
	o.h.keepPayload(res)
	return res, err
}

// keepPayload records values as the JSON a data converter would write.
func (h *harness) keepPayload(vs ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range vs {
		b, err := json.Marshal(v)
		if err != nil {
			h.t.Errorf("payload %T: %v", v, err)
		}
		h.payloads = append(h.payloads, string(b))
	}
}

func (t *observer) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &observerInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, h: t.h}
}

type observerInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	h *harness
}

func (i *observerInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&observerOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, h: i.h})
}

type observerOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	h *harness
}

func (o *observerOutbound) GetVersion(ctx workflow.Context, changeID string, minSupported, maxSupported workflow.Version) workflow.Version {
	v := o.Next.GetVersion(ctx, changeID, minSupported, maxSupported)
	o.h.mu.Lock()
	o.h.versions = append(o.h.versions, fmt.Sprintf("%s=%d", changeID, v))
	o.h.mu.Unlock()
	return v
}

func (o *observerOutbound) ExecuteChildWorkflow(ctx workflow.Context, childWorkflowType string, args ...any) workflow.ChildWorkflowFuture {
	o.h.keepPayload(args...)
	return o.Next.ExecuteChildWorkflow(ctx, childWorkflowType, args...)
}

func (o *observerOutbound) NewTimerWithOptions(ctx workflow.Context, d time.Duration, options workflow.TimerOptions) workflow.Future {
	o.h.mu.Lock()
	o.h.summary = options.Summary
	o.h.mu.Unlock()
	f := o.Next.NewTimerWithOptions(ctx, d, options)
	o.h.mu.Lock()
	o.h.summary = ""
	o.h.mu.Unlock()
	return f
}

func (h *harness) since() time.Duration { return h.env.Now().Sub(t0) }

// startedBeforeBundle makes the request one recorded before
// ChangeBundle202612: it has no such marker, and asks for each change.
func (h *harness) startedBeforeBundle() {
	h.env.OnGetVersion(request.ChangeBundle202612, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
}

// mockActivities installs the mocks; called by run so that tests can set
// the harness's answers first.
func (h *harness) mockActivities() {
	env, acts := h.env, h.acts
	env.OnActivity(acts.Prepare, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in request.PrepareInput) (request.Prepared, error) {
			h.mu.Lock()
			h.prepares++
			h.mu.Unlock()
			j, err := kind.ParseJurisdiction(in.Jurisdiction)
			if err != nil {
				return request.Prepared{}, temporal.NewNonRetryableApplicationError("unknown jurisdiction", "InvalidInput", err)
			}
			k, err := kind.Parse(contract.KindName(in.Kind))
			if err != nil {
				return request.Prepared{}, temporal.NewNonRetryableApplicationError("unknown kind", "InvalidInput", err)
			}
			d, err := deadline.Policy{}.Due(j, in.ReceivedAt)
			if err != nil {
				return request.Prepared{}, err
			}
			assessment, err := fee.Assess(k, j, false, h.Settings.Fee)
			if err != nil {
				return request.Prepared{}, err
			}
			p := request.Prepared{Settings: h.Settings, Deadlines: d, WarnAt: deadline.Policy{}.WarnAt(d), Fee: assessment,
				Plan: request.Plan{Action: request.ActionFor(in.Kind)}, Locate: h.Locate, SubjectRef: "psn_subject"}
			if p.Plan.Action != dsrv1.Action_ACTION_UNSPECIFIED {
				p.Plan.Holders = h.Holders
			}
			if p.DownloadSecret, err = h.codes.NewSecret(onetime.Download, in.RequestID); err != nil {
				return request.Prepared{}, err
			}
			if p.CodeSecret, err = h.codes.NewSecret(onetime.Verification, in.RequestID); err != nil {
				return request.Prepared{}, err
			}
			p.MemberNumberGiven = h.MemberNumberGiven
			return p, nil
		})
	env.OnActivity(acts.IssueVerificationCode, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in request.IssueInput) ([]byte, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.issues = append(h.issues, issueRec{h.since(), in})
			if in.Secret == nil { // a request from before ChangeIdentity202612
				return verification.HashCode(codes[in.Issue]), nil
			}
			return h.codes.MAC(in.Secret, onetime.Verification, in.RequestID, in.Issue, codes[in.Issue])
		})
	env.OnActivity(request.CodeDigestActivity, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in request.CodeMACInput) ([]byte, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.digests = append(h.digests, in)
			return h.codes.MAC(in.Secret, onetime.Verification, in.RequestID, in.Issue, in.Code)
		})
	env.OnActivity(acts.SendNotice, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in request.NoticeInput) (string, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			rec := noticeRec{At: h.since(), NoticeInput: in}
			if l := in.Data.DownloadLink; l != nil {
				tok, err := h.codes.Token(l.Secret, onetime.Download, l.RequestID)
				if err != nil {
					return "", err
				}
				rec.LinkToken = tok
			}
			h.notices = append(h.notices, rec)
			return in.ID, nil
		})
	recordSend := func(_ context.Context, in request.SendInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.sends = append(h.sends, sendRec{h.since(), in})
		return nil
	}
	for _, s := range h.Slow {
		env.OnActivity(acts.SendHolderCommand, mock.Anything, mock.MatchedBy(func(in request.SendInput) bool {
			return in.Holder == s.Holder && in.Attempt == s.Attempt
		})).After(s.D).Return(recordSend)
	}
	env.OnActivity(acts.SendHolderCommand, mock.Anything, mock.Anything).Return(recordSend)
	env.OnActivity(acts.FindRelated, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in request.RelatedInput) (request.Related, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.relatedIn = append(h.relatedIn, in)
			return h.Related, nil
		})
	env.OnActivity(acts.ExtendDeadline, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in request.ExtendInput) (request.Extended, error) {
			h.mu.Lock()
			h.extends = append(h.extends, in)
			h.mu.Unlock()
			// The real activity: the zero deadline policy needs no I/O.
			return (&request.Activities{}).ExtendDeadline(ctx, in)
		})
	env.OnActivity(acts.AssemblePackage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in request.PackageInput) (request.PackageRef, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.packages = append(h.packages, in)
			return request.PackageRef{ID: "pkg-1", Token: "download-token-1", ExpiresAt: in.ExpiresAt}, nil
		})
	env.OnActivity(acts.StorePackage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in request.StoreInput) (request.StoredPackage, error) {
			tok, err := h.codes.Token(in.Secret, onetime.Download, in.RequestID)
			if err != nil {
				return request.StoredPackage{}, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			h.stored = append(h.stored, in)
			h.tokens = append(h.tokens, tok)
			return request.StoredPackage{ID: packageIDOf(tok), ExpiresAt: in.ExpiresAt}, nil
		})
	env.OnActivity(acts.IssueDownloadCode, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in request.DownloadCodeInput) ([]byte, error) {
			code, err := h.codes.Code(in.Secret, onetime.Download, in.RequestID, in.Issue)
			if err != nil {
				return nil, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			h.downloadCodes = append(h.downloadCodes, downloadCodeRec{At: h.since(), DownloadCodeInput: in, Code: code})
			return h.codes.MAC(in.Secret, onetime.Download, in.RequestID, in.Issue, code)
		})
	env.OnActivity(acts.DownloadCodeMAC, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in request.CodeMACInput) ([]byte, error) {
			h.mu.Lock()
			h.macChecks = append(h.macChecks, in)
			h.mu.Unlock()
			return h.codes.MAC(in.Secret, onetime.Download, in.RequestID, in.Issue, in.Code)
		})
	env.OnActivity(acts.PurgePackage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, id string) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.purges = append(h.purges, purgeRec{h.since(), id})
			return nil
		})
	env.OnActivity(acts.PublishErasureCompleted, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in request.ErasureInput) (string, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.erasures = append(h.erasures, in)
			return in.RequestID + ".erasure-completed", nil
		})
	env.OnActivity(acts.PublishRequestConcluded, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in request.ConcludedInput) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.concluded = append(h.concluded, in)
			return nil
		})
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.upserts = append(h.upserts, upsertRec{h.since(), args.Get(0).(temporal.SearchAttributes)})
	}).Return(nil)
}

// run executes the workflow to its end (time skipped). A panic in workflow
// code is always reported: on a real worker it blocks the request.
func (h *harness) run() {
	h.mockActivities()
	h.env.ExecuteWorkflow(contract.WorkflowType, h.in)
	var panicErr *temporal.PanicError
	if err := h.env.GetWorkflowError(); errors.As(err, &panicErr) || (err != nil && strings.Contains(err.Error(), "already blocked")) {
		h.t.Errorf("workflow code panicked (on a real worker the workflow task would fail and the request stall): %v", err)
	}
}

// at runs fn at offset d from t0.
func (h *harness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

// --- the person, the staff, the holders ---

// update is one Temporal update sent at an offset, and what became of it.
type update struct {
	name      string
	at        time.Duration
	sent      bool
	accepted  bool
	rejected  error
	completed bool
	result    any
	err       error
}

// update sends arg as the update name at offset d. A staff action is
// signed then and there with the harness's staff key for the actor it
// names, as services/staff signs it (one that carries a signature already
// is sent as it is).
func (h *harness) update(d time.Duration, name string, arg any) *update {
	return h.send(d, name, func() any { return h.signed(name, arg) })
}

// unsigned sends arg exactly as given: a staff action without a
// signature, as anyone who reaches the Temporal frontend could send it.
func (h *harness) unsigned(d time.Duration, name string, arg any) *update {
	return h.send(d, name, func() any { return arg })
}

// send sends the update that arg makes at offset d.
func (h *harness) send(d time.Duration, name string, arg func() any) *update {
	u := &update{name: name, at: d}
	h.at(d, func() {
		u.sent = true
		h.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
			OnAccept:   func() { u.accepted = true },
			OnReject:   func(err error) { u.rejected = err },
			OnComplete: func(r any, err error) { u.completed, u.result, u.err = true, r, err },
		}, arg())
	})
	return u
}

// signed is a copy of arg signed by the harness's staff key for update
// name on this request, now, when arg is an unsigned staff action; else
// arg itself.
func (h *harness) signed(name string, arg any) any {
	a, ok := arg.(staffsig.Action)
	if !ok || a.GetSignature() != nil {
		return arg
	}
	c := proto.Clone(a).(staffsig.Action)
	if err := h.staffKey.Sign(h.workflowID(), name, a.GetActor(), c); err != nil {
		h.t.Errorf("sign %s: %v", name, err)
	}
	return c
}

// succeeded requires that the update was accepted and completed without error.
func (u *update) succeeded(t *testing.T) {
	t.Helper()
	switch {
	case !u.sent:
		t.Errorf("%s at +%v was never sent (the workflow had ended)", u.name, u.at)
	case u.rejected != nil:
		t.Errorf("%s at +%v rejected: %v", u.name, u.at, u.rejected)
	case !u.completed || u.err != nil:
		t.Errorf("%s at +%v: completed=%v err=%v", u.name, u.at, u.completed, u.err)
	}
}

// rejectedWith requires that the validator rejected the update with a
// message containing want.
func (u *update) rejectedWith(t *testing.T, want string) {
	t.Helper()
	switch {
	case !u.sent:
		t.Errorf("%s at +%v was never sent (the workflow had ended)", u.name, u.at)
	case u.accepted:
		t.Errorf("%s at +%v was accepted (result %v, err %v); want rejected with %q", u.name, u.at, u.result, u.err, want)
	case u.rejected == nil || !strings.Contains(u.rejected.Error(), want):
		t.Errorf("%s at +%v rejected with %v; want %q", u.name, u.at, u.rejected, want)
	}
}

func (u *update) verifyResult(t *testing.T) *dsrv1.VerifyIdentityResult {
	t.Helper()
	u.succeeded(t)
	r, _ := u.result.(*dsrv1.VerifyIdentityResult)
	if r == nil {
		t.Fatalf("%s at +%v: result %T, want *VerifyIdentityResult", u.name, u.at, u.result)
	}
	return r
}

func (h *harness) verify(d time.Duration, code string) *update {
	return h.update(d, contract.UpdateVerifyIdentity, &dsrv1.VerifyIdentity{Code: code})
}

func (h *harness) resend(d time.Duration) *update {
	return h.update(d, contract.UpdateResendCode, &dsrv1.ResendCode{})
}

func (h *harness) decide(d time.Duration, dec *dsrv1.Decide) *update {
	return h.update(d, contract.UpdateDecide, dec)
}

func approve() *dsrv1.Decide {
	return &dsrv1.Decide{Actor: staff, Outcome: dsrv1.DecisionOutcome_DECISION_OUTCOME_APPROVE}
}

func refuse(reason, explanation string) *dsrv1.Decide {
	return &dsrv1.Decide{Actor: staff, Outcome: dsrv1.DecisionOutcome_DECISION_OUTCOME_REFUSE,
		ReasonCode: reason, Explanation: explanation}
}

func (h *harness) withdraw(d time.Duration) *update {
	return h.update(d, contract.UpdateWithdraw, &dsrv1.Withdraw{Reason: "changed my mind"})
}

func (h *harness) payFee(d time.Duration, amount int64) *update {
	return h.update(d, contract.UpdateMarkFeePaid, &dsrv1.MarkFeePaid{Actor: "payment-provider", Reference: "pay-1", AmountJpy: amount})
}

func (h *harness) retryHolder(d time.Duration, name string) *update {
	return h.update(d, contract.UpdateRetryHolder, &dsrv1.RetryHolder{Actor: staff, Holder: name})
}

// Offsets of the usual path: the person enters the code after a minute and
// staff decide a minute later, when the commands go out.
const (
	verifiedAt = time.Minute
	decidedAt  = 3 * time.Minute
)

// verifiedAndApproved plays the usual path up to the fan-out: right code at
// verifiedAt, staff approval at decidedAt.
func (h *harness) verifiedAndApproved() {
	h.verify(verifiedAt, codes[0])
	h.decide(decidedAt, approve())
}

// result is a holder's answer to one attempt of one round ("locate", "act",
// "entrusted") of this request, with the command id the real activity uses.
func (h *harness) result(phase, name string, attempt int, o dsrv1.Outcome) *dsrv1.HolderResult {
	action := request.ActionFor(h.in.GetKind())
	if phase == "locate" {
		action = dsrv1.Action_ACTION_LOCATE
	}
	return &dsrv1.HolderResult{
		CommandId: request.CommandID(h.in.GetRequestId(), phase+"-"+name, attempt), RequestId: h.in.GetRequestId(),
		Receipt: h.in.GetReceipt(), Holder: name, Action: action, Outcome: o,
	}
}

func (h *harness) answer(d time.Duration, r *dsrv1.HolderResult) {
	h.at(d, func() { h.env.SignalWorkflow(contract.SignalHolderResult, r) })
}

// --- what the workflow shows ---

func (h *harness) query() (*dsrv1.RequestStatus, error) {
	v, err := h.env.QueryWorkflow(contract.QueryStatus)
	if err != nil {
		return nil, err
	}
	st := &dsrv1.RequestStatus{}
	return st, v.Get(st)
}

// statusAt captures the status query at offset d.
func (h *harness) statusAt(d time.Duration) func() *dsrv1.RequestStatus {
	var st *dsrv1.RequestStatus
	h.at(d, func() {
		var err error
		if st, err = h.query(); err != nil {
			h.t.Errorf("status query at +%v: %v", d, err)
		}
	})
	return func() *dsrv1.RequestStatus {
		h.t.Helper()
		if st == nil {
			h.t.Fatalf("status query at +%v never ran (the workflow had ended)", d)
		}
		return st
	}
}

// finalStatus queries the status after the workflow has ended.
func (h *harness) finalStatus() *dsrv1.RequestStatus {
	h.t.Helper()
	st, err := h.query()
	if err != nil {
		h.t.Fatalf("status query after the end: %v", err)
	}
	return st
}

// runningAt reports whether the workflow was still running at offset d.
func (h *harness) runningAt(d time.Duration) func() bool {
	var running, ran bool
	h.at(d, func() { running, ran = !h.env.IsWorkflowCompleted(), true })
	return func() bool {
		h.t.Helper()
		return ran && running
	}
}

// outcome requires that the workflow ended successfully and returns its result.
func (h *harness) outcome() request.Outcome {
	h.t.Helper()
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not end")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("workflow failed: %v", err)
	}
	var out request.Outcome
	if err := h.env.GetWorkflowResult(&out); err != nil {
		h.t.Fatalf("decode outcome: %v", err)
	}
	return out
}

// closedAs requires that the request was closed for reason.
func (h *harness) closedAs(reason string) request.Outcome {
	h.t.Helper()
	out := h.outcome()
	if out.Stage != request.StageClosed || out.ClosedReason != reason {
		h.t.Errorf("outcome stage %q reason %q; want closed %q", out.Stage, out.ClosedReason, reason)
	}
	if st := h.finalStatus(); st.GetStage() != string(request.StageClosed) || st.GetClosedReason() != reason {
		h.t.Errorf("final status stage %q closed_reason %q; want closed %q", st.GetStage(), st.GetClosedReason(), reason)
	}
	return out
}

// completed requires that the request completed.
func (h *harness) completed() request.Outcome {
	h.t.Helper()
	out := h.outcome()
	if out.Stage != request.StageCompleted || out.ClosedReason != "" {
		h.t.Errorf("outcome stage %q reason %q; want completed", out.Stage, out.ClosedReason)
	}
	return out
}

// --- what the workflow asked of its activities ---

func (h *harness) allNotices() []noticeRec {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.notices)
}

// noticeKinds lists the kinds of notices sent to recipient, in order.
func (h *harness) noticeKinds(recipient string) []notify.Kind {
	var out []notify.Kind
	for _, n := range h.allNotices() {
		if n.To == recipient {
			out = append(out, n.Kind)
		}
	}
	return out
}

// notice returns the notices of one kind.
func (h *harness) notice(kindName notify.Kind) []noticeRec {
	var out []noticeRec
	for _, n := range h.allNotices() {
		if n.Kind == kindName {
			out = append(out, n)
		}
	}
	return out
}

// onlyNotice requires exactly one notice of kindName and returns it.
func (h *harness) onlyNotice(kindName notify.Kind) noticeRec {
	h.t.Helper()
	ns := h.notice(kindName)
	if len(ns) != 1 {
		h.t.Fatalf("%d %q notices (all sent: %v); want exactly one", len(ns), kindName, h.noticeKinds(request.RecipientPerson))
	}
	return ns[0]
}

// staffAlerts lists the staff alerts as "alert@offset".
func (h *harness) staffAlerts() []string {
	var out []string
	for _, n := range h.notice(request.NoticeStaffAlert) {
		out = append(out, fmt.Sprintf("%s@%v", n.Data.Alert, n.At))
	}
	return out
}

func (h *harness) allIssues() []issueRec {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.issues)
}

// reminders lists the offsets at which code reminders were sent.
func (h *harness) reminders() []time.Duration {
	var out []time.Duration
	for _, i := range h.allIssues() {
		if i.Reminder {
			out = append(out, i.At)
		}
	}
	return out
}

func (h *harness) allSends() []sendRec {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.sends)
}

// sendsTo lists the commands sent to one holder in one round.
func (h *harness) sendsTo(name, phase string) []sendRec {
	var out []sendRec
	for _, s := range h.allSends() {
		if s.Holder == name && s.Phase == phase {
			out = append(out, s)
		}
	}
	return out
}

// attempts lists "attempt@offset" for one holder in one round.
func (h *harness) attempts(name, phase string) []string {
	var out []string
	for _, s := range h.sendsTo(name, phase) {
		out = append(out, fmt.Sprintf("%d@%v", s.Attempt, s.At))
	}
	return out
}

func at(attempt int, d time.Duration) string { return fmt.Sprintf("%d@%v", attempt, d) }

func (h *harness) conclusions() []request.ConcludedInput {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.concluded)
}

func (h *harness) erasureEvents() []request.ErasureInput {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.erasures)
}

// attentionUpserted returns the first offset at which DsrAttention was
// upserted containing reason.
func (h *harness) attentionUpserted(reason string) (time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range h.upserts {
		if list, ok := u.SA.GetKeywordList(request.SAAttention); ok && slices.Contains(list, reason) {
			needs, _ := u.SA.GetBool(request.SANeedsAttention)
			if !needs {
				h.t.Errorf("DsrAttention %v upserted with DsrNeedsAttention false", list)
			}
			return u.At, true
		}
	}
	return 0, false
}

// lastAttention is the DsrAttention search attribute as last upserted.
func (h *harness) lastAttention() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var last []string
	for _, u := range h.upserts {
		if list, ok := u.SA.GetKeywordList(request.SAAttention); ok {
			last = list
		}
	}
	return last
}

// stages lists the DsrStage values upserted, in order.
func (h *harness) stages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, u := range h.upserts {
		if s, ok := u.SA.GetKeyword(request.SAStage); ok {
			out = append(out, s)
		}
	}
	return out
}

// dueAtUpserts lists the DsrDueAt values upserted, in order.
func (h *harness) dueAtUpserts() []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Time
	for _, u := range h.upserts {
		if d, ok := u.SA.GetTime(request.SADueAt); ok {
			out = append(out, d)
		}
	}
	return out
}

// timersNamed lists the timers whose Summary is summary, in start order.
func (h *harness) timersNamed(summary string) []timerRec {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []timerRec
	for _, t := range h.timers {
		if t.Summary == summary {
			out = append(out, t)
		}
	}
	return out
}

// mostRunningAtOnce is the largest number of timers with a Summary
// starting with prefix that ran at the same time (a timer cancelled or
// fired at the instant another starts does not overlap it).
func (h *harness) mostRunningAtOnce(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	most := 0
	for _, t := range h.timers {
		n := 0
		for _, u := range h.timers {
			if strings.HasPrefix(u.Summary, prefix) && u.At <= t.At && (u.End < 0 || u.End > t.At) {
				n++
			}
		}
		if strings.HasPrefix(t.Summary, prefix) {
			most = max(most, n)
		}
	}
	return most
}

func holderStatus(st *dsrv1.RequestStatus, name string) *dsrv1.HolderStatus {
	for _, hs := range st.GetHolders() {
		if hs.GetName() == name {
			return hs
		}
	}
	return nil
}

func entrustedStatus(st *dsrv1.RequestStatus, company string) *dsrv1.EntrustedStatus {
	for _, e := range st.GetEntrusted() {
		if e.GetCompanyId() == company {
			return e
		}
	}
	return nil
}
