// Package members is the data holder for member registration data: it
// exports, corrects and erases a member's records on command.
package members

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
)

// Name is the holder's registry name and subject token.
const Name = "members"

const qFindMembers = `-- name: FindMembers
SELECT member_id FROM members
WHERE ($1 <> '' AND member_id = $1) OR ($2 <> '' AND lower(email) = lower($2))
ORDER BY member_id FOR UPDATE`

const qDeleteMember = `-- name: DeleteMember
DELETE FROM members WHERE member_id = ANY($1)`

const qExportMembers = `-- name: ExportMembers
SELECT coalesce(json_agg(m ORDER BY m.member_id), '[]'::json) FROM (
  SELECT member_id, name, name_kana, email, phone, postal_code, address, birth_date, care_level, registered_at,
         (SELECT coalesce(json_agg(json_build_object('facility', f.facility, 'since', f.since)), '[]'::json)
            FROM member_facilities f WHERE f.member_id = members.member_id) AS facilities
  FROM members WHERE member_id = ANY($1)) m`

// Actions returns this holder's handlers.
func Actions() map[dsrv1.Action]holderkit.HandlerFunc {
	return map[dsrv1.Action]holderkit.HandlerFunc{
		dsrv1.Action_ACTION_ERASE:  erase,
		dsrv1.Action_ACTION_EXPORT: export,
	}
}

// find locates the member rows for the identifiers: member number, or
// e-mail address when no number was given.
func find(ctx context.Context, tx pgx.Tx, s *dsrv1.Subject) ([]string, error) {
	rows, err := tx.Query(ctx, qFindMembers, strings.TrimSpace(s.GetMemberId()), strings.TrimSpace(s.GetEmail()))
	if err != nil {
		return nil, fmt.Errorf("find members: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func erase(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	ids, err := find(ctx, tx, cmd.Subject)
	if err != nil {
		return holderkit.Result{}, err
	}
	if len(ids) == 0 {
		return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_NOT_FOUND, Reason: "no member record matches"}, nil
	}
	tag, err := tx.Exec(ctx, qDeleteMember, ids)
	if err != nil {
		return holderkit.Result{}, fmt.Errorf("delete members: %w", err)
	}
	return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: int(tag.RowsAffected()),
		Reason: "member records and facility registrations deleted"}, nil
}

func export(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	ids, err := find(ctx, tx, cmd.Subject)
	if err != nil {
		return holderkit.Result{}, err
	}
	if len(ids) == 0 {
		return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_NOT_FOUND, Reason: "no member record matches"}, nil
	}
	var doc json.RawMessage
	if err := tx.QueryRow(ctx, qExportMembers, ids).Scan(&doc); err != nil {
		return holderkit.Result{}, fmt.Errorf("export members: %w", err)
	}
	return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: len(ids), Export: doc}, nil
}
