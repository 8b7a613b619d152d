// Package marketing is the data holder for marketing data (policy §2:
// キャンペーンの実施、各種ご案内の提供; 利用状況等の分析): campaign
// subscriptions and deliveries, and analytics segments.
package marketing

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
)

// Name is the holder's registry name and subject token.
const Name = "marketing"

// qFindSubscribers selects the subscribers a command acts on: by member
// number when one was given (plus subscribers never linked to a member under
// the given e-mail), else by e-mail address.
const qFindSubscribers = `-- name: FindSubscribers
SELECT subscriber_id, coalesce(member_id, ''), coalesce(email, '') FROM subscribers
WHERE ($1 <> '' AND member_id = $1)
   OR ($2 <> '' AND lower(email) = $2 AND ($1 = '' OR member_id IS NULL))
ORDER BY subscriber_id FOR UPDATE`

const qLocateSubscribers = `-- name: LocateSubscribers
SELECT coalesce(member_id, ''), lower(email) FROM subscribers
WHERE ($1 <> '' AND member_id = $1) OR ($2 <> '' AND lower(email) = $2)`

const qExport = `-- name: Export
SELECT json_build_object('holder', 'marketing', 'subscribers', coalesce(json_agg(json_build_object(
  'subscriber_id', s.subscriber_id, 'member_id', s.member_id, 'email', s.email, 'name', s.name,
  'postal_code', s.postal_code, 'address', s.address, 'created_at', s.created_at,
  'unsubscribed_at', s.unsubscribed_at, 'analytics_excluded_at', s.analytics_excluded_at, 'corrected_at', s.corrected_at,
  'subscriptions', (SELECT coalesce(json_agg(json_build_object('campaign', c.name, 'channel', c.channel,
      'subscribed_at', cs.subscribed_at, 'unsubscribed_at', cs.unsubscribed_at) ORDER BY cs.subscribed_at, c.campaign_id), '[]'::json)
    FROM campaign_subscriptions cs JOIN campaigns c USING (campaign_id) WHERE cs.subscriber_id = s.subscriber_id),
  'deliveries', (SELECT coalesce(json_agg(json_build_object('campaign', c.name, 'sent_at', d.sent_at,
      'opened_at', d.opened_at, 'clicked_at', d.clicked_at) ORDER BY d.sent_at), '[]'::json)
    FROM campaign_deliveries d JOIN campaigns c USING (campaign_id) WHERE d.subscriber_id = s.subscriber_id),
  'segments', (SELECT coalesce(json_agg(json_build_object('segment', g.name, 'description', g.description,
      'assigned_at', m.assigned_at, 'score', m.score) ORDER BY m.assigned_at, g.segment_id), '[]'::json)
    FROM segment_memberships m JOIN segments g USING (segment_id) WHERE m.subscriber_id = s.subscriber_id)
  ) ORDER BY s.subscriber_id), '[]'::json))
FROM subscribers s WHERE s.subscriber_id = ANY($1)`

const qDeleteSubscribers = `-- name: DeleteSubscribers
DELETE FROM subscribers WHERE subscriber_id = ANY($1)`

const qCountRelated = `-- name: CountRelated
SELECT (SELECT count(*) FROM campaign_subscriptions WHERE subscriber_id = ANY($1))
     + (SELECT count(*) FROM campaign_deliveries WHERE subscriber_id = ANY($1))
     + (SELECT count(*) FROM segment_memberships WHERE subscriber_id = ANY($1))`

const qUnsubscribeAll = `-- name: UnsubscribeAll
UPDATE campaign_subscriptions SET unsubscribed_at = now()
WHERE subscriber_id = ANY($1) AND unsubscribed_at IS NULL`

const qLeaveSegments = `-- name: LeaveSegments
DELETE FROM segment_memberships WHERE subscriber_id = ANY($1)`

const qSuspendSubscribers = `-- name: SuspendSubscribers
UPDATE subscribers SET unsubscribed_at = coalesce(unsubscribed_at, now()),
  analytics_excluded_at = coalesce(analytics_excluded_at, now())
WHERE subscriber_id = ANY($1)`

const qCorrectSubscribers = `-- name: CorrectSubscribers
UPDATE subscribers SET
  name         = coalesce($2, name),
  email        = coalesce($3, email),
  postal_code  = coalesce($4, postal_code),
  address      = coalesce($5, address),
  corrected_at = now()
WHERE subscriber_id = ANY($1)`

// subscribers finds the person's rows for every action.
var subscribers = holderkit.Lookup{Holder: Name, Noun: "subscribers", FindSQL: qFindSubscribers, LocateSQL: qLocateSubscribers,
	Found: "subscriber found", Missing: "no subscriber matches"}

// Actions returns this holder's handlers.
func Actions() map[dsrv1.Action]holderkit.HandlerFunc {
	return map[dsrv1.Action]holderkit.HandlerFunc{
		dsrv1.Action_ACTION_LOCATE:  subscribers.Locate,
		dsrv1.Action_ACTION_EXPORT:  subscribers.Export(qExport, "subscriptions, deliveries and analytics segments exported"),
		dsrv1.Action_ACTION_CORRECT: correct,
		dsrv1.Action_ACTION_SUSPEND: suspend,
		dsrv1.Action_ACTION_ERASE:   erase,
	}
}

func erase(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	ids, err := subscribers.IDs(ctx, tx, cmd)
	if err != nil || len(ids) == 0 {
		return subscribers.NotFound(), err
	}
	var related int
	if err := tx.QueryRow(ctx, qCountRelated, ids).Scan(&related); err != nil {
		return holderkit.Result{}, dbErr("count related", err)
	}
	tag, err := tx.Exec(ctx, qDeleteSubscribers, ids) // the rest goes by cascade
	if err != nil {
		return holderkit.Result{}, dbErr("delete subscribers", err)
	}
	return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE, RecordsAffected: int(tag.RowsAffected()) + related,
		Reason: "subscriber records with their subscriptions, deliveries and segment memberships deleted"}, nil
}

// suspend unsubscribes the person from every campaign and excludes them from
// analytics: their segment memberships (derived data) are removed and the
// subscriber is flagged so that no new ones are assigned.
func suspend(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	ids, err := subscribers.IDs(ctx, tx, cmd)
	if err != nil || len(ids) == 0 {
		return subscribers.NotFound(), err
	}
	unsub, err := tx.Exec(ctx, qUnsubscribeAll, ids)
	if err != nil {
		return holderkit.Result{}, dbErr("unsubscribe", err)
	}
	segs, err := tx.Exec(ctx, qLeaveSegments, ids)
	if err != nil {
		return holderkit.Result{}, dbErr("leave segments", err)
	}
	subs, err := tx.Exec(ctx, qSuspendSubscribers, ids)
	if err != nil {
		return holderkit.Result{}, dbErr("suspend subscribers", err)
	}
	return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_DONE,
		RecordsAffected: int(subs.RowsAffected() + unsub.RowsAffected() + segs.RowsAffected()),
		Reason: fmt.Sprintf("unsubscribed from %d campaign(s), removed from %d analytics segment(s), excluded from further campaigns and analytics",
			unsub.RowsAffected(), segs.RowsAffected())}, nil
}

func correct(ctx context.Context, tx pgx.Tx, cmd holderkit.Command) (holderkit.Result, error) {
	if len(cmd.Corrections) == 0 {
		return holderkit.Result{Outcome: dsrv1.Outcome_OUTCOME_FAILED, Reason: "no corrections supplied"}, nil
	}
	ids, err := subscribers.IDs(ctx, tx, cmd)
	if err != nil || len(ids) == 0 {
		return subscribers.NotFound(), err
	}
	p := holderkit.PlanCorrections(cmd.Corrections, "name", "email", "postal_code", "address")
	n := 0
	if len(p.Applied) > 0 {
		tag, err := tx.Exec(ctx, qCorrectSubscribers, ids, p.Set["name"], p.Set["email"], p.Set["postal_code"], p.Set["address"])
		if err != nil {
			return holderkit.Result{}, dbErr("correct subscribers", err)
		}
		n = int(tag.RowsAffected())
	}
	return p.Result(n), nil
}

// dbErr wraps a database error without personal data (holderkit.DBError).
func dbErr(op string, err error) error { return holderkit.DBError(Name, op, err) }
