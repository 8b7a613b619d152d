package intake_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"madoguchi.dev/platform/disclosure"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/testinfra"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/intake"
)

// packageCodes stands in for the disclosure packages' workflows, by
// package id: one live code at a time, 3 attempts per code, 3 codes.
var packageCodes = &fakePackageCodes{live: map[string]string{}, attempts: map[string]int{}, issued: map[string]int{},
	opened: map[string]int{}}

type fakePackageCodes struct {
	mu       sync.Mutex
	live     map[string]string
	attempts map[string]int
	issued   map[string]int
	opened   map[string]int
	// mailed is the code last mailed for each package.
	mailed sync.Map
}

func (f *fakePackageCodes) RequestDownloadCode(_ context.Context, id string) (*dsrv1.RequestDownloadCodeResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.issued[id] >= 3 {
		return nil, &intake.RejectedError{Reason: "no more codes can be sent for this package (at most 3)"}
	}
	f.issued[id]++
	code := fmt.Sprintf("%06d", 314150+f.issued[id])
	f.live[id], f.attempts[id] = code, 0
	f.mailed.Store(id, code)
	return &dsrv1.RequestDownloadCodeResult{CodesLeft: int32(3 - f.issued[id])}, nil
}

func (f *fakePackageCodes) OpenPackage(_ context.Context, id, code string) (*dsrv1.OpenPackageResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	live := f.live[id]
	switch {
	case live == "":
		return nil, &intake.RejectedError{Reason: "no download code is valid now: ask for a new one"}
	case code == live:
		delete(f.live, id)
		f.opened[id]++
		return &dsrv1.OpenPackageResult{Outcome: dsrv1.OpenOutcome_OPEN_OUTCOME_OPENED}, nil
	}
	f.attempts[id]++
	if f.attempts[id] >= 3 {
		delete(f.live, id)
		return &dsrv1.OpenPackageResult{Outcome: dsrv1.OpenOutcome_OPEN_OUTCOME_LOCKED}, nil
	}
	return &dsrv1.OpenPackageResult{Outcome: dsrv1.OpenOutcome_OPEN_OUTCOME_WRONG, AttemptsLeft: int32(3 - f.attempts[id])}, nil
}

func (f *fakePackageCodes) code(t *testing.T, id string) string {
	t.Helper()
	v, ok := f.mailed.Load(id)
	if !ok {
		t.Fatal("no download code was mailed")
	}
	return v.(string)
}

func (f *fakePackageCodes) counts(id string) (issued, opened int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued[id], f.opened[id]
}

func (m *fakeMux) RequestDownloadCode(ctx context.Context, id string) (*dsrv1.RequestDownloadCodeResult, error) {
	return packageCodes.RequestDownloadCode(ctx, id)
}

func (m *fakeMux) OpenPackage(ctx context.Context, id, code string) (*dsrv1.OpenPackageResult, error) {
	return packageCodes.OpenPackage(ctx, id, code)
}

func (f *fakeRequests) RequestDownloadCode(ctx context.Context, id string) (*dsrv1.RequestDownloadCodeResult, error) {
	return packageCodes.RequestDownloadCode(ctx, id)
}

func (f *fakeRequests) OpenPackage(ctx context.Context, id, code string) (*dsrv1.OpenPackageResult, error) {
	return packageCodes.OpenPackage(ctx, id, code)
}

// guardedSite serves guarded packages (stored since identity-2026-12);
// now is its clock.
type guardedSite struct {
	*site
	pkgs *fakePackages
	mu   sync.Mutex
	at   time.Time
}

func newGuardedSite(t *testing.T, publicURL string) *guardedSite {
	g := &guardedSite{pkgs: &fakePackages{m: map[string]*disclosure.Package{}}, at: time.Now()}
	g.site = newSiteWith(t, siteOptions{requests: &fakeMux{m: map[string]*fakeRequests{}}, packages: g.pkgs,
		limits: intake.Limits{WriteBurst: 1000, ReadBurst: 1000}, now: g.now, publicURL: publicURL})
	return g
}

func (g *guardedSite) now() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.at
}

func (g *guardedSite) advance(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.at = g.at.Add(d)
}

// guardedPackage adds a package of 山田 花子 that needs a code; it returns
// its token and id.
func (g *guardedSite) guardedPackage(t *testing.T) (string, string) {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	token := hex.EncodeToString(b)
	g.pkgs.add(token, &disclosure.Package{Receipt: "20261126-7K3M9Q", Kind: "disclosure", Locale: "ja", GeneratedAt: g.now(),
		ExpiresAt: g.now().Add(30 * 24 * time.Hour), CodeRequired: true, Holders: map[string]json.RawMessage{
			"members": json.RawMessage(`{"members":[{"member_id":"M-1001","name":"山田 花子","email":"hanako@example.jp","phone":"090-1234-5678"}]}`),
		}})
	return token, disclosure.ID(token)
}

// personalData are the member's details in the package.
var personalData = []string{"山田", "花子", "hanako", "M-1001", "090-1234-5678", "1234-5678"}

func wantNoPersonalData(t *testing.T, what string, r response) {
	t.Helper()
	for _, p := range personalData {
		if strings.Contains(r.body, p) {
			t.Errorf("%s (%d) shows %q before the code was entered", what, r.status, p)
		}
	}
}

func (g *guardedSite) get(t *testing.T, path, cookie string) response {
	t.Helper()
	h := map[string]string{}
	if cookie != "" {
		h["Cookie"] = cookie
	}
	req, _ := http.NewRequest(http.MethodGet, g.srv.URL+path, nil)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	c := *g.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
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

func (g *guardedSite) post(t *testing.T, path string, form url.Values) response {
	t.Helper()
	return g.doNoRedirect(t, http.MethodPost, path, "application/x-www-form-urlencoded", form.Encode())
}

// grantOf returns the grant cookie set by r, as a Cookie header value.
func grantOf(t *testing.T, r response) (*http.Cookie, string) {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "madoguchi_download" {
			return c, c.Name + "=" + c.Value
		}
	}
	t.Fatalf("no grant cookie set (status %d, Set-Cookie %q)", r.status, r.header.Values("Set-Cookie"))
	return nil, ""
}

// openWithCode runs the person's path: ask for a code, enter it, get the grant.
func (g *guardedSite) openWithCode(t *testing.T, token, id string) (*http.Cookie, string) {
	t.Helper()
	if r := g.post(t, "/download/"+token+"/code", url.Values{"lang": {"ja"}}); r.status != http.StatusSeeOther {
		t.Fatalf("code request: %d", r.status)
	}
	r := g.post(t, "/download/"+token+"/open", url.Values{"code": {packageCodes.code(t, id)}, "lang": {"ja"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/download/"+token {
		t.Fatalf("right code: %d %s", r.status, r.header.Get("Location"))
	}
	return grantOf(t, r)
}

func TestAGuardedPackageIsShownOnlyAfterTheCodeMailedToThePerson(t *testing.T) {
	t.Parallel()
	g := newGuardedSite(t, "http://127.0.0.1:8080")
	token, id := g.guardedPackage(t)

	// The link alone: a page that offers a code, and nothing of the package.
	r := g.get(t, "/download/"+token, "")
	if r.status != http.StatusOK {
		t.Fatalf("link alone: %d", r.status)
	}
	wantContains(t, "code page", r.body, `<html lang="ja">`, "ご本人の確認", "このリンクをお送りしたメールアドレスに1回限りのコードをお送りします",
		`action="/download/`+token+`/code"`, `action="/download/`+token+`/open"`, "メールでコードを受け取る", `autocomplete="one-time-code"`)
	wantNoPersonalData(t, "code page", r)
	if strings.Contains(r.body, "package.json") || strings.Contains(r.body, "20261126-7K3M9Q") {
		t.Error("the code page shows the package's receipt or its JSON link")
	}
	en := g.get(t, "/download/"+token+"?lang=en", "")
	wantContains(t, "English code page", en.body, "we e-mail a one-time code to the address this link was sent to", "E-mail me a code")
	j := g.get(t, "/download/"+token+"/package.json", "")
	if j.status != http.StatusSeeOther || j.header.Get("Location") != "/download/"+token {
		t.Errorf("JSON without a grant: %d %s", j.status, j.header.Get("Location"))
	}
	wantNoPersonalData(t, "JSON without a grant", j)

	// Asking for a code (a POST, works without JavaScript).
	r = g.post(t, "/download/"+token+"/code", url.Values{"lang": {"en"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/download/"+token+"?lang=en&sent=1" {
		t.Fatalf("code request: %d %s", r.status, r.header.Get("Location"))
	}
	sent := g.get(t, r.header.Get("Location"), "")
	wantContains(t, "after the code request", sent.body, "We have e-mailed you a code", "Send another code")
	wantNoPersonalData(t, "after the code request", sent)

	// A malformed code never reaches the workflow; a wrong one uses an attempt.
	r = g.post(t, "/download/"+token+"/open", url.Values{"code": {"12ab"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "6桁の数字で入力してください") {
		t.Errorf("malformed code: %d", r.status)
	}
	code := packageCodes.code(t, id)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	r = g.post(t, "/download/"+token+"/open", url.Values{"code": {wrong}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "コードが一致しません。あと2回入力できます。") ||
		!strings.Contains(r.body, `aria-invalid="true"`) {
		t.Errorf("wrong code: %d", r.status)
	}
	wantNoPersonalData(t, "wrong code", r)
	if len(r.header.Values("Set-Cookie")) != 0 {
		t.Error("a wrong code set a cookie")
	}

	// The right code (typed full-width): a grant for this link only.
	full := strings.Map(func(r rune) rune { return r - '0' + '０' }, code)
	r = g.post(t, "/download/"+token+"/open", url.Values{"code": {full}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/download/"+token {
		t.Fatalf("right code: %d %s", r.status, r.header.Get("Location"))
	}
	c, cookie := grantOf(t, r)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/download/"+token ||
		c.MaxAge != int(intake.GrantTTL/time.Second) {
		t.Errorf("grant cookie = %+v; want HttpOnly, SameSite=Strict, Path=/download/<token>, %v, not Secure over http", c, intake.GrantTTL)
	}
	page := g.get(t, "/download/"+token, cookie)
	wantContains(t, "package page", page.body, "開示の結果", "20261126-7K3M9Q", "山田 花子", "hanako@example.jp", `href="/download/`+token+`/package.json"`)
	j = g.get(t, "/download/"+token+"/package.json", cookie)
	var back disclosure.Package
	if err := json.Unmarshal([]byte(j.body), &back); err != nil || back.Receipt != "20261126-7K3M9Q" {
		t.Errorf("JSON with the grant: %d %v", j.status, err)
	}
	if issued, opened := packageCodes.counts(id); issued != 1 || opened != 1 {
		t.Errorf("codes issued %d, openings %d; want 1 and 1", issued, opened)
	}
	// The code is used: entering it again opens nothing.
	r = g.post(t, "/download/"+token+"/open", url.Values{"code": {code}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "いま使えるコードがありません") {
		t.Errorf("used code again: %d", r.status)
	}
	for _, secret := range []string{token, code, cookie[len("madoguchi_download="):]} {
		if strings.Contains(g.logs.String(), secret) {
			t.Errorf("the logs carry a secret (%.8s…)", secret)
		}
	}
	if strings.Contains(g.logs.String(), "hanako") {
		t.Error("the logs carry personal data")
	}
}

func TestAForgedExpiredOrForeignGrantIsRefused(t *testing.T) {
	t.Parallel()
	g := newGuardedSite(t, "https://privacy.example.jp")
	token, id := g.guardedPackage(t)
	other, otherID := g.guardedPackage(t)
	c, cookie := g.openWithCode(t, token, id)
	if !c.Secure {
		t.Error("the grant cookie is not Secure under an https public URL")
	}
	if r := g.get(t, "/download/"+token, cookie); !strings.Contains(r.body, "山田 花子") {
		t.Fatalf("the grant does not open its package: %d", r.status)
	}
	parts := strings.Split(c.Value, ".")
	ct, _ := base64.RawURLEncoding.DecodeString(parts[2])
	ct[len(ct)/2] ^= 1
	tampered := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(ct)
	foreign := sealGrant(t, testinfra.Ring(t), id, g.now().Add(time.Hour))
	for name, v := range map[string]string{
		"forged":                "x.y.z",
		"empty":                 "",
		"tampered":              tampered,
		"sealed by another key": foreign,
	} {
		if r := g.get(t, "/download/"+token, "madoguchi_download="+v); r.status != http.StatusOK || !strings.Contains(r.body, "ご本人の確認") {
			t.Errorf("%s grant: %d, want the code page", name, r.status)
		} else {
			wantNoPersonalData(t, name+" grant", r)
		}
	}
	// A grant for one package does not open another.
	for _, path := range []string{"/download/" + other, "/download/" + other + "/package.json"} {
		r := g.get(t, path, cookie)
		wantNoPersonalData(t, "a grant of another package on "+path[:10], r)
		if r.status == http.StatusOK && !strings.Contains(r.body, "ご本人の確認") {
			t.Errorf("another package's grant opened %s", path[:10])
		}
	}
	if _, opened := packageCodes.counts(otherID); opened != 0 {
		t.Errorf("the other package was opened %d times", opened)
	}
	// After GrantTTL the grant has expired.
	g.advance(intake.GrantTTL + time.Second)
	for _, path := range []string{"/download/" + token, "/download/" + token + "/package.json"} {
		r := g.get(t, path, cookie)
		wantNoPersonalData(t, "an expired grant on "+path[:10], r)
		if r.status == http.StatusOK && !strings.Contains(r.body, "ご本人の確認") {
			t.Errorf("an expired grant opened %s", path[:10])
		}
	}
}

func TestCodeLimitsAndLocksAreExplained(t *testing.T) {
	t.Parallel()
	g := newGuardedSite(t, "")
	token, id := g.guardedPackage(t)
	g.post(t, "/download/"+token+"/code", nil)
	code := packageCodes.code(t, id)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	g.post(t, "/download/"+token+"/open", url.Values{"code": {wrong}})
	g.post(t, "/download/"+token+"/open", url.Values{"code": {wrong}})
	r := g.post(t, "/download/"+token+"/open", url.Values{"code": {wrong}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "入力回数の上限に達したため") {
		t.Errorf("locked: %d", r.status)
	}
	g.post(t, "/download/"+token+"/code", nil)
	g.post(t, "/download/"+token+"/code", nil)
	r = g.post(t, "/download/"+token+"/code", nil)
	if r.status != http.StatusConflict || !strings.Contains(r.body, "お送りできるコードの上限に達したか") {
		t.Errorf("beyond the code limit: %d", r.status)
	}
	wantNoPersonalData(t, "beyond the code limit", r)
	// Unknown links stay unknown, for the code actions too.
	for _, path := range []string{"/download/" + strings.Repeat("cd", 32) + "/code", "/download/" + strings.Repeat("cd", 32) + "/open"} {
		if r := g.post(t, path, url.Values{"code": {"123456"}}); r.status != http.StatusNotFound {
			t.Errorf("POST %s…: %d", path[:12], r.status)
		}
	}
}

// sealGrant seals a grant as the intake does, with a ring of the test's
// choosing (another deployment's key, say).
func sealGrant(t *testing.T, ring *seal.Ring, packageID string, exp time.Time) string {
	t.Helper()
	plain, _ := json.Marshal(map[string]any{"pkg": packageID, "exp": exp.Unix()})
	keyID, nonce, ct, err := ring.Seal(plain, []byte("madoguchi.download-grant.v1\x00"+packageID))
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	return b64([]byte(keyID)) + "." + b64(nonce) + "." + b64(ct)
}
