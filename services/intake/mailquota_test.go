package intake_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"madoguchi.dev/platform/pseudonym"
	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	"madoguchi.dev/services/intake"
	"madoguchi.dev/services/intake/migrations"
)

func quotaKey(t *testing.T) pseudonym.Key {
	t.Helper()
	k, err := pseudonym.NewKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// clock is a settable time, safe to read from the handler's goroutines.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time   { return time.Unix(0, c.ns.Load()) }

func jsonFor(email, locale string) string {
	b := strings.Replace(exampleJSON, "hanako@example.jp", email, 1)
	return strings.Replace(b, `"locale":"ja"`, `"locale":"`+locale+`"`, 1)
}

func (s *site) quotaCount(t *testing.T) (rows, total int) {
	t.Helper()
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*), coalesce(sum(submissions), 0) FROM mail_quota").Scan(&rows, &total); err != nil {
		t.Fatal(err)
	}
	return rows, total
}

// The mail quota: at most PerDay submissions a JST day have their mails sent
// to one address. The next is answered 429 with Retry-After (until
// midnight JST) and a message in the page's language naming no one, and
// stores nothing; a retry of an accepted request is still answered with it
// and costs nothing; the agent's address is the one charged when an agent
// files; the next day starts afresh and yesterday's counters are purged.
func TestMailQuotaRefusesSubmissionsBeyondTheDaysLimitAndStoresNothing(t *testing.T) {
	t.Parallel()
	jstZone := time.FixedZone("JST", 9*3600)
	clk := newClock(time.Date(2026, 11, 26, 23, 59, 0, 0, jstZone))
	s := newSiteWith(t, siteOptions{now: clk.now, limits: intake.Limits{WriteBurst: 1000},
		quota: intake.MailQuota{PerDay: 3, Key: quotaKey(t)}})
	for i := range 3 {
		r := s.postJSON(t, exampleJSON, map[string]string{"Idempotency-Key": fmt.Sprintf("k-%d", i)})
		if r.status != http.StatusAccepted {
			t.Fatalf("submission %d of 3: %d %s", i+1, r.status, r.body)
		}
	}
	_, before := s.quotaCount(t)

	refused := func(what string, r response, wantText ...string) {
		t.Helper()
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("%s: %d %s, want 429", what, r.status, r.body)
		}
		if got := r.header.Get("Retry-After"); got != "60" {
			t.Errorf("%s: Retry-After %q, want 60 (seconds to midnight JST)", what, got)
		}
		wantContains(t, what, r.body, wantText...)
		for _, pii := range []string{"hanako", "example.jp", "M-1001", "削除してください"} {
			if strings.Contains(r.body, pii) {
				t.Errorf("%s: the answer holds %q: %s", what, pii, r.body)
			}
		}
	}
	r := s.postJSON(t, exampleJSON, map[string]string{"Idempotency-Key": "k-4"})
	refused("fourth submission", r, "1日3件", "午前0時")
	if m := r.json(t); m["error"] != "mail_quota" {
		t.Errorf("error = %v, want mail_quota", m["error"])
	}
	refused("fourth, in English", s.postJSON(t, jsonFor("hanako@example.jp", "en"), nil), "(3 a day)", "midnight Japan time")
	// Other spellings reach the same mailbox.
	for _, addr := range []string{"HANAKO@example.JP", "hanako+news@example.jp", "ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ"} {
		r := s.postJSON(t, jsonFor(addr, "ja"), nil)
		if r.status != http.StatusTooManyRequests {
			t.Errorf("%s: %d, want 429 (same mailbox)", addr, r.status)
		}
	}
	s.wantStored(t, 3, 3)

	// A client retrying an accepted request gets it back, free of charge.
	if r := s.postJSON(t, exampleJSON, map[string]string{"Idempotency-Key": "k-1"}); r.status != http.StatusAccepted ||
		r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay of an accepted request: %d %s", r.status, r.body)
	}
	_, after := s.quotaCount(t)
	if want := before + 5; after != want {
		t.Errorf("counted %d submissions, want %d (the 5 refused, not the replay)", after, want)
	}

	// The form is shown again with the message and what was typed.
	f := formValues("ja")
	f.Set("form_token", "quota-form-1")
	r = s.postForm(t, f)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "60" {
		t.Fatalf("form: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	wantContains(t, "form over the quota", r.body, "1日3件", "入力内容は残っています", `value="山田 花子"`, `value="hanako@example.jp"`)
	r = s.postForm(t, formValues("en"))
	wantContains(t, "English form over the quota", r.body, "(3 a day)", "What you typed is still here")

	// An agent's filing mails the agent: the subject's full quota does not
	// matter, the agent's own does; a refused one keeps no file.
	for i := range 4 {
		f := agentForm("ja")
		f.Set("form_token", fmt.Sprintf("agent-%d", i))
		r := s.postMultipart(t, "/requests", formFields(f), map[string][]byte{"doc_authority": pdfBytes, "doc_agent_id": jpegBytes}, nil)
		want := http.StatusOK
		if i == 3 {
			want = http.StatusTooManyRequests
		}
		if r.status != want {
			t.Fatalf("agent filing %d: %d, want %d", i+1, r.status, want)
		}
		if i == 3 && strings.Contains(r.body, "受け取り済み") {
			t.Error("the refused agent filing kept its files")
		}
	}
	s.wantStored(t, 6, 6)
	if n := s.count(t, "uploads"); n != 6 {
		t.Errorf("%d uploads, want 6 (two for each accepted agent filing, none for the refused)", n)
	}
	var keys string
	if err := s.pool.QueryRow(context.Background(), "SELECT string_agg(address_key || ' ' || day, ',') FROM mail_quota").Scan(&keys); err != nil {
		t.Fatal(err)
	}
	for _, clear := range []string{"hanako", "ichiro", "example"} {
		if strings.Contains(keys, clear) {
			t.Errorf("the counters hold %q: %s", clear, keys)
		}
	}

	// Midnight JST: a new day, a new quota; the old day's counters go.
	clk.set(time.Date(2026, 11, 27, 0, 0, 1, 0, jstZone))
	if r := s.postJSON(t, exampleJSON, nil); r.status != http.StatusAccepted {
		t.Errorf("first submission of the next day: %d %s", r.status, r.body)
	}
	if n, err := s.svc.PurgeMailQuota(context.Background()); err != nil || n != 2 {
		t.Errorf("PurgeMailQuota = %d, %v; want yesterday's 2 counters", n, err)
	}
	if rows, total := s.quotaCount(t); rows != 1 || total != 1 {
		t.Errorf("after the purge: %d counters, %d submissions; want today's 1 and 1", rows, total)
	}
	if strings.Contains(s.logs.String(), "hanako") || strings.Contains(s.logs.String(), "ichiro") {
		t.Error("a log line names an address")
	}
}

// The count holds when many submissions for one address arrive at once, on
// several replicas (each with its own writer) sharing the database: exactly
// PerDay are accepted. Other addresses are not held up.
func TestMailQuotaHoldsForConcurrentSubmissionsOnSeveralReplicas(t *testing.T) {
	t.Parallel()
	pool := testinfra.Pool(t, "t_quota", migrations.FS)
	ns, err := contract.NewNamespace(testinfra.UniqueName("t"))
	if err != nil {
		t.Fatal(err)
	}
	quota := intake.MailQuota{PerDay: 5, Key: quotaKey(t)}
	replicas := []*intake.Service{
		{Pool: pool, Ring: testinfra.Ring(t), Namespace: ns, Log: testinfra.Logger(t), MailQuota: quota, WriteConcurrency: 2},
		{Pool: pool, Ring: testinfra.Ring(t), Namespace: ns, Log: testinfra.Logger(t), MailQuota: quota, WriteConcurrency: 2},
	}
	sub := func(email string) intake.Submission {
		return intake.Submission{Kind: "deletion", Jurisdiction: "JP", Locale: "ja",
			Subject: intake.SubjectInput{Name: "山田 花子", Email: email}}
	}
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	others := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = replicas[i%2].Submit(t.Context(), sub("victim@example.jp"), fmt.Sprintf("victim-%d", i))
		})
		wg.Go(func() {
			<-start
			_, others[i] = replicas[i%2].Submit(t.Context(), sub(fmt.Sprintf("person-%d@example.jp", i)), fmt.Sprintf("other-%d", i))
		})
	}
	close(start)
	wg.Wait()
	accepted := 0
	for i, err := range errs {
		var qerr *intake.MailQuotaError
		switch {
		case err == nil:
			accepted++
		case errors.As(err, &qerr):
			if qerr.Limit != 5 || qerr.RetryAfter <= 0 || qerr.RetryAfter > 24*time.Hour {
				t.Errorf("submission %d: %+v", i, qerr)
			}
		default:
			t.Errorf("submission %d: %v", i, err)
		}
	}
	if accepted != 5 {
		t.Errorf("%d of %d concurrent submissions for one address accepted, want exactly 5", accepted, n)
	}
	for i, err := range others {
		if err != nil {
			t.Errorf("submission for another address %d: %v", i, err)
		}
	}
	var requests, announcements int
	if err := pool.QueryRow(t.Context(), "SELECT (SELECT count(*) FROM requests), (SELECT count(*) FROM outbox)").
		Scan(&requests, &announcements); err != nil {
		t.Fatal(err)
	}
	if requests != 5+n || announcements != 5+n {
		t.Errorf("%d requests, %d announcements stored; want %d each", requests, announcements, 5+n)
	}
}
