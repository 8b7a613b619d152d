package partners_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
	"madoguchi.dev/services/holderkit/holdertest"
	"madoguchi.dev/services/partners"
	"madoguchi.dev/services/partners/migrations"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

var hanako = &dsrv1.Subject{MemberId: "M-1001", Email: "hanako@example.jp"}

func seeded(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return testinfra.Pool(t, "t_partners", migrations.FS)
}

// holder is partners under test.
var holder = holdertest.Holder{Name: partners.Name, Actions: partners.Actions()}

// run carries out one action inside a transaction, as holderkit does.
func run(t *testing.T, pool *pgxpool.Pool, action dsrv1.Action, subject *dsrv1.Subject) holderkit.Result {
	t.Helper()
	return holder.Run(t, pool, holderkit.Command{Action: action, Subject: subject})
}

// count runs a counting query (holdertest.Count).
var count = holdertest.Count

func want(t *testing.T, res holderkit.Result, outcome dsrv1.Outcome, records int) {
	t.Helper()
	if res.Outcome != outcome || res.RecordsAffected != records {
		t.Errorf("result = %v, %d records (%q); want %v, %d", res.Outcome, res.RecordsAffected, res.Reason, outcome, records)
	}
}

type recordsDoc struct {
	Holder           string
	ProvisionRecords []struct {
		RecordID    string `json:"record_id"`
		Direction   string
		Date        string
		ThirdParty  string `json:"third_party"`
		SubjectName string `json:"subject_name"`
		Items       []string
	} `json:"provision_records"`
}

func TestEraseDeletesConsentsAndKeepsProvisionRecords(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	res := run(t, pool, dsrv1.Action_ACTION_ERASE, hanako)
	// 2 consents + 1 expired record deleted, the subject anonymised, 3 records kept.
	want(t, res, dsrv1.Outcome_OUTCOME_RETAINED_BY_LAW, 7)
	if res.LegalBasis != partners.LegalBasis || !strings.Contains(res.Reason, "3 provision record(s) kept until 2029-10-01") {
		t.Errorf("legal basis %q reason %q", res.LegalBasis, res.Reason)
	}
	if got := res.RetainedUntil.Format(time.DateOnly); got != "2029-10-01" {
		t.Errorf("retained until %s, want the latest record's 2029-10-01", got)
	}
	for q, n := range map[string]int{
		"SELECT count(*) FROM provision_consents WHERE subject_id = 'PS-0001'":                        0,
		"SELECT count(*) FROM provision_records WHERE record_id = 'PR-0001'":                          0,
		"SELECT count(*) FROM provision_records WHERE record_id IN ('PR-0002', 'PR-0003', 'PR-0004')": 3,
		`SELECT count(*) FROM provision_subjects WHERE subject_id = 'PS-0001' AND email = '' AND name = '山田 花子'
		   AND member_id = 'M-1001' AND erased_at IS NOT NULL AND provision_stopped_at IS NOT NULL`: 1,
		"SELECT count(*) FROM provision_consents":                              3,
		"SELECT count(*) FROM provision_subjects WHERE email <> ''":            3,
		"SELECT count(*) FROM provision_records WHERE subject_id <> 'PS-0001'": 2,
	} {
		if got := count(t, pool, q); got != n {
			t.Errorf("%s = %d, want %d", q, got, n)
		}
	}
	// The kept records can still be disclosed by member number.
	res = run(t, pool, dsrv1.Action_ACTION_EXPORT_PROVISION_RECORDS, &dsrv1.Subject{MemberId: "M-1001"})
	want(t, res, dsrv1.Outcome_OUTCOME_DONE, 3)
}

func TestEraseWithoutRecordsDeletesEverything(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	res := run(t, pool, dsrv1.Action_ACTION_ERASE, &dsrv1.Subject{Email: "emily@example.com"})
	want(t, res, dsrv1.Outcome_OUTCOME_DONE, 2)
	if res.LegalBasis != "" {
		t.Errorf("legal basis %q", res.LegalBasis)
	}
	if n := count(t, pool, "SELECT count(*) FROM provision_subjects WHERE subject_id = 'PS-0004'"); n != 0 {
		t.Error("PS-0004 not deleted")
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_ERASE, &dsrv1.Subject{Email: "emily@example.com"}), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestStopProvisionRevokesConsentsAndKeepsRecords(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	res := run(t, pool, dsrv1.Action_ACTION_STOP_PROVISION, hanako)
	want(t, res, dsrv1.Outcome_OUTCOME_DONE, 3)
	if res.LegalBasis != partners.LegalBasis || !strings.Contains(res.Reason, "2 consent(s) revoked") ||
		!strings.Contains(res.Reason, "4 record(s) of past provision kept") {
		t.Errorf("legal basis %q reason %q", res.LegalBasis, res.Reason)
	}
	for q, n := range map[string]int{
		"SELECT count(*) FROM provision_consents WHERE subject_id = 'PS-0001' AND revoked_at IS NOT NULL":           2,
		"SELECT count(*) FROM provision_subjects WHERE subject_id = 'PS-0001' AND provision_stopped_at IS NOT NULL": 1,
		"SELECT count(*) FROM provision_records WHERE subject_id = 'PS-0001'":                                       4,
		"SELECT count(*) FROM provision_consents WHERE revoked_at IS NULL":                                          2,
		"SELECT count(*) FROM provision_subjects WHERE provision_stopped_at IS NOT NULL":                            1,
	} {
		if got := count(t, pool, q); got != n {
			t.Errorf("%s = %d, want %d", q, got, n)
		}
	}
	// Consent already revoked: provision is still stopped for good.
	res = run(t, pool, dsrv1.Action_ACTION_STOP_PROVISION, &dsrv1.Subject{MemberId: "M-1002"})
	want(t, res, dsrv1.Outcome_OUTCOME_DONE, 1)
	want(t, run(t, pool, dsrv1.Action_ACTION_STOP_PROVISION, &dsrv1.Subject{MemberId: "M-9999"}), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestExportProvisionRecordsListsOnlyTheRecords(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	res := run(t, pool, dsrv1.Action_ACTION_EXPORT_PROVISION_RECORDS, hanako)
	want(t, res, dsrv1.Outcome_OUTCOME_DONE, 4)
	var doc recordsDoc
	if err := json.Unmarshal(res.Export, &doc); err != nil {
		t.Fatalf("%v: %s", err, res.Export)
	}
	r := doc.ProvisionRecords
	if doc.Holder != "partners" || len(r) != 4 || r[0].RecordID != "PR-0001" || r[0].Date != "2020-06-01" ||
		r[0].ThirdParty != "株式会社やまぐち福祉用具" || r[0].SubjectName != "山田 花子" || len(r[0].Items) != 3 ||
		r[1].Direction != "received_from" || r[1].ThirdParty != "デイサービスかんだ運営株式会社" {
		t.Errorf("records = %s", res.Export)
	}
	if strings.Contains(string(res.Export), "consented_at") {
		t.Error("consents in the provision-record export")
	}
	res = run(t, pool, dsrv1.Action_ACTION_EXPORT_PROVISION_RECORDS, &dsrv1.Subject{MemberId: "M-1004"})
	want(t, res, dsrv1.Outcome_OUTCOME_DONE, 0)
	if !strings.Contains(string(res.Export), `"provision_records" : []`) && !strings.Contains(string(res.Export), `"provision_records":[]`) {
		t.Errorf("export without records = %s", res.Export)
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_EXPORT_PROVISION_RECORDS, &dsrv1.Subject{Email: "x@example.jp"}), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestExportAndLocate(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	res := run(t, pool, dsrv1.Action_ACTION_EXPORT, hanako)
	want(t, res, dsrv1.Outcome_OUTCOME_DONE, 1)
	var doc struct {
		Subjects []struct{ Email string }
		Consents []struct {
			ThirdParty string `json:"third_party"`
		}
		ProvisionRecords []json.RawMessage `json:"provision_records"`
	}
	if err := json.Unmarshal(res.Export, &doc); err != nil || len(doc.Subjects) != 1 || doc.Subjects[0].Email != "hanako@example.jp" ||
		len(doc.Consents) != 2 || len(doc.ProvisionRecords) != 4 {
		t.Errorf("export = %s (%v)", res.Export, err)
	}

	want(t, run(t, pool, dsrv1.Action_ACTION_LOCATE, hanako), dsrv1.Outcome_OUTCOME_DONE, 1)
	res = run(t, pool, dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-1003", Email: "hanako@example.jp"})
	if res.Outcome != dsrv1.Outcome_OUTCOME_PARTIAL || res.Reason != "identifiers_mismatch" {
		t.Errorf("mismatch: %v %q", res.Outcome, res.Reason)
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-9999"}), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestProvisionRecordsThroughHolderkitAreSealed(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	action := dsrv1.Action_ACTION_EXPORT_PROVISION_RECORDS
	res, ring := holder.Through(t, pool, action, hanako)
	if res.GetOutcome() != dsrv1.Outcome_OUTCOME_DONE || res.GetRecordsAffected() != 4 || res.GetAction() != action {
		t.Errorf("result = %v", res)
	}
	wire, _ := proto.Marshal(res)
	if strings.Contains(string(wire), "山田") || strings.Contains(string(wire), "みどり薬局") {
		t.Error("result carries records in the clear")
	}
	var exp dsrv1.Export
	if err := ring.OpenMessageFor(res.GetExport(), &exp, contract.ExportScope(res.GetRequestId(), res.GetHolder())); err != nil {
		t.Fatal(err)
	}
	var doc recordsDoc
	if err := json.Unmarshal(exp.GetJson(), &doc); err != nil || len(doc.ProvisionRecords) != 4 {
		t.Errorf("export %s (%v)", exp.GetJson(), err)
	}
}

// The binding rule (holderkit): Hanako's member number typed by someone who
// proved only their own address finds, changes and exports nothing.
func TestSomeoneElsesMemberNumberReachesNoRecord(t *testing.T) {
	t.Parallel()
	holder.Unbound(t, seeded(t), &dsrv1.Subject{MemberId: hanako.GetMemberId(), Email: "mallory@attacker.example"})
}
