package accesslog_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/accesslog"
	"madoguchi.dev/services/accesslog/migrations"
	"madoguchi.dev/services/holderkit"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

var hanako = &dsrv1.Subject{MemberId: "M-1001", Email: "hanako@example.jp"}

func seeded(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return testinfra.Pool(t, "t_accesslog", migrations.FS)
}

// run carries out one action inside a transaction, as holderkit does.
func run(t *testing.T, pool *pgxpool.Pool, action dsrv1.Action, subject *dsrv1.Subject) holderkit.Result {
	t.Helper()
	handler, ok := accesslog.Actions()[action]
	if !ok {
		t.Fatalf("accesslog does not implement %v", action)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testinfra.Timeout)
	defer cancel()
	var res holderkit.Result
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		res, err = handler(ctx, tx, holderkit.Command{ID: "req-t.accesslog.1", RequestID: "req-t", Action: action, Attempt: 1, Subject: subject})
		return err
	}); err != nil {
		t.Fatalf("%v: %v", action, err)
	}
	return res
}

func count(t *testing.T, pool *pgxpool.Pool, query string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

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
	res, _ := throughHolder(t, pool, dsrv1.Action_ACTION_ERASE, hanako)
	if res.GetOutcome() != dsrv1.Outcome_OUTCOME_DONE || res.GetRecordsAffected() != 7 || res.GetHolder() != accesslog.Name {
		t.Errorf("result = %v", res)
	}
	if n := count(t, pool, "SELECT count(*) FROM web_identifiers WHERE member_id = 'M-1001'"); n != 0 {
		t.Error("identifiers still linked")
	}
}

// throughHolder sends one command through embedded JetStream to a running
// holderkit.Holder and returns the result it publishes.
func throughHolder(t *testing.T, pool *pgxpool.Pool, action dsrv1.Action, subject *dsrv1.Subject) (*dsrv1.HolderResult, *seal.Ring) {
	t.Helper()
	_, js, ns := testinfra.NATS(t)
	ring := testinfra.Ring(t)
	hk := &holderkit.Holder{Name: accesslog.Name, Namespace: ns, JS: js, Pool: pool, Ring: ring,
		Log: testinfra.Logger(t), Actions: accesslog.Actions()}
	testinfra.Go(t, hk.Run)
	sealed, err := ring.Message(subject)
	if err != nil {
		t.Fatal(err)
	}
	cmd := &dsrv1.HolderCommand{CommandId: "req-nats.accesslog.1", RequestId: "req-nats", Receipt: "20261125-7K3M9Q",
		Holder: accesslog.Name, Action: action, Attempt: 1, IssuedAt: timestamppb.Now(), Subject: sealed}
	ctx, cancel := context.WithTimeout(context.Background(), testinfra.Timeout)
	defer cancel()
	if _, err := bus.Publish(ctx, js, ns.Command(accesslog.Name, contract.ActionName(action)), cmd.GetCommandId(), cmd.GetRequestId(), cmd); err != nil {
		t.Fatal(err)
	}
	m := testinfra.WaitStreamMsg(t, js, ns.StreamResults(), ns.Result(accesslog.Name))
	var res dsrv1.HolderResult
	if err := proto.Unmarshal(m.Data, &res); err != nil {
		t.Fatal(err)
	}
	return &res, ring
}
