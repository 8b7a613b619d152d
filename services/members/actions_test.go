package members_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"madoguchi.dev/platform/testinfra"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
	"madoguchi.dev/services/holderkit/holdertest"
	"madoguchi.dev/services/members"
	"madoguchi.dev/services/members/migrations"
)

// These tests run the handlers directly inside a transaction on a freshly
// migrated and seeded database (no NATS), as holderkit does.

func actDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return testinfra.Pool(t, "t_members_act", migrations.FS)
}

// handlers is members under test, run directly.
var handlers = holdertest.Holder{Name: members.Name, Actions: members.Actions()}

func act(t *testing.T, pool *pgxpool.Pool, action dsrv1.Action, subject *dsrv1.Subject, corrections map[string]string) holderkit.Result {
	t.Helper()
	return handlers.Run(t, pool, holderkit.Command{Action: action, Subject: subject, Corrections: corrections})
}

// actCount runs a counting query (holdertest.Count).
var actCount = holdertest.Count

func wantOutcome(t *testing.T, res holderkit.Result, outcome dsrv1.Outcome, records int) {
	t.Helper()
	if res.Outcome != outcome || res.RecordsAffected != records {
		t.Errorf("result = %v, %d records (%q); want %v, %d", res.Outcome, res.RecordsAffected, res.Reason, outcome, records)
	}
}

// The workflow locates with the address the requester proved (the subject's
// e-mail here): only member records holding it count as theirs, and only a
// member record of the typed number holding it confirms the number.
func TestLocateCountsOnlyMemberRecordsHoldingTheProvenAddress(t *testing.T) {
	t.Parallel()
	pool := actDB(t)
	for _, tc := range []struct {
		name    string
		subject *dsrv1.Subject
		outcome dsrv1.Outcome
		records int
		// unconfirmed records, and whether the member number is confirmed
		unconfirmed int
		member      bool
	}{
		{"both identifiers", &dsrv1.Subject{MemberId: "M-1001", Email: "hanako@example.jp"}, dsrv1.Outcome_OUTCOME_DONE, 1, 0, true},
		{"e-mail only, any case", &dsrv1.Subject{Email: " Hanako@Example.JP "}, dsrv1.Outcome_OUTCOME_DONE, 1, 0, false},
		{"member number only: nothing proven", &dsrv1.Subject{MemberId: "M-1004"}, dsrv1.Outcome_OUTCOME_PARTIAL, 0, 1, false},
		{"another member's e-mail", &dsrv1.Subject{MemberId: "M-1001", Email: "taro@example.jp"}, dsrv1.Outcome_OUTCOME_PARTIAL, 1, 1, false},
		{"right e-mail, unknown number", &dsrv1.Subject{MemberId: "M-9999", Email: "hanako@example.jp"}, dsrv1.Outcome_OUTCOME_DONE, 1, 0, false},
		{"nobody", &dsrv1.Subject{MemberId: "M-9999", Email: "nobody@example.jp"}, dsrv1.Outcome_OUTCOME_NOT_FOUND, 0, 0, false},
		{"no identifiers", &dsrv1.Subject{Name: "山田 花子"}, dsrv1.Outcome_OUTCOME_NOT_FOUND, 0, 0, false},
	} {
		res := act(t, pool, dsrv1.Action_ACTION_LOCATE, tc.subject, nil)
		if res.Outcome != tc.outcome || res.RecordsAffected != tc.records || res.Unconfirmed != tc.unconfirmed || res.MemberConfirmed != tc.member {
			t.Errorf("%s: %v covered %d unconfirmed %d member %v; want %v %d %d %v", tc.name, res.Outcome, res.RecordsAffected,
				res.Unconfirmed, res.MemberConfirmed, tc.outcome, tc.records, tc.unconfirmed, tc.member)
		}
		if len(res.Entrusted) != 0 || res.Export != nil {
			t.Errorf("%s: locate reported entrusted records or an export", tc.name)
		}
	}
	if n := actCount(t, pool, "SELECT count(*) FROM members"); n != 4 {
		t.Errorf("locate changed data: %d members", n)
	}
}

func TestCorrectAppliesWhitelistedFieldsOnlyToTheMember(t *testing.T) {
	t.Parallel()
	pool := actDB(t)
	res := act(t, pool, dsrv1.Action_ACTION_CORRECT, &dsrv1.Subject{MemberId: "M-1001", Email: "hanako@example.jp"},
		map[string]string{"name": "山田 花江", "address": " 山口県下関市豊北町神田2-2 ", "postal_code": "759-5332",
			"email": "hanae@example.jp", "phone": "090-0000-1111", "name_kana": "やまだ はなえ"})
	wantOutcome(t, res, dsrv1.Outcome_OUTCOME_DONE, 1)
	if !strings.Contains(res.Reason, "address, email, name, name_kana, phone, postal_code") {
		t.Errorf("reason %q does not list the corrected fields", res.Reason)
	}
	if n := actCount(t, pool, `SELECT count(*) FROM members WHERE member_id = 'M-1001' AND name = '山田 花江'
	    AND address = '山口県下関市豊北町神田2-2' AND postal_code = '759-5332' AND email = 'hanae@example.jp'
	    AND phone = '090-0000-1111' AND name_kana = 'やまだ はなえ' AND corrected_at IS NOT NULL
	    AND care_level = '要介護2'`); n != 1 {
		t.Error("M-1001 not corrected as approved (or other fields changed)")
	}
	if n := actCount(t, pool, `SELECT count(*) FROM members WHERE corrected_at IS NOT NULL`); n != 1 {
		t.Errorf("%d members corrected, want only M-1001", n)
	}
}

func TestCorrectWithAnUnknownFieldAppliesTheRestAndReportsPartial(t *testing.T) {
	t.Parallel()
	pool := actDB(t)
	res := act(t, pool, dsrv1.Action_ACTION_CORRECT, &dsrv1.Subject{Email: "taro@example.jp"},
		map[string]string{"phone": "080-9999-0000", "care_level": "要介護5", "email": "not an address"})
	wantOutcome(t, res, dsrv1.Outcome_OUTCOME_PARTIAL, 1)
	if !strings.Contains(res.Reason, "unknown fields not applied: care_level") || !strings.Contains(res.Reason, "invalid values not applied: email") {
		t.Errorf("reason = %q", res.Reason)
	}
	if strings.Contains(res.Reason, "not an address") || strings.Contains(res.Reason, "080-9999") {
		t.Errorf("reason quotes a value: %q", res.Reason)
	}
	if n := actCount(t, pool, `SELECT count(*) FROM members WHERE member_id = 'M-1002' AND phone = '080-9999-0000'
	    AND care_level = '要支援1' AND email = 'taro@example.jp'`); n != 1 {
		t.Error("M-1002 not corrected as expected")
	}

	if res := act(t, pool, dsrv1.Action_ACTION_CORRECT, &dsrv1.Subject{MemberId: "M-1002"}, nil); res.Outcome != dsrv1.Outcome_OUTCOME_FAILED {
		t.Errorf("no corrections: %v", res.Outcome)
	}
	res = act(t, pool, dsrv1.Action_ACTION_CORRECT, &dsrv1.Subject{MemberId: "M-9999"}, map[string]string{"name": "x"})
	wantOutcome(t, res, dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestSuspendFlagsTheMemberOnceAndExportShowsIt(t *testing.T) {
	t.Parallel()
	pool := actDB(t)
	subject := &dsrv1.Subject{MemberId: "M-1003", Email: "ichiro@example.jp"}
	wantOutcome(t, act(t, pool, dsrv1.Action_ACTION_SUSPEND, subject, nil), dsrv1.Outcome_OUTCOME_DONE, 1)
	var first string
	if err := pool.QueryRow(context.Background(),
		"SELECT use_suspended_at::text FROM members WHERE member_id = 'M-1003' AND use_suspended").Scan(&first); err != nil {
		t.Fatalf("M-1003 not suspended: %v", err)
	}
	wantOutcome(t, act(t, pool, dsrv1.Action_ACTION_SUSPEND, subject, nil), dsrv1.Outcome_OUTCOME_DONE, 1)
	if n := actCount(t, pool, "SELECT count(*) FROM members WHERE member_id = 'M-1003' AND use_suspended_at::text = $1", first); n != 1 {
		t.Error("suspending again moved the suspension time")
	}
	if n := actCount(t, pool, "SELECT count(*) FROM members WHERE use_suspended"); n != 1 {
		t.Errorf("%d members suspended, want 1", n)
	}
	res := act(t, pool, dsrv1.Action_ACTION_EXPORT, subject, nil)
	var doc []struct {
		MemberID     string `json:"member_id"`
		UseSuspended bool   `json:"use_suspended"`
	}
	if err := json.Unmarshal(res.Export, &doc); err != nil || len(doc) != 1 || !doc[0].UseSuspended {
		t.Errorf("export = %s (%v)", res.Export, err)
	}
	wantOutcome(t, act(t, pool, dsrv1.Action_ACTION_SUSPEND, &dsrv1.Subject{Email: "nobody@example.jp"}, nil), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

// The binding rule (holderkit): a member number typed by someone who proved
// only their own address finds, changes and exports nothing.
func TestSomeoneElsesMemberNumberReachesNoRecord(t *testing.T) {
	t.Parallel()
	handlers.Unbound(t, actDB(t), &dsrv1.Subject{MemberId: "M-1001", Email: "mallory@attacker.example"})
}
