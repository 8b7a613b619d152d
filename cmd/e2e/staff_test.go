package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"madoguchi.dev/cmd/dsrctl/cli"
	"madoguchi.dev/platform/codec"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/codecserver"
	"madoguchi.dev/services/staff"
	"madoguchi.dev/workflows/request"
)

// atStage waits for the request to reach stage and for the search index to
// say so (the saved views read the index).
func atStage(ctx context.Context, t *testing.T, receipt string, stage request.Stage) *dsrv1.RequestStatus {
	t.Helper()
	st := waitStage(ctx, t, receipt, stage)
	inView(ctx, t, fmt.Sprintf("%s = '%s'", contract.SAStage, stage), receipt, true)
	return st
}

// A deletion goes through every stage where staff act, each action through
// dsrctl: wrong-stage actions are refused, every attempt leaves one audit
// row, and the saved views find the request where staff look for it.
func TestStaffCarryADeletionThroughEveryStaffStageWithDsrctl(t *testing.T) {
	t.Parallel() // independent of every other test: own people, receipts and accounts
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	staffID, tok := newStaff(t, staff.RoleStaff)
	p := newPerson()

	// Support holds two inquiries of this person: one of ours, and one
	// received on behalf of an entrusting company (委託).
	support, err := pgx.Connect(ctx, stk.Databases["support"])
	if err != nil {
		t.Fatal(err)
	}
	defer support.Close(ctx)
	own, entrusted := "E2E-"+p.memberID+"-1", "E2E-"+p.memberID+"-2"
	if _, err := support.Exec(ctx, `INSERT INTO inquiries (inquiry_id, member_id, name, email, channel, received_at, topic, body, status, entrusting_company_id)
		VALUES ($1, $3, $4, $5, 'mail', now(), '試験', '試験の問い合わせ', 'closed', NULL),
		       ($2, $3, $4, $5, 'phone', now(), '試験', '委託による受付', 'open', 'facility-kanda')`,
		own, entrusted, p.memberID, p.name, p.email); err != nil {
		t.Fatal(err)
	}

	r := file(t, "deletion", p, nil)

	// verifying: a decision is refused, with the workflow's reason.
	atStage(ctx, t, r, request.StageVerifying)
	inView(ctx, t, view(t, "waiting-on-staff"), r, false)
	row := act(t, tok, r, cli.ExitRejected, `stage "verifying"`, "approve", r)
	if row.Actor != staffID || !strings.Contains(row.Message, "not possible while the request is at stage") {
		t.Errorf("rejected approve row = %+v", row)
	}

	// staff_review: found by "waiting on staff", "needs attention", by kind, by due date.
	verify(ctx, t, r, p.email)
	before := atStage(ctx, t, r, request.StageStaffReview)
	inView(ctx, t, view(t, "waiting-on-staff"), r, true)
	inView(ctx, t, view(t, "needs-attention"), r, true)
	inView(ctx, t, view(t, "staff-review"), r, true)
	inView(ctx, t, "DsrKind = 'deletion' AND DsrAttention = 'staff_decision'", r, true)
	inView(ctx, t, fmt.Sprintf("ExecutionStatus = 'Running' AND DsrDueAt < '%s'", time.Now().AddDate(0, 2, 0).UTC().Format(time.RFC3339)), r, true)
	inView(ctx, t, fmt.Sprintf("DsrDueAt < '%s'", time.Now().UTC().Format(time.RFC3339)), r, false)
	inView(ctx, t, view(t, "overdue"), r, false)
	inView(ctx, t, view(t, "identity-review"), r, false)
	if code, out, _ := dsrctl(t, tok, "list", "--waiting", "--kind", "deletion", "--limit", "1000"); code != 0 || !strings.Contains(out, r) {
		t.Errorf("dsrctl list --waiting --kind deletion does not list %s:\n%s", r, out)
	}
	if code, out, _ := dsrctl(t, tok, "list", "--attention", "--receipt", r); code != 0 || !containsAll(out, r, "deletion", "staff_review", "staff_decision") {
		t.Errorf("dsrctl list --attention --receipt: %d\n%s", code, out)
	}

	// Extend once, with the reason for the notice; a second time is refused.
	act(t, tok, r, cli.ExitOK, "due date extended to", "extend", r, "--reason", "複数システムの調査に時間を要するため")
	st := status(ctx, t, r)
	if !st.GetExtended() || !st.GetDueAt().AsTime().After(before.GetDueAt().AsTime()) {
		t.Errorf("after extend: extended %v, due %v (was %v)", st.GetExtended(), st.GetDueAt().AsTime(), before.GetDueAt().AsTime())
	}
	act(t, tok, r, cli.ExitRejected, "already been extended once", "extend", r, "--reason", "再延長")

	// Hold support's inquiry so that support cannot answer yet, approve,
	// and resend to the holder that has not answered.
	lock, err := support.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Rollback(context.Background()) }()
	if _, err := lock.Exec(ctx, "SELECT 1 FROM inquiries WHERE inquiry_id = $1 FOR UPDATE", own); err != nil {
		t.Fatal(err)
	}
	approved := act(t, tok, r, cli.ExitOK, "decision recorded: approve", "approve", r, "--text", "退会済みのため削除します")
	if approved.Fields["outcome"] != "approve" || approved.UpdateID == "" || approved.WorkflowID != contract.WorkflowID(r) {
		t.Errorf("approve row = %+v", approved)
	}
	atStage(ctx, t, r, request.StageFanOut)
	inView(ctx, t, view(t, "waiting-on-staff"), r, false)
	act(t, tok, r, cli.ExitRejected, `holder "nosuch" is not part of this request`, "retry-holder", r, "--holder", "nosuch")
	act(t, tok, r, cli.ExitOK, "command to support will be resent", "retry-holder", r, "--holder", "support", "--reason", "応答なし")
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	// awaiting_entrusted: support left the entrusted inquiry alone.
	st = atStage(ctx, t, r, request.StageAwaitingEntrusted)
	if len(st.GetEntrusted()) != 1 || st.GetEntrusted()[0].GetCompanyId() != "facility-kanda" {
		t.Fatalf("entrusted = %v", st.GetEntrusted())
	}
	inView(ctx, t, view(t, "waiting-on-staff"), r, true)
	inView(ctx, t, view(t, "entrusted"), r, true)
	act(t, tok, r, cli.ExitRejected, `holder "support" has already answered`, "retry-holder", r, "--holder", "support")
	act(t, tok, r, cli.ExitRejected, "no records of entrusting company", "entrusted", r, "--company", "facility-other", "--proceed")
	act(t, tok, r, cli.ExitOK, "instruction recorded: proceed", "entrusted", r, "--company", "facility-kanda", "--proceed",
		"--note", "委託元より電話で削除の指示")

	var out request.Outcome
	if err := temporal.GetWorkflow(ctx, contract.WorkflowID(r), "").Get(ctx, &out); err != nil || out.Stage != request.StageCompleted {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	var left int
	if err := support.QueryRow(ctx, "SELECT count(*) FROM inquiries WHERE member_id = $1", p.memberID).Scan(&left); err != nil || left != 0 {
		t.Errorf("support still holds %d inquiries of the person (%v)", left, err)
	}
	inView(ctx, t, "DsrStage = 'completed' AND ExecutionStatus = 'Completed'", r, true)
	inView(ctx, t, view(t, "open"), r, false)
	act(t, tok, r, cli.ExitRejected, "is not running", "close-withdrawn", r, "--reason", "遅すぎる取下げ")

	// show: status, the timeline naming the staff member, and the audit trail.
	code, shown, _ := dsrctl(t, tok, "show", r)
	if code != 0 || !containsAll(shown, "completed", "decided", "extended", "holder_retry", "entrusted_instruction", staffID,
		"facility-kanda", "Staff actions", "rejected", "accepted") {
		t.Errorf("dsrctl show:\n%s", shown)
	}
	final := status(ctx, t, r)
	actors := map[string]string{}
	for _, e := range final.GetTimeline() {
		actors[e.GetEvent()] = e.GetActor()
	}
	for _, ev := range []string{"decided", "extended", "holder_retry", "entrusted_instruction"} {
		if actors[ev] != staffID {
			t.Errorf("timeline %s by %q, want %s", ev, actors[ev], staffID)
		}
	}
	var got []string
	rows := auditRows(t, r)
	for i := len(rows) - 1; i >= 0; i-- {
		got = append(got, rows[i].Action+":"+string(rows[i].Result))
	}
	want := []string{"approve:rejected", "extend:accepted", "extend:rejected", "approve:accepted", "retry-holder:rejected",
		"retry-holder:accepted", "retry-holder:rejected", "entrusted:rejected", "entrusted:accepted", "close-withdrawn:rejected"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("audit trail\n got  %v\n want %v", got, want)
	}
}

// Refusal, identity review (an agent's filing), a fee and closing as
// withdrawn, each through dsrctl; a read-only account and a wrong token are
// refused and recorded.
func TestStaffRefuseReviewIdentityMarkFeePaidAndCloseWithdrawn(t *testing.T) {
	t.Parallel() // independent of every other test: own people, receipts and accounts
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	_, tok := newStaff(t, staff.RoleStaff)
	viewerID, viewerTok := newStaff(t, staff.RoleViewer)

	t.Run("refuse", func(t *testing.T) {
		p := newPerson()
		r := file(t, "deletion", p, nil)
		verify(ctx, t, r, p.email)
		atStage(ctx, t, r, request.StageStaffReview)
		// A refusal without its explanation is a usage error: nothing is sent or recorded.
		if code, _, errs := dsrctl(t, tok, "refuse", r, "--reason", "grounds_not_met", "--text", " "); code != cli.ExitUsage ||
			!strings.Contains(errs, "explanation") || len(auditRows(t, r)) != 0 {
			t.Errorf("refuse without text: %d %q", code, errs)
		}
		act(t, tok, r, cli.ExitRejected, "unknown refusal reason", "refuse", r, "--reason", "because", "--text", "理由")
		act(t, tok, r, cli.ExitOK, "decision recorded: refuse", "refuse", r, "--reason", "grounds_not_met",
			"--text", "法第35条の要件に該当しないため")
		var out request.Outcome
		if err := temporal.GetWorkflow(ctx, contract.WorkflowID(r), "").Get(ctx, &out); err != nil || out.ClosedReason != request.ClosedRefused {
			t.Fatalf("outcome %+v, %v", out, err)
		}
		if st := status(ctx, t, r); st.GetDecision() != "refuse" || st.GetDecisionReasonCode() != "grounds_not_met" {
			t.Errorf("decision %q %q", st.GetDecision(), st.GetDecisionReasonCode())
		}
		inView(ctx, t, "DsrStage = 'closed'", r, true)
	})

	t.Run("review identity, then close as withdrawn", func(t *testing.T) {
		p := newPerson()
		agent := "agent-" + randomToken() + "@example.jp"
		r := file(t, "deletion", p, map[string]any{"agent": map[string]string{"name": "代理 花子", "email": agent,
			"relationship": "legal_representative"}})
		atStage(ctx, t, r, request.StageVerifying)
		act(t, tok, r, cli.ExitRejected, `stage "verifying"`, "review-identity", r, "--approve")
		verify(ctx, t, r, agent)
		atStage(ctx, t, r, request.StageIdentityReview)
		inView(ctx, t, view(t, "identity-review"), r, true)
		inView(ctx, t, view(t, "waiting-on-staff"), r, true)
		inView(ctx, t, "DsrAttention = 'agent_review'", r, true)
		// A read-only account may look but not act.
		if code, out, _ := dsrctl(t, viewerTok, "show", r); code != 0 || !strings.Contains(out, "identity_review") {
			t.Errorf("viewer show: %d %s", code, out)
		}
		row := act(t, viewerTok, r, cli.ExitRejected, "may not perform staff actions", "review-identity", r, "--approve")
		if row.Actor != viewerID {
			t.Errorf("viewer's refused attempt recorded as %q", row.Actor)
		}
		// A wrong token is refused before anything reaches the workflow.
		code, _, errs := dsrctl(t, "mdg_staff_not-a-token", "review-identity", r, "--approve")
		if code != cli.ExitAuth || !strings.Contains(errs, "not authenticated") {
			t.Errorf("wrong token: %d %q", code, errs)
		}
		if rows := auditRows(t, r); rows[0].Actor != "unauthenticated" || rows[0].Result != staff.Rejected {
			t.Errorf("unauthenticated attempt recorded as %+v", rows[0])
		}
		act(t, tok, r, cli.ExitOK, "identity review recorded", "review-identity", r, "--approve")
		atStage(ctx, t, r, request.StageStaffReview)
		inView(ctx, t, view(t, "identity-review"), r, false)
		act(t, tok, r, cli.ExitRejected, `stage "staff_review"`, "review-identity", r, "--approve")
		act(t, tok, r, cli.ExitOK, "withdrawn; the request will be closed", "close-withdrawn", r, "--reason", "代理人より電話で取下げの申出")
		var out request.Outcome
		if err := temporal.GetWorkflow(ctx, contract.WorkflowID(r), "").Get(ctx, &out); err != nil || out.ClosedReason != request.ClosedWithdrawn {
			t.Fatalf("outcome %+v, %v", out, err)
		}
	})

	t.Run("fee paid", func(t *testing.T) {
		p := newPerson()
		r := file(t, "disclosure", p, nil)
		atStage(ctx, t, r, request.StageVerifying)
		act(t, tok, r, cli.ExitRejected, `stage "verifying"`, "fee-paid", r, "--reference", "PAY-EARLY")
		verify(ctx, t, r, p.email)
		atStage(ctx, t, r, request.StageAwaitingFee)
		inView(ctx, t, view(t, "awaiting-fee"), r, true)
		inView(ctx, t, "DsrFeeState = 'awaiting'", r, true)
		inView(ctx, t, view(t, "waiting-on-staff"), r, false)
		act(t, tok, r, cli.ExitRejected, "but the fee is 1000 JPY", "fee-paid", r, "--reference", "PAY-1", "--amount", "100")
		act(t, tok, r, cli.ExitOK, "payment recorded", "fee-paid", r, "--reference", "PAY-1", "--amount", "1000")
		var out request.Outcome
		if err := temporal.GetWorkflow(ctx, contract.WorkflowID(r), "").Get(ctx, &out); err != nil || out.Stage != request.StageCompleted {
			t.Fatalf("outcome %+v, %v", out, err)
		}
		inView(ctx, t, "DsrFeeState = 'paid' AND DsrStage = 'completed'", r, true)
	})
}

// StaffViewFixture stands in for a request in a state the dev stack cannot
// reach in a test's time (a due date in the past): it sets the same search
// attributes the request workflow keeps, so that the saved views are checked
// against the real visibility store.
func StaffViewFixture(ctx workflow.Context, receipt, stage string, attention []string, due time.Time) error {
	err := workflow.UpsertTypedSearchAttributes(ctx, request.SAReceipt.ValueSet(receipt), request.SAKind.ValueSet("disclosure"),
		request.SAJurisdiction.ValueSet("JP"), request.SAStage.ValueSet(stage), request.SAAttention.ValueSet(attention),
		request.SANeedsAttention.ValueSet(len(attention) > 0), request.SADueAt.ValueSet(due), request.SAFeeState.ValueSet("none"))
	if err != nil {
		return err
	}
	workflow.GetSignalChannel(ctx, "stop").Receive(ctx, nil)
	return nil
}

func TestSavedViewsFindLateAndEscalatedRequestsAlsoWithTheTemporalCLI(t *testing.T) {
	t.Parallel() // independent of every other test: own people, receipts and accounts
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tq := "staff-fixtures-" + randomToken()
	w := worker.New(temporal, tq, worker.Options{})
	w.RegisterWorkflowWithOptions(StaffViewFixture, workflow.RegisterOptions{Name: "StaffViewFixture"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	now := time.Now()
	start := func(stage string, attention []string, due time.Time) string {
		receipt := now.Format("20060102") + "-F" + strings.ToUpper(randomToken()[:5])
		_, err := temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "fixture-" + receipt, TaskQueue: tq},
			"StaffViewFixture", receipt, stage, attention, due)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = temporal.TerminateWorkflow(context.Background(), "fixture-"+receipt, "", "test over")
		})
		return receipt
	}
	late := start("fan_out", []string{"overdue", "deadline_near"}, now.Add(-26*time.Hour))
	escalated := start("fan_out", []string{"holder_escalated"}, now.Add(3*24*time.Hour))
	calm := start("fan_out", nil, now.Add(20*24*time.Hour))
	for _, r := range []string{late, escalated, calm} {
		inView(ctx, t, "DsrStage = 'fan_out'", r, true)
	}
	for _, c := range []struct {
		view string
		in   []string
		out  []string
	}{
		{"overdue", []string{late}, []string{escalated, calm}},
		{"deadline-near", []string{late}, []string{escalated, calm}},
		{"waiting-on-staff", []string{escalated}, []string{late, calm}},
		{"holder-escalated", []string{escalated}, []string{late, calm}},
		{"needs-attention", []string{late, escalated}, []string{calm}},
		{"due-this-week", []string{late, escalated}, []string{calm}},
		{"open", []string{late, escalated, calm}, nil},
	} {
		for _, r := range c.in {
			inView(ctx, t, view(t, c.view), r, true)
		}
		for _, r := range c.out {
			inView(ctx, t, view(t, c.view), r, false)
		}
	}

	// The same queries, verbatim, in `temporal workflow list --query`.
	for _, v := range staff.Views {
		out, err := temporalCLI(t, "workflow", "list", "--query", v.Expand(time.Now()), "--limit", "1000", "-o", "json")
		if err != nil {
			t.Errorf("temporal workflow list --query %q: %v\n%s", v.Expand(time.Now()), err, out)
			continue
		}
		if v.Name == "overdue" && (!strings.Contains(out, "fixture-"+late) || strings.Contains(out, "fixture-"+escalated)) {
			t.Errorf("temporal workflow list (overdue) lists wrongly:\n%s", out)
		}
	}

	_, tok := newStaff(t, staff.RoleViewer)
	code, out, _ := dsrctl(t, tok, "list", "--overdue", "--limit", "1000")
	if code != 0 || !strings.Contains(out, late+" ") || !strings.Contains(out, " !") || strings.Contains(out, escalated) {
		t.Errorf("dsrctl list --overdue:\n%s", out)
	}
	code, out, _ = dsrctl(t, tok, "list", "--view", "due-this-week", "--limit", "1000")
	if code != 0 || !containsAll(out, late, escalated) || strings.Contains(out, calm) {
		t.Errorf("dsrctl list --view due-this-week:\n%s", out)
	}
}

// Workflow histories hold ciphertext only; the codec server decrypts them
// for staff and nobody else, and keeps decrypting after a key rotation.
func TestHistoryIsCiphertextAndDecryptsThroughTheCodecServerOnlyForStaff(t *testing.T) {
	t.Parallel() // independent of every other test: own people, receipts and accounts
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, tok := newStaff(t, staff.RoleStaff)
	_, viewerTok := newStaff(t, staff.RoleViewer)
	p := newPerson()
	newEmail := "corrected-" + randomToken() + "@example.jp"
	r := file(t, "correction", p, map[string]any{"details": "メールアドレスの訂正をお願いします"})
	verify(ctx, t, r, p.email)
	atStage(ctx, t, r, request.StageStaffReview)
	act(t, tok, r, cli.ExitOK, "decision recorded: approve", "approve", r, "--correction", "email="+newEmail)
	var out request.Outcome
	if err := temporal.GetWorkflow(ctx, contract.WorkflowID(r), "").Get(ctx, &out); err != nil {
		t.Fatal(err)
	}

	// A client without the key sees the history as Temporal stores it.
	raw, err := client.Dial(client.Options{HostPort: stk.Temporal.HostPort, Namespace: stk.Temporal.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var events []*historypb.HistoryEvent
	it := raw.GetWorkflowHistory(ctx, contract.WorkflowID(r), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	var all bytes.Buffer
	for _, e := range events {
		b, _ := protojson.Marshal(e)
		all.Write(b)
		b, _ = e.Marshal()
		all.Write(b)
	}
	for _, pii := range []string{p.email, p.name, p.memberID, newEmail, "試験", "corrected-", "example.jp"} {
		if bytes.Contains(all.Bytes(), []byte(pii)) {
			t.Errorf("the raw history contains %q", pii)
		}
	}
	payloads := historyPayloads(t, events)
	if len(payloads) < 5 {
		t.Fatalf("only %d payloads in the history", len(payloads))
	}
	for i, pl := range payloads {
		if enc := string(pl.GetMetadata()[converter.MetadataEncoding]); enc != codec.MetadataEncoding {
			t.Errorf("payload %d is %q, not encrypted: %s", i, enc, pl.GetData())
		}
		if string(pl.GetMetadata()[codec.MetadataKeyID]) != stk.Runtime.Ring.ActiveKeyID() {
			t.Errorf("payload %d names key %q", i, pl.GetMetadata()[codec.MetadataKeyID])
		}
	}
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})

	post := func(c *http.Client, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, stk.CodecURL+"/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", stk.Temporal.Namespace)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Plaintext of the decoded payloads: proto JSON inside base64.
	plaintext := func(answer string) string {
		var ps commonpb.Payloads
		if err := protojson.Unmarshal([]byte(answer), &ps); err != nil {
			t.Fatalf("codec answer: %v", err)
		}
		var sb strings.Builder
		for _, pl := range ps.Payloads {
			sb.Write(pl.GetData())
		}
		return sb.String()
	}
	for name, hdr := range map[string]map[string]string{
		"no credentials":     nil,
		"unknown token":      {"Authorization": "Bearer mdg_staff_guess"},
		"the UI, signed out": {"Origin": stk.Temporal.UIURL},
	} {
		if code, ans := post(http.DefaultClient, hdr); code != http.StatusUnauthorized || strings.Contains(ans, newEmail) {
			t.Errorf("%s: %d, want 401 without plaintext", name, code)
		}
	}
	if code, ans := post(http.DefaultClient, map[string]string{"Authorization": "Bearer " + tok}); code != http.StatusOK {
		t.Fatalf("staff token: %d %s", code, ans)
	} else if pt := plaintext(ans); !containsAll(pt, newEmail, r, "REQUEST_KIND_CORRECTION") {
		t.Error("staff: decoded history lacks the correction or the receipt")
	}
	// A viewer is signed in, but its role may not decrypt (CODEC_DECRYPT_ROLES).
	if code, ans := post(http.DefaultClient, map[string]string{"Authorization": "Bearer " + viewerTok}); code != http.StatusForbidden ||
		strings.Contains(ans, newEmail) {
		t.Errorf("viewer token: %d, want 403 without plaintext", code)
	}

	// A browser signed in on the codec server's page decodes with its cookie.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.PostForm(stk.CodecURL+"/signin", url.Values{"token": {tok}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	if code, ans := post(browser, map[string]string{"Origin": stk.Temporal.UIURL}); code != http.StatusOK || !strings.Contains(plaintext(ans), newEmail) {
		t.Errorf("signed-in browser: %d", code)
	}

	// CORS: the preflight is answered for the Temporal UI's origin only.
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, stk.CodecURL+"/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := preflight(stk.Temporal.UIURL); resp.StatusCode != http.StatusNoContent ||
		resp.Header.Get("Access-Control-Allow-Origin") != stk.Temporal.UIURL || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("UI preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := preflight("http://127.0.0.1:1"); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign preflight: %d %v", resp.StatusCode, resp.Header)
	}

	// The Temporal CLI reads the history through the codec server with a
	// staff token, and cannot without one.
	cliPlaintext := func(out string) string {
		var sb strings.Builder
		for _, m := range regexp.MustCompile(`"data":\s*"([A-Za-z0-9+/=]+)"`).FindAllStringSubmatch(out, -1) {
			b, _ := base64.StdEncoding.DecodeString(m[1])
			sb.Write(b)
		}
		return sb.String()
	}
	shown, err := temporalCLI(t, "workflow", "show", "-w", contract.WorkflowID(r), "-o", "json",
		"--codec-endpoint", stk.CodecURL, "--codec-auth", "Bearer "+tok)
	if err != nil || !strings.Contains(cliPlaintext(shown), newEmail) {
		t.Errorf("temporal workflow show via the codec server: %v (plaintext found: %v)\n%.2000s", err, strings.Contains(cliPlaintext(shown), newEmail), shown)
	}
	shown, err = temporalCLI(t, "workflow", "show", "-w", contract.WorkflowID(r), "-o", "json", "--codec-endpoint", stk.CodecURL)
	if err == nil && strings.Contains(cliPlaintext(shown), newEmail) {
		t.Errorf("temporal workflow show without a staff token decrypted the history")
	}

	// Key rotation: a new active key, the old one kept for reading — the
	// existing history still decrypts, through a codec server on the new ring.
	newKey, _ := seal.NewKeySpec("k-rotated")
	rotated, err := seal.ParseRing(newKey + "," + stk.Runtime.Config.Keys)
	if err != nil {
		t.Fatal(err)
	}
	h, err := codecserver.New(codecserver.Options{Codec: codec.New(rotated), Auth: staffStore(t), Audit: staffStore(t), AllowedOrigins: []string{stk.Temporal.UIURL}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/decode", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ans, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(plaintext(string(ans)), newEmail) {
		t.Errorf("decode after rotation: %d", resp.StatusCode)
	}
	again, err := codec.New(rotated).Encode(payloads[:1])
	if err != nil || string(again[0].Metadata[codec.MetadataKeyID]) != "k-rotated" {
		t.Errorf("after rotation new payloads use %q (%v)", again[0].Metadata[codec.MetadataKeyID], err)
	}
	onlyNew, _ := seal.ParseRing(newKey)
	if _, err := codec.New(onlyNew).Decode(payloads[:1]); err == nil {
		t.Error("a ring without the old key decrypted the old history")
	}
}

// The Temporal UI lists the requests with the Dsr* columns, and shows a
// request's payloads decrypted only to a browser signed in on the codec
// server; headless Chromium takes the screenshots kept with the test output.
func TestTemporalUIListsRequestsAndDecryptsOnlyForSignedInStaff(t *testing.T) {
	t.Parallel() // independent of every other test: own people, receipts and accounts
	bin := staffChromium()
	if bin == "" {
		t.Skip("no Chromium (apt-get install chromium): no UI screenshot")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, tok := newStaff(t, staff.RoleStaff)
	p := newPerson()
	r := file(t, "deletion", p, nil)
	verify(ctx, t, r, p.email)
	atStage(ctx, t, r, request.StageStaffReview)
	desc, err := temporal.DescribeWorkflowExecution(ctx, contract.WorkflowID(r), "")
	if err != nil {
		t.Fatal(err)
	}
	runID := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1680, 1050),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	// The browser starts on bctx itself (a derived context would close it).
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// Each step has its own deadline, so that a failure leaves time to keep
	// a screenshot of it.
	do := func(actions ...chromedp.Action[chromedp.Void]) error {
		sctx, cancel := context.WithTimeout(bctx, 45*time.Second)
		defer cancel()
		return chromedp.Do(sctx, actions...)
	}

	ui := stk.Temporal.UIURL
	ns := stk.Temporal.Namespace
	// The columns are a per-user UI setting (Configure Columns); here it is
	// set the way the UI stores it.
	columns := []map[string]any{{"label": "Status", "pinned": true}, {"label": "Workflow ID", "pinned": true}}
	for _, c := range []string{"DsrReceipt", "DsrKind", "DsrStage", "DsrDueAt", "DsrAttention", "DsrNeedsAttention", "DsrFeeState"} {
		columns = append(columns, map[string]any{"label": c, "pinned": false})
	}
	columns = append(columns, map[string]any{"label": "Start", "pinned": false})
	colJSON, _ := json.Marshal(map[string]any{ns: columns})
	setColumns := fmt.Sprintf(`localStorage.setItem("namespace-workflow-table-columns", %q); true`, colJSON)

	byText := func(text string) string { return `//*[contains(text(), "` + text + `")]` }
	body := chromedp.CSS("body")
	query := url.QueryEscape("WorkflowType = 'DataSubjectRequest'")
	err = do(
		chromedp.Navigate(ui+"/namespaces/"+ns+"/workflows"),
		chromedp.WaitReady(body),
	)
	if err == nil {
		_, err = chromedp.Run(bctx, chromedp.Evaluate[bool](setColumns))
	}
	if err == nil {
		err = do(
			chromedp.Navigate(ui+"/namespaces/"+ns+"/workflows?query="+query),
			chromedp.WaitVisible(byText(contract.WorkflowID(r))),
			chromedp.Sleep(time.Second),
		)
	}
	if err != nil {
		uiFailure(t, bctx, "Temporal UI workflows list", err)
	}
	listText, err := chromedp.Run(bctx, chromedp.Text(body))
	if err != nil {
		t.Fatal(err)
	}
	listPNG, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(staffScreenshotDir(t), "temporal-ui.png")
	if err := os.WriteFile(shot, listPNG, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
	if !containsAll(listText, contract.WorkflowID(r), "DsrStage", "staff_review", "DsrAttention") {
		t.Errorf("the UI list lacks the request or the Dsr columns:\n%.2000s", listText)
	}

	// A request's page: ciphertext while signed out…
	page := fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s/history", ui, ns, contract.WorkflowID(r), runID)
	err = do(
		chromedp.Navigate(page),
		chromedp.WaitReady(byText("Workflow Type")),
		chromedp.Sleep(3*time.Second),
	)
	if err != nil {
		uiFailure(t, bctx, "Temporal UI workflow page", err)
	}
	signedOut, err := chromedp.Run(bctx, chromedp.Text(body))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(signedOut, "REQUEST_KIND_DELETION") {
		t.Errorf("the UI shows decrypted payloads to a browser that is not signed in")
	}
	if outPNG, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(staffScreenshotDir(t), "temporal-ui-signed-out.png"), outPNG, 0o644)
	}

	// …plaintext once staff sign in on the codec server and the browser's
	// codec setting includes credentials (README, staff runbook).
	codecSettings := fmt.Sprintf(`localStorage.setItem("endpoint", %q); localStorage.setItem("includeCredentials", "true");
		localStorage.setItem("passAccessToken", "false"); localStorage.setItem("overrideRemoteCodecConfiguration", "true"); true`,
		mustJSON(stk.CodecURL))
	token := chromedp.CSS("input[name=token]")
	err = do(
		chromedp.Navigate(stk.CodecURL+"/signin"),
		chromedp.WaitVisible(token),
		chromedp.SendKeys(token, tok),
		chromedp.Submit(token),
		chromedp.WaitVisible(byText("Signed in as")),
		chromedp.Navigate(ui+"/namespaces/"+ns+"/workflows"),
		chromedp.WaitReady(body),
	)
	if err == nil {
		_, err = chromedp.Run(bctx, chromedp.Evaluate[bool](codecSettings))
	}
	if err == nil {
		err = do(
			chromedp.Navigate(page),
			chromedp.WaitReady(byText("REQUEST_KIND_DELETION")),
		)
	}
	if err != nil {
		uiFailure(t, bctx, "decrypted payloads in the UI after sign-in", err)
	}
	decodedPNG, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot = filepath.Join(staffScreenshotDir(t), "temporal-ui-decoded.png")
	if err := os.WriteFile(shot, decodedPNG, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

	// The list again, now that the other tests have filed their requests,
	// for the screenshot kept with the test output.
	err = do(
		chromedp.Navigate(ui+"/namespaces/"+ns+"/workflows?query="+query),
		chromedp.WaitVisible(byText(contract.WorkflowID(r))),
		chromedp.Sleep(time.Second),
	)
	if err != nil {
		uiFailure(t, bctx, "Temporal UI workflows list (again)", err)
	}
	if listPNG, err = chromedp.Run(bctx, chromedp.FullScreenshot(100)); err != nil {
		t.Fatal(err)
	}
	shot = filepath.Join(staffScreenshotDir(t), "temporal-ui.png")
	if err := os.WriteFile(shot, listPNG, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
}

// uiFailure keeps a screenshot and the page text of a failed UI step.
func uiFailure(t *testing.T, bctx context.Context, what string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bctx, 20*time.Second)
	defer cancel()
	if png, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
		_ = os.WriteFile(filepath.Join(staffScreenshotDir(t), "temporal-ui-FAILED.png"), png, 0o644)
	}
	text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	t.Fatalf("%s: %v\npage text:\n%.3000s", what, err, text)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
