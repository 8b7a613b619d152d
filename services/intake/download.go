package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"madoguchi.dev/platform/disclosure"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// node is a piece of a holder's export, shaped for reading: objects become
// label/value lists, lists of like objects become tables.
type node struct {
	Scalar  string
	Empty   bool
	Fields  []fieldNode
	Items   []node
	Columns []string
	Rows    [][]node
}

type fieldNode struct {
	Label string
	Value node
}

// fieldLabels are Japanese labels for the names holders commonly use.
var fieldLabels = map[string]string{
	"access_logs": "アクセス記録", "accessed_at": "アクセス日時", "account_id": "アカウント番号", "accounts": "アカウント",
	"address": "住所", "amount": "金額", "amount_excl_tax": "金額(税抜)", "amount_jpy": "金額(円)",
	"analytics_excluded_at": "分析から除外した日時", "analytics_suspended_at": "分析への利用を停止した日時",
	"anonymised_at": "匿名化した日時", "assigned_at": "割り当て日時", "basis": "根拠", "billed_address": "請求先住所",
	"billed_name": "請求先氏名", "billing_name": "請求先氏名", "billing_name_kana": "請求先氏名(ふりがな)",
	"birth_date": "生年月日", "body": "内容", "brand": "カードブランド", "campaign": "キャンペーン",
	"campaigns": "キャンペーン", "care_level": "要介護度", "channel": "経路", "circumstances": "提供の状況",
	"clicked_at": "クリック日時", "company": "会社", "consented_at": "同意日時", "consents": "同意",
	"corrected_at": "訂正日時", "created_at": "登録日時", "date": "日付", "deliveries": "配信", "description": "内容",
	"direction": "提供・受領の別", "email": "メールアドレス", "erased_at": "消去日時", "exp_month": "有効期限(月)",
	"exp_year": "有効期限(年)", "facilities": "利用事業所", "facility": "事業所", "first_seen": "初回記録日時",
	"holder": "保有部門", "identifier": "識別子", "identifiers": "識別子", "inquiries": "お問い合わせ",
	"inquiry_id": "お問い合わせ番号", "invoice_no": "請求書番号", "invoices": "請求書", "ip": "IPアドレス",
	"issued_on": "発行日", "items": "項目", "kept_until": "保存期限", "kind": "種類", "last_seen": "最終記録日時",
	"linked_at": "連携日時", "linked_members": "連携している会員", "login_email": "ログイン用メールアドレス",
	"marketing_use_suspended_at": "マーケティング利用を停止した日時", "member_id": "会員番号", "members": "会員",
	"method": "方法", "name": "お名前", "name_kana": "ふりがな", "opened_at": "開封日時", "paid_on": "支払日",
	"path": "ページ", "payment_cards": "登録カード", "payments": "お支払い", "period_from": "対象期間(開始)",
	"period_to": "対象期間(終了)", "phone": "電話番号", "postal_code": "郵便番号",
	"provision_records": "第三者提供の記録", "provision_stopped_at": "第三者提供を停止した日時", "purpose": "目的",
	"received_at": "受付日時", "received_on_behalf_of": "受付の委託元", "record_id": "記録番号", "referrer": "参照元",
	"registered_at": "登録日時", "responded_at": "回答日時", "responses": "回答", "retain_until": "保存期限",
	"revoked_at": "撤回日時", "score": "スコア", "segment": "分類", "segments": "分類", "sent_at": "送信日時",
	"since": "利用開始日", "source": "取得元", "status": "状態", "subject_name": "本人の氏名", "subjects": "本人",
	"subscribed_at": "登録日時", "subscriber_id": "購読者番号", "subscribers": "購読者", "subscriptions": "購読",
	"suspended": "利用停止", "tax": "消費税", "third_party": "提供先", "third_party_address": "提供先の住所",
	"third_party_representative": "提供先の代表者", "topic": "件名", "total": "合計", "unsubscribed_at": "配信停止日時",
	"use_suspended_at": "利用停止日時", "user_agent": "ブラウザ",
}

func label(locale, key string) string {
	if locale != "en" {
		if l, ok := fieldLabels[key]; ok {
			return l
		}
	}
	s := strings.ReplaceAll(key, "_", " ")
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// toNode shapes decoded JSON; depth bounds pathological nesting.
func toNode(locale string, v any, depth int) node {
	if depth > 8 {
		b, _ := json.Marshal(v)
		return node{Scalar: string(b)}
	}
	switch x := v.(type) {
	case nil:
		return node{Empty: true, Scalar: text(locale, "download_none")}
	case string:
		if x == "" {
			return node{Empty: true, Scalar: text(locale, "download_none")}
		}
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return node{Scalar: formatDateTime(locale, t)}
		}
		return node{Scalar: x}
	case bool:
		if locale == "en" {
			return node{Scalar: map[bool]string{true: "yes", false: "no"}[x]}
		}
		return node{Scalar: map[bool]string{true: "はい", false: "いいえ"}[x]}
	case json.Number:
		return node{Scalar: x.String()}
	case float64:
		return node{Scalar: strconv.FormatFloat(x, 'f', -1, 64)}
	case map[string]any:
		if len(x) == 0 {
			return node{Empty: true, Scalar: text(locale, "download_none")}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		n := node{Fields: []fieldNode{}}
		for _, k := range keys {
			n.Fields = append(n.Fields, fieldNode{Label: label(locale, k), Value: toNode(locale, x[k], depth+1)})
		}
		return n
	case []any:
		if len(x) == 0 {
			return node{Empty: true, Scalar: text(locale, "download_none")}
		}
		if cols, ok := tableColumns(x); ok {
			n := node{}
			for _, c := range cols {
				n.Columns = append(n.Columns, label(locale, c))
			}
			for _, item := range x {
				m := item.(map[string]any)
				row := make([]node, len(cols))
				for i, c := range cols {
					row[i] = toNode(locale, m[c], depth+1)
				}
				n.Rows = append(n.Rows, row)
			}
			return n
		}
		n := node{Items: []node{}}
		for _, item := range x {
			n.Items = append(n.Items, toNode(locale, item, depth+1))
		}
		return n
	}
	return node{}
}

// tableColumns: a list of objects whose values are all scalars reads best
// as a table; its columns are the union of their keys.
func tableColumns(items []any) ([]string, bool) {
	set := map[string]bool{}
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, false
		}
		for k, v := range m {
			switch v.(type) {
			case map[string]any, []any:
				return nil, false
			}
			set[k] = true
		}
	}
	cols := make([]string, 0, len(set))
	for k := range set {
		cols = append(cols, k)
	}
	sort.Strings(cols)
	return cols, len(cols) > 0 && len(cols) <= 8
}

type holderSection struct {
	Name, Title string
	Data        node
}

type downloadPage struct {
	base
	Token    string
	Package  *disclosure.Package
	Sections []holderSection
}

func (h *HTTP) openPackage(w http.ResponseWriter, r *http.Request) (*disclosure.Package, string, bool) {
	token := r.PathValue("token")
	if h.Packages == nil || !validToken(token) {
		h.renderMessage(w, http.StatusNotFound, localeOf(r), "notfound_title", "notfound_text")
		return nil, "", false
	}
	pkg, err := h.Packages.Open(r.Context(), token, h.now())
	if errors.Is(err, disclosure.ErrNoPackage) {
		h.renderMessage(w, http.StatusNotFound, localeOf(r), "notfound_title", "notfound_text")
		return nil, "", false
	}
	if err != nil {
		h.Log.Error().Err(err).Msg("opening a disclosure package failed")
		h.renderMessage(w, http.StatusServiceUnavailable, localeOf(r), "unavailable_title", "unavailable_text")
		return nil, "", false
	}
	return pkg, token, true
}

// handleDownload is GET /download/{token}: the disclosure package as a
// readable page in the request's language, with the JSON to download. A
// guarded package (since identity-2026-12) is shown only with a grant;
// without one the page offers to mail a one-time code to the address the
// link was sent to, and takes the code.
func (h *HTTP) handleDownload(w http.ResponseWriter, r *http.Request) {
	pkg, token, ok := h.openPackage(w, r)
	if !ok {
		return
	}
	if pkg.CodeRequired && !h.granted(r, disclosure.ID(token)) {
		p := h.newGatePage(r, pkg, token)
		p.Sent = r.URL.Query().Get("sent") == "1"
		if p.Sent {
			p.Done = "download.sent"
		}
		h.render(w, http.StatusOK, "download_gate.html", p)
		return
	}
	locale := pageLocale(r, pkg.Locale)
	p := downloadPage{base: base{Locale: locale, TitleKey: "download_title"}, Token: token, Package: pkg}
	p.Other = "/download/" + token + "?lang=" + p.OtherLocale()
	names := make([]string, 0, len(pkg.Holders))
	for n := range pkg.Holders {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		dec := json.NewDecoder(bytes.NewReader(pkg.Holders[n]))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			continue
		}
		title := text(locale, "holder."+n)
		if title == "holder."+n {
			title = n
		}
		p.Sections = append(p.Sections, holderSection{Name: n, Title: title, Data: toNode(locale, v, 0)})
	}
	h.Log.Info().Str("receipt", pkg.Receipt).Msg("disclosure package viewed")
	h.render(w, http.StatusOK, "download.html", p)
}

// handleDownloadJSON is GET /download/{token}/package.json; without the
// grant a guarded package sends the browser to its code page.
func (h *HTTP) handleDownloadJSON(w http.ResponseWriter, r *http.Request) {
	pkg, token, ok := h.openPackage(w, r)
	if !ok {
		return
	}
	if pkg.CodeRequired && !h.granted(r, disclosure.ID(token)) {
		http.Redirect(w, r, "/download/"+token, http.StatusSeeOther)
		return
	}
	b, err := json.MarshalIndent(pkg, "", "  ")
	if err != nil {
		http.Error(w, "package", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="disclosure-`+pkg.Receipt+`.json"`)
	h.Log.Info().Str("receipt", pkg.Receipt).Msg("disclosure package downloaded")
	_, _ = w.Write(b)
}

// gatePage is the page of a guarded package before its code was entered:
// nothing of the package but its language and expiry.
type gatePage struct {
	base
	Token     string
	ExpiresAt time.Time
	// Sent: a code was just mailed. Done is a confirmation (a text key);
	// Problem a refusal or failure, CodeError the message by the code field.
	Sent               bool
	Done               string
	Problem, CodeError string
	GrantMinutes       int
}

func (h *HTTP) newGatePage(r *http.Request, pkg *disclosure.Package, token string) gatePage {
	locale := pageLocale(r, pkg.Locale)
	p := gatePage{base: base{Locale: locale, TitleKey: "download_title"}, Token: token, ExpiresAt: pkg.ExpiresAt,
		GrantMinutes: int(GrantTTL / time.Minute)}
	p.Other = "/download/" + token + "?lang=" + p.OtherLocale()
	return p
}

// redirectDownload answers a code request or a right code with the
// package's page (post/redirect/get).
func redirectDownload(w http.ResponseWriter, r *http.Request, token, locale, requestLocale string, q url.Values) {
	if locale != requestLocale {
		q.Set("lang", locale)
	}
	u := "/download/" + token
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// guarded opens the package of a POST to its code page; a package that
// needs no code sends the browser back to it.
func (h *HTTP) guarded(w http.ResponseWriter, r *http.Request) (*disclosure.Package, string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	pkg, token, ok := h.openPackage(w, r)
	if !ok {
		return nil, "", false
	}
	if !pkg.CodeRequired {
		http.Redirect(w, r, "/download/"+token, http.StatusSeeOther)
		return nil, "", false
	}
	return pkg, token, true
}

// gateFailed shows the code page again after a refused or failed action.
func (h *HTTP) gateFailed(w http.ResponseWriter, r *http.Request, p gatePage, receipt, action string, err error) {
	var rej *RejectedError
	status := http.StatusConflict
	switch {
	case errors.As(err, &rej):
		h.Log.Info().Str("receipt", receipt).Str("action", action).Msg("download action refused by the package workflow")
		p.Problem = text(p.Locale, "download.refused."+action)
	case errors.Is(err, ErrNotStarted):
		p.Problem = text(p.Locale, "download.preparing")
	default:
		h.Log.Error().Err(err).Str("receipt", receipt).Str("action", action).Msg("download action failed")
		p.Problem, status = text(p.Locale, "unavailable_text"), http.StatusServiceUnavailable
	}
	h.render(w, status, "download_gate.html", p)
}

// handleDownloadCode is POST /download/{token}/code: a one-time code is
// mailed to the address the link was sent to.
func (h *HTTP) handleDownloadCode(w http.ResponseWriter, r *http.Request) {
	pkg, token, ok := h.guarded(w, r)
	if !ok {
		return
	}
	p := h.newGatePage(r, pkg, token)
	if h.Requests == nil {
		h.gateFailed(w, r, p, pkg.Receipt, "code", errors.New("no workflow client"))
		return
	}
	// Once sent, the request completes even if the browser goes away.
	if _, err := h.Requests.RequestDownloadCode(context.WithoutCancel(r.Context()), disclosure.ID(token)); err != nil {
		h.gateFailed(w, r, p, pkg.Receipt, "code", err)
		return
	}
	h.Log.Info().Str("receipt", pkg.Receipt).Msg("download code requested")
	redirectDownload(w, r, token, p.Locale, pkg.Locale, url.Values{"sent": {"1"}})
}

// handleDownloadOpen is POST /download/{token}/open: the mailed code. The
// right one gives this browser a grant and shows the package.
func (h *HTTP) handleDownloadOpen(w http.ResponseWriter, r *http.Request) {
	pkg, token, ok := h.guarded(w, r)
	if !ok {
		return
	}
	p := h.newGatePage(r, pkg, token)
	p.Sent = true
	code := normaliseCode(r.PostFormValue("code"))
	if !validCode(code) {
		p.CodeError = text(p.Locale, "download.malformed")
		h.render(w, http.StatusUnprocessableEntity, "download_gate.html", p)
		return
	}
	if h.Requests == nil {
		h.gateFailed(w, r, p, pkg.Receipt, "open", errors.New("no workflow client"))
		return
	}
	id := disclosure.ID(token)
	res, err := h.Requests.OpenPackage(context.WithoutCancel(r.Context()), id, code)
	if err != nil {
		var rej *RejectedError
		if errors.As(err, &rej) {
			h.Log.Info().Str("receipt", pkg.Receipt).Msg("download code refused: no valid code")
			p.CodeError = text(p.Locale, "download.nocode")
			h.render(w, http.StatusUnprocessableEntity, "download_gate.html", p)
			return
		}
		h.gateFailed(w, r, p, pkg.Receipt, "open", err)
		return
	}
	outcome := strings.ToLower(strings.TrimPrefix(res.GetOutcome().String(), "OPEN_OUTCOME_"))
	h.Log.Info().Str("receipt", pkg.Receipt).Str("outcome", outcome).Msg("download code entered")
	switch res.GetOutcome() {
	case dsrv1.OpenOutcome_OPEN_OUTCOME_OPENED:
		if err := h.setGrant(w, r, token, id, pkg.ExpiresAt); err != nil {
			h.gateFailed(w, r, p, pkg.Receipt, "open", err)
			return
		}
		redirectDownload(w, r, token, p.Locale, pkg.Locale, url.Values{})
		return
	case dsrv1.OpenOutcome_OPEN_OUTCOME_WRONG:
		p.CodeError = textf(p.Locale, "download.wrong", res.GetAttemptsLeft())
	case dsrv1.OpenOutcome_OPEN_OUTCOME_LOCKED:
		p.CodeError = text(p.Locale, "download.locked")
	default:
		p.CodeError = text(p.Locale, "download.expired")
	}
	h.render(w, http.StatusUnprocessableEntity, "download_gate.html", p)
}
