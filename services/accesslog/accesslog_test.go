package accesslog_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"madoguchi.dev/platform/testinfra"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/accesslog"
	"madoguchi.dev/services/accesslog/migrations"
	"madoguchi.dev/services/holderkit"
	"madoguchi.dev/services/holderkit/holdertest"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

var hanako = &dsrv1.Subject{MemberId: "M-1001", Email: "hanako@example.jp"}

func seeded(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return testinfra.Pool(t, "t_accesslog", migrations.FS)
}

// holder is accesslog under test.
var holder = holdertest.Holder{Name: accesslog.Name, Actions: accesslog.Actions()}

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

func TestEraseUnlinksIdentifiersAndAnonymisesLogs(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	// 1 link + 3 identifiers + 3 log lines (one from before login, by cookie).
	want(t, run(t, pool, dsrv1.Action_ACTION_ERASE, hanako), dsrv1.Outcome_OUTCOME_DONE, 7)
	for q, n := range map[string]int{
		"SELECT count(*) FROM linked_members WHERE member_id = 'M-1001'":                                 0,
		"SELECT count(*) FROM web_identifiers WHERE member_id = 'M-1001'":                                0,
		"SELECT count(*) FROM web_identifiers WHERE identifier IN ('ck_7f3a91c2e4', 'wb_55d0e1a9')":      0,
		"SELECT count(*) FROM access_logs WHERE member_id = 'M-1001' OR identifier = 'ck_7f3a91c2e4'":    0,
		"SELECT count(*) FROM access_logs WHERE host(ip) = '203.0.113.24' OR user_agent LIKE '%iPhone%'": 0,
		`SELECT count(*) FROM access_logs WHERE member_id IS NULL AND identifier IS NULL AND host(ip) = '203.0.113.0'
		   AND user_agent IS NULL AND referrer IS NULL AND path IN ('/', '/login', '/mypage/reservations')`: 3,
		// Others untouched.
		"SELECT count(*) FROM linked_members":                                                              3,
		"SELECT count(*) FROM web_identifiers":                                                             3,
		"SELECT count(*) FROM access_logs WHERE user_agent IS NOT NULL":                                    4,
		"SELECT count(*) FROM access_logs WHERE identifier = 'ck_0000anon01' AND host(ip) = '192.0.2.200'": 1,
	} {
		if got := count(t, pool, q); got != n {
			t.Errorf("%s = %d, want %d", q, got, n)
		}
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_ERASE, hanako), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestEraseCutsIPv6AddressesToTheirNetwork(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	want(t, run(t, pool, dsrv1.Action_ACTION_ERASE, &dsrv1.Subject{Email: "ICHIRO@example.jp"}), dsrv1.Outcome_OUTCOME_DONE, 3)
	if n := count(t, pool, "SELECT count(*) FROM access_logs WHERE host(ip) = '2001:db8:85a3::' AND member_id IS NULL"); n != 1 {
		t.Error("IPv6 address not cut to /48")
	}
}

func TestExportHasIdentifiersAndEveryLogLine(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	res := run(t, pool, dsrv1.Action_ACTION_EXPORT, &dsrv1.Subject{MemberId: "M-1001"})
	want(t, res, dsrv1.Outcome_OUTCOME_DONE, 7)
	var doc struct {
		Holder        string
		LinkedMembers []struct {
			LoginEmail string `json:"login_email"`
		} `json:"linked_members"`
		Identifiers []struct{ Identifier, Kind, Source string }
		AccessLogs  []struct{ IP, Path string } `json:"access_logs"`
	}
	if err := json.Unmarshal(res.Export, &doc); err != nil {
		t.Fatalf("%v: %s", err, res.Export)
	}
	if doc.Holder != "accesslog" || len(doc.LinkedMembers) != 1 || doc.LinkedMembers[0].LoginEmail != "hanako@example.jp" ||
		len(doc.Identifiers) != 3 || len(doc.AccessLogs) != 3 || doc.AccessLogs[0].IP != "203.0.113.24" || doc.AccessLogs[0].Path != "/" {
		t.Errorf("export = %s", res.Export)
	}
	if strings.Contains(string(res.Export), "ck_b81d4f0a77") || strings.Contains(string(res.Export), "anon") {
		t.Errorf("export holds someone else's data: %s", res.Export)
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_EXPORT, &dsrv1.Subject{Email: "nobody@example.jp"}), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestSuspendExcludesFromAnalytics(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	want(t, run(t, pool, dsrv1.Action_ACTION_SUSPEND, &dsrv1.Subject{MemberId: "M-1002"}), dsrv1.Outcome_OUTCOME_DONE, 1)
	if n := count(t, pool, "SELECT count(*) FROM linked_members WHERE analytics_suspended_at IS NOT NULL"); n != 1 {
		t.Errorf("%d suspended, want 1", n)
	}
	if n := count(t, pool, "SELECT count(*) FROM linked_members WHERE member_id = 'M-1002' AND analytics_suspended_at IS NOT NULL"); n != 1 {
		t.Error("M-1002 not suspended")
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_SUSPEND, &dsrv1.Subject{MemberId: "M-9999"}), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestLocate(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	want(t, run(t, pool, dsrv1.Action_ACTION_LOCATE, hanako), dsrv1.Outcome_OUTCOME_DONE, 1)
	res := run(t, pool, dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-1001", Email: "emily@example.com"})
	if res.Outcome != dsrv1.Outcome_OUTCOME_PARTIAL || res.Reason != "identifiers_mismatch" {
		t.Errorf("mismatch: %v %q", res.Outcome, res.Reason)
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-9999"}), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestEraseThroughHolderkit(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	res, _ := holder.Through(t, pool, dsrv1.Action_ACTION_ERASE, hanako)
	if res.GetOutcome() != dsrv1.Outcome_OUTCOME_DONE || res.GetRecordsAffected() != 7 || res.GetHolder() != accesslog.Name {
		t.Errorf("result = %v", res)
	}
	if n := count(t, pool, "SELECT count(*) FROM web_identifiers WHERE member_id = 'M-1001'"); n != 0 {
		t.Error("identifiers still linked")
	}
}

// The binding rule (holderkit): Hanako's member number typed by someone who
// proved only their own address finds, changes and exports nothing.
func TestSomeoneElsesMemberNumberReachesNoRecord(t *testing.T) {
	t.Parallel()
	holder.Unbound(t, seeded(t), &dsrv1.Subject{MemberId: hanako.GetMemberId(), Email: "mallory@attacker.example"})
}
