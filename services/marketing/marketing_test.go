package marketing_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"madoguchi.dev/platform/testinfra"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
	"madoguchi.dev/services/holderkit/holdertest"
	"madoguchi.dev/services/marketing"
	"madoguchi.dev/services/marketing/migrations"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

var hanako = &dsrv1.Subject{MemberId: "M-1001", Email: "hanako@example.jp"}

func seeded(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return testinfra.Pool(t, "t_marketing", migrations.FS)
}

// holder is marketing under test.
var holder = holdertest.Holder{Name: marketing.Name, Actions: marketing.Actions()}

// run carries out one action inside a transaction, as holderkit does.
func run(t *testing.T, pool *pgxpool.Pool, action dsrv1.Action, subject *dsrv1.Subject, corrections map[string]string) holderkit.Result {
	t.Helper()
	return holder.Run(t, pool, holderkit.Command{Action: action, Subject: subject, Corrections: corrections})
}

// count runs a counting query (holdertest.Count).
var count = holdertest.Count

func want(t *testing.T, res holderkit.Result, outcome dsrv1.Outcome, records int) {
	t.Helper()
	if res.Outcome != outcome || res.RecordsAffected != records {
		t.Errorf("result = %v, %d records (%q); want %v, %d", res.Outcome, res.RecordsAffected, res.Reason, outcome, records)
	}
}

func TestEraseDeletesTheSubscriberAndEverythingDerived(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	// 1 subscriber + 2 subscriptions + 1 delivery + 2 segment memberships.
	want(t, run(t, pool, dsrv1.Action_ACTION_ERASE, hanako, nil), dsrv1.Outcome_OUTCOME_DONE, 6)
	for q, n := range map[string]int{
		"SELECT count(*) FROM subscribers WHERE member_id = 'M-1001' OR email = 'hanako@example.jp'": 0,
		"SELECT count(*) FROM campaign_subscriptions WHERE subscriber_id = 'S-0001'":                 0,
		"SELECT count(*) FROM campaign_deliveries WHERE subscriber_id = 'S-0001'":                    0,
		"SELECT count(*) FROM segment_memberships WHERE subscriber_id = 'S-0001'":                    0,
		"SELECT count(*) FROM subscribers":                                                           3,
		"SELECT count(*) FROM segment_memberships":                                                   2,
		"SELECT count(*) FROM campaigns":                                                             3,
	} {
		if got := count(t, pool, q); got != n {
			t.Errorf("%s = %d, want %d", q, got, n)
		}
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_ERASE, hanako, nil), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestSuspendUnsubscribesAndExcludesFromAnalytics(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	// 1 subscriber + 2 open subscriptions + 2 segment memberships.
	want(t, run(t, pool, dsrv1.Action_ACTION_SUSPEND, &dsrv1.Subject{Email: "hanako@example.jp"}, nil), dsrv1.Outcome_OUTCOME_DONE, 5)
	for q, n := range map[string]int{
		"SELECT count(*) FROM subscribers WHERE subscriber_id = 'S-0001' AND unsubscribed_at IS NOT NULL AND analytics_excluded_at IS NOT NULL": 1,
		"SELECT count(*) FROM campaign_subscriptions WHERE subscriber_id = 'S-0001' AND unsubscribed_at IS NULL":                                0,
		"SELECT count(*) FROM segment_memberships WHERE subscriber_id = 'S-0001'":                                                               0,
		"SELECT count(*) FROM campaign_deliveries WHERE subscriber_id = 'S-0001'":                                                               1,
		"SELECT count(*) FROM subscribers WHERE unsubscribed_at IS NOT NULL":                                                                    1,
		"SELECT count(*) FROM campaign_subscriptions WHERE unsubscribed_at IS NULL":                                                             2,
	} {
		if got := count(t, pool, q); got != n {
			t.Errorf("%s = %d, want %d", q, got, n)
		}
	}
	// Suspending again changes nothing more but is still done.
	want(t, run(t, pool, dsrv1.Action_ACTION_SUSPEND, hanako, nil), dsrv1.Outcome_OUTCOME_DONE, 1)
}

func TestExportAndCorrect(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	res := run(t, pool, dsrv1.Action_ACTION_EXPORT, hanako, nil)
	want(t, res, dsrv1.Outcome_OUTCOME_DONE, 1)
	var doc struct {
		Holder      string
		Subscribers []struct {
			Email         string
			Subscriptions []struct{ Campaign string }
			Deliveries    []struct{ Campaign string }
			Segments      []struct {
				Segment string
				Score   float64
			}
		}
	}
	if err := json.Unmarshal(res.Export, &doc); err != nil {
		t.Fatalf("%v: %s", err, res.Export)
	}
	if doc.Holder != "marketing" || len(doc.Subscribers) != 1 || doc.Subscribers[0].Email != "hanako@example.jp" ||
		len(doc.Subscribers[0].Subscriptions) != 2 || len(doc.Subscribers[0].Deliveries) != 1 || len(doc.Subscribers[0].Segments) != 2 ||
		doc.Subscribers[0].Segments[0].Segment != "デイサービス利用見込み" || doc.Subscribers[0].Segments[0].Score != 0.82 {
		t.Errorf("export = %s", res.Export)
	}

	res = run(t, pool, dsrv1.Action_ACTION_CORRECT, &dsrv1.Subject{MemberId: "M-1002"},
		map[string]string{"address": "山口県下関市丸山町5-5", "postal_code": "750-0001", "phone": "080-0000-0000"})
	want(t, res, dsrv1.Outcome_OUTCOME_DONE, 1)
	if !strings.Contains(res.Reason, "not held here: phone") {
		t.Errorf("reason %q", res.Reason)
	}
	if n := count(t, pool, "SELECT count(*) FROM subscribers WHERE subscriber_id = 'S-0002' AND address = '山口県下関市丸山町5-5' AND corrected_at IS NOT NULL"); n != 1 {
		t.Error("S-0002 not corrected")
	}
	res = run(t, pool, dsrv1.Action_ACTION_CORRECT, &dsrv1.Subject{MemberId: "M-1002"}, map[string]string{"segment": "x"})
	want(t, res, dsrv1.Outcome_OUTCOME_PARTIAL, 0)
	want(t, run(t, pool, dsrv1.Action_ACTION_EXPORT, &dsrv1.Subject{MemberId: "M-9999"}, nil), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestLocate(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	want(t, run(t, pool, dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-1004", Email: "EMILY@example.com"}, nil), dsrv1.Outcome_OUTCOME_DONE, 1)
	res := run(t, pool, dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-1004", Email: "ichiro@example.jp"}, nil)
	if res.Outcome != dsrv1.Outcome_OUTCOME_PARTIAL || res.Reason != "identifiers_mismatch" {
		t.Errorf("mismatch: %v %q", res.Outcome, res.Reason)
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{Email: "nobody@example.com"}, nil), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestSuspendThroughHolderkit(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	res, _ := holder.Through(t, pool, dsrv1.Action_ACTION_SUSPEND, hanako)
	if res.GetOutcome() != dsrv1.Outcome_OUTCOME_DONE || res.GetRecordsAffected() != 5 || res.GetHolder() != marketing.Name {
		t.Errorf("result = %v", res)
	}
	if n := count(t, pool, "SELECT count(*) FROM subscribers WHERE analytics_excluded_at IS NOT NULL"); n != 1 {
		t.Errorf("%d excluded, want 1", n)
	}
}

// The binding rule (holderkit): Hanako's member number typed by someone who
// proved only their own address finds, changes and exports nothing.
func TestSomeoneElsesMemberNumberReachesNoRecord(t *testing.T) {
	t.Parallel()
	holder.Unbound(t, seeded(t), &dsrv1.Subject{MemberId: hanako.GetMemberId(), Email: "mallory@attacker.example"})
}
