package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"madoguchi.dev/platform/disclosure"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/staff"
)

// An attacker who has only the download link of a completed disclosure
// (a forwarded mail, a shared screen, a proxy log) learns nothing from it:
// the package opens only with a one-time code mailed to the person.
func TestAttackStolenDownloadLinkShowsNothingWithoutTheCodeMailedToThePerson(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := newPrivacyCanary()
	privacySeedMember(ctx, t, c)
	body := fmt.Sprintf(`{"kind":"disclosure","jurisdiction":"JP","locale":"ja","subject":{"name":%q,"name_kana":%q,"email":%q,"phone":%q,"member_id":%q},"details":%q}`,
		c.Name, c.NameKana, c.Email, c.Phone, c.MemberID, c.Details)
	code, acc, _ := submit(t, body, "attack-"+randomToken())
	if code != http.StatusAccepted || acc.Receipt == "" {
		t.Fatalf("submit = %d %+v, want 202", code, acc)
	}
	verify(ctx, t, acc.Receipt, c.Email)
	driveUntilCompleted(ctx, t, acc.Receipt)
	link, _ := waitMail(t, c.Email, downloadRE, 0)
	token := link[strings.LastIndex(link, "/")+1:]
	packageID := disclosure.ID(token)
	sc := &privacyScanner{c: c, seen: map[string]bool{}, bytesN: map[string]int{}}

	// The attacker: the link and nothing else (no cookies of the person's).
	attacker := &http.Client{Timeout: 20 * time.Second}
	page := fetchAs(t, attacker, http.MethodGet, link, nil)
	if page.status != http.StatusOK || !strings.Contains(page.body, "ご本人の確認") ||
		!strings.Contains(page.body, "このリンクをお送りしたメールアドレスに1回限りのコードをお送りします") {
		t.Errorf("GET the link: %d, want the page that offers a code:\n%.400s", page.status, page.body)
	}
	sc.scanString("attacker", "GET /download/…", page.body)
	asJSON := fetchAs(t, attacker, http.MethodGet, link+"/package.json", nil)
	sc.scanString("attacker", "GET /download/…/package.json", asJSON.body)
	if strings.Contains(asJSON.body, `"holders"`) {
		t.Error("package.json without the code returns the package")
	}
	// The attacker may have a code mailed — to the person, not to them —
	// and guess it.
	if r := fetchAs(t, attacker, http.MethodPost, link+"/code", url.Values{"lang": {"ja"}}); r.status != http.StatusOK {
		t.Errorf("code request by the link holder: %d", r.status)
	}
	mailed, _ := waitMail(t, c.Email, downloadCodeRE, 0)
	for _, guess := range []string{"000000", "123456"} {
		if guess == mailed {
			continue
		}
		r := fetchAs(t, attacker, http.MethodPost, link+"/open", url.Values{"code": {guess}, "lang": {"ja"}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "コードが一致しません") {
			t.Errorf("guessed code %s: %d, want refused", guess, r.status)
		}
		if len(r.header.Values("Set-Cookie")) != 0 {
			t.Errorf("a guessed code was given a cookie: %v", r.header.Values("Set-Cookie"))
		}
		sc.scanString("attacker", "POST /download/…/open (guess)", r.body)
	}
	again := fetchAs(t, attacker, http.MethodGet, link, nil)
	sc.scanString("attacker", "GET /download/… after guessing", again.body)
	for _, l := range sc.leaks {
		t.Errorf("the link alone shows the person's %s in %s: …%s…", l.what, l.where, l.excerpt)
	}
	if len(sc.bytesN) == 0 || sc.bytesN["attacker"] == 0 {
		t.Error("nothing the attacker saw was scanned")
	}

	// The person: the code from their own mailbox opens the package.
	jar, _ := cookiejar.New(nil)
	person := &http.Client{Timeout: 20 * time.Second, Jar: jar}
	opened := fetchAs(t, person, http.MethodPost, link+"/open", url.Values{"code": {mailed}, "lang": {"ja"}})
	if opened.status != http.StatusOK || !strings.Contains(opened.body, c.Name) || !strings.Contains(opened.body, c.MemberID) {
		t.Fatalf("the person's code: %d, want the package with their records:\n%.400s", opened.status, opened.body)
	}
	j := fetchAs(t, person, http.MethodGet, link+"/package.json", nil)
	if j.status != http.StatusOK || !strings.Contains(j.body, `"holders"`) || !strings.Contains(j.body, c.Email) {
		t.Errorf("package.json with the grant: %d %.200s", j.status, j.body)
	}
	// The used code is worth nothing to whoever reads it later.
	if r := fetchAs(t, attacker, http.MethodPost, link+"/open", url.Values{"code": {mailed}}); strings.Contains(r.body, c.Name) ||
		len(r.header.Values("Set-Cookie")) != 0 {
		t.Error("the used code opened the package again")
	}

	// Staff see the download counted.
	v, err := temporal.QueryWorkflow(ctx, contract.PackageWorkflowID(packageID), "", contract.QueryPackage)
	if err != nil {
		t.Fatalf("package query: %v", err)
	}
	var st dsrv1.PackageStatus
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	if st.GetDownloads() != 1 || st.GetCodesIssued() != 1 || st.GetReceipt() != acc.Receipt || st.GetLastDownloadAt() == nil {
		t.Errorf("package status = %v; want 1 download of 1 code", &st)
	}
	_, tok := newStaff(t, staff.RoleViewer)
	exit, out, _ := dsrctl(t, tok, "show", acc.Receipt)
	if exit != 0 || !strings.Contains(out, "downloads") || !strings.Contains(out, "1 (last ") || !strings.Contains(out, "codes sent 1") {
		t.Errorf("dsrctl show: exit %d, want the download count:\n%s", exit, out)
	}
	if strings.Contains(out, token) {
		t.Error("dsrctl show prints the download token")
	}
}

type fetchedPage struct {
	status int
	header http.Header
	body   string
}

// fetchAs sends one request as a browser's form would (following redirects).
func fetchAs(t *testing.T, c *http.Client, method, u string, form url.Values) fetchedPage {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s…: %v", method, u[:min(len(u), 40)], err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fetchedPage{resp.StatusCode, resp.Header, string(b)}
}
