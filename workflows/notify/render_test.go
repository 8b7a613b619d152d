package notify

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"text/template"
	"time"

	"madoguchi.dev/law/grounds"
	"madoguchi.dev/law/kind"
)

var locales = []string{LocaleJA, LocaleEN}

// only keeps the fields of d named in fs (kind fields are "KindLabel").
func only(d Data, fs []string) Data {
	var o Data
	for _, f := range fs {
		switch f {
		case fReceipt:
			o.Receipt = d.Receipt
		case fKindLabel:
			o.RequestKind = d.RequestKind
		case fJurisdiction:
			o.Jurisdiction = d.Jurisdiction
		case fReceivedAt:
			o.ReceivedAt = d.ReceivedAt
		case fDueAt:
			o.DueAt = d.DueAt
		case fPreviousDueAt:
			o.PreviousDueAt = d.PreviousDueAt
		case fCode:
			o.Code = d.Code
		case fExpiresAt:
			o.ExpiresAt = d.ExpiresAt
		case fAttemptsLeft:
			o.AttemptsLeft = d.AttemptsLeft
		case fFee:
			o.FeeJPY = d.FeeJPY
		case fPayment:
			o.PaymentInstructions = d.PaymentInstructions
		case fOutcome:
			o.Outcome = d.Outcome
		case fReason:
			o.Reason = d.Reason
		case fReasonText:
			o.ReasonText = d.ReasonText
		case fDownloadURL:
			o.DownloadURL = d.DownloadURL
		case fDownloadExpiresAt:
			o.DownloadExpiresAt = d.DownloadExpiresAt
		case fStatusURL:
			o.StatusURL = d.StatusURL
		case fCompanyName:
			o.CompanyName = d.CompanyName
		case fLinkedReceipt:
			o.LinkedReceipt = d.LinkedReceipt
		default:
			panic("unknown field " + f)
		}
	}
	return o
}

func mustRender(t *testing.T, n Notice) (string, string, string) {
	t.Helper()
	s, txt, html, err := Render(n)
	if err != nil {
		t.Fatalf("Render(%s/%s): %v", n.Locale, n.Kind, err)
	}
	return s, txt, html
}

func checkRendered(t *testing.T, n Notice, subject, text, html string) {
	t.Helper()
	where := n.Locale + "/" + string(n.Kind)
	if subject == "" || strings.ContainsAny(subject, "\r\n") {
		t.Errorf("%s: bad subject %q", where, subject)
	}
	for _, s := range []string{subject, text, html} {
		if strings.Contains(s, "<no value>") || strings.Contains(s, "{{") || strings.Contains(s, "%!") {
			t.Errorf("%s: unfilled placeholder in %q", where, s)
		}
	}
	if !strings.Contains(subject, n.Data.Receipt) || !strings.Contains(text, n.Data.Receipt) || !strings.Contains(html, n.Data.Receipt) {
		t.Errorf("%s: receipt missing", where)
	}
	if !strings.HasSuffix(text, "\n") || strings.Contains(text, "\n\n\n") {
		t.Errorf("%s: untidy text", where)
	}
	if n.Kind != StaffAlert && !strings.Contains(text, "support@caresmiley.jp") {
		t.Errorf("%s: no contact point", where)
	}
}

func TestEveryKindRendersInBothLocalesWithAllAndWithOnlyRequiredFields(t *testing.T) {
	if len(Kinds()) != 16 {
		t.Fatalf("Kinds() = %d kinds", len(Kinds()))
	}
	for _, loc := range locales {
		for _, k := range Kinds() {
			fs, ok := fieldsFor(k)
			if !ok || !k.Valid() {
				t.Fatalf("%s has no fields", k)
			}
			for _, variant := range []struct {
				name string
				data Data
			}{{"all", sampleData()}, {"allowed", only(sampleData(), fs.allowed)}, {"required", only(sampleData(), fs.required)}} {
				n := sampleNotice(k, loc)
				n.Data = variant.data
				if k == Decision && variant.name == "required" {
					n.Data.Outcome = grounds.Approve // a refusal needs more than the minimum
				}
				s, txt, html := mustRender(t, n)
				checkRendered(t, n, s, txt, html)
			}
		}
	}
}

func TestEveryJurisdictionAndOutcomeRenders(t *testing.T) {
	for _, loc := range locales {
		for _, j := range kind.Jurisdictions() {
			for _, k := range []Kind{Receipt, Extension, Decision, Completion, StaffAlert} {
				for _, o := range []grounds.Outcome{grounds.Approve, grounds.Refuse, grounds.PartiallyRefuse} {
					n := sampleNotice(k, loc)
					n.Data.Jurisdiction = j
					n.Data.Outcome = o
					if o == grounds.Approve {
						n.Data.Reason = ""
					}
					s, txt, html := mustRender(t, n)
					checkRendered(t, n, s, txt, html)
				}
			}
		}
	}
}

func TestEveryRequestKindHasALabel(t *testing.T) {
	for _, loc := range locales {
		for _, rk := range kind.All() {
			n := sampleNotice(Receipt, loc)
			n.Data.RequestKind = rk
			s, txt, _ := mustRender(t, n)
			label := rk.Label(loc) // the law's table, which the form reads too
			if label == "" || !strings.Contains(txt, label) {
				t.Errorf("%s/%s: label %q missing", loc, rk, label)
			}
			if loc == LocaleJA && !strings.Contains(s, label) {
				t.Errorf("ja subject lacks the kind: %q", s)
			}
		}
	}
}

func TestMissingRequiredFieldIsRejectedWithoutQuotingData(t *testing.T) {
	for _, loc := range locales {
		for _, k := range Kinds() {
			fs, _ := fieldsFor(k)
			for _, drop := range fs.required {
				var keep []string
				for _, f := range fs.allowed {
					if f != drop {
						keep = append(keep, f)
					}
				}
				n := sampleNotice(k, loc)
				n.Data = only(sampleData(), keep)
				_, _, _, err := Render(n)
				if !errors.Is(err, ErrInvalidNotice) {
					t.Errorf("%s/%s without %s: err = %v", loc, k, drop, err)
					continue
				}
				if !strings.Contains(err.Error(), drop) {
					t.Errorf("error does not name the field: %v", err)
				}
				assertNoSentinels(t, err.Error())
			}
		}
	}
}

// assertNoSentinels fails if s holds any per-person value of sampleData.
func assertNoSentinels(t *testing.T, s string) {
	t.Helper()
	for _, v := range []string{"hanako", "482917", "SENTINEL", "サンプル介護"} {
		if strings.Contains(s, v) {
			t.Errorf("%q leaks %q", s, v)
		}
	}
}

func TestInvalidNotices(t *testing.T) {
	cases := map[string]func(n *Notice){
		"unknown kind":          func(n *Notice) { n.Kind = "postcard" },
		"unknown locale":        func(n *Notice) { n.Locale = "fr" },
		"locale not exact":      func(n *Notice) { n.Locale = "ja-JP" },
		"unknown request kind":  func(n *Notice) { n.Data.RequestKind = "teleport" },
		"unknown jurisdiction":  func(n *Notice) { n.Data.Jurisdiction = "XX" },
		"refusal without text":  func(n *Notice) { n.Kind = Decision; n.Data.ReasonText = " " },
		"refusal without code":  func(n *Notice) { n.Kind = Decision; n.Data.Reason = "" },
		"approval with code":    func(n *Notice) { n.Kind = Decision; n.Data.Outcome = grounds.Approve },
		"bad outcome":           func(n *Notice) { n.Kind = Decision; n.Data.Outcome = "maybe" },
		"download not http":     func(n *Notice) { n.Kind = Completion; n.Data.DownloadURL = "javascript:alert(1)" },
		"download without end":  func(n *Notice) { n.Kind = Completion; n.Data.DownloadExpiresAt = time.Time{} },
		"status relative":       func(n *Notice) { n.Kind = Receipt; n.Data.StatusURL = "/status/x" },
		"zero fee instructions": func(n *Notice) { n.Kind = FeeInstructions; n.Data.FeeJPY = 0 },
	}
	for name, mutate := range cases {
		n := sampleNotice(Receipt, LocaleJA)
		mutate(&n)
		if _, _, _, err := Render(n); !errors.Is(err, ErrInvalidNotice) {
			t.Errorf("%s: err = %v, want ErrInvalidNotice", name, err)
		} else {
			assertNoSentinels(t, err.Error())
		}
	}
}

func TestVerificationCodeAppearsOnlyInTheCodeNoticesBodies(t *testing.T) {
	for _, loc := range locales {
		for _, k := range Kinds() {
			s, txt, html := mustRender(t, sampleNotice(k, loc))
			if strings.Contains(s, "482917") {
				t.Errorf("%s/%s: code in subject", loc, k)
			}
			has := strings.Contains(txt, "482917") && strings.Contains(html, "482917")
			if has != (k == VerificationCode || k == DownloadCode) {
				t.Errorf("%s/%s: code shown = %v", loc, k, has)
			}
		}
	}
	_, ja, _ := mustRender(t, sampleNotice(VerificationCode, LocaleJA))
	_, en, _ := mustRender(t, sampleNotice(VerificationCode, LocaleEN))
	for _, want := range []string{"確認コード：482917", "有効期限：2026年11月12日(木) 10:30（日本時間）", "残り回数：5回"} {
		if !strings.Contains(ja, want) {
			t.Errorf("ja code notice lacks %q:\n%s", want, ja)
		}
	}
	for _, want := range []string{"Verification code: 482917", "Valid until: Thu 12 Nov 2026, 10:30 (Japan time, UTC+9)", "Attempts left: 5"} {
		if !strings.Contains(en, want) {
			t.Errorf("en code notice lacks %q:\n%s", want, en)
		}
	}
}

func TestGDPRDecisionMentionsTheSupervisoryAuthority(t *testing.T) {
	for _, o := range []grounds.Outcome{grounds.Approve, grounds.Refuse, grounds.PartiallyRefuse} {
		for _, j := range kind.Jurisdictions() {
			for _, loc := range locales {
				n := sampleNotice(Decision, loc)
				n.Data.Jurisdiction, n.Data.Outcome = j, o
				n.Data.Reason = grounds.ManifestlyUnfoundedOrExcessive
				if o == grounds.Approve {
					n.Data.Reason = ""
				}
				_, txt, _ := mustRender(t, n)
				want := map[string][]string{
					LocaleJA: {"監督機関", "苦情を申し立てる権利", "GDPR第77条"},
					LocaleEN: {"right to lodge a complaint with a supervisory authority", "GDPR Article 77"},
				}[loc]
				for _, w := range want {
					if got := strings.Contains(txt, w); got != (j == kind.GDPR) {
						t.Errorf("%s %s %s: mentions %q = %v", loc, j, o, w, got)
					}
				}
				if j == kind.GDPR && o != grounds.Approve {
					art := map[string]string{LocaleJA: "GDPR第12条第5項", LocaleEN: "GDPR Art. 12(5)"}[loc]
					if !strings.Contains(txt, art) {
						t.Errorf("%s GDPR refusal lacks %q:\n%s", loc, art, txt)
					}
				}
			}
		}
	}
}

// A CCPA opt-out is answered within 15 business days, without extension
// (11 CCR 7026(f)); the receipt says so instead of the 45-day period.
func TestCCPAOptOutReceiptGivesTheFifteenBusinessDayPeriod(t *testing.T) {
	for _, loc := range locales {
		for _, k := range []kind.Kind{kind.ThirdPartyStop, kind.Deletion} {
			n := sampleNotice(Receipt, loc)
			n.Data.Jurisdiction, n.Data.RequestKind = kind.CCPA, k
			_, txt, _ := mustRender(t, n)
			fifteen := map[string]string{LocaleJA: "15営業日以内", LocaleEN: "15 business days"}[loc]
			fortyFive := map[string]string{LocaleJA: "45日以内", LocaleEN: "within 45 days"}[loc]
			optOut := k == kind.ThirdPartyStop
			if strings.Contains(txt, fifteen) != optOut || strings.Contains(txt, fortyFive) == optOut {
				t.Errorf("%s CCPA %s receipt: 15 business days %v, 45 days %v:\n%s", loc, k,
					strings.Contains(txt, fifteen), strings.Contains(txt, fortyFive), txt)
			}
		}
	}
}

func TestJPRefusalExplainsTheReasonAndGivesTheContactPoint(t *testing.T) {
	for _, o := range []grounds.Outcome{grounds.Refuse, grounds.PartiallyRefuse} {
		for _, r := range grounds.AllRefusalReasons() {
			n := sampleNotice(Decision, LocaleJA)
			n.Data.Outcome, n.Data.Reason = o, r
			_, txt, _ := mustRender(t, n)
			wording, _ := grounds.DescribeRefusal(r)
			for _, want := range []string{wording.JA, "REASON-TEXT-SENTINEL", "株式会社Nico 個人情報管理責任者", "support@caresmiley.jp", "050-5799-0339"} {
				if !strings.Contains(txt, want) {
					t.Errorf("%s/%s lacks %q", o, r, want)
				}
			}
			if strings.Contains(txt, "GDPR") {
				t.Errorf("JP decision cites the GDPR: %s", r)
			}
		}
	}
	n := sampleNotice(Decision, LocaleJA)
	_, txt, _ := mustRender(t, n)
	if !strings.Contains(txt, "（根拠：個人情報保護法第33条第2項第1号）") || !strings.Contains(txt, "ご請求に応じることはできません") {
		t.Errorf("ja refusal:\n%s", txt)
	}
	n.Data.Outcome = grounds.PartiallyRefuse
	if _, txt, _ = mustRender(t, n); !strings.Contains(txt, "ご請求の一部に応じることはできません") {
		t.Errorf("ja partial refusal:\n%s", txt)
	}
	n.Locale = LocaleEN
	if _, txt, _ = mustRender(t, n); !strings.Contains(txt, "(APPI Art. 33(2)(i))") || !strings.Contains(txt, "Personal Information Manager") {
		t.Errorf("en partial refusal:\n%s", txt)
	}
}

var emailPattern = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+`)

func TestEntrustedAndStaffNoticesCarryNoSubjectPersonalData(t *testing.T) {
	for _, k := range []Kind{EntrustedNotice, EntrustedReminder, StaffAlert} {
		for _, loc := range locales {
			n := sampleNotice(k, loc)
			n.To = "contact@kaigo-sample.example"
			s, txt, html := mustRender(t, n)
			for _, out := range []string{s, txt, html} {
				for _, v := range []string{"hanako", "482917", "PAYMENT-INSTRUCTIONS-SENTINEL", "DOWNLOAD-SENTINEL", "STATUS-SENTINEL", "20261120-ABCDEF"} {
					if strings.Contains(out, v) {
						t.Errorf("%s/%s shows %q", loc, k, v)
					}
				}
				for _, addr := range emailPattern.FindAllString(out, -1) {
					if addr != "support@caresmiley.jp" {
						t.Errorf("%s/%s shows address %q", loc, k, addr)
					}
				}
			}
			if k != StaffAlert && strings.Contains(txt, "REASON-TEXT-SENTINEL") {
				t.Errorf("%s/%s shows free text", loc, k)
			}
			if k != StaffAlert && (!strings.Contains(txt, "株式会社サンプル介護") || !strings.Contains(txt, "2026")) {
				t.Errorf("%s/%s lacks company or due date:\n%s", loc, k, txt)
			}
		}
	}
	// The guard behind it: the entrusted notice's view has only its fields,
	// so a template reaching for anything else fails to render.
	fs, _ := fieldsFor(EntrustedNotice)
	v := view(sampleNotice(EntrustedNotice, LocaleJA), fs)
	for _, key := range []string{"Code", "StatusURL", "DownloadURL", "PaymentInstructions", "ReasonText", "To", "LinkedReceipt"} {
		if _, ok := v[key]; ok {
			t.Errorf("entrusted view has %s", key)
		}
	}
	tmpl := template.Must(template.New("x").Option("missingkey=error").Parse(`{{.StatusURL}}`))
	if err := tmpl.Execute(&strings.Builder{}, v); err == nil {
		t.Error("template could read a field the kind does not carry")
	}
}

func TestDatesAndAmounts(t *testing.T) {
	late := time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC) // 00:30 on the 27th in Japan
	for _, c := range []struct {
		t        time.Time
		ja, en   string
		jaT, enT string
	}{
		{time.Date(2026, 11, 26, 23, 59, 59, 0, jst), "2026年11月26日(木)", "Thu 26 Nov 2026", "2026年11月26日(木) 23:59（日本時間）", "Thu 26 Nov 2026, 23:59 (Japan time, UTC+9)"},
		{late, "2026年11月27日(金)", "Fri 27 Nov 2026", "2026年11月27日(金) 00:30（日本時間）", "Fri 27 Nov 2026, 00:30 (Japan time, UTC+9)"},
		{time.Date(2027, 1, 3, 9, 5, 0, 0, jst), "2027年1月3日(日)", "Sun 3 Jan 2027", "2027年1月3日(日) 09:05（日本時間）", "Sun 3 Jan 2027, 09:05 (Japan time, UTC+9)"},
	} {
		if got := formatDate(c.t, LocaleJA); got != c.ja {
			t.Errorf("ja date %v = %q, want %q", c.t, got, c.ja)
		}
		if got := formatDate(c.t, LocaleEN); got != c.en {
			t.Errorf("en date %v = %q, want %q", c.t, got, c.en)
		}
		if got := formatDateTime(c.t, LocaleJA); got != c.jaT {
			t.Errorf("ja datetime %v = %q, want %q", c.t, got, c.jaT)
		}
		if got := formatDateTime(c.t, LocaleEN); got != c.enT {
			t.Errorf("en datetime %v = %q, want %q", c.t, got, c.enT)
		}
	}
	if formatDate(time.Time{}, LocaleJA) != "" || formatDateTime(time.Time{}, LocaleEN) != "" {
		t.Error("zero time should format empty")
	}
	for n, want := range map[int]string{0: "¥0", 100: "¥100", 1000: "¥1,000", 12345: "¥12,345", 1234567: "¥1,234,567", -1500: "-¥1,500"} {
		if got := formatYen(n); got != want {
			t.Errorf("formatYen(%d) = %q, want %q", n, got, want)
		}
	}
	_, txt, _ := mustRender(t, sampleNotice(FeeInstructions, LocaleJA))
	if !strings.Contains(txt, "手数料：¥1,000") || !strings.Contains(txt, "お支払い期限：2026年11月26日(木)") {
		t.Errorf("fee notice:\n%s", txt)
	}
}

func TestArticleCitations(t *testing.T) {
	for _, c := range []struct {
		art string
		j   kind.Jurisdiction
		ja  string
		en  string
	}{
		{"Art. 33(2)(i)", kind.JP, "個人情報保護法第33条第2項第1号", "APPI Art. 33(2)(i)"},
		{"Art. 33(2)(iii)", kind.JP, "個人情報保護法第33条第2項第3号", "APPI Art. 33(2)(iii)"},
		{"Art. 33(3)", kind.JP, "個人情報保護法第33条第3項", "APPI Art. 33(3)"},
		{"Art. 37", kind.JP, "個人情報保護法第37条", "APPI Art. 37"},
		{"Art. 34, 35", kind.JP, "個人情報保護法第34条、第35条", "APPI Art. 34, 35"},
		{"GDPR Art. 12(5)", kind.GDPR, "GDPR第12条第5項", "GDPR Art. 12(5)"},
		{"GDPR Art. 12(5)", kind.JP, "", ""},
		{"Art. 33(3)", kind.GDPR, "", ""},
		{"Art. 33(3)", kind.CCPA, "", ""},
		{"", kind.JP, "", ""},
	} {
		if got := articleFor(c.art, c.j, LocaleJA); got != c.ja {
			t.Errorf("ja %q/%s = %q, want %q", c.art, c.j, got, c.ja)
		}
		if got := articleFor(c.art, c.j, LocaleEN); got != c.en {
			t.Errorf("en %q/%s = %q, want %q", c.art, c.j, got, c.en)
		}
	}
}

func TestHTMLEscapesTextAndLinksURLs(t *testing.T) {
	n := sampleNotice(Extension, LocaleEN)
	n.Data.ReasonText = `<script>alert("x")</script> & more`
	_, txt, html := mustRender(t, n)
	if !strings.Contains(txt, `<script>alert("x")</script> & more`) {
		t.Errorf("text body altered the reason: %s", txt)
	}
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") {
		t.Errorf("html not escaped:\n%s", html)
	}
	if !strings.Contains(html, `<a href="https://privacy.caresmiley.jp/status/STATUS-SENTINEL">`) {
		t.Errorf("status URL not linked:\n%s", html)
	}
	if !strings.Contains(html, `<html lang="en">`) {
		t.Errorf("no lang:\n%s", html)
	}
}
