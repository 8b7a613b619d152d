package request_test

// A download link alone is not enough (since ChangeIdentity202612): the
// package is stored under a token only activities derive, the link is
// mailed by the notice activity, and the package's own workflow opens it
// only for a fresh one-time code mailed to the same address, once per
// code, counting each opening.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"

	"madoguchi.dev/law/verification"
	"madoguchi.dev/platform/disclosure"
	"madoguchi.dev/platform/onetime"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/request"
)

// startedBeforeIdentity makes the request one recorded before
// ChangeIdentity202612, whose codes were kept as their SHA-256.
func (h *harness) startedBeforeIdentity() {
	h.env.OnGetVersion(request.ChangeIdentity202612, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.env.OnActivity(h.acts.IssueVerificationCode, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in request.IssueInput) ([]byte, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.issues = append(h.issues, issueRec{h.since(), in})
			return verification.HashCode(codes[in.Issue]), nil
		})
}

func packageIDOf(token string) string { return disclosure.ID(token) }

func exportOf(name string) *dsrv1.Sealed {
	return &dsrv1.Sealed{KeyId: "k1", Ciphertext: []byte(name + " export"), Type: "dsr.v1.Export"}
}

// disclosureDone is a free CCPA disclosure (no fee, no staff decision)
// whose two holders export; it completes at the returned offset.
func disclosureDone(t *testing.T) (*harness, time.Duration) {
	h := newHarness(t, submitted(dsrv1.RequestKind_REQUEST_KIND_DISCLOSURE, contract.JurisdictionCCPA))
	h.Holders = []request.HolderPlan{holder("members"), holder("support")}
	h.verify(verifiedAt, codes[0])
	support := h.result("act", "support", 1, dsrv1.Outcome_OUTCOME_DONE)
	support.Export = exportOf("support")
	h.answer(2*time.Minute, support)
	members := h.result("act", "members", 1, dsrv1.Outcome_OUTCOME_DONE)
	members.Export = exportOf("members")
	done := 3 * time.Minute
	h.answer(done, members)
	return h, done
}

// packageHarness runs a disclosure package's workflow on its own, as the
// request's workflow starts it (the test environment does not carry an
// abandoned child on once its parent has ended). The package expires at
// t0+packageTTL.
func packageHarness(t *testing.T) (*harness, request.DisclosurePackageInput) {
	h := newHarness(t, submitted(dsrv1.RequestKind_REQUEST_KIND_DISCLOSURE, contract.JurisdictionCCPA))
	secret, err := h.codes.NewSecret(onetime.Download, requestID)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := h.codes.Token(secret, onetime.Download, requestID)
	if err != nil {
		t.Fatal(err)
	}
	return h, request.DisclosurePackageInput{PackageID: packageIDOf(tok), RequestID: requestID, Receipt: receipt,
		Locale: "ja", Kind: "disclosure", Jurisdiction: contract.JurisdictionCCPA, Personal: h.in.GetPersonal(),
		Secret: secret, ExpiresAt: t0.Add(packageTTL), Policy: request.DefaultDownloadPolicy()}
}

// runPackage executes the package's workflow to its end (time skipped).
func (h *harness) runPackage(in request.DisclosurePackageInput) {
	h.mockActivities()
	h.env.ExecuteWorkflow(contract.PackageWorkflowType, in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("the package's workflow did not end")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Errorf("the package's workflow failed: %v", err)
	}
}

// packageUpdate sends an update to the package's workflow at offset d; arg
// is made then (a code is known only once mailed).
func (h *harness) packageUpdate(d time.Duration, name string, arg func() any) *update {
	return h.send(d, name, arg)
}

func (h *harness) requestCode(d time.Duration) *update {
	return h.packageUpdate(d, contract.UpdateRequestDownloadCode, func() any { return &dsrv1.RequestDownloadCode{} })
}

func (h *harness) openWith(d time.Duration, code func() string) *update {
	return h.packageUpdate(d, contract.UpdateOpenPackage, func() any { return &dsrv1.OpenPackage{Code: code()} })
}

// mailedCode is the download code mailed as issue n.
func (h *harness) mailedCode(n int) func() string {
	return func() string {
		h.mu.Lock()
		defer h.mu.Unlock()
		if n < len(h.downloadCodes) {
			return h.downloadCodes[n].Code
		}
		h.t.Errorf("download code %d was never mailed", n)
		return ""
	}
}

// guessFor is a well-formed code other than the one mailed as issue n.
func (h *harness) guessFor(n int) func() string {
	return func() string {
		if h.mailedCode(n)() == "000000" {
			return "111111"
		}
		return "000000"
	}
}

func fixed(code string) func() string { return func() string { return code } }

// packageStatusAt captures the package's query at offset d.
func (h *harness) packageStatusAt(d time.Duration) func() *dsrv1.PackageStatus {
	var st *dsrv1.PackageStatus
	h.at(d, func() {
		v, err := h.env.QueryWorkflow(contract.QueryPackage)
		if err != nil {
			h.t.Errorf("package query at +%v: %v", d, err)
			return
		}
		st = &dsrv1.PackageStatus{}
		if err := v.Get(st); err != nil {
			h.t.Errorf("package query at +%v: %v", d, err)
		}
	})
	return func() *dsrv1.PackageStatus {
		h.t.Helper()
		if st == nil {
			h.t.Fatalf("package query at +%v never answered", d)
		}
		return st
	}
}

func (h *harness) allPayloads() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.payloads...)
}

// childInput is the input the request's workflow started the package's
// workflow with.
func (h *harness) childInput(t *testing.T) request.DisclosurePackageInput {
	t.Helper()
	for _, pl := range h.allPayloads() {
		var in request.DisclosurePackageInput
		if strings.Contains(pl, `"policy"`) && json.Unmarshal([]byte(pl), &in) == nil && in.PackageID != "" {
			return in
		}
	}
	t.Fatal("the package's workflow was never started")
	return request.DisclosurePackageInput{}
}

func (u *update) openResult(t *testing.T) *dsrv1.OpenPackageResult {
	t.Helper()
	u.succeeded(t)
	r, _ := u.result.(*dsrv1.OpenPackageResult)
	if r == nil {
		t.Fatalf("%s at +%v: result %T, want *OpenPackageResult", u.name, u.at, u.result)
	}
	return r
}

func (u *update) codeResult(t *testing.T) *dsrv1.RequestDownloadCodeResult {
	t.Helper()
	u.succeeded(t)
	r, _ := u.result.(*dsrv1.RequestDownloadCodeResult)
	if r == nil {
		t.Fatalf("%s at +%v: result %T, want *RequestDownloadCodeResult", u.name, u.at, u.result)
	}
	return r
}

func wantOpen(t *testing.T, u *update, outcome dsrv1.OpenOutcome, attemptsLeft int32) {
	t.Helper()
	r := u.openResult(t)
	if r.GetOutcome() != outcome || r.GetAttemptsLeft() != attemptsLeft {
		t.Errorf("code at +%v: %v attempts_left %d; want %v %d", u.at, r.GetOutcome(), r.GetAttemptsLeft(), outcome, attemptsLeft)
	}
}

func TestADisclosurePackageIsStoredUnderALinkThatNeverEntersHistory(t *testing.T) {
	h, done := disclosureDone(t)
	h.run()

	out := h.completed()
	if len(h.packages) != 0 {
		t.Errorf("AssemblePackage called %d times; a new request stores its package with StorePackage", len(h.packages))
	}
	if len(h.stored) != 1 || len(h.tokens) != 1 {
		t.Fatalf("StorePackage called %d times; want once", len(h.stored))
	}
	tok, p := h.tokens[0], h.stored[0]
	if len(p.Exports) != 2 || !proto.Equal(p.Exports[0], exportOf("members")) || !proto.Equal(p.Exports[1], exportOf("support")) ||
		!p.ExpiresAt.Equal(t0.Add(done+packageTTL)) || p.Kind != "disclosure" || p.Receipt != receipt || p.Secret == nil {
		t.Errorf("store input = %+v; want the two exports in plan order, the request's secret, expiring after %v", p, packageTTL)
	}
	// The link goes out once, in the completion notice, derived by the
	// notice activity from the sealed secret.
	c := h.onlyNotice(request.NoticeCompletion)
	if c.At != done || c.To != request.RecipientPerson || c.Data.DownloadToken != "" || c.LinkToken != tok ||
		!c.Data.DownloadExpiresAt.Equal(t0.Add(done+packageTTL)) {
		t.Errorf("completion notice at +%v = %+v (link token %q); want the link derived from the secret, expiring with the package", c.At, c.Data, c.LinkToken)
	}
	id := packageIDOf(tok)
	if out.PackageID != id {
		t.Errorf("outcome package %q; want %q (the token's hash)", out.PackageID, id)
	}
	if st := h.finalStatus(); st.GetPackageId() != id || !st.GetPackageExpiresAt().AsTime().Equal(t0.Add(done+packageTTL)) {
		t.Errorf("final status package %q expires %v", st.GetPackageId(), st.GetPackageExpiresAt().AsTime())
	}
	// The package's workflow: its id from the package, the address and the
	// secret sealed, the request's download limits.
	in := h.childInput(t)
	if in.PackageID != id || in.RequestID != requestID || !proto.Equal(in.Personal, h.in.GetPersonal()) ||
		!proto.Equal(in.Secret, p.Secret) || !in.ExpiresAt.Equal(t0.Add(done+packageTTL)) || in.Policy != request.DefaultDownloadPolicy() {
		t.Errorf("package workflow input = %+v", in)
	}

	// The person asks for a code and opens the package with it.
	ph, _ := packageHarness(t)
	ph.requestCode(time.Minute)
	opened := ph.openWith(2*time.Minute, ph.mailedCode(0))
	ph.runPackage(in)
	wantOpen(t, opened, dsrv1.OpenOutcome_OPEN_OUTCOME_OPENED, 0)

	// Nothing history keeps holds the token: no activity's input or result,
	// of the request's workflow or the package's, nor the package
	// workflow's input.
	payloads := append(h.allPayloads(), ph.allPayloads()...)
	sawPackage, sawMAC := false, false
	for _, pl := range payloads {
		if strings.Contains(pl, tok) {
			t.Errorf("the download token is in a recorded payload: %.300s", pl)
		}
		sawPackage = sawPackage || strings.Contains(pl, id)
		sawMAC = sawMAC || strings.Contains(pl, `"issue":0`)
	}
	if !sawPackage || !sawMAC || len(ph.macChecks) != 1 {
		t.Errorf("the scan of %d payloads saw the package id %v, a code check %v: it looked at nothing", len(payloads), sawPackage, sawMAC)
	}
}

func TestTheMailedDownloadCodeOpensThePackageOnceAndTheDownloadIsCounted(t *testing.T) {
	h, in := packageHarness(t)
	before := h.statusAt0()
	ask := h.requestCode(2 * time.Minute)
	open := h.openWith(3*time.Minute, h.mailedCode(0))
	again := h.openWith(4*time.Minute, h.mailedCode(0))
	after := h.packageStatusAt(5 * time.Minute)
	h.runPackage(in)

	if r := ask.codeResult(t); r.GetCodesLeft() != request.DefaultDownloadMaxCodes-1 ||
		!r.GetExpiresAt().AsTime().Equal(t0.Add(2*time.Minute+request.DefaultDownloadCodeTTL)) {
		t.Errorf("code request = %v; want %d codes left, valid %v", r, request.DefaultDownloadMaxCodes-1, request.DefaultDownloadCodeTTL)
	}
	// The code goes where the link went: the person, resolved from the same
	// sealed data.
	if len(h.downloadCodes) != 1 {
		t.Fatalf("%d download codes mailed; want 1", len(h.downloadCodes))
	}
	dc := h.downloadCodes[0]
	if dc.At != 2*time.Minute || dc.Issue != 0 || !proto.Equal(dc.Personal, h.in.GetPersonal()) || dc.Receipt != receipt ||
		dc.Locale != "ja" || dc.PackageID != in.PackageID || !dc.ExpiresAt.Equal(t0.Add(2*time.Minute+request.DefaultDownloadCodeTTL)) {
		t.Errorf("download code mailed = %+v; want issue 0 to the address of the link", dc.DownloadCodeInput)
	}
	wantOpen(t, open, dsrv1.OpenOutcome_OPEN_OUTCOME_OPENED, 0)
	again.rejectedWith(t, "no download code is valid now")
	if b := before(); b.GetDownloads() != 0 || b.GetCodesIssued() != 0 || b.GetLastDownloadAt() != nil ||
		b.GetPackageId() != in.PackageID {
		t.Errorf("package before = %v; want nothing yet", b)
	}
	a := after()
	if a.GetDownloads() != 1 || a.GetCodesIssued() != 1 || !a.GetLastDownloadAt().AsTime().Equal(t0.Add(3*time.Minute)) ||
		!a.GetExpiresAt().AsTime().Equal(t0.Add(packageTTL)) || a.GetReceipt() != receipt || a.GetPurged() {
		t.Errorf("package after = %v; want 1 download at +3m", a)
	}
	if len(h.macChecks) != 1 {
		t.Errorf("%d codes checked; the used code must be refused before any check", len(h.macChecks))
	}
}

// statusAt0 captures the package's query right after it starts.
func (h *harness) statusAt0() func() *dsrv1.PackageStatus { return h.packageStatusAt(time.Second) }

func TestAWrongDownloadCodeUsesAnAttemptAndTheFifthLocksTheCode(t *testing.T) {
	h, in := packageHarness(t)
	h.requestCode(time.Minute)
	malformed := h.openWith(2*time.Minute, fixed("12ab"))
	var wrong []*update
	for i := range request.DefaultDownloadMaxAttempts {
		wrong = append(wrong, h.openWith(3*time.Minute+time.Duration(i)*time.Second, h.guessFor(0)))
	}
	dead := h.openWith(4*time.Minute, h.mailedCode(0))
	h.requestCode(5 * time.Minute)
	fresh := h.openWith(6*time.Minute, h.mailedCode(1))
	st := h.packageStatusAt(7 * time.Minute)
	h.runPackage(in)

	malformed.rejectedWith(t, "6 digits")
	for i, u := range wrong[:len(wrong)-1] {
		wantOpen(t, u, dsrv1.OpenOutcome_OPEN_OUTCOME_WRONG, int32(request.DefaultDownloadMaxAttempts-1-i))
	}
	wantOpen(t, wrong[len(wrong)-1], dsrv1.OpenOutcome_OPEN_OUTCOME_LOCKED, 0)
	dead.rejectedWith(t, "no download code is valid now")
	wantOpen(t, fresh, dsrv1.OpenOutcome_OPEN_OUTCOME_OPENED, 0)
	if s := st(); s.GetDownloads() != 1 || s.GetCodesIssued() != 2 || s.GetCodesLeft() != request.DefaultDownloadMaxCodes-2 {
		t.Errorf("package = %v; want 1 download of 2 codes", s)
	}
	if len(h.macChecks) != request.DefaultDownloadMaxAttempts+1 {
		t.Errorf("%d codes checked; want %d (the malformed and the dead code refused before a check)", len(h.macChecks), request.DefaultDownloadMaxAttempts+1)
	}
}

func TestANewerCodeReplacesTheOneBefore(t *testing.T) {
	h, in := packageHarness(t)
	h.requestCode(time.Minute)
	h.requestCode(2 * time.Minute)
	older := h.openWith(3*time.Minute, h.mailedCode(0))
	newer := h.openWith(4*time.Minute, h.mailedCode(1))
	h.runPackage(in)

	if c0, c1 := h.mailedCode(0)(), h.mailedCode(1)(); c0 == c1 {
		t.Skip("the two codes happen to be equal")
	}
	wantOpen(t, older, dsrv1.OpenOutcome_OPEN_OUTCOME_WRONG, request.DefaultDownloadMaxAttempts-1)
	wantOpen(t, newer, dsrv1.OpenOutcome_OPEN_OUTCOME_OPENED, 0)
}

func TestDownloadCodesExpireAreLimitedAndEndWithThePackage(t *testing.T) {
	h, in := packageHarness(t)
	h.requestCode(time.Minute)
	late := h.openWith(time.Minute+request.DefaultDownloadCodeTTL, h.mailedCode(0))
	var asks []*update
	for i := range request.DefaultDownloadMaxCodes {
		asks = append(asks, h.requestCode(time.Hour+time.Duration(i)*time.Minute))
	}
	last := h.requestCode(packageTTL - 5*time.Minute)
	st := h.packageStatusAt(packageTTL - time.Minute)
	h.runPackage(in)

	late.rejectedWith(t, "no download code is valid now")
	for i, u := range asks[:len(asks)-1] {
		if r := u.codeResult(t); r.GetCodesLeft() != int32(request.DefaultDownloadMaxCodes-2-i) {
			t.Errorf("code request %d: %d left", i+2, r.GetCodesLeft())
		}
	}
	asks[len(asks)-1].rejectedWith(t, "no more codes")
	last.rejectedWith(t, "no more codes")
	if s := st(); s.GetCodesIssued() != int32(request.DefaultDownloadMaxCodes) || s.GetCodesLeft() != 0 || s.GetDownloads() != 0 {
		t.Errorf("package = %v; want %d codes, none left", s, request.DefaultDownloadMaxCodes)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.purges) != 1 || h.purges[0].ID != in.PackageID || h.purges[0].At != packageTTL {
		t.Errorf("purges = %+v; want the package purged when it expires (+%v)", h.purges, packageTTL)
	}
}

func TestAPackageCodeNeverOutlivesThePackage(t *testing.T) {
	h, in := packageHarness(t)
	ask := h.requestCode(packageTTL - 5*time.Minute)
	open := h.openWith(packageTTL-time.Minute, h.mailedCode(0))
	h.runPackage(in)

	if r := ask.codeResult(t); !r.GetExpiresAt().AsTime().Equal(t0.Add(packageTTL)) {
		t.Errorf("code valid until %v; want the package's end %v", r.GetExpiresAt().AsTime(), t0.Add(packageTTL))
	}
	wantOpen(t, open, dsrv1.OpenOutcome_OPEN_OUTCOME_OPENED, 0)
	if len(h.purges) != 1 || h.purges[0].At != packageTTL {
		t.Errorf("purges = %+v; want one at +%v", h.purges, packageTTL)
	}
}
