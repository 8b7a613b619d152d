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
		"invalid_relationship":            "代理人の種別を選んでください。",
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
