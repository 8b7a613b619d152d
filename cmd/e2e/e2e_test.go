// Package e2e runs Madoguchi end to end on real servers: PostgreSQL (the
// machine's or a private cluster), NATS with JetStream (embedded when the
// machine's is missing or too old) and a Temporal dev server started from
// bin/temporal. Every run uses its own databases, subjects and streams.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"madoguchi.dev/cmd/internal/stack"
	"madoguchi.dev/platform/natsauth"
	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/request"
)

var (
	stk      *stack.Stack
	temporal client.Client
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, _ := filepath.Abs("../../bin/temporal")
	if _, err := os.Stat(bin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: bin/temporal is missing: run `make tools` (make test does)")
		return 1
	}
	dir, err := os.MkdirTemp("", "madoguchi-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// A private PostgreSQL cluster runs as the postgres user, which must be
	// able to reach its directory inside ours.
	_ = os.Chmod(dir, 0o755)
	id := randomToken()
	logFile, _ := os.Create(filepath.Join(dir, "components.log"))
	mailpit, _ := filepath.Abs("../../bin/mailpit")
	// The intake believes X-Forwarded-For from 127.0.0.1 only, as from an
	// ingress controller; the mail quota is the default's, whatever the
	// shell says (attack_limits_test.go).
	os.Setenv("INTAKE_TRUSTED_PROXIES", "127.0.0.1/32")
	os.Setenv("INTAKE_MAIL_PER_ADDRESS_PER_DAY", "5")
	stk, err = stack.Start(ctx, stack.Options{
		Dir: dir, TemporalBinary: bin, MailpitBinary: mailpit, DatabasePrefix: "e2e_" + id, SubjectRoot: "e2e_" + id,
		Log: zerolog.New(logFile).With().Timestamp().Logger(),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: start stack:", err)
		return 1
	}
	defer func() {
		_ = stk.Stop()
		for _, dsn := range stk.Databases {
			name := dsn[strings.LastIndex(dsn, "/")+1:]
			_ = pgdb.DropDatabase(context.Background(), stk.Postgres.AdminURL, name)
		}
	}()
	if temporal, err = stk.Runtime.DialTemporal(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer temporal.Close()
	code := m.Run()
	if code != 0 {
		b, _ := os.ReadFile(filepath.Join(dir, "components.log"))
		fmt.Fprintf(os.Stderr, "---- component log ----\n%s\n", tail(b, 60))
	}
	return code
}

func randomToken() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(b []byte, lines int) string {
	all := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

type accepted struct {
	ID      string `json:"id"`
	Receipt string `json:"receipt"`
}

func submit(t *testing.T, body, idempotencyKey string) (int, accepted, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, stk.IntakeURL+"/api/v1/requests", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a accepted
	if resp.StatusCode == http.StatusAccepted {
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatalf("202 body %q: %v", raw, err)
		}
	}
	return resp.StatusCode, a, resp.Header
}

// accept sends a filing that must be accepted and returns the answer and
// its raw body; anything but 202 with a receipt fails the test as what.
func accept(t *testing.T, what string, req *http.Request) (accepted, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var acc accepted
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(raw, &acc) != nil || acc.Receipt == "" {
		t.Fatalf("%s: %d %s", what, resp.StatusCode, raw)
	}
	return acc, string(raw)
}

func countRows(t *testing.T, component, query string, args ...any) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, stk.Databases[component])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeletionTravelsFromTheFormToEveryHolderAndAnnouncesTheErasure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A tap on the erasure subject, with the admin's NATS credentials (a
	// subscriber of its own reads through its durable, holderkit.OnErasure).
	nc, err := stk.ConnectNATS(natsauth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	events, err := nc.SubscribeSync(stk.Runtime.Namespace.ErasureCompleted())
	if err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, "members", "SELECT count(*) FROM members WHERE member_id = 'M-1001'"); n != 1 {
		t.Fatalf("seeded member M-1001 rows = %d, want 1", n)
	}

	body := `{"kind":"deletion","jurisdiction":"JP","locale":"ja","subject":{"name":"山田 花子","email":"hanako@example.jp","member_id":"M-1001"},"details":"退会したので全て削除してください"}`
	key := "e2e-" + randomToken()
	status, first, _ := submit(t, body, key)
	if status != http.StatusAccepted || first.ID == "" || first.Receipt == "" {
		t.Fatalf("submit = %d %+v, want 202 with id and receipt", status, first)
	}
	// The client retries (say its connection dropped): same request, no second workflow.
	status, again, hdr := submit(t, body, key)
	if status != http.StatusAccepted || again != first || hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry = %d %+v (replayed %q), want the first request %+v", status, again, hdr.Get("Idempotent-Replayed"), first)
	}

	// The person proves who they are with the code e-mailed to them.
	code := codeFromMail(ctx, t, "hanako@example.jp")
	var verified dsrv1.VerifyIdentityResult
	update(ctx, t, first.Receipt, contract.UpdateVerifyIdentity, &dsrv1.VerifyIdentity{Code: code}, &verified)
	if verified.GetOutcome() != dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED {
		t.Fatalf("verification = %v", &verified)
	}
	// Deletion changes data (APPI Art. 34): staff decide, with the reason on record.
	waitStage(ctx, t, first.Receipt, request.StageStaffReview)
	var decided dsrv1.ActionResult
	staffUpdate(ctx, t, first.Receipt, contract.UpdateDecide, &dsrv1.Decide{Actor: "staff-e2e",
		Outcome: dsrv1.DecisionOutcome_DECISION_OUTCOME_APPROVE, Explanation: "退会済みのため削除します"}, &decided)

	// Support holds an inquiry of hers under entrustment (委託) for a care
	// facility: it is left alone until that company instructs us.
	st := waitStage(ctx, t, first.Receipt, request.StageAwaitingEntrusted)
	if len(st.GetEntrusted()) != 1 || st.GetEntrusted()[0].GetCompanyId() != "facility-kanda" || st.GetEntrusted()[0].GetState() != "waiting" {
		t.Fatalf("entrusted = %v, want facility-kanda waiting", st.GetEntrusted())
	}
	var instructed dsrv1.ActionResult
	staffUpdate(ctx, t, first.Receipt, contract.UpdateEntrustedInstruction, &dsrv1.EntrustedInstruction{Actor: "staff-e2e",
		CompanyId: "facility-kanda", Proceed: true, Note: "委託元より削除の指示あり"}, &instructed)

	var out request.Outcome
	run := temporal.GetWorkflow(ctx, contract.WorkflowID(first.Receipt), "")
	if err := run.Get(ctx, &out); err != nil {
		t.Fatalf("workflow %s: %v", contract.WorkflowID(first.Receipt), err)
	}
	if out.Stage != request.StageCompleted || out.HolderOutcomes["members"] != dsrv1.Outcome_OUTCOME_DONE.String() {
		t.Errorf("outcome = %+v, want completed with members done", out)
	}
	if got := out.HolderOutcomes["billing"]; got != dsrv1.Outcome_OUTCOME_RETAINED_BY_LAW.String() {
		t.Errorf("billing outcome = %s, want retained by law (tax records)", got)
	}
	if n := countRows(t, "support", "SELECT count(*) FROM inquiries WHERE member_id = 'M-1001'"); n != 0 {
		t.Errorf("support still holds %d inquiries of M-1001 after the entrusting company said proceed", n)
	}
	if n := countRows(t, "members", "SELECT count(*) FROM members WHERE member_id = 'M-1001'"); n != 0 {
		t.Errorf("member M-1001 still has %d rows after deletion", n)
	}
	if n := countRows(t, "members", "SELECT count(*) FROM member_facilities WHERE member_id = 'M-1001'"); n != 0 {
		t.Errorf("member M-1001 still has %d facility rows", n)
	}
	if n := countRows(t, "members", "SELECT count(*) FROM members"); n == 0 {
		t.Errorf("every member was deleted, not just M-1001")
	}

	msg, err := events.NextMsg(30 * time.Second)
	if err != nil {
		t.Fatalf("no erasure event: %v", err)
	}
	var ev dsrv1.ErasureCompleted
	if err := proto.Unmarshal(msg.Data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.GetReceipt() != first.Receipt || len(ev.GetSubjectPseudonyms()) == 0 || ev.GetHolders()[0] != "members" {
		t.Errorf("erasure event = %v", &ev)
	}
	for _, pii := range []string{"hanako@example.jp", "山田", "M-1001"} {
		if bytes.Contains(msg.Data, []byte(pii)) {
			t.Errorf("erasure event carries personal data %q", pii)
		}
	}

	// Exactly one workflow and one outbox announcement for the request.
	if n := countRows(t, "intake", "SELECT count(*) FROM requests WHERE idempotency_key = $1", key); n != 1 {
		t.Errorf("requests stored for the idempotency key = %d, want 1", n)
	}
	if n := countRows(t, "intake", "SELECT count(*) FROM outbox WHERE request_id = $1 AND sent_at IS NOT NULL", first.ID); n != 1 {
		t.Errorf("outbox rows sent for the request = %d, want 1", n)
	}
	var runs int64
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Query: fmt.Sprintf("DsrReceipt = '%s'", first.Receipt)})
		if err == nil {
			if runs = resp.GetCount(); runs >= 1 {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if runs != 1 {
		t.Errorf("workflows for receipt %s = %d, want exactly 1", first.Receipt, runs)
	}

	// The workflow announced its end; the intake started the retention
	// clock (policy §7) and keeps the personal data until it runs out.
	deadline = time.Now().Add(30 * time.Second)
	for countRows(t, "intake", "SELECT count(*) FROM requests WHERE id = $1 AND concluded_at IS NOT NULL AND conclusion = 'completed'", first.ID) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the intake never recorded that the request concluded")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := countRows(t, "intake", "SELECT count(*) FROM requests WHERE id = $1 AND purged_at IS NULL AND personal_sealed IS NOT NULL", first.ID); n != 1 {
		t.Error("personal data purged at once instead of after the retention period")
	}
}

func TestInvalidRequestIsRefusedWithFieldErrorsAndStoresNothing(t *testing.T) {
	before := countRows(t, "intake", "SELECT count(*) FROM requests")
	req, _ := http.NewRequest(http.MethodPost, stk.IntakeURL+"/api/v1/requests",
		strings.NewReader(`{"kind":"shred","subject":{"name":"山田 花子","email":"not-an-address"}}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error  string            `json:"error"`
		Fields map[string]string `json:"fields"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusUnprocessableEntity || body.Fields["kind"] == "" || body.Fields["subject.email"] == "" {
		t.Errorf("response = %d %+v, want 422 with kind and subject.email errors", resp.StatusCode, body)
	}
	if after := countRows(t, "intake", "SELECT count(*) FROM requests"); after != before {
		t.Errorf("requests stored went from %d to %d for an invalid request", before, after)
	}
}

// codeRE finds the code on its labelled line only: the receipt notice also
// carries digit runs (a receipt number's random part can be all digits).
var codeRE = regexp.MustCompile(`(?:確認コード：|Verification code: )(\d{6})\b`)

// codeFromMail reads the newest verification code e-mailed to addr.
func codeFromMail(ctx context.Context, t *testing.T, addr string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		msgs, err := stk.Mail.Messages(ctx, fmt.Sprintf("to:%q", addr))
		if err == nil {
			for _, m := range msgs {
				text, err := stk.Mail.MessageText(ctx, m.ID)
				if err != nil {
					continue
				}
				if m := codeRE.FindStringSubmatch(text); m != nil {
					return m[1]
				}
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("no verification code e-mailed to %s", addr)
	return ""
}

// update sends a Temporal update, retrying while the workflow is not yet started.
func update(ctx context.Context, t *testing.T, receipt, name string, arg, result any) {
	t.Helper()
	updateWith(ctx, t, receipt, name, func() any { return arg }, result)
}

// updateWith is update with the argument that arg makes at each attempt.
func updateWith(ctx context.Context, t *testing.T, receipt, name string, arg func() any, result any) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		h, err := temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: contract.WorkflowID(receipt),
			UpdateName: name, Args: []any{arg()}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err == nil {
			if err = h.Get(ctx, result); err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("update %s on %s: %v", name, receipt, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// status queries the request's current picture.
func status(ctx context.Context, t *testing.T, receipt string) *dsrv1.RequestStatus {
	t.Helper()
	v, err := temporal.QueryWorkflow(ctx, contract.WorkflowID(receipt), "", contract.QueryStatus)
	if err != nil {
		return nil
	}
	var s dsrv1.RequestStatus
	if err := v.Get(&s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// waitStage polls the status query until the request reaches stage.
func waitStage(ctx context.Context, t *testing.T, receipt string, stage request.Stage) *dsrv1.RequestStatus {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last *dsrv1.RequestStatus
	for time.Now().Before(deadline) {
		if last = status(ctx, t, receipt); last != nil && last.GetStage() == string(stage) {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("request %s did not reach stage %s; last status %v", receipt, stage, last)
	return nil
}

// driveUntilCompleted answers what a verified request waits for until it
// completes: identity review, the fee, a staff decision, entrusting
// companies' instructions.
func driveUntilCompleted(ctx context.Context, t *testing.T, receipt string) {
	t.Helper()
	done := map[string]bool{}
	deadline := time.Now().Add(2 * time.Minute)
	var last *dsrv1.RequestStatus
	for time.Now().Before(deadline) {
		st := status(ctx, t, receipt)
		if st != nil {
			last = st
		}
		var r dsrv1.ActionResult
		switch stage := request.Stage(st.GetStage()); {
		case st == nil:
		case stage == request.StageCompleted:
			return
		case stage == request.StageClosed:
			t.Fatalf("request closed: %v", st)
		case stage == request.StageIdentityReview && !done["review"]:
			staffUpdate(ctx, t, receipt, contract.UpdateReviewIdentity, &dsrv1.ReviewIdentity{Actor: "staff-e2e", Approve: true, Reason: "本人確認済み"}, &r)
			done["review"] = true
		case stage == request.StageAwaitingFee && !done["fee"]:
			staffUpdate(ctx, t, receipt, contract.UpdateMarkFeePaid, &dsrv1.MarkFeePaid{Actor: "staff-e2e", Reference: "furikomi-attack",
				AmountJpy: st.GetFee().GetAmountJpy()}, &r)
			done["fee"] = true
		case stage == request.StageStaffReview && !done["decide"]:
			staffUpdate(ctx, t, receipt, contract.UpdateDecide, &dsrv1.Decide{Actor: "staff-e2e",
				Outcome: dsrv1.DecisionOutcome_DECISION_OUTCOME_APPROVE, Explanation: "承認します"}, &r)
			done["decide"] = true
		case stage == request.StageAwaitingEntrusted:
			for _, e := range st.GetEntrusted() {
				if e.GetState() == "waiting" && !done["entrusted:"+e.GetCompanyId()] {
					staffUpdate(ctx, t, receipt, contract.UpdateEntrustedInstruction, &dsrv1.EntrustedInstruction{Actor: "staff-e2e",
						CompanyId: e.GetCompanyId(), Proceed: true, Note: "指示あり"}, &r)
					done["entrusted:"+e.GetCompanyId()] = true
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("request %s did not complete; last status %v", receipt, last)
}
