// Package readable shapes a holder's export (JSON) for a person to read:
// objects become label/value lists, lists of like objects become tables,
// field names become Japanese labels where one is known. The download page,
// the printed disclosure and the CSV files all read this one shape.
package readable

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"madoguchi.dev/platform/display"
)

// Node is a piece of an export, shaped for reading. Exactly one of
// Scalar (with Empty for "nothing"), Fields, Items or Columns+Rows is set.
type Node struct {
	Scalar  string
	Empty   bool
	Fields  []Field
	Items   []Node
	Columns []string
	// Keys are the JSON names of Columns, in the same order.
	Keys []string
	Rows [][]Node
}

// Field is one labelled value of an object.
type Field struct {
	Key   string
	Label string
	Value Node
}

// FieldLabels are Japanese labels for the names holders commonly use.
var FieldLabels = map[string]string{
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

// Label is the person's name for a JSON field name in locale.
func Label(locale, key string) string {
	if locale != "en" {
		if l, ok := FieldLabels[key]; ok {
			return l
		}
	}
	s := strings.ReplaceAll(key, "_", " ")
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// None is what an empty value reads as.
func None(locale string) string {
	if locale == "en" {
		return "(none)"
	}
	return "(なし)"
}

// Shape decodes one holder's export and shapes it; a document that is not
// JSON is shown as its text.
func Shape(locale string, raw []byte) Node {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return Node{Scalar: string(raw)}
	}
	return Value(locale, v, 0)
}

// MaxColumns is the widest list of objects shown as a table.
const MaxColumns = 8

// Value shapes decoded JSON; depth bounds pathological nesting.
func Value(locale string, v any, depth int) Node {
	if depth > 8 {
		b, _ := json.Marshal(v)
		return Node{Scalar: string(b)}
	}
	switch x := v.(type) {
	case nil:
		return Node{Empty: true, Scalar: None(locale)}
	case string:
		if x == "" {
			return Node{Empty: true, Scalar: None(locale)}
		}
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return Node{Scalar: display.DateTime(locale, t)}
		}
		return Node{Scalar: x}
	case bool:
		if locale == "en" {
			return Node{Scalar: map[bool]string{true: "yes", false: "no"}[x]}
		}
		return Node{Scalar: map[bool]string{true: "はい", false: "いいえ"}[x]}
	case json.Number:
		return Node{Scalar: x.String()}
	case float64:
		return Node{Scalar: strconv.FormatFloat(x, 'f', -1, 64)}
	case map[string]any:
		if len(x) == 0 {
			return Node{Empty: true, Scalar: None(locale)}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		n := Node{Fields: []Field{}}
		for _, k := range keys {
			n.Fields = append(n.Fields, Field{Key: k, Label: Label(locale, k), Value: Value(locale, x[k], depth+1)})
		}
		return n
	case []any:
		if len(x) == 0 {
			return Node{Empty: true, Scalar: None(locale)}
		}
		if cols, ok := TableColumns(x); ok {
			n := Node{Keys: cols}
			for _, c := range cols {
				n.Columns = append(n.Columns, Label(locale, c))
			}
			for _, item := range x {
				m := item.(map[string]any)
				row := make([]Node, len(cols))
				for i, c := range cols {
					row[i] = Value(locale, m[c], depth+1)
				}
				n.Rows = append(n.Rows, row)
			}
			return n
		}
		n := Node{Items: []Node{}}
		for _, item := range x {
			n.Items = append(n.Items, Value(locale, item, depth+1))
		}
		return n
	}
	return Node{}
}

// TableColumns: a list of objects whose values are all scalars reads best
// as a table; its columns are the union of their keys.
func TableColumns(items []any) ([]string, bool) {
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
	return cols, len(cols) > 0 && len(cols) <= MaxColumns
}
