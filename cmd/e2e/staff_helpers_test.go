package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/reflect/protoreflect"

	"madoguchi.dev/cmd/dsrctl/cli"
	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/platform/staffsig"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/staff"
	"madoguchi.dev/workflows/request"
)

// staffStore opens the stack's staff database.
func staffStore(t *testing.T) *staff.Store {
	t.Helper()
	pool, err := pgdb.Open(context.Background(), stk.Databases["staff"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return staff.NewStore(pool)
}

// newStaff creates an account and returns its id and token.
func newStaff(t *testing.T, role staff.Role) (string, string) {
	t.Helper()
	id := "e2e-" + string(role) + "-" + randomToken()
	tok, err := staffStore(t).CreateAccount(context.Background(), id, "E2E "+string(role), role)
	if err != nil {
		t.Fatal(err)
	}
	return id, tok
}

// dsrctl runs the staff CLI in-process, configured for the stack as staff
// would configure it (environment variables).
func dsrctl(t *testing.T, token string, args ...string) (int, string, string) {
	t.Helper()
	env := map[string]string{
		"TEMPORAL_ADDRESS": stk.Temporal.HostPort, "TEMPORAL_NAMESPACE": stk.Temporal.Namespace,
		"STAFF_DATABASE_URL": stk.Databases["staff"], "MADOGUCHI_KEYS": stk.Runtime.Config.Keys,
		"DSRCTL_TOKEN": token, "MADOGUCHI_STAFF_SIGNING_KEY": stk.StaffSigningKey,
	}
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := cli.Run(ctx, args, cli.Env{Getenv: func(k string) string { return env[k] }, Stdout: &out, Stderr: &errb})
	t.Logf("dsrctl %s → %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

// staffUpdate sends a staff action straight to the request's workflow, as
// the staff side sends it: signed (platform/staffsig, as services/staff
// signs) with the dev stack's staff signing key for the actor it names,
// afresh at each attempt while the request is not ready for it.
func staffUpdate(ctx context.Context, t *testing.T, receipt, name string, arg staffsig.Action, result any) {
	t.Helper()
	signer := staffSigner(t)
	updateWith(ctx, t, receipt, name, func() any {
		if err := signer.Sign(contract.WorkflowID(receipt), name, arg.GetActor(), arg); err != nil {
			t.Fatalf("sign %s: %v", name, err)
		}
		return arg
	}, result)
}

// staffSigner signs with the dev stack's staff signing key (the one
// dsrctl is given).
func staffSigner(t *testing.T) *staffsig.Signer {
	t.Helper()
	s, err := staffsig.ParseSigningKey(stk.StaffSigningKey)
	if err != nil {
		t.Fatalf("the stack's staff signing key: %v", err)
	}
	return s
}

// act runs a dsrctl action and checks its exit code, its message and that
// it wrote exactly one audit row with the expected result.
func act(t *testing.T, token, receipt string, wantCode int, wantText string, args ...string) staff.AuditEntry {
	t.Helper()
	before := auditRows(t, receipt)
	code, out, errs := dsrctl(t, token, args...)
	if code != wantCode || !strings.Contains(out+errs, wantText) {
		t.Fatalf("dsrctl %v: exit %d, output %q %q; want exit %d mentioning %q", args, code, out, errs, wantCode, wantText)
	}
	after := auditRows(t, receipt)
	if len(after) != len(before)+1 {
		t.Fatalf("dsrctl %v wrote %d audit rows, want exactly 1", args, len(after)-len(before))
	}
	row := after[0]
	want := staff.Accepted
	if wantCode != cli.ExitOK {
		want = staff.Rejected
	}
	if row.Action != args[0] || row.Result != want || row.Receipt != receipt || row.At.IsZero() {
		t.Fatalf("audit row = %+v, want %s %s for %s", row, args[0], want, receipt)
	}
	return row
}

func auditRows(t *testing.T, receipt string) []staff.AuditEntry {
	t.Helper()
	rows, err := staffStore(t).Audit(context.Background(), staff.AuditFilter{Receipt: receipt, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// person is a fictional data subject of one test: a member (file registers
// them with the member registry, so that their member number is confirmed
// by the address their code proves), unknown to every other holder unless
// the test gives it records of them.
type person struct{ name, email, memberID string }

func newPerson() person {
	r := randomToken()
	return person{name: "試験 太郎", email: "staff-" + r + "@example.jp", memberID: "T-" + strings.ToUpper(r)}
}

// file submits a request through the intake API and returns its receipt.
func file(t *testing.T, kind string, p person, extra map[string]any) string {
	t.Helper()
	body := map[string]any{"kind": kind, "jurisdiction": "JP", "locale": "ja",
		"subject": map[string]string{"name": p.name, "email": p.email, "member_id": p.memberID},
		"details": "職員操作の試験"}
	for k, v := range extra {
		body[k] = v
	}
	registerMember(t, p)
	b, _ := json.Marshal(body)
	if _, agent := extra["agent"]; agent {
		return fileWithAuthority(t, b)
	}
	code, acc, _ := submit(t, string(b), "staff-"+randomToken())
	if code != http.StatusAccepted || acc.Receipt == "" {
		t.Fatalf("submit %s: %d %+v", kind, code, acc)
	}
	return acc.Receipt
}

// registerMember gives the members holder (the member registry) a record
// of p, once.
func registerMember(t *testing.T, p person) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, stk.Databases["members"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO members (member_id, name, name_kana, email) VALUES ($1, $2, 'しけん たろう', $3)
ON CONFLICT (member_id) DO NOTHING`, p.memberID, p.name, p.email); err != nil {
		t.Fatalf("register member: %v", err)
	}
}

// fileWithAuthority submits an agent's filing the way the API takes it:
// multipart, the request as JSON and the power of attorney as a file.
func fileWithAuthority(t *testing.T, request []byte) string {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("request", string(request))
	fw, _ := mw.CreateFormFile("doc_authority", "ininjo.pdf")
	_, _ = fw.Write([]byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"))
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, stk.IntakeURL+"/api/v1/requests", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Idempotency-Key", "staff-"+randomToken())
	acc, _ := accept(t, "agent filing", req)
	return acc.Receipt
}

// verify enters the code mailed to mailbox, as the person does.
func verify(ctx context.Context, t *testing.T, receipt, mailbox string) {
	t.Helper()
	waitStage(ctx, t, receipt, request.StageVerifying)
	var res dsrv1.VerifyIdentityResult
	update(ctx, t, receipt, contract.UpdateVerifyIdentity, &dsrv1.VerifyIdentity{Code: codeFromMail(ctx, t, mailbox)}, &res)
	if res.GetOutcome() != dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED {
		t.Fatalf("verification of %s: %v", receipt, &res)
	}
}

// inView waits until the saved view's query (narrowed to one receipt) does
// or does not return the request: visibility is eventually consistent.
func inView(ctx context.Context, t *testing.T, query, receipt string, want bool) {
	t.Helper()
	q := fmt.Sprintf("(%s) AND %s = '%s'", query, contract.SAReceipt, receipt)
	deadline := time.Now().Add(20 * time.Second)
	var got bool
	for {
		resp, err := temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q})
		if err != nil {
			t.Fatalf("query %q: %v", q, err)
		}
		// Callers first wait for the request's current stage to be indexed,
		// so that a "not in" answer is not a stale one.
		if got = len(resp.GetExecutions()) > 0; got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("view %q: request %s listed = %v, want %v", query, receipt, got, want)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func view(t *testing.T, name string) string {
	t.Helper()
	v, ok := staff.LookupView(name)
	if !ok {
		t.Fatalf("no view %q", name)
	}
	return v.Expand(time.Now())
}

// temporalCLI runs bin/temporal against the stack.
func temporalCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin, _ := filepath.Abs("../../bin/temporal")
	args = append(args, "--address", stk.Temporal.HostPort, "--namespace", stk.Temporal.Namespace)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

// historyPayloads returns every payload in a workflow's history except
// search attributes (which Temporal must read, and which hold no personal
// data), and the raw history for byte searches.
func historyPayloads(t *testing.T, events []*historypb.HistoryEvent) []*commonpb.Payload {
	t.Helper()
	var out []*commonpb.Payload
	payloadName := (&commonpb.Payload{}).ProtoReflect().Descriptor().FullName()
	saName := (&commonpb.SearchAttributes{}).ProtoReflect().Descriptor().FullName()
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		switch m.Descriptor().FullName() {
		case saName:
			return
		case payloadName:
			out = append(out, m.Interface().(*commonpb.Payload))
			return
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
				return true
			}
			switch {
			case fd.IsList():
				for i := 0; i < v.List().Len(); i++ {
					walk(v.List().Get(i).Message())
				}
			case fd.IsMap():
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
						walk(mv.Message())
						return true
					})
				}
			default:
				walk(v.Message())
			}
			return true
		})
	}
	for _, e := range events {
		walk(e.ProtoReflect())
	}
	return out
}

// screenshotDir is where browser screenshots are kept with the test output.
func staffScreenshotDir(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs("../../test-output/screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chromium finds a Chromium binary, or "" when the machine has none.
func staffChromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func containsAll(s string, subs ...string) bool {
	return !slices.ContainsFunc(subs, func(x string) bool { return !strings.Contains(s, x) })
}
