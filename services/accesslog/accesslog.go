// Package accesslog is the data holder for automatically collected data
// (policy §1 自動的な情報収集, §4 クッキー): web access logs and the cookie
// and web-beacon identifiers linked to a member.
package accesslog

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
)

// Name is the holder's registry name and subject token.
const Name = "accesslog"

// qFindLinked selects the linked members a command acts on: by member
// number when one was given, else by login e-mail address.
const qFindLinked = `-- name: FindLinked
SELECT member_id, member_id, coalesce(login_email, '') FROM linked_members
WHERE CASE WHEN $1 <> '' THEN member_id = $1 ELSE $2 <> '' AND lower(login_email) = $2 END
ORDER BY member_id FOR UPDATE`

const qLocateLinked = `-- name: LocateLinked
SELECT member_id, lower(login_email) FROM linked_members
WHERE ($1 <> '' AND member_id = $1) OR ($2 <> '' AND lower(login_email) = $2)`

// The member's log lines: logged in, or carrying one of their identifiers.
const memberLogs = `(member_id = ANY($1) OR identifier IN (SELECT identifier FROM web_identifiers WHERE member_id = ANY($1)))`

const qExport = `-- name: Export
SELECT json_build_object('holder', 'accesslog',
  'linked_members', (SELECT coalesce(json_agg(json_build_object('member_id', m.member_id, 'login_email', m.login_email,
      'linked_at', m.linked_at, 'analytics_suspended_at', m.analytics_suspended_at) ORDER BY m.member_id), '[]'::json)
    FROM linked_members m WHERE m.member_id = ANY($1)),
  'identifiers', (SELECT coalesce(json_agg(json_build_object('identifier', w.identifier, 'kind', w.kind, 'source', w.source,
      'first_seen', w.first_seen, 'last_seen', w.last_seen, 'consented_at', w.consented_at) ORDER BY w.first_seen), '[]'::json)
    FROM web_identifiers w WHERE w.member_id = ANY($1)),
  'access_logs', (SELECT coalesce(json_agg(json_build_object('accessed_at', l.accessed_at, 'identifier', l.identifier,
      'ip', host(l.ip), 'user_agent', l.user_agent, 'method', l.method, 'path', l.path, 'referrer', l.referrer,
      'status', l.status) ORDER BY l.accessed_at, l.log_id), '[]'::json)
    FROM access_logs l WHERE ` + memberLogs + `))`

const qCountLogs = `-- name: CountLogs
SELECT count(*) FROM access_logs WHERE ` + memberLogs

// qAnonymiseLogs keeps a log line only as an anonymous statistic: no member,
// no cookie, the IP address cut to its network (/24, IPv6 /48), no user
// agent, referrer or query string.
const qAnonymiseLogs = `-- name: AnonymiseLogs
UPDATE access_logs SET member_id = NULL, identifier = NULL, user_agent = NULL, referrer = NULL,
  path = split_part(path, '?', 1),
  ip = CASE WHEN ip IS NULL THEN NULL
            WHEN family(ip) = 4 THEN network(set_masklen(ip, 24))::inet
            ELSE network(set_masklen(ip, 48))::inet END
WHERE ` + memberLogs

const qDeleteLinked = `-- name: DeleteLinked
DELETE FROM linked_members WHERE member_id = ANY($1)`

const qCountIdentifiers = `-- name: CountIdentifiers
SELECT count(*) FROM web_identifiers WHERE member_id = ANY($1)`

const qSuspend = `-- name: Suspend
UPDATE linked_members SET analytics_suspended_at = coalesce(analytics_suspended_at, now())
WHERE member_id = ANY($1)`

// linked finds the person's rows for every action.
var linked = holderkit.Lookup{Holder: Name, Noun: "linked members", FindSQL: qFindLinked, LocateSQL: qLocateLinked,
	Found: "linked member found", Missing: "no linked member matches"}

// Actions returns this holder's handlers.
func Actions() map[dsrv1.Action]holderkit.HandlerFunc {
	return map[dsrv1.Action]holderkit.HandlerFunc{
		dsrv1.Action_ACTION_LOCATE:  linked.Locate,
		dsrv1.Action_ACTION_EXPORT:  export,
		dsrv1.Action_ACTION_SUSPEND: suspend,
		dsrv1.Action_ACTION_ERASE:   erase,
	}
}

func export(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	ids, err := linked.IDs(ctx, tx, cmd)
	if err != nil || len(ids) == 0 {
		return linked.NotFound(), err
	}
	var doc json.RawMessage
	if err := tx.QueryRow(ctx, qExport, ids).Scan(&doc); err != nil {
		return holderkit.Result{}, dbErr("export", err)
	}
	var logs, idents int
	if err := tx.QueryRow(ctx, qCountLogs, ids).Scan(&logs); err != nil {
		return holderkit.Result{}, dbErr("count logs", err)
	}
	if err := tx.QueryRow(ctx, qCountIdentifiers, ids).Scan(&idents); err != nil {
		return holderkit.Result{}, dbErr("count identifiers", err)
	}
	return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: len(ids) + idents + logs, Export: doc,
		Reason: "linked member, cookie and web-beacon identifiers and access logs exported"}, nil
}

// erase anonymises the member's log lines (kept only as anonymous
// statistics) and deletes the link and every identifier linked to them.
func erase(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	ids, err := linked.IDs(ctx, tx, cmd)
	if err != nil || len(ids) == 0 {
		return linked.NotFound(), err
	}
	var idents int
	if err := tx.QueryRow(ctx, qCountIdentifiers, ids).Scan(&idents); err != nil {
		return holderkit.Result{}, dbErr("count identifiers", err)
	}
	// Logs first: they are found through the identifiers deleted next.
	logs, err := tx.Exec(ctx, qAnonymiseLogs, ids)
	if err != nil {
		return holderkit.Result{}, dbErr("anonymise logs", err)
	}
	linked, err := tx.Exec(ctx, qDeleteLinked, ids) // identifiers go by cascade
	if err != nil {
		return holderkit.Result{}, dbErr("delete linked members", err)
	}
	return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE,
		RecordsAffected: int(linked.RowsAffected()) + idents + int(logs.RowsAffected()),
		Reason: fmt.Sprintf("member link and %d cookie/web-beacon identifier(s) deleted; %d access log line(s) anonymised "+
			"(no member or cookie, IP cut to its network, no user agent, referrer or query)", idents, logs.RowsAffected())}, nil
}

func suspend(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	ids, err := linked.IDs(ctx, tx, cmd)
	if err != nil || len(ids) == 0 {
		return linked.NotFound(), err
	}
	tag, err := tx.Exec(ctx, qSuspend, ids)
	if err != nil {
		return holderkit.Result{}, dbErr("suspend", err)
	}
	return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: int(tag.RowsAffected()),
		Reason: "access data and identifiers excluded from analytics and marketing use; security logging continues"}, nil
}

// dbErr wraps a database error without personal data (holderkit.DBError).
func dbErr(op string, err error) error { return holderkit.DBError(Name, op, err) }
