package billing_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/billing"
	"madoguchi.dev/services/billing/migrations"
	"madoguchi.dev/services/holderkit"
	"madoguchi.dev/services/holderkit/holdertest"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

var hanako = &dsrv1.Subject{MemberId: "M-1001", Email: "hanako@example.jp"}

func seeded(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return testinfra.Pool(t, "t_billing", migrations.FS)
}

// holder is billing under test.
var holder = holdertest.Holder{Name: billing.Name, Actions: billing.Actions()}

// run carries out one action inside a transaction, as holderkit does.
func run(t *testing.T, pool *pgxpool.Pool, action dsrv1.Action, subject *dsrv1.Subject, corrections map[string]string) holderkit.Result {
	t.Helper()
	return holder.Run(t, pool, holderkit.Command{Action: action, Subject: subject, Corrections: corrections})
}

// count runs a counting query (holdertest.Count).
var count = holdertest.Count

func want(t *testing.T, res holderkit.Result, outcome dsrv1.Outcome, records int) {
	t.Helper()
	if res.Outcome != outcome || (records >= 0 && res.RecordsAffected != records) {
		t.Errorf("result = %v, %d records (%q); want %v, %d", res.Outcome, res.RecordsAffected, res.Reason, outcome, records)
	}
}

func TestEraseKeepsInvoicesForTaxLawAndDeletesEverythingElse(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	res := run(t, pool, dsrv1.Action_ACTION_ERASE, hanako, nil)
	// 1 card token + 1 expired invoice + 1 anonymised account + 2 retained invoices.
	want(t, res, dsrv1.Outcome_OUTCOME_RETAINED_BY_LAW, 5)
	if res.LegalBasis != billing.LegalBasis || !strings.Contains(res.Reason, "2 invoice(s)") || !strings.Contains(res.Reason, "2034-05-31") {
		t.Errorf("legal basis %q, reason %q", res.LegalBasis, res.Reason)
	}
	if got := res.RetainedUntil.Format(time.DateOnly); got != "2034-05-31" {
		t.Errorf("retained until %s, want the latest invoice's 2034-05-31", got)
	}
	for q, n := range map[string]int{
		"SELECT count(*) FROM payment_cards WHERE account_id = 'BA-0001'":                                                      0,
		"SELECT count(*) FROM invoices WHERE invoice_no = 'INV-201705-0001'":                                                   0,
		"SELECT count(*) FROM payments WHERE payment_id = 'PAY-0001'":                                                          0,
		"SELECT count(*) FROM payments WHERE payment_id IN ('PAY-0002', 'PAY-0003') AND card_last4 IS NULL AND amount = 13200": 2,
		`SELECT count(*) FROM invoices WHERE account_id = 'BA-0001' AND billed_address IS NULL
		   AND billed_name = '山田 花子' AND total = 13200 AND issued_on IN ('2025-10-10', '2026-10-10')`: 2,
		`SELECT count(*) FROM billing_accounts WHERE account_id = 'BA-0001' AND member_id = 'M-1001' AND email = ''
		   AND address = '' AND phone = '' AND postal_code = '' AND billing_name = '' AND anonymised_at IS NOT NULL
		   AND marketing_use_suspended_at IS NOT NULL`: 1,
		// Nobody else is touched.
		"SELECT count(*) FROM payment_cards":                                                2,
		"SELECT count(*) FROM billing_accounts WHERE anonymised_at IS NULL AND email <> ''": 3,
		"SELECT count(*) FROM invoices WHERE billed_address IS NOT NULL":                    3,
	} {
		if got := count(t, pool, q); got != n {
			t.Errorf("%s = %d, want %d", q, got, n)
		}
	}

	// Asked again (a new request), the retained invoices are still reported.
	res = run(t, pool, dsrv1.Action_ACTION_ERASE, &dsrv1.Subject{MemberId: "M-1001"}, nil)
	want(t, res, dsrv1.Outcome_OUTCOME_RETAINED_BY_LAW, -1)
	// The e-mail address is gone, so it no longer finds anything.
	want(t, run(t, pool, dsrv1.Action_ACTION_ERASE, &dsrv1.Subject{Email: "hanako@example.jp"}, nil), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestEraseWithNothingToRetainDeletesTheAccount(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	if _, err := pool.Exec(context.Background(), `UPDATE invoices SET retain_until = '2020-05-31' WHERE account_id = 'BA-0002'`); err != nil {
		t.Fatal(err)
	}
	res := run(t, pool, dsrv1.Action_ACTION_ERASE, &dsrv1.Subject{Email: "Taro@Example.jp"}, nil)
	want(t, res, dsrv1.Outcome_OUTCOME_DONE, 2)
	if res.LegalBasis != "" {
		t.Errorf("legal basis %q on a full erasure", res.LegalBasis)
	}
	for q, n := range map[string]int{
		"SELECT count(*) FROM billing_accounts WHERE account_id = 'BA-0002'": 0,
		"SELECT count(*) FROM invoices WHERE account_id = 'BA-0002'":         0,
		"SELECT count(*) FROM payments WHERE payment_id = 'PAY-0004'":        0,
		"SELECT count(*) FROM billing_accounts":                              3,
	} {
		if got := count(t, pool, q); got != n {
			t.Errorf("%s = %d, want %d", q, got, n)
		}
	}
}

func TestExportHasInvoicesAndPaymentsButNoProcessorTokens(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	res := run(t, pool, dsrv1.Action_ACTION_EXPORT, hanako, nil)
	want(t, res, dsrv1.Outcome_OUTCOME_DONE, 1)
	if strings.Contains(string(res.Export), "tok_") || strings.Contains(string(res.Export), "processor_token") {
		t.Errorf("export leaks the processor token: %s", res.Export)
	}
	var doc struct {
		Holder   string
		Accounts []struct {
			MemberID     string                   `json:"member_id"`
			BillingName  string                   `json:"billing_name"`
			PaymentCards []struct{ Last4 string } `json:"payment_cards"`
			Invoices     []struct {
				InvoiceNo string `json:"invoice_no"`
				Total     int
				Payments  []struct{ Amount int }
			}
		}
	}
	if err := json.Unmarshal(res.Export, &doc); err != nil {
		t.Fatalf("%v: %s", err, res.Export)
	}
	if doc.Holder != "billing" || len(doc.Accounts) != 1 || doc.Accounts[0].MemberID != "M-1001" || doc.Accounts[0].BillingName != "山田 花子" ||
		len(doc.Accounts[0].PaymentCards) != 1 || doc.Accounts[0].PaymentCards[0].Last4 != "4242" || len(doc.Accounts[0].Invoices) != 3 ||
		doc.Accounts[0].Invoices[2].InvoiceNo != "INV-202610-0001" || len(doc.Accounts[0].Invoices[2].Payments) != 1 {
		t.Errorf("export = %s", res.Export)
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_EXPORT, &dsrv1.Subject{MemberId: "M-9999"}, nil), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestCorrectChangesTheAccountNotIssuedInvoices(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	res := run(t, pool, dsrv1.Action_ACTION_CORRECT, &dsrv1.Subject{MemberId: "M-1003"},
		map[string]string{"name": "鈴木 一朗", "address": "山口県山口市亀山町1-1", "postal_code": "753-0089", "bank_account": "x"})
	want(t, res, dsrv1.Outcome_OUTCOME_PARTIAL, 1)
	if !strings.Contains(res.Reason, "unknown fields not applied: bank_account") || !strings.Contains(res.Reason, "not altered") {
		t.Errorf("reason %q", res.Reason)
	}
	if n := count(t, pool, `SELECT count(*) FROM billing_accounts WHERE account_id = 'BA-0003' AND billing_name = '鈴木 一朗'
	    AND address = '山口県山口市亀山町1-1' AND postal_code = '753-0089' AND corrected_at IS NOT NULL`); n != 1 {
		t.Error("account not corrected")
	}
	if n := count(t, pool, `SELECT count(*) FROM invoices WHERE invoice_no = 'INV-202610-0003' AND billed_name = '鈴木 一郎'`); n != 1 {
		t.Error("an issued invoice was altered")
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_CORRECT, &dsrv1.Subject{MemberId: "M-1003"}, map[string]string{"address": "x"}), dsrv1.Outcome_OUTCOME_DONE, 1)
}

func TestSuspendFlagsMarketingUseOnly(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	want(t, run(t, pool, dsrv1.Action_ACTION_SUSPEND, &dsrv1.Subject{Email: "emily@example.com"}, nil), dsrv1.Outcome_OUTCOME_DONE, 1)
	if n := count(t, pool, "SELECT count(*) FROM billing_accounts WHERE marketing_use_suspended_at IS NOT NULL"); n != 1 {
		t.Errorf("%d accounts suspended, want 1", n)
	}
	if n := count(t, pool, "SELECT count(*) FROM billing_accounts WHERE account_id = 'BA-0004' AND marketing_use_suspended_at IS NOT NULL AND email <> ''"); n != 1 {
		t.Error("M-1004 not flagged (or data removed)")
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_SUSPEND, &dsrv1.Subject{Email: "nobody@example.com"}, nil), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestLocate(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	want(t, run(t, pool, dsrv1.Action_ACTION_LOCATE, hanako, nil), dsrv1.Outcome_OUTCOME_DONE, 1)
	// Hanako's own account holds the proven address; M-1002's does not.
	res := run(t, pool, dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-1002", Email: "hanako@example.jp"}, nil)
	want(t, res, dsrv1.Outcome_OUTCOME_PARTIAL, 1)
	if res.Reason != holderkit.ReasonUnconfirmed || res.Unconfirmed != 1 {
		t.Errorf("reason %q, %d unconfirmed", res.Reason, res.Unconfirmed)
	}
	want(t, run(t, pool, dsrv1.Action_ACTION_LOCATE, &dsrv1.Subject{MemberId: "M-9999", Email: "x@example.jp"}, nil), dsrv1.Outcome_OUTCOME_NOT_FOUND, 0)
}

func TestEraseThroughHolderkitReportsRetentionSealed(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	res, _ := holder.Through(t, pool, dsrv1.Action_ACTION_ERASE, hanako)
	if res.GetOutcome() != dsrv1.Outcome_OUTCOME_RETAINED_BY_LAW || res.GetLegalBasis() != billing.LegalBasis ||
		res.GetHolder() != billing.Name || res.GetRecordsAffected() != 5 || res.GetRetryable() {
		t.Errorf("result = %v", res)
	}
	if got := res.GetRetainedUntil().AsTime().Format(time.DateOnly); got != "2034-05-31" {
		t.Errorf("published retained_until %s, want 2034-05-31", got)
	}
	if n := count(t, pool, "SELECT count(*) FROM holderkit_processed_commands WHERE request_id = 'req-nats' AND action = 'erase'"); n != 1 {
		t.Errorf("%d processed-command rows", n)
	}
}

func TestExportThroughHolderkitIsSealed(t *testing.T) {
	t.Parallel()
	pool := seeded(t)
	res, ring := holder.Through(t, pool, dsrv1.Action_ACTION_EXPORT, hanako)
	wire, _ := proto.Marshal(res)
	if strings.Contains(string(wire), "山田") || strings.Contains(string(wire), "INV-") {
		t.Error("result carries billing data in the clear")
	}
	var exp dsrv1.Export
	if err := ring.OpenMessageFor(res.GetExport(), &exp, contract.ExportScope(res.GetRequestId(), res.GetHolder())); err != nil || exp.GetHolder() != billing.Name ||
		!strings.Contains(string(exp.GetJson()), "INV-202610-0001") {
		t.Errorf("export %s (%v)", exp.GetJson(), err)
	}
}

// The binding rule (holderkit): Hanako's member number typed by someone who
// proved only their own address finds, changes and exports nothing.
func TestSomeoneElsesMemberNumberReachesNoRecord(t *testing.T) {
	t.Parallel()
	holder.Unbound(t, seeded(t), &dsrv1.Subject{MemberId: hanako.GetMemberId(), Email: "mallory@attacker.example"})
}
