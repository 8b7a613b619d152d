package intake

// messages holds every user-facing validation message, by locale and code.
var messages = map[string]map[string]string{
	"ja": {
		"required":                        "入力してください。",
		"too_long":                        "長すぎます。短くしてください。",
		"unknown_kind":                    "請求の種類を選んでください。",
		"unknown_jurisdiction":            "適用される法域が正しくありません。",
		"unknown_locale":                  "言語は ja または en を指定してください。",
		"invalid_email":                   "メールアドレスの形式が正しくありません(例: hanako@example.jp)。",
		"invalid_phone":                   "電話番号は数字とハイフンで入力してください。",
		"invalid_member_id":               "会員番号は英数字とハイフンで入力してください。",
		"details_required_for_correction": "訂正・追加の内容を記入してください。",
		"invalid_relationship":            "ご本人との関係を選んでください。",
		"invalid_kana":                    "ふりがなは、ひらがな又はカタカナで入力してください。",
		"invalid_disclosure_method":       "開示の方法を選んでください。",
		"document_required":               "代理権を確認できる書類(委任状など)を添付してください。",
		"document_empty":                  "ファイルが空です。別のファイルを選んでください。",
		"document_too_large":              "ファイルが大きすぎます。5MB以下のファイルを選んでください。",
		"document_type":                   "PDF・JPEG・PNGのファイルを選んでください。",
		"document_without_agent":          "書類は代理人として請求する場合に添付してください。",
		"document_expired":                "先ほどのファイルの保管期限が切れました。もう一度ファイルを選んでください。",
		"duplicate_document":              "同じ種類の書類が2つあります。1つにしてください。",
		"unknown_document":                "書類の種類が正しくありません。",
		"invalid_characters":              "使えない文字が含まれています。入力し直してください。",
		"invalid_key":                     "Idempotency-Key に使えない文字が含まれています。",
	},
	"en": {
		"required":                        "Please fill this in.",
		"too_long":                        "This is too long; please shorten it.",
		"unknown_kind":                    "Please choose the kind of request.",
		"unknown_jurisdiction":            "The jurisdiction is not one we handle.",
		"unknown_locale":                  "Language must be ja or en.",
		"invalid_email":                   "This is not a valid e-mail address (e.g. hanako@example.jp).",
		"invalid_phone":                   "Use digits and hyphens for the phone number.",
		"invalid_member_id":               "Use letters, digits and hyphens for the member number.",
		"details_required_for_correction": "Please say what should be corrected or added.",
		"invalid_relationship":            "Please choose how you represent the person.",
		"invalid_kana":                    "Use hiragana or katakana for the name in kana.",
		"invalid_disclosure_method":       "Please choose how we should disclose.",
		"document_required":               "Please attach a document showing your authority (e.g. a power of attorney).",
		"document_empty":                  "The file is empty; please choose another.",
		"document_too_large":              "The file is too large; please choose one of 5 MB or less.",
		"document_type":                   "Please choose a PDF, JPEG or PNG file.",
		"document_without_agent":          "Attach documents only when you file as an agent.",
		"document_expired":                "The file you sent earlier is no longer kept; please choose it again.",
		"duplicate_document":              "There are two documents of the same kind; please send one.",
		"unknown_document":                "Unknown kind of document.",
		"invalid_characters":              "This contains characters we cannot read; please type it again.",
		"invalid_key":                     "The Idempotency-Key contains characters that are not allowed.",
	},
}

// Message returns the text for a validation code in locale (ja by default).
func Message(locale, code string) string {
	m, ok := messages[locale]
	if !ok {
		m = messages["ja"]
	}
	if s, ok := m[code]; ok {
		return s
	}
	return code
}

// Localise turns codes into messages for a response or a page.
func (e FieldErrors) Localise(locale string) map[string]string {
	out := make(map[string]string, len(e))
	for f, code := range e {
		out[f] = Message(locale, code)
	}
	return out
}
