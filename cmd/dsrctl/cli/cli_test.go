package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/staff"
)

// fake records what dsrctl asks of services/staff.
type fake struct {
	token   string
	actions []staff.Action
	filter  staff.Filter
	reject  string
	// show replaces Show's answer.
	show *staff.Details
}

func (f *fake) Do(_ context.Context, token string, a staff.Action) (staff.Outcome, error) {
	if token != "tok" {
		return staff.Outcome{}, staff.ErrUnauthenticated
	}
	f.actions = append(f.actions, a)
	if f.reject != "" {
		return staff.Outcome{Result: staff.Rejected, Audit: staff.AuditEntry{ID: 8}}, &staff.RejectedError{Message: f.reject}
	}
	return staff.Outcome{Result: staff.Accepted, Stage: "fan_out", Message: "decision recorded: approve", Actor: "sato",
		Audit: staff.AuditEntry{ID: 7}}, nil
}

func (f *fake) List(_ context.Context, token string, fl staff.Filter) ([]staff.Summary, string, error) {
	f.filter = fl
	q, err := fl.Query(time.Now())
	return []staff.Summary{{Receipt: "20261126-7K3M9Q", Kind: "deletion", Jurisdiction: "JP", Stage: "staff_review",
		DueAt: time.Date(2026, 12, 10, 14, 59, 0, 0, time.UTC), Attention: []string{"staff_decision", "overdue"}, Status: "Running"}}, q, err
}

func (f *fake) Show(context.Context, string, string) (*staff.Details, error) {
	if f.show != nil {
		return f.show, nil
	}
	return &staff.Details{ExecutionStatus: "Running", Status: &dsrv1.RequestStatus{Receipt: "20261126-7K3M9Q", Kind: "deletion",
		Jurisdiction: "JP", Stage: "staff_review", WaitingFor: "a staff decision",
		Timeline: []*dsrv1.TimelineEntry{{Event: "received", Actor: "person", Detail: "deletion"}}},
		Audit: []staff.AuditEntry{{ID: 3, Actor: "sato", Action: "extend", Result: staff.Accepted, Reason: "調査に時間を要するため"}}}, nil
}

func (f *fake) Audit(context.Context, string, staff.AuditFilter) ([]staff.AuditEntry, error) {
	return nil, nil
}

func run(t *testing.T, f *fake, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, Env{
		Getenv: func(k string) string { return env[k] }, Stdout: &out, Stderr: &errb,
		Connect: func(context.Context, Conn) (Backend, func(), error) { return f, func() {}, nil },
	})
	return code, out.String(), errb.String()
}

var withToken = map[string]string{"DSRCTL_TOKEN": "tok"}

func TestEachActionSendsItsUpdateWithTheActorLeftToTheService(t *testing.T) {
	const r = "20261126-7K3M9Q"
	for _, c := range []struct {
		args   []string
		update string
		want   proto.Message
	}{
		{[]string{"approve", r, "--grounds", "no_longer_needed,rights_harm"}, contract.UpdateDecide,
			&dsrv1.Decide{Actor: "A", Outcome: dsrv1.DecisionOutcome_DECISION_OUTCOME_APPROVE, Grounds: []string{"no_longer_needed", "rights_harm"}}},
		{[]string{"approve", r, "--correction", "email=new@example.jp", "--correction", "phone=090-0000-0000"}, contract.UpdateDecide,
			&dsrv1.Decide{Actor: "A", Outcome: dsrv1.DecisionOutcome_DECISION_OUTCOME_APPROVE,
				Corrections: map[string]string{"email": "new@example.jp", "phone": "090-0000-0000"}}},
		{[]string{"refuse", r, "--reason", "grounds_not_met", "--text", "要件を満たしません", "--partial"}, contract.UpdateDecide,
			&dsrv1.Decide{Actor: "A", Outcome: dsrv1.DecisionOutcome_DECISION_OUTCOME_PARTIALLY_REFUSE, ReasonCode: "grounds_not_met", Explanation: "要件を満たしません"}},
		{[]string{"review-identity", r, "--reject", "--reason", "委任状なし"}, contract.UpdateReviewIdentity,
			&dsrv1.ReviewIdentity{Actor: "A", Approve: false, Reason: "委任状なし"}},
		{[]string{"fee-paid", r, "--reference", "PAY-1", "--amount", "1000"}, contract.UpdateMarkFeePaid,
			&dsrv1.MarkFeePaid{Actor: "A", Reference: "PAY-1", AmountJpy: 1000}},
		{[]string{"extend", r, "--reason", "調査に時間を要するため"}, contract.UpdateExtendDeadline,
			&dsrv1.ExtendDeadline{Actor: "A", Reason: "調査に時間を要するため"}},
		{[]string{"entrusted", r, "--company", "facility-kanda", "--decline", "--note", "電話で回答"}, contract.UpdateEntrustedInstruction,
			&dsrv1.EntrustedInstruction{Actor: "A", CompanyId: "facility-kanda", Proceed: false, Note: "電話で回答"}},
		{[]string{"retry-holder", r, "--holder", "billing"}, contract.UpdateRetryHolder,
			&dsrv1.RetryHolder{Actor: "A", Holder: "billing"}},
		{[]string{"close-withdrawn", r, "--reason", "電話で取下げ"}, contract.UpdateCloseWithdrawn,
			&dsrv1.CloseWithdrawn{Actor: "A", Reason: "電話で取下げ"}},
	} {
		f := &fake{}
		code, out, errs := run(t, f, withToken, c.args...)
		if code != ExitOK || len(f.actions) != 1 {
			t.Errorf("%v: exit %d, %d actions, stderr %q", c.args, code, len(f.actions), errs)
			continue
		}
		a := f.actions[0]
		if a.Update != c.update || a.Receipt != r || !proto.Equal(a.Arg("A"), c.want) {
			t.Errorf("%v: update %s arg %v, want %s %v", c.args, a.Update, a.Arg("A"), c.update, c.want)
		}
		if !strings.Contains(out, "accepted") || !strings.Contains(out, "audit #7") {
			t.Errorf("%v: output %q", c.args, out)
		}
	}
}

func TestRejectedUnauthenticatedAndMalformedActionsExitNonZeroWithAClearMessage(t *testing.T) {
	f := &fake{reject: `a decision is not possible while the request is at stage "verifying"`}
	code, _, errs := run(t, f, withToken, "approve", "20261126-7K3M9Q")
	if code != ExitRejected || !strings.Contains(errs, `stage "verifying"`) || !strings.Contains(errs, "audit #8") {
		t.Errorf("rejected: exit %d stderr %q", code, errs)
	}
	code, _, errs = run(t, &fake{}, nil, "extend", "20261126-7K3M9Q", "--reason", "x")
	if code != ExitAuth || !strings.Contains(errs, "DSRCTL_TOKEN") {
		t.Errorf("no token: exit %d stderr %q", code, errs)
	}
	code, _, _ = run(t, &fake{}, map[string]string{"DSRCTL_TOKEN": "wrong"}, "extend", "20261126-7K3M9Q", "--reason", "x")
	if code != ExitAuth {
		t.Errorf("wrong token: exit %d", code)
	}
	for _, args := range [][]string{
		{"refuse", "20261126-7K3M9Q", "--reason", "not_found"},
		{"review-identity", "20261126-7K3M9Q"},
		{"entrusted", "20261126-7K3M9Q", "--company", "x", "--proceed", "--decline"},
		{"extend", "20261126-7K3M9Q"},
		{"approve"},
		{"approve", "20261126-7K3M9Q", "--bogus"},
	} {
		f := &fake{}
		if code, _, errs := run(t, f, withToken, args...); code != ExitUsage || len(f.actions) != 0 || errs == "" {
			t.Errorf("%v: exit %d, %d actions sent, stderr %q; want a usage error and nothing sent", args, code, len(f.actions), errs)
		}
	}
}

func TestListAndShowPrintTheRequests(t *testing.T) {
	f := &fake{}
	code, out, errs := run(t, f, withToken, "list", "--overdue", "--kind", "deletion", "--due-within", "7d", "--show-query")
	if code != ExitOK {
		t.Fatalf("list: %d %s", code, errs)
	}
	if !f.filter.Overdue || f.filter.Kind != "deletion" || f.filter.DueWithin != 7*24*time.Hour {
		t.Errorf("filter = %+v", f.filter)
	}
	for _, want := range []string{"query: DsrAttention = 'overdue' AND DsrKind = 'deletion'", "RECEIPT", "20261126-7K3M9Q",
		"staff_review", "2026-12-10 !", "staff_decision,overdue"} {
		if !strings.Contains(out, want) {
			t.Errorf("list output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = run(t, f, withToken, "show", "20261126-7K3M9Q")
	for _, want := range []string{"waiting for a staff decision", "Timeline", "received", "#3", "extend", "調査に時間を要するため"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("show output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = run(t, f, nil, "views")
	if code != ExitOK || !strings.Contains(out, "waiting-on-staff") || !strings.Contains(out, "DsrAttention = 'overdue'") {
		t.Errorf("views: %d\n%s", code, out)
	}
}

func TestDataConverterNeedsKeysOrTheCodecServer(t *testing.T) {
	if _, err := DataConverter(Conn{}); err == nil {
		t.Error("no keys and no codec endpoint accepted")
	}
	if _, err := DataConverter(Conn{CodecEndpoint: "http://127.0.0.1:8089", Token: "tok"}); err != nil {
		t.Error(err)
	}
	if _, err := DataConverter(Conn{Keys: "k1:short"}); err == nil {
		t.Error("bad key ring accepted")
	}
}

func TestShowPrintsHowOftenTheDisclosurePackageWasDownloaded(t *testing.T) {
	id := strings.Repeat("ab", 32)
	expires := time.Date(2026, 12, 26, 1, 0, 0, 0, time.UTC)
	st := &dsrv1.RequestStatus{Receipt: "20261126-7K3M9Q", Kind: "disclosure", Jurisdiction: "JP", Stage: "completed",
		PackageId: id, PackageExpiresAt: timestamppb.New(expires)}
	f := &fake{show: &staff.Details{ExecutionStatus: "Completed", Status: st, Package: &dsrv1.PackageStatus{PackageId: id,
		Downloads: 2, LastDownloadAt: timestamppb.New(expires.Add(-48 * time.Hour)), CodesIssued: 3, CodesLeft: 7,
		ExpiresAt: timestamppb.New(expires)}}}
	code, out, _ := run(t, f, withToken, "show", "20261126-7K3M9Q")
	for _, want := range []string{"package", id[:12] + "…", "downloads", "2 (last ", "codes sent 3, 7 left"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("show output lacks %q:\n%s", want, out)
		}
	}
	f.show.Package = nil
	if _, out, _ = run(t, f, withToken, "show", "20261126-7K3M9Q"); !strings.Contains(out, "not counted") {
		t.Errorf("an older request's package:\n%s", out)
	}
}

// dsrctl signs with the key in MADOGUCHI_STAFF_SIGNING_KEY, and stops on
// a malformed one before it connects to anything.
func TestTheStaffSigningKeyComesFromTheEnvironment(t *testing.T) {
	var got Conn
	code := Run(context.Background(), []string{"extend", "20261126-7K3M9Q", "--reason", "x"}, Env{
		Getenv: func(k string) string {
			return map[string]string{"DSRCTL_TOKEN": "tok", "MADOGUCHI_STAFF_SIGNING_KEY": "s1:c2VlZA=="}[k]
		},
		Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{},
		Connect: func(_ context.Context, c Conn) (Backend, func(), error) { got = c; return &fake{}, func() {}, nil },
	})
	if code != ExitOK || got.SigningKey != "s1:c2VlZA==" {
		t.Errorf("exit %d, signing key %q; want the environment's", code, got.SigningKey)
	}
	if _, _, err := Dial(context.Background(), Conn{StaffDatabaseURL: "postgres://127.0.0.1:1/x", SigningKey: "s1:c2VlZA=="}); err == nil ||
		!strings.Contains(err.Error(), "MADOGUCHI_STAFF_SIGNING_KEY") || strings.Contains(err.Error(), "c2VlZA") {
		t.Errorf("Dial with a malformed signing key: %v; want an error naming the variable, not the key", err)
	}
}
