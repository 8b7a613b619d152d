// Package partners is the data holder for provision to and from third
// parties with the person's consent (policy §1 第三者からの提供, §2–§3) and
// for the records of provision the APPI requires (第三者提供記録, Art. 29
// and 30). Records are kept for their statutory period whatever the person
// asks; consents go on request.
package partners

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
)

// Name is the holder's registry name and subject token.
const Name = "partners"

// LegalBasis is why provision records outlive erasure and stop requests.
const LegalBasis = "個人情報保護法第29条・第30条 (provision records)"

// qFindSubjects selects the people a command acts on: by member number when
// one was given (plus people never linked to a member under the given
// e-mail), else by e-mail address.
const qFindSubjects = `-- name: FindSubjects
SELECT subject_id, coalesce(member_id, ''), coalesce(email, '') FROM provision_subjects
WHERE ($1 <> '' AND member_id = $1)
   OR ($2 <> '' AND lower(email) = $2 AND ($1 = '' OR member_id IS NULL))
ORDER BY subject_id FOR UPDATE`

const qLocateSubjects = `-- name: LocateSubjects
SELECT coalesce(member_id, ''), lower(email) FROM provision_subjects
WHERE ($1 <> '' AND member_id = $1) OR ($2 <> '' AND lower(email) = $2)`

// recordsJSON renders the provision records of the subjects in $1.
const recordsJSON = `(SELECT coalesce(json_agg(json_build_object('record_id', r.record_id, 'direction', r.direction,
    'date', r.provided_on, 'third_party', t.name, 'third_party_address', t.address,
    'third_party_representative', t.representative, 'subject_name', s.name, 'items', r.items, 'basis', r.basis,
    'circumstances', nullif(r.circumstances, ''), 'kept_until', r.retain_until) ORDER BY r.provided_on, r.record_id), '[]'::json)
  FROM provision_records r JOIN third_parties t USING (third_party_id) JOIN provision_subjects s USING (subject_id)
  WHERE r.subject_id = ANY($1))`

const qExport = `-- name: Export
SELECT json_build_object('holder', 'partners',
  'subjects', (SELECT coalesce(json_agg(json_build_object('member_id', s.member_id, 'email', s.email, 'name', s.name,
      'provision_stopped_at', s.provision_stopped_at, 'erased_at', s.erased_at) ORDER BY s.subject_id), '[]'::json)
    FROM provision_subjects s WHERE s.subject_id = ANY($1)),
  'consents', (SELECT coalesce(json_agg(json_build_object('third_party', t.name, 'items', c.items, 'purpose', c.purpose,
      'consented_at', c.consented_at, 'revoked_at', c.revoked_at) ORDER BY c.consented_at, c.consent_id), '[]'::json)
    FROM provision_consents c JOIN third_parties t USING (third_party_id) WHERE c.subject_id = ANY($1)),
  'provision_records', ` + recordsJSON + `)`

const qExportRecords = `-- name: ExportRecords
SELECT json_build_object('holder', 'partners', 'provision_records', ` + recordsJSON + `)`

const qCountRecords = `-- name: CountRecords
SELECT count(*), coalesce(max(retain_until)::text, '') FROM provision_records WHERE subject_id = ANY($1)`

const qRevokeConsents = `-- name: RevokeConsents
UPDATE provision_consents SET revoked_at = now() WHERE subject_id = ANY($1) AND revoked_at IS NULL`

const qStopProvision = `-- name: StopProvision
UPDATE provision_subjects SET provision_stopped_at = coalesce(provision_stopped_at, now()) WHERE subject_id = ANY($1)`

const qDeleteConsents = `-- name: DeleteConsents
DELETE FROM provision_consents WHERE subject_id = ANY($1)`

const qDeleteExpiredRecords = `-- name: DeleteExpiredRecords
DELETE FROM provision_records WHERE subject_id = ANY($1) AND retain_until < current_date`

const qDeleteBareSubjects = `-- name: DeleteBareSubjects
DELETE FROM provision_subjects s WHERE s.subject_id = ANY($1)
  AND NOT EXISTS (SELECT 1 FROM provision_records r WHERE r.subject_id = s.subject_id)`

// qAnonymiseSubjects keeps of a person only what the kept records name:
// their name (a record item) and member number.
const qAnonymiseSubjects = `-- name: AnonymiseSubjects
UPDATE provision_subjects SET email = '', erased_at = coalesce(erased_at, now()),
  provision_stopped_at = coalesce(provision_stopped_at, now())
WHERE subject_id = ANY($1)`

// subjects finds the person's rows for every action.
var subjects = holderkit.Lookup{Holder: Name, Noun: "subjects", FindSQL: qFindSubjects, LocateSQL: qLocateSubjects,
	Found: "consents or provision records found", Missing: "no consent or provision record matches"}

// Actions returns this holder's handlers.
func Actions() map[dsrv1.Action]holderkit.HandlerFunc {
	return map[dsrv1.Action]holderkit.HandlerFunc{
		dsrv1.Action_ACTION_LOCATE:                   subjects.Locate,
		dsrv1.Action_ACTION_EXPORT:                   subjects.Export(qExport, "consents to third-party provision and provision records exported"),
		dsrv1.Action_ACTION_EXPORT_PROVISION_RECORDS: exportRecords,
		dsrv1.Action_ACTION_STOP_PROVISION:           stopProvision,
		dsrv1.Action_ACTION_ERASE:                    erase,
	}
}

func countRecords(ctx context.Context, tx pgx.Tx, ids []string) (n int, until string, err error) {
	if err := tx.QueryRow(ctx, qCountRecords, ids).Scan(&n, &until); err != nil {
		return 0, "", dbErr("count records", err)
	}
	return n, until, nil
}

// exportRecords discloses the records of provision (APPI Art. 33(5)): an
// empty list when the person is known but nothing was provided or received.
func exportRecords(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	ids, err := subjects.IDs(ctx, tx, cmd)
	if err != nil || len(ids) == 0 {
		return subjects.NotFound(), err
	}
	n, _, err := countRecords(ctx, tx, ids)
	if err != nil {
		return holderkit.Result{}, err
	}
	var doc json.RawMessage
	if err := tx.QueryRow(ctx, qExportRecords, ids).Scan(&doc); err != nil {
		return holderkit.Result{}, dbErr("export records", err)
	}
	reason := fmt.Sprintf("%d provision record(s) exported", n)
	if n == 0 {
		reason = "no provision records held"
	}
	return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: n, Export: doc, Reason: reason}, nil
}

// stopProvision revokes every consent and stops all future provision. The
// records of past provision stay: the law requires them.
func stopProvision(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	ids, err := subjects.IDs(ctx, tx, cmd)
	if err != nil || len(ids) == 0 {
		return subjects.NotFound(), err
	}
	revoked, err := tx.Exec(ctx, qRevokeConsents, ids)
	if err != nil {
		return holderkit.Result{}, dbErr("revoke consents", err)
	}
	stopped, err := tx.Exec(ctx, qStopProvision, ids)
	if err != nil {
		return holderkit.Result{}, dbErr("stop provision", err)
	}
	n, until, err := countRecords(ctx, tx, ids)
	if err != nil {
		return holderkit.Result{}, err
	}
	res := holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: int(revoked.RowsAffected() + stopped.RowsAffected()),
		Reason: fmt.Sprintf("%d consent(s) revoked; no further provision to third parties", revoked.RowsAffected())}
	if n > 0 {
		res.LegalBasis = LegalBasis
		res.Reason += fmt.Sprintf("; %d record(s) of past provision kept until %s as the law requires", n, until)
	}
	return res, nil
}

// erase deletes the consents and every record past its retention, and keeps
// of the person only what the remaining records name.
func erase(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	ids, err := subjects.IDs(ctx, tx, cmd)
	if err != nil || len(ids) == 0 {
		return subjects.NotFound(), err
	}
	exec := func(op, q string) (int, error) {
		tag, err := tx.Exec(ctx, q, ids)
		if err != nil {
			return 0, dbErr(op, err)
		}
		return int(tag.RowsAffected()), nil
	}
	consents, err := exec("delete consents", qDeleteConsents)
	if err != nil {
		return holderkit.Result{}, err
	}
	expired, err := exec("delete expired records", qDeleteExpiredRecords)
	if err != nil {
		return holderkit.Result{}, err
	}
	deleted, err := exec("delete subjects", qDeleteBareSubjects)
	if err != nil {
		return holderkit.Result{}, err
	}
	anonymised, err := exec("anonymise subjects", qAnonymiseSubjects)
	if err != nil {
		return holderkit.Result{}, err
	}
	kept, until, err := countRecords(ctx, tx, ids)
	if err != nil {
		return holderkit.Result{}, err
	}
	records := consents + expired + deleted + anonymised + kept
	if kept == 0 {
		return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: records, Reason: fmt.Sprintf(
			"%d consent(s) and %d provision record(s) past retention deleted", consents, expired)}, nil
	}
	return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_RETAINED_BY_LAW, LegalBasis: LegalBasis, RecordsAffected: records,
		RetainedUntil: holderkit.Date(until),
		Reason: fmt.Sprintf("%d consent(s) deleted and provision stopped; %d provision record(s) kept until %s as the law "+
			"requires (date, third party, name, items); e-mail address removed; %d record(s) past retention deleted",
			consents, kept, until, expired)}, nil
}

// dbErr wraps a database error without personal data (holderkit.DBError).
func dbErr(op string, err error) error { return holderkit.DBError(Name, op, err) }
