package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// Browser tests: a person files through the web pages in headless
// Chromium, reads the code from the mail catcher and follows the status
// page as the request advances. Screenshots (normal and 200% zoom) go to
// test-output/screenshots for review.

var receiptNumberRE = regexp.MustCompile(`^20[0-9]{6}-[0-9A-HJKMNP-TV-Z]{6}$`)

func uniqueAddress(prefix string) string { return prefix + "-" + randomToken() + "@example.jp" }

// enterCode types a code into the status page and sends it.
func (b *browser) enterCode(code string) {
	b.t.Helper()
	b.run("enter code "+code,
		chromedp.WaitVisible(css(`#f-code`)),
		chromedp.Clear(css(`#f-code`)),
		chromedp.SendKeys(css(`#f-code`), code),
	)
	b.submit(`#verify-form button[type=submit]`)
}

func wrongCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

func TestBrowserJapaneseDisclosureFromTheFormToTheDownload(t *testing.T) {
	b := newBrowser(t, "ja")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const email = "taro@example.jp" // M-1002 in the seeded holders

	b.run("open the form", chromedp.Navigate(stk.IntakeURL+"/"), chromedp.WaitVisible(css(`form[action="/requests"]`)))
	if lang := b.evalString(`document.documentElement.lang`); lang != "ja" {
		t.Errorf("html lang = %q", lang)
	}
	b.containsAll("main", "個人情報の開示等のご請求", "開示", "手数料 1,000円", "無料", "第三者提供の停止")
	b.shots("ja-01-form")

	// First attempt: a mistyped e-mail and phone.
	b.run("fill the form with mistakes",
		chromedp.Click(byID("f-kind")), // 開示
		chromedp.SendKeys(byID("f-subject.name"), "佐藤 太郎"),
		chromedp.SendKeys(byID("f-subject.name_kana"), "さとう たろう"),
		chromedp.SendKeys(byID("f-subject.email"), "taro@example"),
		chromedp.SendKeys(byID("f-subject.phone"), "でんわ"),
		chromedp.SendKeys(byID("f-details"), "会員登録の情報とお問い合わせの記録"),
		chromedp.Click(css(`form[action="/requests"] button[type=submit]`)),
		chromedp.WaitVisible(css(`#error-summary`)))
	b.containsAll("#error-summary", "入力内容をご確認ください", "メールアドレスの形式が正しくありません", "電話番号は数字とハイフンで入力してください")
	b.containsAll(`[id="e-subject.email"]`, "メールアドレスの形式が正しくありません")
	focused := b.evalString(`document.activeElement.id`)
	name := get(b, "read the name", chromedp.Value(byID("f-subject.name")))
	details := get(b, "read the details", chromedp.Value(byID("f-details")))
	kindChecked := b.evalBool(`document.getElementById("f-kind").checked`)
	if focused != "error-summary" || name != "佐藤 太郎" || details != "会員登録の情報とお問い合わせの記録" || !kindChecked {
		t.Errorf("after errors: focus %q, name %q, details %q, kind kept %v", focused, name, details, kindChecked)
	}
	b.shots("ja-02-form-errors")

	b.run("correct and send",
		chromedp.Clear(byID("f-subject.email")),
		chromedp.SendKeys(byID("f-subject.email"), email),
		chromedp.Clear(byID("f-subject.phone")),
		chromedp.SendKeys(byID("f-subject.phone"), "080-2222-3333"),
		chromedp.SendKeys(byID("f-subject.member_id"), "M-1002"),
		chromedp.Click(css(`form[action="/requests"] button[type=submit]`)),
		chromedp.WaitVisible(css(`#receipt`)))
	receipt := b.text("#receipt")
	if !receiptNumberRE.MatchString(receipt) {
		t.Fatalf("receipt number %q", receipt)
	}
	b.containsAll("main", "ご請求を受け付けました", "これからの流れ", "確認コード", "手数料がかかるご請求の場合")
	if due := b.text("#due"); !strings.Contains(due, "年") {
		t.Logf("receipt page: due date not reported yet (%q)", due)
	}
	b.shots("ja-03-receipt")

	// The e-mailed code and secret link.
	code, _ := waitMail(t, email, mailCodeRE, 0)
	statusURL, _ := waitMail(t, email, statusLinkRE, 0)
	b.waitPage(statusURL, `document.getElementById("f-code") !== null`, "the code form")
	b.containsAll("main", receipt, "ご本人確認", "メールでお送りした6桁の確認コードを入力してください", "ご請求を取り下げる")
	b.shots("ja-04-status-verifying")

	b.enterCode(wrongCode(code))
	b.containsAll("#e-code", "確認コードが一致しません。あと4回入力できます。")
	b.shots("ja-05-status-wrong-code")

	b.enterCode(code)
	b.containsAll("#done", "ご本人確認が完了しました。")
	b.waitStage(statusURL, "awaiting_fee")
	b.containsAll("main", "手数料のお支払いをお願いします", "お支払い方法を見る")
	b.shots("ja-06-status-awaiting-fee")

	b.run("open the fee page", chromedp.Click(css(`#fee-link`)), chromedp.WaitVisible(css(`#instructions`)))
	b.containsAll("main", "手数料のお支払い", "1,000円", "山口みなと銀行", "受付番号("+receipt+")", "お支払いをお待ちしています")
	b.shots("ja-07-fee")

	// Staff record the payment (a provider webhook in production).
	var paid dsrv1.ActionResult
	staffUpdate(ctx, t, receipt, contract.UpdateMarkFeePaid, &dsrv1.MarkFeePaid{Actor: "staff-e2e", Reference: "furikomi-1", AmountJpy: 1000}, &paid)
	b.waitStage(statusURL, "completed")
	b.containsAll("main", "対応が完了しました", "ダウンロード用のリンク")
	b.shots("ja-08-status-completed")

	// The link asks for a one-time code mailed to the same address first.
	download, _ := waitMail(t, email, downloadRE, 0)
	b.run("open the download link", chromedp.Navigate(download), chromedp.WaitVisible(css(`#send-code`)))
	b.containsAll("main", "ご本人の確認", "このリンクをお送りしたメールアドレスに1回限りのコードをお送りします")
	if strings.Contains(b.text("main"), "佐藤 太郎") {
		t.Error("the download link alone shows the disclosed data")
	}
	b.shots("ja-09-download-code")
	b.submit(`#send-code`)
	b.containsAll("#done", "コードをメールでお送りしました")
	downloadCode, _ := waitMail(t, email, downloadCodeRE, 0)
	b.run("enter the download code",
		chromedp.WaitVisible(css(`#f-code`)),
		chromedp.SendKeys(css(`#f-code`), downloadCode))
	b.submit(`#open-package`)
	b.run("see the package", chromedp.WaitVisible(css(`#download-json`)))
	b.containsAll("main", "開示の結果", receipt, "会員登録情報", "佐藤 太郎", "M-1002", "ダウンロード")
	b.shots("ja-10-download")
	href := get(b, "read the JSON link", chromedp.AttributeValue(css(`#download-json`), "href")).Value
	if !strings.HasSuffix(href, "/package.json") {
		t.Errorf("JSON link %q", href)
	}
	// The package holds an export from every one of the six holders; the
	// browser fetches it with its grant (an HttpOnly cookie).
	raw := b.evalString(`(function(){var x=new XMLHttpRequest();x.open("GET",` + fmt.Sprintf("%q", href) +
		`,false);x.send();return x.status===200?x.responseText:"status "+x.status})()`)
	var pkg struct {
		Holders map[string]json.RawMessage `json:"holders"`
	}
	if err := json.Unmarshal([]byte(raw), &pkg); err != nil {
		t.Fatalf("package.json: %v (%.80s)", err, raw)
	}
	// Without the browser's grant the same URL shows nothing.
	if resp, err := http.Get(stk.IntakeURL + strings.TrimPrefix(href, stk.IntakeURL)); err != nil {
		t.Fatal(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "佐藤") || strings.Contains(string(body), "M-1002") {
			t.Error("package.json without the grant shows the disclosed data")
		}
	}
	for _, h := range []string{"members", "billing", "accesslog", "support", "marketing", "partners"} {
		if len(pkg.Holders[h]) == 0 {
			t.Errorf("the disclosure package has nothing from holder %s (has %d holders)", h, len(pkg.Holders))
		}
	}
}

func TestBrowserAgentFilesWithASupportingDocument(t *testing.T) {
	b := newBrowser(t, "ja")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	agentEmail := uniqueAddress("agent")
	pdf := filepath.Join(t.TempDir(), "ininjo.pdf")
	if err := os.WriteFile(pdf, []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	b.run("open the form", chromedp.Navigate(stk.IntakeURL+"/"), chromedp.WaitVisible(css(`form[action="/requests"]`)))
	if !b.evalBool(`document.getElementById("agent-fields").hidden`) {
		t.Error("agent fields are shown before 'filing as an agent' is ticked")
	}
	b.run("fill the person and the agent",
		chromedp.Click(byID("f-kind-correction")),
		chromedp.SendKeys(byID("f-subject.name"), "鈴木 一郎"),
		chromedp.SendKeys(byID("f-subject.name_kana"), "すずき いちろう"),
		chromedp.SendKeys(byID("f-subject.email"), "ichiro@example.jp"),
		chromedp.SendKeys(byID("f-subject.member_id"), "M-1003"),
		chromedp.SendKeys(byID("f-details"), "会員登録の住所"),
		chromedp.SendKeys(byID("f-correction"), "住所を「山口県山口市上竪小路3-4」に訂正してください"),
		chromedp.Click(css(`#f-as_agent`)),
		chromedp.WaitVisible(byID("f-agent.name")),
		chromedp.SendKeys(byID("f-agent.name"), "鈴木 花子"),
		chromedp.SendKeys(byID("f-agent.email"), agentEmail),
		chromedp.SetUploadFiles(byID("f-documents.authority"), []string{pdf}))
	b.shots("agent-01-form-filled")

	// The relationship is forgotten: the file must survive the error.
	b.run("send without the relationship",
		chromedp.Click(css(`form[action="/requests"] button[type=submit]`)),
		chromedp.WaitVisible(css(`#error-summary`)))
	b.containsAll("#error-summary", "ご本人との関係を選んでください。")
	b.containsAll("#k-authority", "受け取り済み: PDF")
	if agentName := get(b, "read the kept agent name", chromedp.Value(byID("f-agent.name"))); agentName != "鈴木 花子" {
		t.Errorf("agent name after the error = %q", agentName)
	}
	b.shots("agent-02-form-errors-file-kept")

	b.run("choose the relationship and send",
		chromedp.Click(byID("f-agent.relationship")), // 法定代理人
		chromedp.Click(css(`form[action="/requests"] button[type=submit]`)),
		chromedp.WaitVisible(css(`#receipt`)))
	receipt := b.text("#receipt")
	b.containsAll("main", "ご請求を受け付けました", "代理人による請求のため、ご提出の書類を担当者が確認します")
	b.shots("agent-03-receipt")
	if n := countRows(t, "intake", `SELECT count(*) FROM uploads u JOIN requests r ON r.id = u.request_id
		WHERE r.receipt = $1 AND u.purpose = 'authority' AND u.content_type = 'application/pdf' AND r.filed_by_agent`, receipt); n != 1 {
		t.Errorf("stored documents of authority for %s = %d, want 1", receipt, n)
	}

	// The agent receives the code and the link.
	code, _ := waitMail(t, agentEmail, mailCodeRE, 0)
	statusURL, _ := waitMail(t, agentEmail, statusLinkRE, 0)
	b.waitPage(statusURL, `document.getElementById("f-code") !== null`, "the code form")
	b.containsAll("main", receipt, "代理人による請求", "担当者による確認")
	b.enterCode(code)
	b.waitStage(statusURL, "identity_review")
	b.containsAll("#todo", "代理人によるご請求では代理権")
	b.shots("agent-04-status-identity-review")

	var reviewed dsrv1.ActionResult
	staffUpdate(ctx, t, receipt, contract.UpdateReviewIdentity, &dsrv1.ReviewIdentity{Actor: "staff-e2e", Approve: true}, &reviewed)
	b.waitStage(statusURL, "staff_review")
	b.containsAll("#todo", "担当者がご請求の内容を確認しています")
	b.shots("agent-05-status-staff-review")
}

func TestBrowserEnglishFormResendAndWithdraw(t *testing.T) {
	b := newBrowser(t, "en")
	email := uniqueAddress("emily")

	// The Japanese page links to the English one.
	b.run("switch to English", chromedp.Navigate(stk.IntakeURL+"/"),
		chromedp.Click(css(`a.lang`)), chromedp.WaitVisible(css(`form[action="/requests"]`)))
	lang := b.evalString(`document.documentElement.lang`)
	loc := get(b, "location", chromedp.Location())
	if lang != "en" || !strings.HasSuffix(loc, "/en") {
		t.Errorf("after the switch: lang %q at %s", lang, loc)
	}
	b.shots("en-01-form")

	// Sent empty: the summary takes focus and leads to the fields.
	b.run("send empty", chromedp.Click(css(`form[action="/requests"] button[type=submit]`)),
		chromedp.WaitVisible(css(`#error-summary`)))
	b.containsAll("#error-summary", "Please check what you entered", "Please fill this in.")
	if focused := b.evalString(`document.activeElement.id`); focused != "error-summary" {
		t.Errorf("focus after errors on %q, want the error summary", focused)
	}
	b.run("tab into the summary", chromedp.KeyEvent(kb.Tab))
	if href := b.evalString(`document.activeElement.getAttribute("href") || ""`); href != "#f-kind" {
		t.Errorf("first Tab from the summary reaches %q, want the link to the first field", href)
	}
	b.shots("en-02-form-errors")

	// Keyboard only: arrow keys choose the kind, typing fills the fields.
	b.run("choose the kind with the keyboard",
		chromedp.Focus(byID("f-kind")),
		chromedp.KeyEvent(" "),
		chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown))
	if kind := b.evalString(`(document.querySelector("input[name=kind]:checked") || {}).value || ""`); kind != "deletion" {
		t.Errorf("kind chosen with the keyboard = %q, want deletion", kind)
	}
	b.run("fill and send",
		chromedp.SendKeys(byID("f-subject.name"), "Emily Clark"),
		chromedp.SendKeys(byID("f-subject.email"), email),
		chromedp.SendKeys(byID("f-details"), "Please delete my account data."),
		chromedp.Focus(css(`form[action="/requests"] button[type=submit]`)),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(css(`#receipt`)))
	receipt := b.text("#receipt")
	b.containsAll("main", "We have received your request", "What happens next", "Deletion")
	b.shots("en-03-receipt")

	_, seen := waitMail(t, email, mailCodeRE, 0)
	statusURL, _ := waitMail(t, email, statusLinkRE, 0)
	b.waitPage(statusURL, `document.getElementById("f-code") !== null`, "the code form")
	b.containsAll("main", "Your request", receipt, "Enter the 6-digit verification code", "Send me a new code")
	b.shots("en-04-status-verifying")

	// A new code replaces the first.
	b.run("ask for a new code", chromedp.Click(css(`#resend-form button[type=submit]`)),
		chromedp.WaitVisible(css(`#done`)))
	b.containsAll("#done", "We have e-mailed you a new verification code.")
	b.containsAll("#resend-form", "We can send 2 more.")
	code, _ := waitMail(t, email, mailCodeRE, seen)
	b.enterCode(code)
	b.containsAll("#done", "Your identity is confirmed.")
	b.waitStage(statusURL, "staff_review")
	b.containsAll("main", "Review", "Our staff are reviewing your request.", "Withdraw the request")
	b.shots("en-05-status-review")

	b.run("open the withdrawal", chromedp.Click(css(`#withdraw-link`)), chromedp.WaitVisible(css(`#withdraw-form`)))
	b.containsAll("main", "Withdraw your request", "Withdrawing closes the request")
	b.run("give a reason", chromedp.SendKeys(css(`#f-reason`), "I no longer need it."))
	b.shots("en-06-withdraw")
	b.run("withdraw", chromedp.Click(css(`#withdraw-form button[type=submit]`)), chromedp.WaitVisible(css(`#done`)))
	b.containsAll("#done", "We have received your withdrawal")
	b.waitStage(statusURL, "closed")
	b.containsAll("#closed", "The request was withdrawn.")
	b.shots("en-07-status-withdrawn")
	if b.evalBool(`document.getElementById("withdraw-link") !== null`) {
		t.Error("a closed request still offers withdrawal")
	}
}
