// Package billing is the data holder for billing data (policy §2: 利用料金の
// 請求・決済手続き): billing accounts, invoices, payments and the payment
// processor's card tokens. Invoices are kept for the statutory period even
// when the person asks for erasure; everything else about them goes.
package billing

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
)

// Name is the holder's registry name and subject token.
const Name = "billing"

// LegalBasis is why invoices outlive an erasure request.
const LegalBasis = "法人税法施行規則第59条 / 電子帳簿保存法 (7 years)"

// qFindAccounts selects the accounts a command acts on: by member number
// when one was given (plus accounts never linked to a member under the given
// e-mail), else by e-mail address.
const qFindAccounts = `-- name: FindAccounts
SELECT account_id, coalesce(member_id, ''), coalesce(email, '') FROM billing_accounts
WHERE ($1 <> '' AND member_id = $1)
   OR ($2 <> '' AND lower(email) = $2 AND ($1 = '' OR member_id IS NULL))
ORDER BY account_id FOR UPDATE`

const qLocateAccounts = `-- name: LocateAccounts
SELECT coalesce(member_id, ''), lower(email) FROM billing_accounts
WHERE ($1 <> '' AND member_id = $1) OR ($2 <> '' AND lower(email) = $2)`

const qExportAccounts = `-- name: ExportAccounts
SELECT json_build_object('holder', 'billing', 'accounts', coalesce(json_agg(json_build_object(
  'account_id', a.account_id, 'member_id', a.member_id, 'email', a.email, 'billing_name', a.billing_name,
  'billing_name_kana', a.billing_name_kana, 'phone', a.phone, 'postal_code', a.postal_code, 'address', a.address,
  'opened_at', a.opened_at, 'marketing_use_suspended_at', a.marketing_use_suspended_at,
  'corrected_at', a.corrected_at, 'anonymised_at', a.anonymised_at,
  'payment_cards', (SELECT coalesce(json_agg(json_build_object('brand', c.brand, 'last4', c.last4,
        'exp_month', c.exp_month, 'exp_year', c.exp_year, 'registered_at', c.registered_at) ORDER BY c.token_id), '[]'::json)
      FROM payment_cards c WHERE c.account_id = a.account_id),
  'invoices', (SELECT coalesce(json_agg(json_build_object('invoice_no', i.invoice_no, 'issued_on', i.issued_on,
        'period_from', i.period_from, 'period_to', i.period_to, 'description', i.description,
        'amount_excl_tax', i.amount_excl_tax, 'tax', i.tax, 'total', i.total, 'billed_name', i.billed_name,
        'billed_address', i.billed_address, 'retain_until', i.retain_until,
        'payments', (SELECT coalesce(json_agg(json_build_object('paid_on', p.paid_on, 'amount', p.amount,
              'method', p.method, 'card_last4', p.card_last4) ORDER BY p.payment_id), '[]'::json)
            FROM payments p WHERE p.invoice_no = i.invoice_no)) ORDER BY i.issued_on, i.invoice_no), '[]'::json)
      FROM invoices i WHERE i.account_id = a.account_id)
  ) ORDER BY a.account_id), '[]'::json))
FROM billing_accounts a WHERE a.account_id = ANY($1)`

const qDeleteCards = `-- name: DeleteCards
DELETE FROM payment_cards WHERE account_id = ANY($1)`

const qDeleteExpiredInvoices = `-- name: DeleteExpiredInvoices
DELETE FROM invoices WHERE account_id = ANY($1) AND retain_until < current_date`

const qAnonymiseInvoices = `-- name: AnonymiseInvoices
UPDATE invoices SET billed_address = NULL WHERE account_id = ANY($1)`

const qAnonymisePayments = `-- name: AnonymisePayments
UPDATE payments SET card_last4 = NULL
WHERE invoice_no IN (SELECT invoice_no FROM invoices WHERE account_id = ANY($1))`

const qDeleteBareAccounts = `-- name: DeleteBareAccounts
DELETE FROM billing_accounts a WHERE a.account_id = ANY($1)
  AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.account_id = a.account_id)`

const qAnonymiseAccounts = `-- name: AnonymiseAccounts
UPDATE billing_accounts SET email = '', billing_name = '', billing_name_kana = '', phone = '',
  postal_code = '', address = '', anonymised_at = coalesce(anonymised_at, now()),
  marketing_use_suspended_at = coalesce(marketing_use_suspended_at, now())
WHERE account_id = ANY($1)`

const qRetainedInvoices = `-- name: RetainedInvoices
SELECT count(*), coalesce(max(retain_until)::text, '') FROM invoices WHERE account_id = ANY($1)`

const qCorrectAccounts = `-- name: CorrectAccounts
UPDATE billing_accounts SET
  billing_name      = coalesce($2, billing_name),
  billing_name_kana = coalesce($3, billing_name_kana),
  email             = coalesce($4, email),
  phone             = coalesce($5, phone),
  postal_code       = coalesce($6, postal_code),
  address           = coalesce($7, address),
  corrected_at      = now()
WHERE account_id = ANY($1) AND anonymised_at IS NULL`

const qSuspendAccounts = `-- name: SuspendAccounts
UPDATE billing_accounts SET marketing_use_suspended_at = coalesce(marketing_use_suspended_at, now())
WHERE account_id = ANY($1)`

// accounts finds the person's rows for every action.
var accounts = holderkit.Lookup{Holder: Name, Noun: "accounts", FindSQL: qFindAccounts, LocateSQL: qLocateAccounts,
	Found: "billing account found", Missing: "no billing account matches"}

// Actions returns this holder's handlers.
func Actions() map[dsrv1.Action]holderkit.HandlerFunc {
	return map[dsrv1.Action]holderkit.HandlerFunc{
		dsrv1.Action_ACTION_LOCATE:  accounts.Locate,
		dsrv1.Action_ACTION_EXPORT:  accounts.Export(qExportAccounts, "billing accounts, invoices, payments and card details (without processor tokens) exported"),
		dsrv1.Action_ACTION_CORRECT: correct,
		dsrv1.Action_ACTION_SUSPEND: suspend,
		dsrv1.Action_ACTION_ERASE:   erase,
	}
}

// erase deletes the card tokens and every invoice past its retention, and
// strips the rest down to what the retained invoices need: amounts, dates,
// invoice number and the addressee as issued.
func erase(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	ids, err := accounts.IDs(ctx, tx, cmd)
	if err != nil || len(ids) == 0 {
		return accounts.NotFound(), err
	}
	exec := func(op, q string) (int, error) {
		tag, err := tx.Exec(ctx, q, ids)
		if err != nil {
			return 0, dbErr(op, err)
		}
		return int(tag.RowsAffected()), nil
	}
	cards, err := exec("delete card tokens", qDeleteCards)
	if err != nil {
		return holderkit.Result{}, err
	}
	expired, err := exec("delete expired invoices", qDeleteExpiredInvoices)
	if err != nil {
		return holderkit.Result{}, err
	}
	if _, err := exec("anonymise payments", qAnonymisePayments); err != nil {
		return holderkit.Result{}, err
	}
	if _, err := exec("anonymise invoices", qAnonymiseInvoices); err != nil {
		return holderkit.Result{}, err
	}
	deleted, err := exec("delete accounts", qDeleteBareAccounts)
	if err != nil {
		return holderkit.Result{}, err
	}
	anonymised, err := exec("anonymise accounts", qAnonymiseAccounts)
	if err != nil {
		return holderkit.Result{}, err
	}
	var retained int
	var until string
	if err := tx.QueryRow(ctx, qRetainedInvoices, ids).Scan(&retained, &until); err != nil {
		return holderkit.Result{}, dbErr("count retained invoices", err)
	}
	records := cards + expired + deleted + anonymised + retained
	if retained == 0 {
		return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: records, Reason: fmt.Sprintf(
			"billing accounts deleted with %d card token(s) and %d invoice(s) past their retention period", cards, expired)}, nil
	}
	return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_RETAINED_BY_LAW, LegalBasis: LegalBasis, RecordsAffected: records,
		RetainedUntil: holderkit.Date(until),
		Reason: fmt.Sprintf("%d invoice(s) and their payments kept until %s as tax law requires (invoice number, dates, amounts, "+
			"addressee as issued); addresses, contact details and card digits removed; %d card token(s) and "+
			"%d invoice(s) past retention deleted; account excluded from all other use", retained, until, cards, expired)}, nil
}

func correct(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	if len(cmd.Corrections) == 0 {
		return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_FAILED, Reason: "no corrections supplied"}, nil
	}
	ids, err := accounts.IDs(ctx, tx, cmd)
	if err != nil || len(ids) == 0 {
		return accounts.NotFound(), err
	}
	p := holderkit.PlanCorrections(cmd.Corrections, "name", "name_kana", "email", "phone", "postal_code", "address")
	n := 0
	if len(p.Applied) > 0 {
		tag, err := tx.Exec(ctx, qCorrectAccounts, ids, p.Set["name"], p.Set["name_kana"], p.Set["email"],
			p.Set["phone"], p.Set["postal_code"], p.Set["address"])
		if err != nil {
			return holderkit.Result{}, dbErr("correct accounts", err)
		}
		n = int(tag.RowsAffected())
	}
	res := p.Result(n)
	res.Reason += "; invoices already issued are not altered (a corrected invoice is issued on request)"
	return res, nil
}

func suspend(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	ids, err := accounts.IDs(ctx, tx, cmd)
	if err != nil || len(ids) == 0 {
		return accounts.NotFound(), err
	}
	tag, err := tx.Exec(ctx, qSuspendAccounts, ids)
	if err != nil {
		return holderkit.Result{}, dbErr("suspend accounts", err)
	}
	return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: int(tag.RowsAffected()),
		Reason: "billing data excluded from marketing and analytics use; invoicing and payment for the contract continue"}, nil
}

// dbErr wraps a database error without personal data (holderkit.DBError).
func dbErr(op string, err error) error { return holderkit.DBError(Name, op, err) }
