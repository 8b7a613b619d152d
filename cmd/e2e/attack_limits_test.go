package e2e

// Attacks on the intake's limits, on the real stack: someone floods a
// victim's mailbox by filing requests in the victim's name from many
// clients; someone forges X-Forwarded-For to escape the per-client rate
// limit; many people file at once through the proxy. The stack trusts
// X-Forwarded-For from 127.0.0.1 only (INTAKE_TRUSTED_PROXIES, set in
// run), as it would from its ingress controller: requests dialled from
// another loopback address (127.0.x.y) come from an untrusted peer. Every flood names its clients in
// X-Forwarded-For through the trusted peer, so the bucket of 127.0.0.1 that
// the other tests share is never spent here.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// attackAnswer is what an attacker receives.
type attackAnswer struct {
	status int
	header http.Header
	body   string
}

func (a attackAnswer) json() map[string]any {
	var m map[string]any
	_ = json.Unmarshal([]byte(a.body), &m)
	return m
}

// attackClient is an HTTP client whose connections come from the local
// address ip (Linux routes all of 127/8 to the loopback interface).
func attackClient(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 128}}
}

// attackPost sends a POST; it may run on any goroutine (no t.Fatal).
func attackPost(c *http.Client, path, contentType, body string, header map[string]string) (attackAnswer, error) {
	req, err := http.NewRequest(http.MethodPost, stk.IntakeURL+path, strings.NewReader(body))
	if err != nil {
		return attackAnswer{}, err
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return attackAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return attackAnswer{resp.StatusCode, resp.Header, string(b)}, err
}

// fakeClients returns n distinct client addresses in a /16 of 100.64.0.0/10
// drawn for this run, so that a rerun on the same stack starts afresh.
func fakeClients(n int) []string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("100.%d.%d.%d", 64+int(b[0])%64, int(b[1])^(i/250), i%250+1)
	}
	return out
}

// attackRequest is a disclosure request about the person with this address.
func attackRequest(email, name, memberID, details string) string {
	b, _ := json.Marshal(map[string]any{"kind": "disclosure", "jurisdiction": "JP", "locale": "ja",
		"subject": map[string]string{"name": name, "email": email, "member_id": memberID}, "details": details})
	return string(b)
}

// wantRetryAfter checks a 429's Retry-After: whole seconds, at most a day.
func wantRetryAfter(t *testing.T, what string, a attackAnswer) {
	t.Helper()
	s, err := strconv.Atoi(a.header.Get("Retry-After"))
	if err != nil || s < 1 || s > 24*60*60 {
		t.Errorf("%s: Retry-After %q, want 1..86400 seconds", what, a.header.Get("Retry-After"))
	}
}

var mailReceiptRE = regexp.MustCompile(`受付番号 ([0-9]{8}-[0-9A-Z]{6})`)

// Ten filings in one victim's name, from ten clients, at once: five are
// accepted, five answered 429 (Retry-After, the message, nothing of the
// victim's), nothing of them stored; the victim's mailbox receives the
// receipts of the five only. A retry of an accepted request still gets it;
// the form says the same in English.
func TestAttackMailTenFilingsInOneVictimsNameMailItFiveTimes(t *testing.T) {
	tok := randomToken()
	victim := "victim-" + tok + "@example.jp"
	name, memberID, details := "標的 花子", "V-"+strings.ToUpper(tok), "すべて開示してください。備考"+tok
	body := attackRequest(victim, name, memberID, details)
	proxy := attackClient("127.0.0.1")
	clients := fakeClients(12)
	key := func(i int) string { return fmt.Sprintf("attack-mail-%s-%d", tok, i) }

	answers := make([]attackAnswer, 10)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			a, err := attackPost(proxy, "/api/v1/requests", "application/json", body,
				map[string]string{"X-Forwarded-For": clients[i], "Idempotency-Key": key(i)})
			if err != nil {
				t.Errorf("filing %d: %v", i, err)
			}
			answers[i] = a
		})
	}
	wg.Wait()
	byReceipt := map[string]int{} // accepted: receipt → filing
	var refused []int
	for i, a := range answers {
		switch a.status {
		case http.StatusAccepted:
			byReceipt[fmt.Sprint(a.json()["receipt"])] = i
		case http.StatusTooManyRequests:
			refused = append(refused, i)
			wantRetryAfter(t, fmt.Sprintf("filing %d", i), a)
			m := a.json()
			if m["error"] != "mail_quota" || !strings.Contains(fmt.Sprint(m["message"]), "1日5件") {
				t.Errorf("filing %d: %s, want error mail_quota with the message", i, a.body)
			}
		default:
			t.Errorf("filing %d: %d %s", i, a.status, a.body)
		}
	}
	if len(byReceipt) != 5 || len(refused) != 5 {
		t.Fatalf("%d accepted, %d refused; want 5 and 5", len(byReceipt), len(refused))
	}
	// The refusal tells the attacker nothing of the victim or the requests.
	local := strings.TrimSuffix(victim, "@example.jp")
	for _, i := range refused {
		for _, pii := range append([]string{victim, local, name, "花子", memberID, tok, "example.jp"}, receiptsOf(byReceipt)...) {
			if strings.Contains(answers[i].body, pii) {
				t.Errorf("the 429 of filing %d holds %q: %s", i, pii, answers[i].body)
			}
		}
	}
	// Nothing of the refused is stored: no request, no announcement.
	if n := countRows(t, "intake", "SELECT count(*) FROM requests WHERE idempotency_key LIKE $1", "attack-mail-"+tok+"-%"); n != 5 {
		t.Errorf("%d requests stored, want the 5 accepted", n)
	}
	if n := countRows(t, "intake", "SELECT count(*) FROM outbox JOIN requests ON requests.id = outbox.request_id WHERE idempotency_key LIKE $1",
		"attack-mail-"+tok+"-%"); n != 5 {
		t.Errorf("%d announcements stored, want 5", n)
	}

	// A client retrying an accepted filing gets it back; a refused one is refused again.
	var first string
	for r := range byReceipt {
		first = r
		break
	}
	again, err := attackPost(proxy, "/api/v1/requests", "application/json", body,
		map[string]string{"X-Forwarded-For": clients[10], "Idempotency-Key": key(byReceipt[first])})
	if err != nil || again.status != http.StatusAccepted || again.json()["receipt"] != first || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry of accepted %s: %d %s (%v)", first, again.status, again.body, err)
	}
	retry, err := attackPost(proxy, "/api/v1/requests", "application/json", body,
		map[string]string{"X-Forwarded-For": clients[10], "Idempotency-Key": key(refused[0])})
	if err != nil || retry.status != http.StatusTooManyRequests {
		t.Errorf("retry of a refused filing: %d %s (%v)", retry.status, retry.body, err)
	}
	// The form, in English, from yet another client.
	form := url.Values{"locale": {"en"}, "jurisdiction": {"JP"}, "kind": {"disclosure"}, "name": {name},
		"email": {victim}, "member_id": {memberID}, "details": {details}, "form_token": {"attack" + tok}}
	page, err := attackPost(proxy, "/requests", "application/x-www-form-urlencoded", form.Encode(),
		map[string]string{"X-Forwarded-For": clients[11]})
	if err != nil || page.status != http.StatusTooManyRequests || !strings.Contains(page.body, "(5 a day)") ||
		!strings.Contains(page.body, "midnight Japan time") {
		t.Errorf("form over the quota: %d (%v)", page.status, err)
	}
	wantRetryAfter(t, "form", page)
	if n := countRows(t, "intake", "SELECT count(*) FROM requests WHERE idempotency_key IN ($1, $2)", "form:attack"+tok, key(refused[0])); n != 0 {
		t.Errorf("%d requests stored for the refused retry and form", n)
	}

	// The mailbox: the receipts of the five accepted, and no more.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	receipts := func() (receiptMails int, named map[string]bool) {
		named = map[string]bool{}
		msgs, err := stk.Mail.Messages(ctx, fmt.Sprintf("to:%q", victim))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			r := mailReceiptRE.FindStringSubmatch(m.Subject)
			if r == nil {
				t.Errorf("a mail to the victim names no receipt: %q", m.Subject)
				continue
			}
			named[r[1]] = true
			if strings.Contains(m.Subject, "受け付けました") {
				receiptMails++
			}
		}
		return receiptMails, named
	}
	for {
		if n, _ := receipts(); n >= 5 {
			break
		}
		select {
		case <-ctx.Done():
			n, _ := receipts()
			t.Fatalf("%d receipt mails to the victim after 90s, want 5", n)
		case <-time.After(300 * time.Millisecond):
		}
	}
	time.Sleep(2 * time.Second) // a sixth would be on its way by now
	n, named := receipts()
	if n != 5 {
		t.Errorf("the victim received %d receipt mails, want 5", n)
	}
	for r := range named {
		if _, ok := byReceipt[r]; !ok {
			t.Errorf("the victim received a mail about %s, which was not accepted", r)
		}
	}
}

// receiptsOf lists the receipts of the accepted filings.
func receiptsOf(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// An untrusted peer cannot choose its bucket with X-Forwarded-For: after
// its burst it is limited whatever it claims to be, and the addresses it
// named were not charged. The trusted proxy's word names the bucket: the
// same peer's address in its header is limited as well.
func TestAttackProxySpoofedForwardedForFromAnUntrustedPeerIsIgnored(t *testing.T) {
	// A loopback address of this run's own (not 127.0.0.1, the trusted one),
	// so that a rerun on the same stack starts with a full bucket.
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	peer := fmt.Sprintf("127.0.%d.%d", b[0], 2+int(b[1])%250)
	direct, proxy := attackClient(peer), attackClient("127.0.0.1")
	spoofed := fakeClients(40)
	// Invalid submissions spend a token as valid ones do, and start nothing.
	post := func(c *http.Client, xff string) attackAnswer {
		t.Helper()
		a, err := attackPost(c, "/api/v1/requests", "application/json", `{}`, map[string]string{"X-Forwarded-For": xff})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for i := range 30 {
		if a := post(direct, spoofed[i]); a.status != http.StatusUnprocessableEntity {
			t.Fatalf("request %d of the burst: %d %s, want 422 (spends a token)", i+1, a.status, a.body)
		}
	}
	for _, xff := range []string{spoofed[30], spoofed[31] + ", 127.0.0.1", "127.0.0.1", "10.0.0.1", "::1", "", "garbage"} {
		a := post(direct, xff)
		if a.status != http.StatusTooManyRequests || a.json()["error"] != "rate_limited" {
			t.Errorf("untrusted peer claiming %q: %d %s, want 429 rate_limited", xff, a.status, a.body)
		}
		wantRetryAfter(t, "untrusted peer", a)
	}
	// None of the claimed clients lost a token; the peer itself did.
	if a := post(proxy, spoofed[0]); a.status != http.StatusUnprocessableEntity {
		t.Errorf("a client the untrusted peer named: %d, want 422 (its own full bucket)", a.status)
	}
	if a := post(proxy, peer); a.status != http.StatusTooManyRequests {
		t.Errorf("the untrusted peer named by the trusted proxy: %d, want 429 (the same bucket)", a.status)
	}
}

// A hundred people filing at once through the proxy, each from their own
// address, are all accepted; a hundred filings at once from one address are
// cut at its burst (30): the rest are answered 429 and stored nowhere.
func TestAttackLimitAHundredClientsThroughTheProxyAgainstOneClient(t *testing.T) {
	tok := randomToken()
	proxy := attackClient("127.0.0.1")
	flood := func(prefix string, clientOf func(i int) string) []attackAnswer {
		answers := make([]attackAnswer, 100)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() {
				email := fmt.Sprintf("%s-%s-%d@example.jp", prefix, tok, i)
				a, err := attackPost(proxy, "/api/v1/requests", "application/json",
					attackRequest(email, "試験 一郎", "", "開示してください"),
					map[string]string{"X-Forwarded-For": clientOf(i), "Idempotency-Key": fmt.Sprintf("%s-%s-%d", prefix, tok, i)})
				if err != nil {
					t.Errorf("%s %d: %v", prefix, i, err)
				}
				answers[i] = a
			})
		}
		wg.Wait()
		return answers
	}

	many := fakeClients(101)
	one := many[100] // distinct from the hundred
	start := time.Now()
	for i, a := range flood("attack-many", func(i int) string { return many[i] }) {
		if a.status != http.StatusAccepted || a.json()["receipt"] == nil {
			t.Errorf("client %d of 100: %d %s, want 202 with a receipt", i, a.status, a.body)
		}
	}
	t.Logf("100 clients through the proxy: %v", time.Since(start))

	passed := 0
	for i, a := range flood("attack-one", func(int) string { return one }) {
		switch a.status {
		case http.StatusAccepted:
			passed++
		case http.StatusTooManyRequests:
			if a.json()["error"] != "rate_limited" {
				t.Errorf("filing %d from one client: %s, want rate_limited", i, a.body)
			}
			wantRetryAfter(t, "one client", a)
		default:
			t.Errorf("filing %d from one client: %d %s", i, a.status, a.body)
		}
	}
	// The burst, and a token or two that came back meanwhile (10/min).
	if passed < 30 || passed > 32 {
		t.Errorf("%d of 100 filings from one client accepted, want about its burst of 30", passed)
	}
	if n := countRows(t, "intake", "SELECT count(*) FROM requests WHERE idempotency_key LIKE $1", "attack-one-"+tok+"-%"); n != passed {
		t.Errorf("%d requests stored from the one client, want the %d accepted", n, passed)
	}
	if n := countRows(t, "intake", "SELECT count(*) FROM requests WHERE idempotency_key LIKE $1", "attack-many-"+tok+"-%"); n != 100 {
		t.Errorf("%d requests stored from the hundred clients, want 100", n)
	}
}
