package intake_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// retentionRow is what the purge keeps or clears on one request row.
type retentionRow struct {
	personal, submissionHash, statusLink, idempotencyKey bool
	receipt, kind, jurisdiction, conclusion              string
	// concluded, purged: RFC 3339 in UTC, empty when NULL.
	concluded, purged string
	uploads, outbox   int
}

func (s *site) retentionRow(t *testing.T, id string) retentionRow {
	t.Helper()
	var r retentionRow
	err := s.pool.QueryRow(context.Background(), `SELECT personal_sealed IS NOT NULL AND personal_nonce IS NOT NULL AND personal_key_id IS NOT NULL,
  submission_hash IS NOT NULL, status_token_hash IS NOT NULL, idempotency_key IS NOT NULL,
  receipt, kind, jurisdiction, coalesce(conclusion, ''), `+utcText("concluded_at")+`, `+utcText("purged_at")+`,
  (SELECT count(*) FROM uploads WHERE request_id = r.id), (SELECT count(*) FROM outbox WHERE request_id = r.id)
FROM requests r WHERE id = $1`, id).Scan(&r.personal, &r.submissionHash, &r.statusLink, &r.idempotencyKey,
		&r.receipt, &r.kind, &r.jurisdiction, &r.conclusion, &r.concluded, &r.purged, &r.uploads, &r.outbox)
	if err != nil {
		t.Fatalf("row %s: %v", id, err)
	}
	return r
}

func utcText(col string) string {
	return `coalesce(to_char(` + col + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), '')`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *site) idOf(t *testing.T, receipt string) string {
	t.Helper()
	var id string
	if err := s.pool.QueryRow(context.Background(), "SELECT id::text FROM requests WHERE receipt = $1", receipt).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func concluded(id, stage, reason string, at time.Time) *dsrv1.RequestConcluded {
	return &dsrv1.RequestConcluded{EventId: id + ".concluded", RequestId: id, Receipt: "r", Stage: stage,
		ClosedReason: reason, ConcludedAt: timestamppb.New(at)}
}

// Policy §7: a concluded request's personal data, documents and sent
// announcements are purged once the retention period has passed since it
// ended; the non-personal trail (receipt, kind, dates, how it ended) stays.
// Requests still open, or concluded within the period, are untouched.
func TestPurgeRemovesPersonalDataOfRequestsConcludedLongerAgoThanRetention(t *testing.T) {
	t.Parallel()
	now := time.Date(2027, 12, 1, 9, 0, 0, 0, time.UTC)
	s := newSiteWith(t, siteOptions{now: func() time.Time { return now }})
	s.svc.Now = func() time.Time { return now }
	ctx := context.Background()
	const retention = 365 * 24 * time.Hour

	// An agent's request with two documents, concluded 400 days ago.
	if r := s.postMultipart(t, "/requests", formFields(agentForm("ja")),
		map[string][]byte{"doc_authority": pdfBytes, "doc_agent_id": jpegBytes}, nil); r.status != http.StatusOK {
		t.Fatalf("agent form: %d", r.status)
	}
	var old string
	if err := s.pool.QueryRow(ctx, "SELECT id::text FROM requests WHERE filed_by_agent").Scan(&old); err != nil {
		t.Fatal(err)
	}
	oldReceipt := s.retentionRow(t, old).receipt
	oldToken := s.tokenOf(t, oldReceipt)
	// One concluded ten days ago, one still open, both with an Idempotency-Key.
	recent := s.idOf(t, s.postJSON(t, exampleJSON, map[string]string{"Idempotency-Key": "k-recent"}).json(t)["receipt"].(string))
	open := s.idOf(t, s.postJSON(t, exampleJSON, map[string]string{"Idempotency-Key": "k-open"}).json(t)["receipt"].(string))
	// The relay (not running here) would have published every announcement.
	if _, err := s.pool.Exec(ctx, "UPDATE outbox SET sent_at = $1", now.Add(-500*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*dsrv1.RequestConcluded{
		concluded(old, "closed", "withdrawn", now.Add(-400*24*time.Hour)),
		concluded(recent, "completed", "", now.Add(-10*24*time.Hour)),
	} {
		if changed, err := s.svc.RecordConclusion(ctx, c); err != nil || !changed {
			t.Fatalf("RecordConclusion(%s) = %v, %v", c.GetRequestId(), changed, err)
		}
	}
	// A redelivered event does not move the clock.
	if changed, err := s.svc.RecordConclusion(ctx, concluded(old, "closed", "withdrawn", now)); err != nil || changed {
		t.Errorf("second RecordConclusion = %v, %v; want unchanged", changed, err)
	}
	before := map[string]retentionRow{old: s.retentionRow(t, old), recent: s.retentionRow(t, recent), open: s.retentionRow(t, open)}
	if b := before[old]; !b.personal || b.uploads != 2 || b.outbox != 1 || b.conclusion != "closed:withdrawn" {
		t.Fatalf("test setup: old request before the purge = %+v", b)
	}

	n, err := s.svc.PurgeConcluded(ctx, retention)
	if err != nil || n != 1 {
		t.Fatalf("PurgeConcluded = %d, %v; want 1 purged", n, err)
	}

	got := s.retentionRow(t, old)
	if got.personal || got.submissionHash || got.statusLink || got.idempotencyKey || got.uploads != 0 || got.outbox != 0 {
		t.Errorf("purged request still holds personal data: %+v", got)
	}
	if got.purged != rfc3339(now) {
		t.Errorf("purged_at = %v; want %v", got.purged, now)
	}
	b := before[old]
	if got.receipt != b.receipt || got.kind != b.kind || got.jurisdiction != b.jurisdiction ||
		got.conclusion != "closed:withdrawn" || got.concluded != rfc3339(now.Add(-400*24*time.Hour)) {
		t.Errorf("the non-personal trail changed: before %+v, after %+v", b, got)
	}
	for _, id := range []string{recent, open} {
		if after := s.retentionRow(t, id); after != before[id] {
			t.Errorf("request %s within retention changed: before %+v, after %+v", id, before[id], after)
		}
	}
	// The status link of the purged request is dead.
	if r := s.do(t, http.MethodGet, "/status/"+oldToken, "", "", nil); r.status != http.StatusNotFound {
		t.Errorf("status link after the purge: %d; want 404", r.status)
	}
	// Nothing left to purge: a second run is a no-op.
	if n, err := s.svc.PurgeConcluded(ctx, retention); err != nil || n != 0 {
		t.Errorf("second PurgeConcluded = %d, %v; want 0", n, err)
	}
	// And a key that named a purged request no longer finds it; the open
	// request's key still does.
	if r := s.postJSON(t, exampleJSON, map[string]string{"Idempotency-Key": "k-open"}); r.json(t)["receipt"] != before[open].receipt {
		t.Errorf("the open request's idempotency key no longer answers with its receipt")
	}
}

// The intake learns that a request ended from the workflow's event on
// JetStream; an event it cannot read is dead-lettered with a reason and the
// consumer goes on.
func TestConcludedEventsStartTheRetentionClockAndGarbageIsDeadLettered(t *testing.T) {
	t.Parallel()
	_, js, ns := testinfra.NATS(t)
	s := newSite(t, nil)
	s.svc.Namespace = ns
	ctx := context.Background()
	id := s.idOf(t, s.postJSON(t, exampleJSON, nil).json(t)["receipt"].(string))
	testinfra.Go(t, func(ctx context.Context) error { return s.svc.ConsumeConclusions(ctx, js) })

	if _, err := js.Publish(ctx, ns.RequestConcluded(), []byte("\xff not a protobuf")); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Publish(ctx, js, ns.RequestConcluded(), "bad-id.concluded", "bad-id",
		&dsrv1.RequestConcluded{EventId: "bad-id.concluded", RequestId: "not-a-uuid", Stage: "completed"}); err != nil {
		t.Fatal(err)
	}
	unknown := uuid.NewString() // a request of another intake: nothing to do
	at := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	for _, ev := range []*dsrv1.RequestConcluded{concluded(unknown, "completed", "", at), concluded(id, "completed", "", at)} {
		if _, err := bus.Publish(ctx, js, ns.RequestConcluded(), ev.GetEventId(), ev.GetRequestId(), ev); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(testinfra.Timeout)
	for s.retentionRow(t, id).concluded == "" {
		if time.Now().After(deadline) {
			t.Fatal("the concluded event was not recorded")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := s.retentionRow(t, id); r.concluded != rfc3339(at) || r.conclusion != "completed" || !r.personal {
		t.Errorf("row after the event = %+v; want concluded at %v, personal data still there", r, at)
	}
	cons, err := js.Stream(ctx, ns.StreamDeadLetter())
	if err != nil {
		t.Fatal(err)
	}
	for len(deadLetters(t, cons, ns)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("dead letters = %d; want both bad events", len(deadLetters(t, cons, ns)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, m := range deadLetters(t, cons, ns) {
		if m.Header.Get(contract.HeaderDeadReason) == "" {
			t.Errorf("dead letter without a reason: %v", m.Header)
		}
	}
}

func deadLetters(t *testing.T, st jetstream.Stream, ns contract.Namespace) []*jetstream.RawStreamMsg {
	t.Helper()
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(context.Background(), seq)
		if err == nil && m.Subject == ns.DeadLetter("intake-retention") {
			out = append(out, m)
		}
	}
	return out
}
