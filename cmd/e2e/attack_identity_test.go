package e2e

// Attacks on identity, on real servers: someone who controls one mailbox
// files requests about another person and reads everything Madoguchi
// sends them. Each test asserts what the attacker receives — every mail to
// their address, the status page their link opens, the API's answers —
// holds none of the victim's data, and that nothing reached a holder's
// export or change.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/request"
)

// victim is a person the holders know, with values no other test uses.
type victim struct {
	memberID, name, email, phone, address string
}

// seedVictim gives the members, billing and partners holders records of a
// new person. erased leaves only what the law makes billing and partners
// keep after an erasure: the records with their contact blanked.
func seedVictim(ctx context.Context, t *testing.T, erased bool) victim {
	t.Helper()
	tok := strings.ToUpper(randomToken())
	v := victim{memberID: "V-" + tok, name: "被害 " + tok, email: "victim-" + strings.ToLower(tok) + "@example.jp",
		phone: "070-" + tok[:4] + "-" + tok[4:], address: "山口県下関市被害町" + tok}
	exec := func(component, q string, args ...any) {
		conn, err := pgx.Connect(ctx, stk.Databases[component])
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			t.Fatalf("seed %s: %v", component, err)
		}
	}
	contact := v.email
	if erased {
		contact = ""
	} else {
		exec("members", `INSERT INTO members (member_id, name, name_kana, email, phone, address) VALUES ($1, $2, 'ひがい', $3, $4, $5)`,
			v.memberID, v.name, v.email, v.phone, v.address)
	}
	exec("billing", `INSERT INTO billing_accounts (account_id, member_id, email, billing_name, phone, address) VALUES ($1, $2, $3, $4, $5, $6)`,
		"BA-"+tok, v.memberID, contact, v.name, v.phone, v.address)
	exec("partners", `INSERT INTO provision_subjects (subject_id, member_id, email, name) VALUES ($1, $2, $3, $4)`,
		"PS-"+tok, v.memberID, contact, v.name)
	return v
}

// leaks lists which of the victim's values appear in s.
func (v victim) leaks(s string) []string {
	var out []string
	for _, x := range []string{v.memberID, v.name, v.email, v.phone, v.address, strings.Fields(v.name)[1]} {
		if strings.Contains(s, x) {
			out = append(out, x)
		}
	}
	return out
}

// attacker is one mailbox someone controls.
type attacker struct{ email string }

func newAttacker() attacker { return attacker{email: "mallory-" + randomToken() + "@example.jp"} }

// received is everything the attacker's mailbox holds.
func (a attacker) received(ctx context.Context, t *testing.T) []string {
	t.Helper()
	return mails(ctx, a.email, regexp.MustCompile(`(?s).`))
}

// statusPage opens the status link of receipt mailed to the attacker.
func (a attacker) statusPage(ctx context.Context, t *testing.T) string {
	t.Helper()
	link, _ := waitMail(t, a.email, statusLinkRE, 0)
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// fileAs submits a request through the API as JSON and returns the receipt
// and the raw answer.
func fileAs(t *testing.T, body map[string]any) (string, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, stk.IntakeURL+"/api/v1/requests", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "attack-"+randomToken())
	// Each filing as its own client behind the trusted proxy (the e2e stack
	// trusts 127.0.0.1), so that the attacks do not spend the per-client
	// limit the other tests share.
	b2 := []byte(randomToken())
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("127.%d.%d.%d", 1+b2[0]%200, b2[1], 1+b2[2]%250))
	acc, raw := accept(t, "filing refused", req)
	return acc.Receipt, raw
}

// requireNoLeak fails for every place the victim's data reached the attacker.
func requireNoLeak(t *testing.T, v victim, where, s string) {
	t.Helper()
	if l := v.leaks(s); len(l) > 0 {
		t.Errorf("%s discloses the victim's %q", where, l)
	}
	if downloadRE.MatchString(s) {
		t.Errorf("%s carries a download link", where)
	}
}

// rejectReview settles the identity review as staff would after finding no
// documents, and waits for the request to close.
func rejectReview(ctx context.Context, t *testing.T, receipt string) {
	t.Helper()
	var res dsrv1.ActionResult
	staffUpdate(ctx, t, receipt, contract.UpdateReviewIdentity, &dsrv1.ReviewIdentity{Actor: "staff-attack-test", Approve: false,
		Reason: "本人確認書類の提出がありません"}, &res)
	waitStage(ctx, t, receipt, request.StageClosed)
}

// The reported exploit: a disclosure for another member's number, filed
// with one's own address and verified with the code mailed to it. Under
// every jurisdiction it stops at identity review, and a refused review
// tells the attacker nothing about the member.
func TestAttackAnotherMembersNumberWithOnesOwnAddressDisclosesNothing(t *testing.T) {
	for _, tc := range []struct{ jurisdiction, locale string }{{"JP", "ja"}, {"EU", "en"}, {"US-CA", "en"}} {
		t.Run(tc.jurisdiction, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			for _, erased := range []bool{false, true} {
				v := seedVictim(ctx, t, erased)
				a := newAttacker()
				receipt, answer := fileAs(t, map[string]any{"kind": "disclosure", "jurisdiction": tc.jurisdiction, "locale": tc.locale,
					"subject": map[string]string{"name": "x", "email": a.email, "member_id": v.memberID}})
				requireNoLeak(t, v, "the API's answer", answer)
				verify(ctx, t, receipt, a.email)
				st := waitStage(ctx, t, receipt, request.StageIdentityReview)
				if len(st.GetLinkedReceipts()) != 0 {
					t.Errorf("linked receipts %v shown before identity is established", st.GetLinkedReceipts())
				}
				requireNoLeak(t, v, "the status page in review", a.statusPage(ctx, t))
				rejectReview(ctx, t, receipt)
				for i, m := range a.received(ctx, t) {
					requireNoLeak(t, v, fmt.Sprintf("mail %d to the attacker (erased member: %v)", i, erased), m)
				}
				requireNoLeak(t, v, "the status page once closed", a.statusPage(ctx, t))
				if n := len(mails(ctx, a.email, regexp.MustCompile(`(?s).`))); n < 3 {
					t.Errorf("the attacker received %d mails; want at least the receipt, the code and the decision", n)
				}
			}
		})
	}
}

// A member number that belongs to nobody takes the same course as one that
// belongs to a member: the attacker cannot tell members from non-members.
func TestAttackAMemberNumberNobodyHasLooksLikeAMembers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	v := seedVictim(ctx, t, false)
	stages := map[string]string{}
	for _, memberID := range []string{v.memberID, "V-NOBODY" + strings.ToUpper(randomToken())} {
		a := newAttacker()
		receipt, _ := fileAs(t, map[string]any{"kind": "disclosure", "jurisdiction": "US-CA", "locale": "en",
			"subject": map[string]string{"name": "x", "email": a.email, "member_id": memberID}})
		verify(ctx, t, receipt, a.email)
		st := waitStage(ctx, t, receipt, request.StageIdentityReview)
		stages[memberID] = st.GetStage() + " / " + st.GetVerification().GetState()
		rejectReview(ctx, t, receipt)
	}
	if len(stages) != 2 || stages[v.memberID] == "" {
		t.Fatalf("stages %v", stages)
	}
	var seen []string
	for _, s := range stages {
		seen = append(seen, s)
	}
	if seen[0] != seen[1] {
		t.Errorf("a member's number and nobody's take different courses: %v", stages)
	}
}

// A typed address that differs from the one the member record holds: the
// code goes to the typed address, which proves nothing about the member,
// so the request waits for identity review and no data leaves.
func TestAttackATypedAddressDifferingFromTheRegisteredOneGoesToReview(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	v := seedVictim(ctx, t, false)
	a := newAttacker()
	receipt, _ := fileAs(t, map[string]any{"kind": "deletion", "jurisdiction": "JP", "locale": "ja",
		"subject": map[string]string{"name": v.name, "email": a.email, "member_id": v.memberID}, "details": "全て削除"})
	verify(ctx, t, receipt, a.email)
	st := waitStage(ctx, t, receipt, request.StageIdentityReview)
	if st.GetWaitingFor() != "staff identity review" {
		t.Errorf("waiting for %q", st.GetWaitingFor())
	}
	rejectReview(ctx, t, receipt)
	if n := countRows(t, "members", "SELECT count(*) FROM members WHERE member_id = $1", v.memberID); n != 1 {
		t.Errorf("the victim's member record was erased (%d left)", n)
	}
	if n := countRows(t, "billing", "SELECT count(*) FROM billing_accounts WHERE member_id = $1 AND email = $2", v.memberID, v.email); n != 1 {
		t.Error("the victim's billing account was changed")
	}
	for i, m := range a.received(ctx, t) {
		// The attacker typed the victim's name; only the name may come back.
		l := v.leaks(m)
		for _, x := range l {
			if x != v.name && x != strings.Fields(v.name)[1] {
				t.Errorf("mail %d to the attacker discloses %q", i, x)
			}
		}
	}
}

// An agent's filing for someone with open requests: the duplicate notice,
// which names the person's other requests, is never sent to an agent whose
// authority staff have not approved.
func TestAttackAnAgentFilingLearnsNothingOfTheVictimsOpenRequests(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	v := seedVictim(ctx, t, false)
	own, _ := fileAs(t, map[string]any{"kind": "deletion", "jurisdiction": "JP", "locale": "ja",
		"subject": map[string]string{"name": v.name, "email": v.email, "member_id": v.memberID}, "details": "退会します"})
	verify(ctx, t, own, v.email)
	waitStage(ctx, t, own, request.StageStaffReview)

	a := newAttacker()
	b, _ := json.Marshal(map[string]any{"kind": "deletion", "jurisdiction": "JP", "locale": "ja",
		"subject": map[string]string{"name": v.name, "email": v.email}, "details": "代理で削除",
		"agent": map[string]string{"name": "代理 太郎", "email": a.email, "relationship": "appointed_proxy"}})
	receipt := fileWithAuthority(t, b)
	verify(ctx, t, receipt, a.email)
	st := waitStage(ctx, t, receipt, request.StageIdentityReview)
	if len(st.GetLinkedReceipts()) != 0 {
		t.Errorf("the agent's request shows the victim's receipts %v before review", st.GetLinkedReceipts())
	}
	rejectReview(ctx, t, receipt)
	for i, m := range a.received(ctx, t) {
		if strings.Contains(m, own) {
			t.Errorf("mail %d to the agent names the victim's open request %s", i, own)
		}
		for _, x := range v.leaks(m) {
			if x != v.name && x != strings.Fields(v.name)[1] && x != v.email {
				t.Errorf("mail %d to the agent discloses %q", i, x)
			}
		}
	}
	page := a.statusPage(ctx, t)
	if strings.Contains(page, own) {
		t.Error("the agent's status page names the victim's open request")
	}
	var res dsrv1.ActionResult
	update(ctx, t, own, contract.UpdateWithdraw, &dsrv1.Withdraw{Reason: "test over"}, &res)
}
