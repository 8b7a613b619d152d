// Package members is the data holder for member registration data (policy
// §1 お客様からの直接登録): it locates, exports, corrects, suspends and
// erases a member's records on command.
package members

import (
	"context"

	"github.com/jackc/pgx/v5"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
)

// Name is the holder's registry name and subject token.
const Name = "members"

// qFindMembers selects the members a command acts on: by member number when
// one was given, else by e-mail address (lower-cased).
const qFindMembers = `-- name: FindMembers
SELECT member_id, member_id, coalesce(email, '') FROM members
WHERE CASE WHEN $1 <> '' THEN member_id = $1 ELSE $2 <> '' AND lower(email) = $2 END
ORDER BY member_id FOR UPDATE`

// qLocateMembers selects every member matching any identifier, so that a
// record matching one identifier but not the other shows up as a mismatch.
const qLocateMembers = `-- name: LocateMembers
SELECT member_id, coalesce(email, '') FROM members
WHERE ($1 <> '' AND member_id = $1) OR ($2 <> '' AND lower(email) = $2)
ORDER BY member_id`

const qDeleteMember = `-- name: DeleteMember
DELETE FROM members WHERE member_id = ANY($1)`

const qExportMembers = `-- name: ExportMembers
SELECT coalesce(json_agg(m ORDER BY m.member_id), '[]'::json) FROM (
  SELECT member_id, name, name_kana, email, phone, postal_code, address, birth_date, care_level, registered_at,
         use_suspended, use_suspended_at, corrected_at,
         (SELECT coalesce(json_agg(json_build_object('facility', f.facility, 'since', f.since)), '[]'::json)
            FROM member_facilities f WHERE f.member_id = members.member_id) AS facilities
  FROM members WHERE member_id = ANY($1)) m`

const qCorrectMembers = `-- name: CorrectMembers
UPDATE members SET
  name        = coalesce($2, name),
  name_kana   = coalesce($3, name_kana),
  email       = coalesce($4, email),
  phone       = coalesce($5, phone),
  postal_code = coalesce($6, postal_code),
  address     = coalesce($7, address),
  corrected_at = now()
WHERE member_id = ANY($1)`

const qSuspendMembers = `-- name: SuspendMembers
UPDATE members SET use_suspended = true, use_suspended_at = coalesce(use_suspended_at, now())
WHERE member_id = ANY($1)`

// memberRecords finds the person's rows for every action.
var memberRecords = holderkit.Lookup{Holder: Name, Noun: "members", FindSQL: qFindMembers, LocateSQL: qLocateMembers,
	MemberRegistry: true, Found: "member record found", Missing: "no member record matches"}

// Actions returns this holder's handlers.
func Actions() map[dsrv1.Action]holderkit.HandlerFunc {
	return map[dsrv1.Action]holderkit.HandlerFunc{
		dsrv1.Action_ACTION_LOCATE:  memberRecords.Locate,
		dsrv1.Action_ACTION_EXPORT:  memberRecords.Export(qExportMembers, ""),
		dsrv1.Action_ACTION_CORRECT: correct,
		dsrv1.Action_ACTION_SUSPEND: suspend,
		dsrv1.Action_ACTION_ERASE:   erase,
	}
}

func erase(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	ids, err := memberRecords.IDs(ctx, tx, cmd)
	if err != nil {
		return holderkit.Result{}, err
	}
	if len(ids) == 0 {
		return memberRecords.NotFound(), nil
	}
	tag, err := tx.Exec(ctx, qDeleteMember, ids)
	if err != nil {
		return holderkit.Result{}, dbErr("delete members", err)
	}
	return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: int(tag.RowsAffected()),
		Reason: "member records and facility registrations deleted"}, nil
}

func correct(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	if len(cmd.Corrections) == 0 {
		return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_FAILED, Reason: "no corrections supplied"}, nil
	}
	ids, err := memberRecords.IDs(ctx, tx, cmd)
	if err != nil {
		return holderkit.Result{}, err
	}
	if len(ids) == 0 {
		return memberRecords.NotFound(), nil
	}
	p := holderkit.PlanCorrections(cmd.Corrections, "name", "name_kana", "email", "phone", "postal_code", "address")
	n := 0
	if len(p.Applied) > 0 {
		tag, err := tx.Exec(ctx, qCorrectMembers, ids, p.Set["name"], p.Set["name_kana"], p.Set["email"],
			p.Set["phone"], p.Set["postal_code"], p.Set["address"])
		if err != nil {
			return holderkit.Result{}, dbErr("correct members", err)
		}
		n = int(tag.RowsAffected())
	}
	return p.Result(n), nil
}

func suspend(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	ids, err := memberRecords.IDs(ctx, tx, cmd)
	if err != nil {
		return holderkit.Result{}, err
	}
	if len(ids) == 0 {
		return memberRecords.NotFound(), nil
	}
	tag, err := tx.Exec(ctx, qSuspendMembers, ids)
	if err != nil {
		return holderkit.Result{}, dbErr("suspend members", err)
	}
	return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: int(tag.RowsAffected()),
		Reason: "member records flagged as suspended from use"}, nil
}

// dbErr wraps a database error without personal data (holderkit.DBError).
func dbErr(op string, err error) error { return holderkit.DBError(Name, op, err) }
