package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/platform/disclosure"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/intake"
)

// --- helpers ---

func (s *site) postMultipart(t *testing.T, path string, fields map[string]string, files map[string][]byte, header map[string]string) response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	for name, content := range files {
		fw, err := mw.CreateFormFile(name, name+".pdf")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(content)
	}
	_ = mw.Close()
	return s.do(t, http.MethodPost, path, mw.FormDataContentType(), body.String(), header)
}

func formFields(v url.Values) map[string]string {
	m := map[string]string{}
	for k := range v {
		m[k] = v.Get(k)
	}
	return m
}

func agentForm(locale string) url.Values {
	f := formValues(locale)
	f.Set("kind", "disclosure")
	f.Set("as_agent", "on")
	f.Set("agent_name", "山田 一郎")
	f.Set("agent_email", "ichiro@example.jp")
	f.Set("agent_relationship", "appointed_proxy")
	return f
}

// tokenOf opens the stored personal data of a request to read the secret
// of its status link (only the person's e-mail carries it otherwise).
func (s *site) tokenOf(t *testing.T, receipt string) string {
	t.Helper()
	var keyID string
	var nonce, sealed []byte
	if err := s.pool.QueryRow(context.Background(), `SELECT personal_key_id, personal_nonce, personal_sealed FROM requests WHERE receipt = $1`,
		receipt).Scan(&keyID, &nonce, &sealed); err != nil {
		t.Fatal(err)
	}
	var pd dsrv1.PersonalData
	if err := s.ring.OpenMessage(&dsrv1.Sealed{KeyId: keyID, Nonce: nonce, Ciphertext: sealed, Type: "dsr.v1.PersonalData"}, &pd); err != nil {
		t.Fatal(err)
	}
	return pd.GetStatusToken()
}

// submitted files a request through the API and returns its receipt and status token.
func (s *site) submitted(t *testing.T, body string) (receipt, token string) {
	t.Helper()
	r := s.postJSON(t, body, nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	receipt = r.json(t)["receipt"].(string)
	return receipt, s.tokenOf(t, receipt)
}

// noRedirect does not follow redirects, to see the post/redirect/get.
func (s *site) doNoRedirect(t *testing.T, method, path, contentType, body string) response {
	t.Helper()
	req, _ := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	c := *s.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func wantContains(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// fakeRequests stands in for the request workflows.
type fakeRequests struct {
	mu       sync.Mutex
	status   map[string]*dsrv1.RequestStatus
	verify   func(code string) (*dsrv1.VerifyIdentityResult, error)
	withdraw error
	codes    []string
	resends  int
	reasons  []string
	mux      *fakeMux
}

func newFake() *fakeRequests { return &fakeRequests{status: map[string]*dsrv1.RequestStatus{}} }

func (f *fakeRequests) set(receipt string, st *dsrv1.RequestStatus) {
	f.mu.Lock()
	st.Receipt = receipt
	f.status[receipt] = st
	m := f.mux
	f.mu.Unlock()
	if m != nil {
		m.route(receipt, f)
	}
}

// fakeMux lets tests share one site (one database): each request's calls go
// to the fake that set its status; before that it has "not started".
type fakeMux struct {
	mu sync.Mutex
	m  map[string]*fakeRequests
}

func (m *fakeMux) fake() *fakeRequests {
	f := newFake()
	f.mux = m
	return f
}

func (m *fakeMux) route(receipt string, f *fakeRequests) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[receipt] = f
}

func (m *fakeMux) of(receipt string) (*fakeRequests, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.m[receipt]
	if !ok {
		return nil, intake.ErrNotStarted
	}
	return f, nil
}

func (m *fakeMux) Status(ctx context.Context, receipt string) (*dsrv1.RequestStatus, error) {
	f, err := m.of(receipt)
	if err != nil {
		return nil, err
	}
	return f.Status(ctx, receipt)
}

func (m *fakeMux) Verify(ctx context.Context, receipt, code string) (*dsrv1.VerifyIdentityResult, error) {
	f, err := m.of(receipt)
	if err != nil {
		return nil, err
	}
	return f.Verify(ctx, receipt, code)
}

func (m *fakeMux) Resend(ctx context.Context, receipt string) (*dsrv1.ResendCodeResult, error) {
	f, err := m.of(receipt)
	if err != nil {
		return nil, err
	}
	return f.Resend(ctx, receipt)
}

func (m *fakeMux) Withdraw(ctx context.Context, receipt, reason string) (*dsrv1.ActionResult, error) {
	f, err := m.of(receipt)
	if err != nil {
		return nil, err
	}
	return f.Withdraw(ctx, receipt, reason)
}

func (f *fakeRequests) setVerify(fn func(code string) (*dsrv1.VerifyIdentityResult, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verify = fn
}

func (f *fakeRequests) setWithdraw(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.withdraw = err
}

// calls reports what reached the fake: codes, resends, withdrawal reasons.
func (f *fakeRequests) calls() (codes []string, resends int, reasons []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.codes...), f.resends, append([]string(nil), f.reasons...)
}

func (f *fakeRequests) Status(_ context.Context, receipt string) (*dsrv1.RequestStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.status[receipt]
	if !ok {
		return nil, intake.ErrNotStarted
	}
	return st, nil
}

func (f *fakeRequests) Verify(_ context.Context, _ string, code string) (*dsrv1.VerifyIdentityResult, error) {
	f.mu.Lock()
	f.codes = append(f.codes, code)
	v := f.verify
	f.mu.Unlock()
	return v(code)
}

func (f *fakeRequests) Resend(context.Context, string) (*dsrv1.ResendCodeResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resends++
	return &dsrv1.ResendCodeResult{ResendsLeft: 2}, nil
}

func (f *fakeRequests) Withdraw(_ context.Context, receipt, reason string) (*dsrv1.ActionResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.withdraw != nil {
		return nil, f.withdraw
	}
	f.reasons = append(f.reasons, reason)
	f.status[receipt].Withdrawn = true
	return &dsrv1.ActionResult{Stage: f.status[receipt].GetStage(), Message: "withdrawn"}, nil
}

var due = time.Date(2026, 12, 10, 15, 0, 0, 0, time.UTC) // 2026-12-11 (Fri) 00:00 JST

func verifying(attemptsLeft, resendsLeft int32) *dsrv1.RequestStatus {
	return &dsrv1.RequestStatus{Stage: "verifying", Kind: "deletion", DueAt: timestamppb.New(due),
		Verification: &dsrv1.VerificationStatus{State: "pending", AttemptsLeft: attemptsLeft, ResendsLeft: resendsLeft,
			ExpiresAt: timestamppb.New(due)}, Fee: &dsrv1.FeeStatus{State: "none"}}
}

// --- the form ---

func TestFormIsMultipartLabelledAndServedWithItsAssets(t *testing.T) {
	t.Parallel()
	s := newSiteWith(t, siteOptions{feeJPY: 1000})
	r := s.do(t, http.MethodGet, "/", "", "", nil)
	wantContains(t, "form", r.body,
		`enctype="multipart/form-data"`, `name="doc_authority"`, `name="doc_agent_id"`, `accept=".pdf,.jpg,.jpeg,.png`,
		`name="correction"`, `name="disclosure_method" value="electronic"`, `name="name_kana"`,
		"手数料 1,000円", "無料", "プライバシーポリシー第5条", "開示等", `<a class="skip" href="#main">`,
		`href="/static/app.css"`, `src="/static/app.js"`)
	// Every input a person fills has a label pointing at it.
	ids := regexp.MustCompile(`<(?:input|textarea|select)[^>]*\bid="([^"]+)"`).FindAllStringSubmatch(r.body, -1)
	if len(ids) < 15 {
		t.Fatalf("only %d inputs found", len(ids))
	}
	for _, m := range ids {
		if !strings.Contains(r.body, `for="`+m[1]+`"`) {
			t.Errorf("input %s has no label", m[1])
		}
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	if strings.Contains(r.body, "style=") || strings.Contains(r.body, "<script>") {
		t.Error("inline style or script would be blocked by the CSP")
	}
	for _, asset := range []string{"/static/app.css", "/static/app.js"} {
		if a := s.do(t, http.MethodGet, asset, "", "", nil); a.status != http.StatusOK || len(a.body) < 100 {
			t.Errorf("GET %s: %d", asset, a.status)
		}
	}
	en := s.do(t, http.MethodGet, "/en", "", "", nil)
	wantContains(t, "English form", en.body, "fee ¥1,000", "Privacy policy §5", `lang="ja" hreflang="ja">日本語</a>`)
}

func TestAgentFormStoresTheDocumentsSealedWithTheRequest(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	r := s.postMultipart(t, "/requests", formFields(agentForm("ja")),
		map[string][]byte{"doc_authority": pdfBytes, "doc_agent_id": jpegBytes}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	wantContains(t, "receipt page", r.body, "ご請求を受け付けました", "代理人による請求のため", "手数料がかかるご請求の場合")
	ctx := context.Background()
	var requestID string
	var agent bool
	if err := s.pool.QueryRow(ctx, "SELECT id::text, filed_by_agent FROM requests").Scan(&requestID, &agent); err != nil || !agent {
		t.Fatalf("request row: agent=%v %v", agent, err)
	}
	rows, err := s.pool.Query(ctx, "SELECT id::text, purpose, content_type, size_bytes FROM uploads WHERE request_id = $1 ORDER BY purpose", requestID)
	if err != nil {
		t.Fatal(err)
	}
	type up struct {
		id, purpose, ct string
		size            int
	}
	var ups []up
	for rows.Next() {
		var u up
		_ = rows.Scan(&u.id, &u.purpose, &u.ct, &u.size)
		ups = append(ups, u)
	}
	if len(ups) != 2 || ups[0].purpose != "agent_id" || ups[0].ct != "image/jpeg" || ups[1].purpose != "authority" ||
		ups[1].ct != "application/pdf" || ups[1].size != len(pdfBytes) {
		t.Fatalf("uploads = %+v", ups)
	}
	purpose, ct, content, err := s.svc.OpenUpload(ctx, ups[1].id)
	if err != nil || purpose != "authority" || ct != "application/pdf" || !bytes.Equal(content, pdfBytes) {
		t.Errorf("OpenUpload = %s %s %q %v", purpose, ct, content, err)
	}
	// A sealed file moved to another row does not open (AAD binds the id).
	if _, err := s.pool.Exec(ctx, `UPDATE uploads SET sealed = (SELECT sealed FROM uploads WHERE id = $1) WHERE id = $2`, ups[1].id, ups[0].id); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.svc.OpenUpload(ctx, ups[0].id); err == nil {
		t.Error("a ciphertext copied to another row opened")
	}
}

func TestFormErrorKeepsAValidFileSoItNeedNotBeChosenAgain(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	f := agentForm("ja")
	f.Del("email")
	r := s.postMultipart(t, "/requests", formFields(f), map[string][]byte{"doc_authority": pdfBytes}, nil)
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", r.status)
	}
	wantContains(t, "re-rendered agent form", r.body, "受け取り済み: PDF", `value="山田 一郎"`, `value="appointed_proxy" checked`,
		`name="as_agent" id="f-as_agent" checked`, "入力してください。")
	kept := regexp.MustCompile(`name="kept_authority" value="([0-9a-f]{64})"`).FindStringSubmatch(r.body)
	if kept == nil {
		t.Fatalf("no kept file claim on the page:\n%s", r.body)
	}
	if n := s.count(t, "uploads"); n != 1 {
		t.Fatalf("%d uploads kept, want 1", n)
	}
	// The person fixes the e-mail and sends again without choosing the file.
	f.Set("email", "hanako@example.jp")
	f.Set("kept_authority", kept[1])
	r = s.postMultipart(t, "/requests", formFields(f), nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("resubmission: %d %s", r.status, r.body)
	}
	var claimed int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM uploads u JOIN requests r ON r.id = u.request_id
		WHERE u.claim_hash IS NULL AND u.purpose = 'authority'`).Scan(&claimed); err != nil || claimed != 1 {
		t.Errorf("claimed uploads = %d (%v), want 1", claimed, err)
	}
	// A claim cannot be used twice, nor by a guess.
	f.Set("form_token", "another-form")
	r = s.postMultipart(t, "/requests", formFields(f), nil, nil)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "代理権を確認できる書類") {
		t.Errorf("reused claim: %d", r.status)
	}
	s.wantStored(t, 1, 1)
}

func TestUploadsAreCheckedByContentAndSize(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	html := []byte("<!doctype html><script>alert(1)</script>")
	r := s.postMultipart(t, "/requests", formFields(agentForm("ja")), map[string][]byte{"doc_authority": html}, nil)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "PDF・JPEG・PNGのファイルを選んでください。") {
		t.Errorf("HTML named .pdf: %d", r.status)
	}
	big := append(append([]byte{}, pdfBytes...), make([]byte, intake.MaxDocumentSize)...)
	r = s.postMultipart(t, "/requests", formFields(agentForm("en")), map[string][]byte{"doc_authority": big}, nil)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "The file is too large") {
		t.Errorf("file over 5 MiB: %d", r.status)
	}
	if i := strings.Index(r.body, "kept_authority"); i >= 0 {
		t.Errorf("an invalid file was kept: %s", r.body[max(0, i-300):i+100])
	}
	huge := make([]byte, 3*intake.MaxDocumentSize)
	r = s.postMultipart(t, "/requests", formFields(agentForm("ja")), map[string][]byte{"doc_authority": huge, "doc_agent_id": huge}, nil)
	if r.status != http.StatusBadRequest {
		t.Errorf("body over the multipart limit: %d", r.status)
	}
	s.wantStored(t, 0, 0)
	if n := s.count(t, "uploads"); n != 0 {
		t.Errorf("%d uploads stored for refused files", n)
	}
}

func TestAPITakesDocumentsAsMultipartWithTheSameValidation(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	body := `{"kind":"disclosure","subject":{"name":"山田 花子","email":"hanako@example.jp"},` +
		`"agent":{"name":"山田 一郎","email":"ichiro@example.jp","relationship":"legal_representative"}}`
	r := s.postJSON(t, body, nil)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `"documents.authority"`) {
		t.Errorf("agent without document: %d %s", r.status, r.body)
	}
	r = s.postMultipart(t, "/api/v1/requests", map[string]string{"request": body}, map[string][]byte{"doc_authority": pngBytes}, nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("multipart: %d %s", r.status, r.body)
	}
	r = s.postMultipart(t, "/api/v1/requests", map[string]string{"request": `{"kind":`}, nil, nil)
	if r.status != http.StatusBadRequest || r.json(t)["error"] != "invalid_json" {
		t.Errorf("multipart with broken JSON: %d %s", r.status, r.body)
	}
	s.wantStored(t, 1, 1)
	if n := s.count(t, "uploads"); n != 1 {
		t.Errorf("%d uploads, want 1", n)
	}
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	form := formValues("ja").Encode()
	for name, h := range map[string]map[string]string{
		"Sec-Fetch-Site cross-site": {"Sec-Fetch-Site": "cross-site"},
		"foreign Origin":            {"Origin": "https://evil.example"},
	} {
		r := s.do(t, http.MethodPost, "/requests", "application/x-www-form-urlencoded", form, h)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "ほかのサイトからの送信は受け付けていません") {
			t.Errorf("%s: form %d", name, r.status)
		}
		r = s.do(t, http.MethodPost, "/api/v1/requests", "application/json", exampleJSON, h)
		if r.status != http.StatusForbidden || r.json(t)["error"] != "cross_origin" {
			t.Errorf("%s: API %d %s", name, r.status, r.body)
		}
	}
	s.wantStored(t, 0, 0)
	same := s.do(t, http.MethodPost, "/requests", "application/x-www-form-urlencoded", form,
		map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": s.srv.URL})
	if same.status != http.StatusOK {
		t.Errorf("same-origin form: %d", same.status)
	}
	s.wantStored(t, 1, 1)
}

func TestRateLimitIsPerClient(t *testing.T) {
	t.Parallel()
	s := newSiteWith(t, siteOptions{limits: intake.Limits{WritesPerMinute: 1, WriteBurst: 2, ReadBurst: 3, ReadsPerMinute: 1,
		ClientKey: func(r *http.Request) string { return r.Header.Get("X-Test-Client") }}})
	a := map[string]string{"X-Test-Client": "a"}
	for i := range 2 {
		if r := s.do(t, http.MethodPost, "/api/v1/requests", "application/json", exampleJSON, a); r.status != http.StatusAccepted {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	r := s.do(t, http.MethodPost, "/api/v1/requests", "application/json", exampleJSON, a)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || r.json(t)["error"] != "rate_limited" {
		t.Errorf("third API request: %d %v %s", r.status, r.header, r.body)
	}
	r = s.do(t, http.MethodPost, "/requests", "application/x-www-form-urlencoded", formValues("ja").Encode(), a)
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "しばらくお待ちください") {
		t.Errorf("form over the limit: %d", r.status)
	}
	// Another client is not affected; reading the form is never limited.
	if r := s.do(t, http.MethodPost, "/api/v1/requests", "application/json", exampleJSON, map[string]string{"X-Test-Client": "b"}); r.status != http.StatusAccepted {
		t.Errorf("other client: %d", r.status)
	}
	if r := s.do(t, http.MethodGet, "/", "", "", a); r.status != http.StatusOK {
		t.Errorf("GET / for a limited client: %d", r.status)
	}
	// Guessing status links is limited too.
	var last int
	for range 5 {
		last = s.do(t, http.MethodGet, "/status/"+strings.Repeat("0", 64), "", "", a).status
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("status link guesses: %d, want 429", last)
	}
	s.wantStored(t, 3, 3)
}

// --- after submission ---

// TestThePersonsPages runs the status, code, withdrawal, fee and download
// pages against one site (one database) with fake workflows: each case
// files its own request and answers only for it.
func TestThePersonsPages(t *testing.T) {
	t.Parallel()
	mux := &fakeMux{m: map[string]*fakeRequests{}}
	pkgs := &fakePackages{m: map[string]*disclosure.Package{}}
	s := newSiteWith(t, siteOptions{requests: mux, packages: pkgs, limits: intake.Limits{WriteBurst: 1000, ReadBurst: 1000}})
	for name, run := range map[string]func(*testing.T, *site, *fakeRequests, *fakePackages){
		"status page only through the secret link": statusPageIsReachedOnlyThroughTheSecretLink,
		"verification code outcomes":               verificationCodeOutcomes,
		"resend and its limit":                     resendAndItsLimit,
		"withdrawal confirmed, refusal shown":      withdrawalAsksForConfirmationAndShowsARefusal,
		"fee page, completed and closed":           feePageAndClosedAndCompletedStates,
		"download page in the request's language":  downloadPageRendersThePackageInTheRequestsLanguage,
		"expired package is gone":                  expiredPackageIsGone,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run(t, s, mux.fake(), pkgs)
		})
	}
}

func TestReceiptPageShowsTheDueDateFromTheWorkflow(t *testing.T) {
	t.Parallel()
	fake := newFake()
	s := newSiteWith(t, siteOptions{requests: fake})
	// The workflow starts while the page waits (allow for a loaded machine).
	go func() {
		for i := 0; i < 1000; i++ {
			var receipt string
			if err := s.pool.QueryRow(context.Background(), "SELECT receipt FROM requests").Scan(&receipt); err == nil {
				fake.set(receipt, verifying(5, 3))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	r := s.postForm(t, formValues("ja"))
	wantContains(t, "receipt", r.body, "ご回答の期限", "2026年12月11日(金)", "これからの流れ", "確認コード")
	en := formValues("en")
	en.Set("form_token", "other")
	r = s.postForm(t, en)
	wantContains(t, "English receipt", r.body, "We have received your request", "What happens next")
}

func statusPageIsReachedOnlyThroughTheSecretLink(t *testing.T, s *site, fake *fakeRequests, _ *fakePackages) {
	receipt, token := s.submitted(t, exampleJSON)
	for _, path := range []string{"/status/" + receipt, "/status/" + strings.Repeat("a", 64), "/status/" + strings.ToUpper(token), "/status/x"} {
		r := s.do(t, http.MethodGet, path, "", "", nil)
		if r.status != http.StatusNotFound || strings.Contains(r.body, receipt) {
			t.Errorf("GET %s: %d", path, r.status)
		}
	}
	// Not started yet: "processing, reload".
	r := s.do(t, http.MethodGet, "/status/"+token, "", "", nil)
	wantContains(t, "processing page", r.body, "受付処理中です", `data-autoreload="3000"`, receipt)
	if r.status != http.StatusOK {
		t.Errorf("processing: %d", r.status)
	}
	fake.set(receipt, verifying(5, 3))
	r = s.do(t, http.MethodGet, "/status/"+token, "", "", nil)
	wantContains(t, "verifying page", r.body, `data-stage="verifying"`, `aria-current="step"`, "2026年12月11日(金)",
		`action="/status/`+token+`/verify"`, "あと5回入力できます", `action="/status/`+token+`/resend"`, "あと3回お送りできます",
		`href="/status/`+token+`/withdraw"`, `autocomplete="one-time-code"`)
	if !strings.Contains(s.do(t, http.MethodGet, "/status/"+token+"?lang=en", "", "", nil).body, "Enter the 6-digit verification code") {
		t.Error("?lang=en does not switch the status page to English")
	}
	if strings.Contains(s.logs.String(), token) {
		t.Error("the status token reached the logs")
	}
}

func verificationCodeOutcomes(t *testing.T, s *site, fake *fakeRequests, _ *fakePackages) {
	receipt, token := s.submitted(t, exampleJSON)
	fake.set(receipt, verifying(5, 3))
	post := func(code string) response {
		return s.doNoRedirect(t, http.MethodPost, "/status/"+token+"/verify", "application/x-www-form-urlencoded", url.Values{"code": {code}}.Encode())
	}
	fake.setVerify(func(string) (*dsrv1.VerifyIdentityResult, error) {
		return &dsrv1.VerifyIdentityResult{Outcome: dsrv1.VerifyOutcome_VERIFY_OUTCOME_WRONG, AttemptsLeft: 3, ResendsLeft: 3}, nil
	})
	r := post("12ab56")
	if codes, _, _ := fake.calls(); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "6桁の数字で入力してください") || len(codes) != 0 {
		t.Errorf("malformed code: %d, sent to workflow %v", r.status, codes)
	}
	r = post("１２３ ４５６")
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "あと3回入力できます") || !strings.Contains(r.body, `aria-invalid="true"`) {
		t.Errorf("wrong code: %d", r.status)
	}
	if codes, _, _ := fake.calls(); len(codes) != 1 || codes[0] != "123456" {
		t.Errorf("codes sent = %q, want the full-width entry normalised", codes)
	}
	fake.setVerify(func(string) (*dsrv1.VerifyIdentityResult, error) {
		return &dsrv1.VerifyIdentityResult{Outcome: dsrv1.VerifyOutcome_VERIFY_OUTCOME_LOCKED, ResendsLeft: 2}, nil
	})
	if r := post("000000"); !strings.Contains(r.body, "入力回数の上限に達したため") {
		t.Errorf("locked: %d", r.status)
	}
	fake.setVerify(func(string) (*dsrv1.VerifyIdentityResult, error) {
		return &dsrv1.VerifyIdentityResult{Outcome: dsrv1.VerifyOutcome_VERIFY_OUTCOME_EXPIRED, ResendsLeft: 2}, nil
	})
	if r := post("000000"); !strings.Contains(r.body, "有効期限が切れています") {
		t.Errorf("expired: %d", r.status)
	}
	fake.setVerify(func(string) (*dsrv1.VerifyIdentityResult, error) {
		return &dsrv1.VerifyIdentityResult{Outcome: dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED}, nil
	})
	r = post("654321")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/status/"+token+"?done=verified" {
		t.Fatalf("verified: %d %s", r.status, r.header.Get("Location"))
	}
	fake.set(receipt, &dsrv1.RequestStatus{Stage: "staff_review", Kind: "deletion", DueAt: timestamppb.New(due),
		Verification: &dsrv1.VerificationStatus{State: "verified"}, Fee: &dsrv1.FeeStatus{}})
	page := s.do(t, http.MethodGet, r.header.Get("Location"), "", "", nil)
	wantContains(t, "after verification", page.body, "ご本人確認が完了しました。", `data-stage="staff_review"`, "担当者がご請求の内容を確認しています")
	if strings.Contains(page.body, `name="code"`) {
		t.Error("the code form is still shown after verification")
	}
	// The workflow refuses a code at another stage: its reason is shown.
	fake.setVerify(func(string) (*dsrv1.VerifyIdentityResult, error) {
		return nil, &intake.RejectedError{Reason: `verification is not possible while the request is at stage "staff_review"`}
	})
	if r := post("111111"); r.status != http.StatusConflict || !strings.Contains(r.body, "この操作は現在できません") {
		t.Errorf("rejected: %d", r.status)
	}
	if log := s.logs.String(); strings.Contains(log, "654321") || strings.Contains(log, "123456") {
		t.Error("a verification code reached the logs")
	}
}

func resendAndItsLimit(t *testing.T, s *site, fake *fakeRequests, _ *fakePackages) {
	receipt, token := s.submitted(t, exampleJSON)
	st := verifying(0, 1)
	st.Verification.State = "locked"
	fake.set(receipt, st)
	page := s.do(t, http.MethodGet, "/status/"+token, "", "", nil)
	wantContains(t, "locked page", page.body, "お送りしたコードは使えません", "新しい確認コードを送る")
	if strings.Contains(page.body, `name="code"`) {
		t.Error("a locked code can still be entered")
	}
	r := s.doNoRedirect(t, http.MethodPost, "/status/"+token+"/resend", "application/x-www-form-urlencoded", "lang=en")
	if _, resends, _ := fake.calls(); r.status != http.StatusSeeOther || r.header.Get("Location") != "/status/"+token+"?done=resent&lang=en" || resends != 1 {
		t.Errorf("resend: %d %s (%d resends)", r.status, r.header.Get("Location"), resends)
	}
	st = verifying(0, 0)
	st.Verification.State = "locked"
	fake.set(receipt, st)
	page = s.do(t, http.MethodGet, "/status/"+token+"?done=resent", "", "", nil)
	wantContains(t, "after the last resend", page.body, "新しい確認コードをメールでお送りしました。", "これ以上コードをお送りできません")
	if strings.Contains(page.body, "/resend") {
		t.Error("resend offered with none left")
	}
}

func withdrawalAsksForConfirmationAndShowsARefusal(t *testing.T, s *site, fake *fakeRequests, _ *fakePackages) {
	receipt, token := s.submitted(t, exampleJSON)
	fake.set(receipt, verifying(5, 3))
	page := s.do(t, http.MethodGet, "/status/"+token+"/withdraw", "", "", nil)
	wantContains(t, "confirmation page", page.body, "ご請求の取り下げ", `action="/status/`+token+`/withdraw"`, "取り下げると、ご請求は終了します")
	r := s.doNoRedirect(t, http.MethodPost, "/status/"+token+"/withdraw", "application/x-www-form-urlencoded", "reason=不要になりました")
	if r.status != http.StatusSeeOther || !strings.HasSuffix(r.header.Get("Location"), "done=withdrawn") {
		t.Fatalf("withdraw: %d %s", r.status, r.header.Get("Location"))
	}
	if _, _, reasons := fake.calls(); len(reasons) != 1 || reasons[0] != "不要になりました" {
		t.Errorf("reasons = %q", reasons)
	}
	page = s.do(t, http.MethodGet, r.header.Get("Location"), "", "", nil)
	wantContains(t, "after withdrawal", page.body, "ご請求の取り下げを受け付けました", "取り下げのお申し出を受け付けました")
	if strings.Contains(page.body, `id="withdraw-link"`) {
		t.Error("withdraw offered twice")
	}
	// After completion: refused by the workflow, explained in the page's language.
	fake.set(receipt, &dsrv1.RequestStatus{Stage: "completed", Kind: "deletion", DueAt: timestamppb.New(due), Fee: &dsrv1.FeeStatus{},
		Verification: &dsrv1.VerificationStatus{State: "verified"}})
	fake.setWithdraw(&intake.RejectedError{Reason: "the request is already completed or closed"})
	r = s.do(t, http.MethodPost, "/status/"+token+"/withdraw", "application/x-www-form-urlencoded", "lang=en", nil)
	if r.status != http.StatusConflict || !strings.Contains(r.body, "The request is already completed or closed.") {
		t.Errorf("refused withdrawal: %d", r.status)
	}
}

func feePageAndClosedAndCompletedStates(t *testing.T, s *site, fake *fakeRequests, _ *fakePackages) {
	receipt, token := s.submitted(t, strings.Replace(exampleJSON, `"deletion"`, `"disclosure"`, 1))
	fake.set(receipt, &dsrv1.RequestStatus{Stage: "awaiting_fee", Kind: "disclosure", DueAt: timestamppb.New(due),
		Verification: &dsrv1.VerificationStatus{State: "verified"},
		Fee:          &dsrv1.FeeStatus{Required: true, AmountJpy: 1000, State: "awaiting", DueAt: timestamppb.New(due)}})
	page := s.do(t, http.MethodGet, "/status/"+token, "", "", nil)
	wantContains(t, "awaiting fee", page.body, "手数料のお支払い", `href="/status/`+token+`/fee"`)
	fee := s.do(t, http.MethodGet, "/status/"+token+"/fee", "", "", nil)
	wantContains(t, "fee page", fee.body, "1,000円", "2026年12月11日(金)", "山口みなと銀行", "受付番号("+receipt+")", "お支払いをお待ちしています")
	feeEN := s.do(t, http.MethodGet, "/status/"+token+"/fee?lang=en", "", "", nil)
	wantContains(t, "English fee page", feeEN.body, "¥1,000", "Friday 11 December 2026", "We are waiting for your payment.")

	fake.set(receipt, &dsrv1.RequestStatus{Stage: "completed", Kind: "disclosure", DueAt: timestamppb.New(due),
		Verification: &dsrv1.VerificationStatus{State: "verified"}, Fee: &dsrv1.FeeStatus{Required: true, State: "paid"},
		PackageId: "abc", PackageExpiresAt: timestamppb.New(due)})
	page = s.do(t, http.MethodGet, "/status/"+token, "", "", nil)
	wantContains(t, "completed", page.body, "対応が完了しました", "ダウンロード用のリンク", `class="current" aria-current="step">完了`)

	fake.set(receipt, &dsrv1.RequestStatus{Stage: "closed", ClosedReason: "unverified", Kind: "disclosure", DueAt: timestamppb.New(due),
		Verification: &dsrv1.VerificationStatus{State: "expired"}, Fee: &dsrv1.FeeStatus{}})
	page = s.do(t, http.MethodGet, "/status/"+token, "", "", nil)
	wantContains(t, "closed", page.body, "期限内にご本人確認ができなかったため")
	if strings.Contains(page.body, "withdraw-link") {
		t.Error("withdraw offered on a closed request")
	}
}

// --- download ---

type fakePackages struct {
	mu sync.Mutex
	m  map[string]*disclosure.Package
}

func (f *fakePackages) add(token string, p *disclosure.Package) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[token] = p
}

func (f *fakePackages) Open(_ context.Context, token string, now time.Time) (*disclosure.Package, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.m[token]
	if !ok || !now.Before(p.ExpiresAt) {
		return nil, disclosure.ErrNoPackage
	}
	return p, nil
}

func downloadPageRendersThePackageInTheRequestsLanguage(t *testing.T, s *site, _ *fakeRequests, pkgs *fakePackages) {
	token := strings.Repeat("ab", 32)
	now := time.Now()
	pkgs.add(token, &disclosure.Package{Receipt: "20261126-7K3M9Q", Kind: "disclosure", Locale: "ja", GeneratedAt: now, ExpiresAt: now.Add(time.Hour),
		Holders: map[string]json.RawMessage{
			"members": json.RawMessage(`{"members":[{"member_id":"M-1001","name":"山田 花子","email":"hanako@example.jp","created_at":"2024-04-01T09:00:00Z"}],"facilities":[]}`),
			"support": json.RawMessage(`{"inquiries":[{"subject":"<b>請求書</b>","tags":["a","b"]}]}`),
		}})
	r := s.do(t, http.MethodGet, "/download/"+token, "", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	wantContains(t, "download page", r.body, `<html lang="ja">`, "開示の結果", "20261126-7K3M9Q", "会員登録情報", "お問い合わせの記録",
		"<th scope=\"col\">会員番号</th>", "<td><span>M-1001</span></td>", "hanako@example.jp", "2024年4月1日(月) 18:00",
		"&lt;b&gt;請求書&lt;/b&gt;", `href="/download/`+token+`/package.json"`, "(なし)")
	if !strings.Contains(s.do(t, http.MethodGet, "/download/"+token+"?lang=en", "", "", nil).body, "Membership registration") {
		t.Error("English download page")
	}
	j := s.do(t, http.MethodGet, "/download/"+token+"/package.json", "", "", nil)
	var back disclosure.Package
	if err := json.Unmarshal([]byte(j.body), &back); err != nil || back.Receipt != "20261126-7K3M9Q" || len(back.Holders) != 2 {
		t.Errorf("JSON download: %v %+v", err, back)
	}
	if cd := j.header.Get("Content-Disposition"); cd != `attachment; filename="disclosure-20261126-7K3M9Q.json"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	for _, path := range []string{"/download/" + strings.Repeat("cd", 32), "/download/short", "/download/" + strings.Repeat("cd", 32) + "/package.json"} {
		if r := s.do(t, http.MethodGet, path, "", "", nil); r.status != http.StatusNotFound || !strings.Contains(r.body, "有効期限が切れています") {
			t.Errorf("GET %s: %d", path, r.status)
		}
	}
	if strings.Contains(s.logs.String(), "hanako") || strings.Contains(s.logs.String(), token) {
		t.Error("the package or its token reached the logs")
	}
}

func expiredPackageIsGone(t *testing.T, s *site, _ *fakeRequests, pkgs *fakePackages) {
	token := strings.Repeat("ef", 32)
	pkgs.add(token, &disclosure.Package{Receipt: "20261126-7K3M9Q", ExpiresAt: time.Now().Add(-time.Hour)})
	if r := s.do(t, http.MethodGet, "/download/"+token, "", "", nil); r.status != http.StatusNotFound {
		t.Errorf("expired package: %d", r.status)
	}
}
