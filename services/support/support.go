// Package support is the data holder for inquiries received by mail, phone,
// form or letter (policy §1 お客様からの直接のご提供). Some inquiries are
// received on behalf of a partner care facility under entrustment (委託):
// those are acted on only when the entrusting company has told us to
// (Command.IncludeEntrusted); otherwise they are left alone and reported.
package support

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
)

// Name is the holder's registry name and subject token.
const Name = "support"

// AwaitingEntrustingCompany is the reason (or its first sentence) whenever
// records held under entrustment were left alone.
const AwaitingEntrustingCompany = "records held under entrustment await the entrusting company's instruction"

// qFindInquiries selects the inquiries a command concerns, with their
// entrusting company: by member number when one was given (plus inquiries
// from before membership under the given e-mail), else by e-mail address.
const qFindInquiries = `-- name: FindInquiries
SELECT inquiry_id, coalesce(member_id, ''), email, coalesce(entrusting_company_id, '') FROM inquiries
WHERE ($1 <> '' AND member_id = $1)
   OR ($2 <> '' AND lower(email) = $2 AND ($1 = '' OR member_id IS NULL))
ORDER BY inquiry_id FOR UPDATE`

const qLocateInquiries = `-- name: LocateInquiries
SELECT coalesce(member_id, ''), email, coalesce(entrusting_company_id, '') FROM inquiries
WHERE ($1 <> '' AND member_id = $1) OR ($2 <> '' AND lower(email) = $2)`

const qCompanies = `-- name: EntrustingCompanies
SELECT company_id, name, contact_email FROM entrusting_companies WHERE company_id = ANY($1)`

const qExportInquiries = `-- name: ExportInquiries
SELECT json_build_object('holder', 'support', 'inquiries', coalesce(json_agg(json_build_object(
  'inquiry_id', q.inquiry_id, 'member_id', q.member_id, 'name', q.name, 'name_kana', q.name_kana, 'email', q.email,
  'phone', q.phone, 'channel', q.channel, 'received_at', q.received_at, 'topic', q.topic, 'body', q.body,
  'status', q.status, 'received_on_behalf_of', c.name, 'use_suspended_at', q.use_suspended_at,
  'corrected_at', q.corrected_at,
  'responses', (SELECT coalesce(json_agg(json_build_object('responded_at', r.responded_at, 'channel', r.channel,
      'body', r.body) ORDER BY r.responded_at), '[]'::json) FROM inquiry_responses r WHERE r.inquiry_id = q.inquiry_id)
  ) ORDER BY q.received_at, q.inquiry_id), '[]'::json))
FROM inquiries q LEFT JOIN entrusting_companies c ON c.company_id = q.entrusting_company_id
WHERE q.inquiry_id = ANY($1)`

const qDeleteInquiries = `-- name: DeleteInquiries
DELETE FROM inquiries WHERE inquiry_id = ANY($1)`

const qCorrectInquiries = `-- name: CorrectInquiries
UPDATE inquiries SET
  name         = coalesce($2, name),
  name_kana    = coalesce($3, name_kana),
  email        = coalesce($4, email),
  phone        = coalesce($5, phone),
  corrected_at = now()
WHERE inquiry_id = ANY($1)`

const qSuspendInquiries = `-- name: SuspendInquiries
UPDATE inquiries SET use_suspended_at = coalesce(use_suspended_at, now()) WHERE inquiry_id = ANY($1)`

// Actions returns this holder's handlers.
func Actions() map[dsrv1.Action]holderkit.HandlerFunc {
	return map[dsrv1.Action]holderkit.HandlerFunc{
		dsrv1.Action_ACTION_LOCATE:  locate,
		dsrv1.Action_ACTION_EXPORT:  export,
		dsrv1.Action_ACTION_CORRECT: correct,
		dsrv1.Action_ACTION_SUSPEND: suspend,
		dsrv1.Action_ACTION_ERASE:   erase,
	}
}

var notFound = holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_NOT_FOUND, Reason: "no inquiry matches"}

// scope is the subject's inquiries that the command's binding covers, split
// into those this command may act on (our own, and those of entrusting
// companies that instructed us) and those left alone, counted per
// entrusting company.
type scope struct {
	act     []string
	pending map[string]int
}

func find(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (scope, error) {
	mid, email := holderkit.Keys(cmd.Subject)
	rows, err := tx.Query(ctx, qFindInquiries, mid, email)
	if err != nil {
		return scope{}, dbErr("find inquiries", err)
	}
	sc := scope{pending: map[string]int{}}
	var id, rowMID, rowEmail, company string
	if _, err := pgx.ForEachRow(rows, []any{&id, &rowMID, &rowEmail, &company}, func() error {
		if !cmd.Covers(rowMID, rowEmail) {
			return nil
		}
		if company == "" || cmd.Includes(company) {
			sc.act = append(sc.act, id)
		} else {
			sc.pending[company]++
		}
		return nil
	}); err != nil {
		return scope{}, dbErr("find inquiries", err)
	}
	return sc, nil
}

func (sc scope) empty() bool { return len(sc.act) == 0 && len(sc.pending) == 0 }

// finish reports what was done (res) together with what was left alone.
func (sc scope) finish(ctx context.Context, tx pgx.Tx, res holderkit.Result) (holderkit.Result, error) {
	if len(sc.pending) == 0 {
		return res, nil
	}
	var err error
	if res.Entrusted, err = entrusted(ctx, tx, sc.pending); err != nil {
		return holderkit.Result{}, err
	}
	res.Outcome = dsrv1.Outcome_OUTCOME_PARTIAL
	if len(sc.act) == 0 || res.Reason == "" {
		res.Reason = AwaitingEntrustingCompany
	} else {
		res.Reason = AwaitingEntrustingCompany + "; " + res.Reason
	}
	return res, nil
}

// entrusted describes the entrusting companies and how many records each.
func entrusted(ctx context.Context, tx pgx.Tx, counts map[string]int) ([]*dsrv1.EntrustedRecord, error) {
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	rows, err := tx.Query(ctx, qCompanies, ids)
	if err != nil {
		return nil, dbErr("entrusting companies", err)
	}
	var out []*dsrv1.EntrustedRecord
	var id, name, contact string
	if _, err := pgx.ForEachRow(rows, []any{&id, &name, &contact}, func() error {
		out = append(out, &dsrv1.EntrustedRecord{CompanyId: id, CompanyName: name, ContactEmail: contact, RecordCount: int32(counts[id])})
		return nil
	}); err != nil {
		return nil, dbErr("entrusting companies", err)
	}
	if len(out) != len(ids) {
		return nil, fmt.Errorf("%s: entrusting company missing from entrusting_companies", Name)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CompanyId < out[j].CompanyId })
	return out, nil
}

// locate tallies the inquiries under the command's binding (holderkit.Tally),
// and reports every entrusting company that holds covered inquiries,
// whatever the command includes: locating acts on nothing.
func locate(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	mid, email := holderkit.Keys(cmd.Subject)
	rows, err := tx.Query(ctx, qLocateInquiries, mid, email)
	if err != nil {
		return holderkit.Result{}, dbErr("locate inquiries", err)
	}
	t := cmd.Tally(false)
	companies := map[string]int{}
	var rowMID, rowEmail, company string
	if _, err := pgx.ForEachRow(rows, []any{&rowMID, &rowEmail, &company}, func() error {
		if t.Add(rowMID, rowEmail) && company != "" {
			companies[company]++
		}
		return nil
	}); err != nil {
		return holderkit.Result{}, dbErr("locate inquiries", err)
	}
	res := t.Result("inquiries found", notFound.Reason)
	if len(companies) > 0 {
		if res.Entrusted, err = entrusted(ctx, tx, companies); err != nil {
			return holderkit.Result{}, err
		}
	}
	return res, nil
}

func export(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	sc, err := find(ctx, tx, cmd)
	if err != nil || sc.empty() {
		return notFound, err
	}
	res := holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE}
	if len(sc.act) > 0 {
		var doc json.RawMessage
		if err := tx.QueryRow(ctx, qExportInquiries, sc.act).Scan(&doc); err != nil {
			return holderkit.Result{}, dbErr("export inquiries", err)
		}
		res.Export, res.RecordsAffected = doc, len(sc.act)
		res.Reason = fmt.Sprintf("%d inquiry record(s) exported with their responses", len(sc.act))
	}
	return sc.finish(ctx, tx, res)
}

func erase(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	sc, err := find(ctx, tx, cmd)
	if err != nil || sc.empty() {
		return notFound, err
	}
	res := holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE}
	if len(sc.act) > 0 {
		tag, err := tx.Exec(ctx, qDeleteInquiries, sc.act)
		if err != nil {
			return holderkit.Result{}, dbErr("delete inquiries", err)
		}
		res.RecordsAffected = int(tag.RowsAffected())
		res.Reason = fmt.Sprintf("%d inquiry record(s) and their responses deleted", tag.RowsAffected())
	}
	return sc.finish(ctx, tx, res)
}

func correct(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	if len(cmd.Corrections) == 0 {
		return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_FAILED, Reason: "no corrections supplied"}, nil
	}
	sc, err := find(ctx, tx, cmd)
	if err != nil || sc.empty() {
		return notFound, err
	}
	res := holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE}
	if len(sc.act) > 0 {
		p := holderkit.PlanCorrections(cmd.Corrections, "name", "name_kana", "email", "phone")
		n := 0
		if len(p.Applied) > 0 {
			tag, err := tx.Exec(ctx, qCorrectInquiries, sc.act, p.Set["name"], p.Set["name_kana"], p.Set["email"], p.Set["phone"])
			if err != nil {
				return holderkit.Result{}, dbErr("correct inquiries", err)
			}
			n = int(tag.RowsAffected())
		}
		res = p.Result(n)
	}
	return sc.finish(ctx, tx, res)
}

func suspend(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	sc, err := find(ctx, tx, cmd)
	if err != nil || sc.empty() {
		return notFound, err
	}
	res := holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE}
	if len(sc.act) > 0 {
		tag, err := tx.Exec(ctx, qSuspendInquiries, sc.act)
		if err != nil {
			return holderkit.Result{}, dbErr("suspend inquiries", err)
		}
		res.RecordsAffected = int(tag.RowsAffected())
		res.Reason = fmt.Sprintf("%d inquiry record(s) flagged as suspended from use", tag.RowsAffected())
	}
	return sc.finish(ctx, tx, res)
}

// dbErr wraps a database error without personal data (holderkit.DBError).
func dbErr(op string, err error) error { return holderkit.DBError(Name, op, err) }
