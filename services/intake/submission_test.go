package intake_test

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"madoguchi.dev/services/intake"
)

// exampleJSON is the API documentation's example request.
const exampleJSON = `{"kind":"deletion","jurisdiction":"JP","locale":"ja","subject":{"name":"山田 花子","email":"hanako@example.jp","member_id":"M-1001"},"details":"退会したので全て削除してください"}`

func example(t *testing.T) intake.Submission {
	t.Helper()
	var s intake.Submission
	if err := json.Unmarshal([]byte(exampleJSON), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// Smallest files of each accepted type, as http.DetectContentType sees them.
var (
	pdfBytes  = []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")
	jpegBytes = append([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0}, make([]byte, 32)...)
	pngBytes  = append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 32)...)
)

func pdfDoc(purpose string) intake.Document {
	return intake.Document{Purpose: purpose, Content: pdfBytes}
}

func TestTheDocumentedExampleIsValid(t *testing.T) {
	s := example(t)
	s.Normalise()
	if errs := s.Validate(); len(errs) != 0 {
		t.Fatalf("example rejected: %v", errs)
	}
	if s.Agent != nil {
		t.Error("a submission without agent has an agent after Normalise")
	}
}

func TestValidationNamesEachInvalidField(t *testing.T) {
	cases := []struct {
		name   string
		change func(s *intake.Submission)
		want   intake.FieldErrors
	}{
		{"unknown kind", func(s *intake.Submission) { s.Kind = "delete" }, intake.FieldErrors{"kind": "unknown_kind"}},
		{"unspecified kind", func(s *intake.Submission) { s.Kind = "unspecified" }, intake.FieldErrors{"kind": "unknown_kind"}},
		{"missing kind", func(s *intake.Submission) { s.Kind = "" }, intake.FieldErrors{"kind": "required"}},
		{"missing email", func(s *intake.Submission) { s.Subject.Email = "" }, intake.FieldErrors{"subject.email": "required"}},
		{"blank email", func(s *intake.Submission) { s.Subject.Email = "  \u3000 " }, intake.FieldErrors{"subject.email": "required"}},
		{"email without @", func(s *intake.Submission) { s.Subject.Email = "hanako.example.jp" }, intake.FieldErrors{"subject.email": "invalid_email"}},
		{"email without domain dot", func(s *intake.Submission) { s.Subject.Email = "hanako@localhost" }, intake.FieldErrors{"subject.email": "invalid_email"}},
		{"email with display name", func(s *intake.Submission) { s.Subject.Email = "Hanako <hanako@example.jp>" }, intake.FieldErrors{"subject.email": "invalid_email"}},
		{"two @", func(s *intake.Submission) { s.Subject.Email = "hanako@@example.jp" }, intake.FieldErrors{"subject.email": "invalid_email"}},
		{"too long email", func(s *intake.Submission) { s.Subject.Email = strings.Repeat("a", 250) + "@example.jp" }, intake.FieldErrors{"subject.email": "invalid_email"}},
		{"phone with letters", func(s *intake.Submission) { s.Subject.Phone = "call me maybe" }, intake.FieldErrors{"subject.phone": "invalid_phone"}},
		{"phone too short", func(s *intake.Submission) { s.Subject.Phone = "12" }, intake.FieldErrors{"subject.phone": "invalid_phone"}},
		{"missing name", func(s *intake.Submission) { s.Subject.Name = " " }, intake.FieldErrors{"subject.name": "required"}},
		{"too long name", func(s *intake.Submission) { s.Subject.Name = strings.Repeat("山", 101) }, intake.FieldErrors{"subject.name": "too_long"}},
		{"bad member id", func(s *intake.Submission) { s.Subject.MemberID = "M 1001!" }, intake.FieldErrors{"subject.member_id": "invalid_member_id"}},
		{"unknown jurisdiction", func(s *intake.Submission) { s.Jurisdiction = "XX" }, intake.FieldErrors{"jurisdiction": "unknown_jurisdiction"}},
		{"unknown locale", func(s *intake.Submission) { s.Locale = "fr" }, intake.FieldErrors{"locale": "unknown_locale"}},
		{"too long details", func(s *intake.Submission) { s.Details = strings.Repeat("あ", 4001) }, intake.FieldErrors{"details": "too_long"}},
		{"correction without details", func(s *intake.Submission) { s.Kind, s.Details = "correction", "" },
			intake.FieldErrors{"correction": "details_required_for_correction"}},
		{"addition without details", func(s *intake.Submission) { s.Kind, s.Details, s.Correction = "addition", "  ", " \n" },
			intake.FieldErrors{"correction": "details_required_for_correction"}},
		{"too long correction", func(s *intake.Submission) { s.Correction = strings.Repeat("あ", 4001) }, intake.FieldErrors{"correction": "too_long"}},
		{"kana with kanji", func(s *intake.Submission) { s.Subject.NameKana = "山田 はなこ" }, intake.FieldErrors{"subject.name_kana": "invalid_kana"}},
		{"kana in latin letters", func(s *intake.Submission) { s.Subject.NameKana = "hanako" }, intake.FieldErrors{"subject.name_kana": "invalid_kana"}},
		{"unknown disclosure method", func(s *intake.Submission) { s.DisclosureMethod = "fax" },
			intake.FieldErrors{"disclosure_method": "invalid_disclosure_method"}},
		{"agent without relationship", func(s *intake.Submission) {
			s.Agent = &intake.AgentInput{Name: "山田 一郎", Email: "ichiro@example.jp"}
			s.Documents = []intake.Document{pdfDoc(intake.DocAuthority)}
		}, intake.FieldErrors{"agent.relationship": "invalid_relationship"}},
		{"agent with unknown relationship", func(s *intake.Submission) {
			s.Agent = &intake.AgentInput{Name: "山田 一郎", Email: "ichiro@example.jp", Relationship: "friend"}
			s.Documents = []intake.Document{pdfDoc(intake.DocAuthority)}
		}, intake.FieldErrors{"agent.relationship": "invalid_relationship"}},
		{"agent without name and email", func(s *intake.Submission) {
			s.Agent = &intake.AgentInput{Relationship: "appointed_proxy", Phone: "090-0000-0000x"}
			s.Documents = []intake.Document{pdfDoc(intake.DocAuthority)}
		}, intake.FieldErrors{"agent.name": "required", "agent.email": "required", "agent.phone": "invalid_phone"}},
		{"agent without the document of authority", func(s *intake.Submission) {
			s.Agent = &intake.AgentInput{Name: "山田 一郎", Email: "ichiro@example.jp", Relationship: "appointed_proxy"}
			s.Documents = []intake.Document{pdfDoc(intake.DocAgentID)}
		}, intake.FieldErrors{"documents.authority": "document_required"}},
		{"document that is not PDF, JPEG or PNG", func(s *intake.Submission) {
			s.Agent = &intake.AgentInput{Name: "山田 一郎", Email: "ichiro@example.jp", Relationship: "appointed_proxy"}
			// A PDF name and a script inside: the content decides.
			s.Documents = []intake.Document{{Purpose: intake.DocAuthority, Content: []byte("<html><script>alert(1)</script>")}}
		}, intake.FieldErrors{"documents.authority": "document_type"}},
		{"empty document", func(s *intake.Submission) {
			s.Agent = &intake.AgentInput{Name: "山田 一郎", Email: "ichiro@example.jp", Relationship: "appointed_proxy"}
			s.Documents = []intake.Document{{Purpose: intake.DocAuthority}}
		}, intake.FieldErrors{"documents.authority": "document_empty"}},
		{"document over 5 MiB", func(s *intake.Submission) {
			s.Agent = &intake.AgentInput{Name: "山田 一郎", Email: "ichiro@example.jp", Relationship: "legal_representative"}
			big := append([]byte("%PDF-1.4\n"), make([]byte, intake.MaxDocumentSize)...)
			s.Documents = []intake.Document{{Purpose: intake.DocAuthority, Content: big}}
		}, intake.FieldErrors{"documents.authority": "document_too_large"}},
		{"two documents of one kind", func(s *intake.Submission) {
			s.Agent = &intake.AgentInput{Name: "山田 一郎", Email: "ichiro@example.jp", Relationship: "legal_representative"}
			s.Documents = []intake.Document{pdfDoc(intake.DocAuthority), pdfDoc(intake.DocAuthority)}
		}, intake.FieldErrors{"documents.authority": "duplicate_document"}},
		{"name sent in Shift_JIS", func(s *intake.Submission) { s.Subject.Name = "\x8eR\x93c" },
			intake.FieldErrors{"subject.name": "invalid_characters"}},
		{"NUL in the details", func(s *intake.Submission) { s.Details = "a\x00b" }, intake.FieldErrors{"details": "invalid_characters"}},
		{"line break in a name", func(s *intake.Submission) { s.Subject.Name = "山田\n花子" }, intake.FieldErrors{"subject.name": "invalid_characters"}},
		{"document without agent", func(s *intake.Submission) { s.Documents = []intake.Document{pdfDoc(intake.DocAgentID)} },
			intake.FieldErrors{"documents.agent_id": "document_without_agent"}},
		{"several at once", func(s *intake.Submission) { s.Kind, s.Subject.Email, s.Subject.Phone = "", "", "abc" },
			intake.FieldErrors{"kind": "required", "subject.email": "required", "subject.phone": "invalid_phone"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := example(t)
			c.change(&s)
			s.Normalise()
			if got := s.Validate(); !maps.Equal(got, c.want) {
				t.Errorf("Validate = %v, want %v", got, c.want)
			}
		})
	}
}

func TestValidSubmissionsWithOptionalParts(t *testing.T) {
	cases := map[string]func(s *intake.Submission){
		"correction with details": func(s *intake.Submission) { s.Kind = "correction" },
		"correction in its own field": func(s *intake.Submission) {
			s.Kind, s.Details, s.Correction = "correction", "", "住所を下関市に訂正"
		},
		"agent, legal representative": func(s *intake.Submission) {
			s.Agent = &intake.AgentInput{Name: "山田 一郎", Email: "ichiro@example.jp", Relationship: "legal_representative"}
			s.Documents = []intake.Document{pdfDoc(intake.DocAuthority)}
		},
		"agent, proxy with a JPEG and a PNG": func(s *intake.Submission) {
			s.Agent = &intake.AgentInput{Name: "山田 一郎", Email: "ichiro@example.jp", Relationship: "appointed_proxy"}
			s.Documents = []intake.Document{{Purpose: intake.DocAuthority, Content: jpegBytes},
				{Purpose: intake.DocAgentID, Content: pngBytes}}
		},
		"kana, katakana with long vowel and full-width space": func(s *intake.Submission) { s.Subject.NameKana = "ヤマダ　ハナコー" },
		"half-width katakana":            func(s *intake.Submission) { s.Subject.NameKana = "ﾔﾏﾀﾞ ﾊﾅｺ" },
		"details over several lines":     func(s *intake.Submission) { s.Details = "1. 住所\r\n2. 電話番号\t(携帯)" },
		"written disclosure":             func(s *intake.Submission) { s.Kind, s.DisclosureMethod = "disclosure", "written" },
		"international phone":            func(s *intake.Submission) { s.Subject.Phone = "+44 20 7946 0000" },
		"full-width phone with brackets": func(s *intake.Submission) { s.Subject.Phone = "０９０（１２３４）５６７８" },
		"GDPR, English":                  func(s *intake.Submission) { s.Jurisdiction, s.Locale = "EU", "en" },
		"CCPA":                           func(s *intake.Submission) { s.Jurisdiction = "us-ca" },
		"defaults":                       func(s *intake.Submission) { s.Jurisdiction, s.Locale = "", "" },
		"empty agent is no agent":        func(s *intake.Submission) { s.Agent = &intake.AgentInput{Name: " "} },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			s := example(t)
			change(&s)
			s.Normalise()
			if errs := s.Validate(); len(errs) != 0 {
				t.Errorf("rejected: %v", errs)
			}
		})
	}
}

func TestFullWidthInputIsNormalised(t *testing.T) {
	s := intake.Submission{
		Kind: "ＤＥＬＥＴＩＯＮ", Jurisdiction: "ｊｐ", Locale: "ＪＡ",
		Subject: intake.SubjectInput{Name: " 山田 花子 ", Email: " ＨＡＮＡＫＯ＠ＥＸＡＭＰＬＥ．ＪＰ ",
			Phone: "０９０－１２３４－５６７８", MemberID: "ｍ－１００１"},
		Agent: &intake.AgentInput{},
	}
	s.Normalise()
	if errs := s.Validate(); len(errs) != 0 {
		t.Fatalf("full-width submission rejected: %v", errs)
	}
	if !strings.EqualFold(s.Subject.Email, "hanako@example.jp") {
		t.Errorf("email normalised to %q", s.Subject.Email)
	}
	want := intake.Submission{Kind: "deletion", Jurisdiction: "JP", Locale: "ja",
		Subject: intake.SubjectInput{Name: "山田 花子", Email: s.Subject.Email, Phone: "090-1234-5678", MemberID: "M-1001"}}
	if s.Kind != want.Kind || s.Jurisdiction != want.Jurisdiction || s.Locale != want.Locale || s.Subject != want.Subject || s.Agent != nil {
		t.Errorf("normalised to %+v (agent %v), want %+v", s, s.Agent, want)
	}
	if p := s.Personal(); p.GetSubject().GetEmail() != s.Subject.Email || p.GetAgent() != nil || p.GetDetails() != s.Details {
		t.Errorf("Personal() = %v", p)
	}
}

func TestFieldErrorsAreLocalised(t *testing.T) {
	errs := intake.FieldErrors{"subject.email": "required", "kind": "unknown_kind"}
	ja, en := errs.Localise("ja"), errs.Localise("en")
	if ja["subject.email"] != "入力してください。" || en["subject.email"] != "Please fill this in." {
		t.Errorf("ja %q, en %q", ja["subject.email"], en["subject.email"])
	}
	if fallback := errs.Localise("fr"); fallback["kind"] != ja["kind"] {
		t.Errorf("unknown locale does not fall back to Japanese: %q", fallback["kind"])
	}
	for _, m := range []map[string]string{ja, en} {
		for f, msg := range m {
			if msg == errs[f] {
				t.Errorf("code %q has no message", msg)
			}
		}
	}
}

func TestPersonalDataCarriesTheCorrectionAndTheDisclosureMethod(t *testing.T) {
	s := example(t)
	s.Kind, s.Details, s.Correction = "correction", "会員登録の住所", "下関市豊北町神田3489-2 に訂正"
	s.Normalise()
	p := s.Personal()
	if !strings.Contains(p.GetDetails(), "会員登録の住所") || !strings.Contains(p.GetDetails(), "下関市豊北町神田3489-2 に訂正") {
		t.Errorf("details = %q, want both the data and the correction", p.GetDetails())
	}
	if p.GetDisclosureMethod() != intake.MethodElectronic {
		t.Errorf("default disclosure method = %q, want electronic", p.GetDisclosureMethod())
	}
	s.DisclosureMethod = "ＷＲＩＴＴＥＮ"
	s.Normalise()
	if got := s.Personal().GetDisclosureMethod(); got != intake.MethodWritten {
		t.Errorf("disclosure method = %q, want written", got)
	}
}
