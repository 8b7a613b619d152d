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
			intake.FieldErrors{"details": "details_required_for_correction"}},
		{"addition without details", func(s *intake.Submission) { s.Kind, s.Details = "addition", "  " },
			intake.FieldErrors{"details": "details_required_for_correction"}},
		{"agent without relationship", func(s *intake.Submission) {
			s.Agent = &intake.AgentInput{Name: "山田 一郎", Email: "ichiro@example.jp"}
		}, intake.FieldErrors{"agent.relationship": "invalid_relationship"}},
		{"agent with unknown relationship", func(s *intake.Submission) {
			s.Agent = &intake.AgentInput{Name: "山田 一郎", Email: "ichiro@example.jp", Relationship: "friend"}
		}, intake.FieldErrors{"agent.relationship": "invalid_relationship"}},
		{"agent without name and email", func(s *intake.Submission) {
			s.Agent = &intake.AgentInput{Relationship: "appointed_proxy", Phone: "090-0000-0000x"}
		}, intake.FieldErrors{"agent.name": "required", "agent.email": "required", "agent.phone": "invalid_phone"}},
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
		"agent, legal representative": func(s *intake.Submission) {
			s.Agent = &intake.AgentInput{Name: "山田 一郎", Email: "ichiro@example.jp", Relationship: "legal_representative"}
		},
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
