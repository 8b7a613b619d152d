package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/intake"
	"madoguchi.dev/services/intake/migrations"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

var receiptRE = regexp.MustCompile(`^20[0-9]{6}-[0-9A-HJKMNP-TV-Z]{6}$`)

// site is the intake's HTTP handler against a real, freshly migrated database.
type site struct {
	srv  *httptest.Server
	pool *pgxpool.Pool
	ring *seal.Ring
	ns   contract.Namespace
	svc  *intake.Service
	logs *syncBuffer
	// handler is what srv serves (tests may call it with a chosen peer).
	handler http.Handler
}

// siteOptions vary the handler; the zero value is the plain intake.
type siteOptions struct {
	nc       *nats.Conn
	requests intake.Requests
	packages intake.Packages
	limits   intake.Limits
	quota    intake.MailQuota
	feeJPY   int
	now      func() time.Time
	// publicURL is HTTP.PublicURL (an https one makes grants Secure).
	publicURL string
}

func newSite(t *testing.T, nc *nats.Conn) *site {
	t.Helper()
	return newSiteWith(t, siteOptions{nc: nc})
}

func newSiteWith(t *testing.T, o siteOptions) *site {
	t.Helper()
	pool := testinfra.Pool(t, "t_intake", migrations.FS)
	ns, err := contract.NewNamespace(testinfra.UniqueName("t"))
	if err != nil {
		t.Fatal(err)
	}
	s := &site{pool: pool, ring: testinfra.Ring(t), ns: ns, logs: &syncBuffer{}}
	// Logs go to the test output and to a buffer the tests search for
	// personal data.
	tw := &testWriter{t: t}
	t.Cleanup(tw.stop)
	log := zerolog.New(io.MultiWriter(s.logs, tw)).With().Timestamp().Logger()
	s.svc = &intake.Service{Pool: pool, Ring: s.ring, Namespace: ns, Log: log, MailQuota: o.quota, Now: o.now}
	h := &intake.HTTP{Service: s.svc, Pool: pool, NATS: o.nc, Log: log,
		Requests: o.requests, Packages: o.packages, Limits: o.limits, DisclosureFeeJPY: o.feeJPY,
		ReceiptWait: 300 * time.Millisecond, Now: o.now, Ring: s.ring, PublicURL: o.publicURL}
	if o.requests == nil {
		h.ReceiptWait = -1
	}
	s.handler = h.Handler()
	s.srv = httptest.NewServer(s.handler)
	t.Cleanup(s.srv.Close)
	return s
}

// syncBuffer collects log lines from handlers running concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// testWriter logs to the test until it ends (handlers may log a moment later).
type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

type response struct {
	status int
	header http.Header
	body   string
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("response is not JSON (%v): %s", err, r.body)
	}
	return m
}

func (s *site) do(t *testing.T, method, path, contentType, body string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func (s *site) postJSON(t *testing.T, body string, header map[string]string) response {
	t.Helper()
	return s.do(t, http.MethodPost, "/api/v1/requests", "application/json", body, header)
}

func (s *site) postForm(t *testing.T, form url.Values) response {
	t.Helper()
	return s.do(t, http.MethodPost, "/requests", "application/x-www-form-urlencoded", form.Encode(), nil)
}

func (s *site) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (s *site) wantStored(t *testing.T, requests, outbox int) {
	t.Helper()
	if got := s.count(t, "requests"); got != requests {
		t.Errorf("%d requests rows, want %d", got, requests)
	}
	if got := s.count(t, "outbox"); got != outbox {
		t.Errorf("%d outbox rows, want %d", got, outbox)
	}
}

func TestAPIAcceptsAValidRequestAndStoresItWithItsAnnouncement(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	r := s.postJSON(t, exampleJSON, nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("content type %q", ct)
	}
	if r.header.Get("Idempotent-Replayed") != "" {
		t.Error("a first submission is marked as replayed")
	}
	var acc struct {
		ID, Receipt string
		SubmittedAt time.Time `json:"submitted_at"`
	}
	if err := json.Unmarshal([]byte(r.body), &acc); err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(acc.ID); err != nil {
		t.Errorf("id %q is not a UUID", acc.ID)
	}
	if !receiptRE.MatchString(acc.Receipt) {
		t.Errorf("receipt %q is not YYYYMMDD-XXXXXX", acc.Receipt)
	}
	if acc.SubmittedAt.IsZero() {
		t.Error("no submitted_at")
	}
	s.wantStored(t, 1, 1)

	ctx := context.Background()
	var kind, jurisdiction, locale, keyID string
	var agent bool
	var nonce, sealed []byte
	err := s.pool.QueryRow(ctx, `SELECT kind, jurisdiction, locale, filed_by_agent, personal_key_id, personal_nonce, personal_sealed
		FROM requests WHERE id = $1 AND receipt = $2`, acc.ID, acc.Receipt).Scan(&kind, &jurisdiction, &locale, &agent, &keyID, &nonce, &sealed)
	if err != nil {
		t.Fatalf("request row for the answered id and receipt: %v", err)
	}
	if kind != "deletion" || jurisdiction != "JP" || locale != "ja" || agent {
		t.Errorf("row = %s %s %s agent=%v", kind, jurisdiction, locale, agent)
	}
	var personal dsrv1.PersonalData
	if err := s.ring.OpenMessage(&dsrv1.Sealed{KeyId: keyID, Nonce: nonce, Ciphertext: sealed, Type: "dsr.v1.PersonalData"}, &personal); err != nil {
		t.Fatalf("stored personal data does not open: %v", err)
	}
	if personal.GetSubject().GetEmail() != "hanako@example.jp" || personal.GetSubject().GetName() != "山田 花子" ||
		personal.GetSubject().GetMemberId() != "M-1001" || personal.GetDetails() != "退会したので全て削除してください" {
		t.Errorf("stored personal data = %v", &personal)
	}

	var reqID, subject, msgID, msgType string
	var payload []byte
	var sentAt *time.Time
	err = s.pool.QueryRow(ctx, `SELECT request_id::text, subject, msg_id, msg_type, payload, sent_at FROM outbox`).
		Scan(&reqID, &subject, &msgID, &msgType, &payload, &sentAt)
	if err != nil {
		t.Fatal(err)
	}
	if reqID != acc.ID || msgID != acc.ID || subject != s.ns.RequestSubmitted() || msgType != "dsr.v1.RequestSubmitted" || sentAt != nil {
		t.Errorf("outbox row = %s %s %s %s sent=%v", reqID, subject, msgID, msgType, sentAt)
	}
	var ev dsrv1.RequestSubmitted
	if err := proto.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.GetRequestId() != acc.ID || ev.GetReceipt() != acc.Receipt || ev.GetKind() != dsrv1.RequestKind_REQUEST_KIND_DELETION ||
		ev.GetJurisdiction() != "JP" || ev.GetLocale() != "ja" || ev.GetFiledByAgent() || ev.GetSubmittedAt() == nil {
		t.Errorf("announced event = %v", &ev)
	}
	var announced dsrv1.PersonalData
	if err := s.ring.OpenMessage(ev.GetPersonal(), &announced); err != nil || !proto.Equal(&announced, &personal) {
		t.Errorf("announced personal data %v (%v), want the stored %v", &announced, err, &personal)
	}
}

func TestAPIRefusesMalformedBodiesAndStoresNothing(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	cases := map[string]struct{ body, message string }{
		"invalid JSON":      {`{"kind":"deletion",`, ""},
		"not an object":     {`"deletion"`, ""},
		"unknown field":     {strings.Replace(exampleJSON, `"details"`, `"comment":"x","details"`, 1), "unknown field"},
		"empty body":        {``, "empty body"},
		"two objects":       {exampleJSON + exampleJSON, "exactly one"},
		"wrong type":        {`{"kind":4}`, "wrong type"},
		"subject as string": {`{"kind":"deletion","subject":"hanako@example.jp"}`, "wrong type"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := s.postJSON(t, c.body, nil)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			m := r.json(t)
			if m["error"] != "invalid_json" || !strings.Contains(fmt.Sprint(m["message"]), c.message) {
				t.Errorf("body = %v", m)
			}
			if strings.Contains(r.body, "hanako@example.jp") {
				t.Error("error response echoes personal data from the body")
			}
		})
	}
	r := s.postJSON(t, `{"details":"`+strings.Repeat("あ", 30000)+`"}`, nil)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "too large") {
		t.Errorf("oversized body: %d %s", r.status, r.body)
	}
	s.wantStored(t, 0, 0)
}

func TestAPIRefusesNonJSONContentTypes(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "text/json"} {
		r := s.do(t, http.MethodPost, "/api/v1/requests", ct, exampleJSON, nil)
		if r.status != http.StatusUnsupportedMediaType || r.json(t)["error"] != "unsupported_media_type" {
			t.Errorf("%s: status %d %s", ct, r.status, r.body)
		}
	}
	if r := s.postJSON(t, exampleJSON, map[string]string{"Content-Type": "application/json; charset=utf-8"}); r.status != http.StatusAccepted {
		t.Errorf("application/json with charset: status %d %s", r.status, r.body)
	}
	s.wantStored(t, 1, 1)
}

func TestAPIReportsEveryInvalidFieldAndStoresNothing(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	body := `{"kind":"deletion","locale":"ja","subject":{"name":"山田 花子","phone":"call me"},"agent":{"name":"山田 一郎","email":"ichiro@example.jp"}}`
	r := s.postJSON(t, body, map[string]string{"Idempotency-Key": "k-invalid"})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422: %s", r.status, r.body)
	}
	var got struct {
		Error  string
		Fields map[string]string
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"subject.email":       "入力してください。",
		"subject.phone":       "電話番号は数字とハイフンで入力してください。",
		"agent.relationship":  "ご本人との関係を選んでください。",
		"documents.authority": "代理権を確認できる書類(委任状など)を添付してください。",
	}
	if got.Error != "validation_failed" || fmt.Sprint(got.Fields) != fmt.Sprint(want) {
		t.Errorf("got %s %v, want validation_failed %v", got.Error, got.Fields, want)
	}
	s.wantStored(t, 0, 0)

	// English when the submission asks for it.
	r = s.postJSON(t, strings.Replace(body, `"locale":"ja"`, `"locale":"en"`, 1), nil)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Please fill this in.") {
		t.Errorf("English errors: %d %s", r.status, r.body)
	}
	// A fixed key after a refused attempt is still free to use.
	if r := s.postJSON(t, exampleJSON, map[string]string{"Idempotency-Key": "k-invalid"}); r.status != http.StatusAccepted {
		t.Errorf("valid retry with the key of a refused submission: %d %s", r.status, r.body)
	}
	s.wantStored(t, 1, 1)
}

func TestSameIdempotencyKeyTwiceStoresOneRequest(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	key := map[string]string{"Idempotency-Key": "client-retry-1"}
	first := s.postJSON(t, exampleJSON, key)
	second := s.postJSON(t, exampleJSON, key)
	if first.status != http.StatusAccepted || second.status != http.StatusAccepted {
		t.Fatalf("statuses %d, %d", first.status, second.status)
	}
	a, b := first.json(t), second.json(t)
	if a["id"] != b["id"] || a["receipt"] != b["receipt"] {
		t.Errorf("replay answered %v, first answer %v", b, a)
	}
	if first.header.Get("Idempotent-Replayed") != "" || second.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("Idempotent-Replayed: first %q, second %q", first.header.Get("Idempotent-Replayed"), second.header.Get("Idempotent-Replayed"))
	}
	ta, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(a["submitted_at"]))
	tb, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(b["submitted_at"]))
	if d := ta.Sub(tb); d < -time.Microsecond || d > time.Microsecond {
		t.Errorf("submitted_at differs between answer (%v) and replay (%v)", ta, tb)
	}
	// Full-width spelling of the same request is the same request.
	fw := strings.Replace(exampleJSON, "hanako@example.jp", "ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ", 1)
	if r := s.postJSON(t, fw, key); r.status != http.StatusAccepted || r.json(t)["id"] != a["id"] {
		t.Errorf("full-width replay: %d %s", r.status, r.body)
	}
	s.wantStored(t, 1, 1)

	// Without a key, a second identical submission is a second request.
	if r := s.postJSON(t, exampleJSON, nil); r.status != http.StatusAccepted || r.json(t)["id"] == a["id"] {
		t.Errorf("keyless resubmission: %d %s", r.status, r.body)
	}
	s.wantStored(t, 2, 2)
}

func TestConcurrentSubmissionsWithOneKeyStoreOneRequest(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/api/v1/requests", strings.NewReader(exampleJSON))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "double-click")
			resp, err := s.srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var acc map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&acc)
			if resp.StatusCode != http.StatusAccepted {
				t.Errorf("status %d: %v", resp.StatusCode, acc)
			}
			ids[i] = fmt.Sprint(acc["id"])
		})
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Errorf("concurrent submissions with one key got ids %v", ids)
			break
		}
	}
	s.wantStored(t, 1, 1)
}

func TestReusedIdempotencyKeyWithAnotherBodyIsRefused(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	key := map[string]string{"Idempotency-Key": "client-retry-2"}
	if r := s.postJSON(t, exampleJSON, key); r.status != http.StatusAccepted {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	other := strings.Replace(exampleJSON, `"deletion"`, `"disclosure"`, 1)
	r := s.postJSON(t, other, key)
	if r.status != http.StatusUnprocessableEntity || r.json(t)["error"] != "idempotency_key_reused" {
		t.Errorf("status %d %s, want 422 idempotency_key_reused", r.status, r.body)
	}
	s.wantStored(t, 1, 1)
	var kind string
	if err := s.pool.QueryRow(context.Background(), "SELECT kind FROM requests").Scan(&kind); err != nil || kind != "deletion" {
		t.Errorf("stored kind %q (%v): the first request must stay as it was", kind, err)
	}
	r = s.postJSON(t, exampleJSON, map[string]string{"Idempotency-Key": strings.Repeat("k", 201)})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Idempotency-Key") {
		t.Errorf("oversized key: %d %s", r.status, r.body)
	}
	// A key the database cannot keep is refused, not answered "retry".
	r = s.postJSON(t, exampleJSON, map[string]string{"Idempotency-Key": "caf\xe9"})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Idempotency-Key") {
		t.Errorf("key that is not UTF-8: %d %s", r.status, r.body)
	}
}

func TestPersonalDataIsNotStoredInPlaintext(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	body := `{"kind":"correction","subject":{"name":"山田 花子","name_kana":"やまだ はなこ","email":"hanako@example.jp","phone":"090-1234-5678","member_id":"M-1001"},` +
		`"details":"住所を下関市に訂正してください","agent":{"name":"山田 一郎","email":"ichiro@example.jp","relationship":"appointed_proxy"}}`
	// The agent's power of attorney, with the names in it.
	doc := []byte("%PDF-1.4\n% 委任状 山田 花子 は 山田 一郎 に委任します hanako@example.jp\n%%EOF\n")
	r := s.postMultipart(t, "/api/v1/requests", map[string]string{"request": body},
		map[string][]byte{"doc_authority": doc}, map[string]string{"Idempotency-Key": "pii-check"})
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	secrets := []string{"hanako@example.jp", "hanako", "山田", "やまだ", "090-1234-5678", "09012345678", "M-1001", "下関市", "ichiro", "委任状"}
	scan := func(what string, data []byte) {
		t.Helper()
		for _, secret := range secrets {
			for _, form := range [][]byte{[]byte(secret), []byte(fmt.Sprintf("%x", secret))} {
				if bytes.Contains(data, form) {
					t.Errorf("%s holds %q in the clear", what, secret)
				}
			}
		}
	}
	ctx := context.Background()
	for _, q := range []struct{ what, sql string }{
		{"requests row", "SELECT convert_to(r::text, 'UTF8') FROM requests r"},
		{"personal_sealed", "SELECT personal_sealed FROM requests"},
		{"outbox row", "SELECT convert_to(o::text, 'UTF8') FROM outbox o"},
		{"outbox payload", "SELECT payload FROM outbox"},
		{"uploads row", "SELECT convert_to(u::text, 'UTF8') FROM uploads u"},
		{"upload sealed", "SELECT sealed FROM uploads"},
	} {
		var data []byte
		if err := s.pool.QueryRow(ctx, q.sql).Scan(&data); err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 {
			t.Fatalf("%s is empty", q.what)
		}
		scan(q.what, data)
	}
	scan("logs", []byte(s.logs.String()))
}

func formValues(locale string) url.Values {
	return url.Values{
		"locale": {locale}, "jurisdiction": {"JP"}, "form_token": {"0123456789abcdef"},
		"kind": {"deletion"}, "name": {"山田 花子"}, "email": {"hanako@example.jp"},
		"member_id": {"M-1001"}, "details": {"退会したので全て削除してください"},
	}
}

func TestFormWithMissingEmailIsShownAgainWithWhatWasTyped(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	f := formValues("ja")
	f.Del("email")
	f.Set("name_kana", `<script>alert("x")</script>`)
	r := s.postForm(t, f)
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", r.status)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("content type %q", ct)
	}
	for _, want := range []string{
		`value="山田 花子"`,            // the typed name is kept
		"入力してください。",                // the Japanese message for the missing e-mail
		"退会したので全て削除してください",         // the typed details are kept
		`value="deletion" checked`, // the chosen kind stays chosen
		`id="e-subject.email"`,     // the message sits next to the e-mail field
		`href="#f-subject.email"`,  // and in the summary
		`<html lang="ja">`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("re-rendered form lacks %q", want)
		}
	}
	if strings.Contains(r.body, `<script>alert("x")</script>`) {
		t.Error("typed markup is echoed unescaped")
	}
	s.wantStored(t, 0, 0)

	en := formValues("en")
	en.Del("email")
	if r := s.postForm(t, en); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Please fill this in.") {
		t.Errorf("English form error: %d", r.status)
	}
}

func TestValidFormShowsTheReceiptAndADoubleSubmitStoresOneRequest(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	r := s.postForm(t, formValues("ja"))
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var receipt string
	if err := s.pool.QueryRow(context.Background(), "SELECT receipt FROM requests").Scan(&receipt); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.body, `id="receipt">`+receipt+"<") || !strings.Contains(r.body, "ご請求を受け付けました") {
		t.Errorf("receipt page does not show receipt %s:\n%s", receipt, r.body)
	}
	again := s.postForm(t, formValues("ja"))
	if again.status != http.StatusOK || !strings.Contains(again.body, receipt) {
		t.Errorf("resubmitted form: %d, receipt %s not shown", again.status, receipt)
	}
	s.wantStored(t, 1, 1)
}

func TestFormPagesRenderInBothLanguages(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	tokenRE := regexp.MustCompile(`name="form_token" value="([0-9a-f]{32})"`)
	tokens := map[string]bool{}
	for _, c := range []struct{ path, lang, title, other string }{
		{"/", "ja", "個人情報の開示等のご請求", `href="/en"`},
		{"/en", "en", "Requests about your personal information", `href="/"`},
	} {
		r := s.do(t, http.MethodGet, c.path, "", "", nil)
		if r.status != http.StatusOK {
			t.Errorf("GET %s: %d", c.path, r.status)
			continue
		}
		for _, want := range []string{`<html lang="` + c.lang + `">`, c.title, c.other, `action="/requests"`, `name="email"`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("GET %s lacks %q", c.path, want)
			}
		}
		m := tokenRE.FindStringSubmatch(r.body)
		if m == nil {
			t.Errorf("GET %s has no form token", c.path)
		} else {
			tokens[m[1]] = true
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s security headers: %v", c.path, r.header)
		}
	}
	if len(tokens) != 2 {
		t.Error("two renderings share a form token")
	}
	if r := s.do(t, http.MethodGet, "/?kind=erasure", "", "", nil); !strings.Contains(r.body, `value="erasure" checked`) {
		t.Error("GET /?kind=erasure does not preselect erasure")
	}
	if r := s.do(t, http.MethodGet, "/nope", "", "", nil); r.status != http.StatusNotFound {
		t.Errorf("GET /nope: %d", r.status)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	nc, _, _ := testinfra.NATS(t)
	s := newSite(t, nc)
	if r := s.do(t, http.MethodGet, "/healthz", "", "", nil); r.status != http.StatusOK || r.json(t)["status"] != "ok" {
		t.Errorf("healthz: %d %s", r.status, r.body)
	}
	r := s.do(t, http.MethodGet, "/readyz", "", "", nil)
	if m := r.json(t); r.status != http.StatusOK || m["database"] != "ok" || m["nats"] != "ok" {
		t.Errorf("readyz with live pool and NATS: %d %s", r.status, r.body)
	}
	nc.Close()
	r = s.do(t, http.MethodGet, "/readyz", "", "", nil)
	if m := r.json(t); r.status != http.StatusServiceUnavailable || m["nats"] != "unavailable" || m["database"] != "ok" {
		t.Errorf("readyz with NATS closed: %d %s", r.status, r.body)
	}
}
