package support_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"madoguchi.dev/platform/testinfra"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
	"madoguchi.dev/services/holderkit/holdertest"
	"madoguchi.dev/services/support"
	"madoguchi.dev/services/support/migrations"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

var hanako = &dsrv1.Subject{MemberId: "M-1001", Email: "hanako@example.jp"}

const kanda = "facility-kanda"

func seeded(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return testinfra.Pool(t, "t_support", migrations.FS)
}

// holder is support under test.
var holder = holdertest.Holder{Name: support.Name, Actions: support.Actions()}

// run carries out one action inside a transaction, as holderkit does.
func run(t *testing.T, pool *pgxpool.Pool, action dsrv1.Action, subject *dsrv1.Subject, include []string, corrections map[string]string) holderkit.Result {
	t.Helper()
	return holder.Run(t, pool, holderkit.Command{Action: action, Subject: subject, IncludeEntrusted: include, Corrections: corrections})
}

// count runs a counting query (holdertest.Count).
var count = holdertest.Count

func want(t *testing.T, res holderkit.Result, outcome dsrv1.Outcome, records int) {
	t.Helper()
	if res.Outcome != outcome || res.RecordsAffected != records {
		t.Errorf("result = %v, %d records (%q); want %v, %d", res.Outcome, res.RecordsAffected, res.Reason, outcome, records)
	}
}

// wantKanda checks that the result reports exactly the seeded entrusted record.
func wantKanda(t *testing.T, entrusted []*dsrv1.EntrustedRecord) {
	t.Helper()
	if len(entrusted) != 1 || entrusted[0].GetCompanyId() != kanda || entrusted[0].GetCompanyName() != "デイサービスかんだ運営株式会社" ||
		entrusted[0].GetContactEmail() != "privacy@kanda-care.example.jp" || entrusted[0].GetRecordCount() != 1 {
		t.Errorf("entrusted = %v, want facility-kanda with 1 record", entrusted)
	}
}

func TestEraseLeavesEntrustedRecordsUntilTheCompanyInstructs(t *testing.T) {
	t.Parallel()
	pool := seeded(t)

	res := run(t, pool, dsrv1.Action_ACTION_ERASE, hanako, nil, nil)
	want(t, res, dsrv1.Outcome_OUTCOME_PARTIAL, 2)
	wantKanda(t, res.Entrusted)
	if !strings.HasPrefix(res.Reason, support.AwaitingEntrustingCompany) {
		t.Errorf("reason %q", res.Reason)
	}
	if n := count(t, pool, "SELECT count(*) FROM inquiries WHERE inquiry_id IN ('Q-0001', 'Q-0002')"); n != 0 {
		t.Error("own inquiries not deleted")
	}
	if n := count(t, pool, "SELECT count(*) FROM inquiry_responses WHERE inquiry_id IN ('Q-0001', 'Q-0002')"); n != 0 {
		t.Error("responses not deleted")
	}
	if n := count(t, pool, "SELECT count(*) FROM inquiries WHERE inquiry_id = 'Q-0003' AND entrusting_company_id = 'facility-kanda'"); n != 1 {
		t.Fatal("the entrusted inquiry was touched")
	}

	// Only entrusted records are left, and another company's instruction
	// does not cover them.
	res = run(t, pool, dsrv1.Action_ACTION_ERASE, hanako, []string{"facility-other"}, nil)
	want(t, res, dsrv1.Outcome_OUTCOME_PARTIAL, 0)
	wantKanda(t, res.Entrusted)
	if res.Reason != support.AwaitingEntrustingCompany {
		t.Errorf("reason %q, want exactly %q", res.Reason, support.AwaitingEntrustingCompany)
	}
	if n := count(t, pool, "SELECT count(*) FROM inquiries WHERE inquiry_id = 'Q-0003'"); n != 1 {
		t.Fatal("the entrusted inquiry was deleted without instruction")
	}

	// The company instructed us: now it goes.
	res = run(t, pool, dsrv1.Action_ACTION_ERASE, hanako, []string{kanda}, nil)
	want(t, res, dsrv1.Outcome_OUTCOME_DONE, 1)
	if len(res.Entrusted) != 0 {
		t.Errorf("entrusted = %v after instruction", res.Entrusted)
	}
	if n := count(t, pool, "SELECT count(*) FROM inquiries"); n != 4 {
		t.Errorf("%d inquiries left, want the other people's 4", n)
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_ERASE, hanako, []string{kanda}, nil), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestExportIncludesEntrustedRecordsOnlyWhenInstructed(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	type doc struct {
		Holder    string
		Inquiries []struct {
			InquiryID string  `json:"inquiry_id"`
			OnBehalf  *string `json:"received_on_behalf_of"`
			Responses []struct{ Body string }
		}
	}
	res := run(t, pool, dsrv1.Action_ACTION_EXPORT, hanako, nil, nil)
	want(t, res, dsrv1.Outcome_OUTCOME_PARTIAL, 2)
	wantKanda(t, res.Entrusted)
	var d doc
	if err := json.Unmarshal(res.Export, &d); err != nil {
		t.Fatalf("%v: %s", err, res.Export)
	}
	if d.Holder != "support" || len(d.Inquiries) != 2 || d.Inquiries[0].InquiryID != "Q-0001" || len(d.Inquiries[0].Responses) != 1 {
		t.Errorf("export = %s", res.Export)
	}
	if strings.Contains(string(res.Export), "送迎") {
		t.Error("the entrusted inquiry was exported without instruction")
	}

	res = run(t, pool, dsrv1.Action_ACTION_EXPORT, hanako, []string{kanda}, nil)
	want(t, res, dsrv1.Outcome_OUTCOME_DONE, 3)
	d = doc{}
	if err := json.Unmarshal(res.Export, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Inquiries) != 3 || d.Inquiries[2].InquiryID != "Q-0003" || d.Inquiries[2].OnBehalf == nil ||
		*d.Inquiries[2].OnBehalf != "デイサービスかんだ運営株式会社" || len(res.Entrusted) != 0 {
		t.Errorf("export with instruction = %s, entrusted %v", res.Export, res.Entrusted)
	}
}

func TestInquiriesFromBeforeMembershipAreFoundByEmail(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	for _, tc := range []struct {
		subject *dsrv1.Subject
		records int
	}{
		{&dsrv1.Subject{MemberId: "M-1004", Email: "Emily@Example.com"}, 2},
		{&dsrv1.Subject{Email: "emily@example.com"}, 2},
		{&dsrv1.Subject{MemberId: "M-1004"}, 1},
		// With another e-mail, only records never linked to a member come along
		// (LOCATE reports such a request as identifiers_mismatch).
		{&dsrv1.Subject{MemberId: "M-1002", Email: "emily@example.com"}, 2},
	} {
		res := run(t, pool, dsrv1.Action_ACTION_EXPORT, tc.subject, nil, nil)
		if res.RecordsAffected != tc.records || res.Outcome != dsrv1.Outcome_OUTCOME_DONE {
			t.Errorf("%v: %v %d records, want %d", tc.subject, res.Outcome, res.RecordsAffected, tc.records)
		}
	}
}

func TestCorrectAndSuspendRespectEntrustment(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	res := run(t, pool, dsrv1.Action_ACTION_CORRECT, hanako, nil, map[string]string{"phone": "090-8765-4321", "address": "x"})
	want(t, res, dsrv1.Outcome_OUTCOME_PARTIAL, 2)
	wantKanda(t, res.Entrusted)
	if !strings.Contains(res.Reason, "corrected: phone") || !strings.Contains(res.Reason, "not held here: address") {
		t.Errorf("reason %q", res.Reason)
	}
	if n := count(t, pool, "SELECT count(*) FROM inquiries WHERE phone = '090-8765-4321'"); n != 2 {
		t.Errorf("%d inquiries corrected, want 2", n)
	}
	if n := count(t, pool, "SELECT count(*) FROM inquiries WHERE inquiry_id = 'Q-0003' AND phone = '090-1234-5678' AND corrected_at IS NULL"); n != 1 {
		t.Error("the entrusted inquiry was corrected without instruction")
	}
	res = run(t, pool, dsrv1.Action_ACTION_CORRECT, hanako, []string{kanda}, map[string]string{"phone": "090-8765-4321", "hobby": "x"})
	want(t, res, dsrv1.Outcome_OUTCOME_PARTIAL, 3)
	if len(res.Entrusted) != 0 || !strings.Contains(res.Reason, "unknown fields not applied: hobby") {
		t.Errorf("entrusted %v reason %q", res.Entrusted, res.Reason)
	}

	res = run(t, pool, dsrv1.Action_ACTION_SUSPEND, hanako, nil, nil)
	want(t, res, dsrv1.Outcome_OUTCOME_PARTIAL, 2)
	wantKanda(t, res.Entrusted)
	if n := count(t, pool, "SELECT count(*) FROM inquiries WHERE use_suspended_at IS NOT NULL"); n != 2 {
		t.Errorf("%d inquiries suspended, want 2", n)
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_SUSPEND, hanako, []string{kanda}, nil), dsrv1.Outcome_OUTCOME_DONE, 3)
	if n := count(t, pool, "SELECT count(*) FROM inquiries WHERE use_suspended_at IS NOT NULL"); n != 3 {
		t.Errorf("%d inquiries suspended, want 3", n)
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_SUSPEND, &dsrv1.Subject{MemberId: "M-9999"}, nil, nil), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestLocateReportsEntrustmentAndMismatches(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	for _, include := range [][]string{nil, {kanda}} {
		res := run(t, pool, dsrv1.Action_ACTION_LOCATE, hanako, include, nil)
		want(t, res, dsrv1.Outcome_OUTCOME_DONE, 3)
		wantKanda(t, res.Entrusted)
	}
	res := run(t, pool, dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-1001", Email: "taro@example.jp"}, nil, nil)
	if res.Outcome != dsrv1.Outcome_OUTCOME_PARTIAL || res.Reason != "identifiers_mismatch" {
		t.Errorf("mismatch: %v %q", res.Outcome, res.Reason)
	}
	// A member number alone proves nothing: its inquiry is unconfirmed.
	res = run(t, pool, dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-1002"}, nil, nil)
	want(t, res, dsrv1.Outcome_OUTCOME_PARTIAL, 0)
	if res.Unconfirmed != 1 || len(res.Entrusted) != 0 {
		t.Errorf("M-1002 by number alone: %d unconfirmed, entrusted %v", res.Unconfirmed, res.Entrusted)
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{Email: "nobody@example.jp"}, nil, nil), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
	if n := count(t, pool, "SELECT count(*) FROM inquiries"); n != 7 {
		t.Errorf("locate changed data: %d inquiries", n)
	}
}

func TestEraseThroughHolderkitCarriesTheEntrustedReport(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	res, _ := holder.Through(t, pool, dsrv1.Action_ACTION_ERASE, hanako)
	if res.GetOutcome() != dsrv1.Outcome_OUTCOME_PARTIAL || res.GetRecordsAffected() != 2 || res.GetRetryable() {
		t.Errorf("result = %v", res)
	}
	wantKanda(t, res.GetEntrusted())
	if n := count(t, pool, "SELECT count(*) FROM inquiries WHERE member_id = 'M-1001'"); n != 1 {
		t.Errorf("%d M-1001 inquiries left, want the entrusted one", n)
	}
}

// The binding rule (holderkit): Hanako's member number typed by someone who
// proved only their own address finds, changes and exports nothing.
func TestSomeoneElsesMemberNumberReachesNoRecord(t *testing.T) {
	t.Parallel()
	holder.Unbound(t, seeded(t), &dsrv1.Subject{MemberId: hanako.GetMemberId(), Email: "mallory@attacker.example"})
}
