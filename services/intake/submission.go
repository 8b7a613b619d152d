package intake

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// Submission is a request as the person files it, from the JSON API or the
// web form: both go through Normalise and Validate and then Service.Submit.
type Submission struct {
	Kind         string       `json:"kind"`
	Jurisdiction string       `json:"jurisdiction"`
	Locale       string       `json:"locale"`
	Subject      SubjectInput `json:"subject"`
	Details      string       `json:"details"`
	Agent        *AgentInput  `json:"agent,omitempty"`
}

// SubjectInput identifies the person the request is about.
type SubjectInput struct {
	Name     string `json:"name"`
	NameKana string `json:"name_kana"`
	Email    string `json:"email"`
	Phone    string `json:"phone"`
	MemberID string `json:"member_id"`
}

// AgentInput is the person filing on the subject's behalf (代理人).
type AgentInput struct {
	Name         string `json:"name"`
	Email        string `json:"email"`
	Phone        string `json:"phone"`
	Relationship string `json:"relationship"`
}

// FieldErrors maps a field path ("subject.email") to a message code.
type FieldErrors map[string]string

var (
	phoneRE  = regexp.MustCompile(`^\+?[0-9(][0-9\-() ]{5,19}$`)
	memberRE = regexp.MustCompile(`^[A-Za-z0-9\-]{1,32}$`)
)

// Normalise trims spaces and folds full-width ASCII (common in Japanese
// input: ｈａｎａｋｏ＠…, ０９０…) so that validation and matching see one form.
func (s *Submission) Normalise() {
	nfkc := func(v string) string { return strings.TrimSpace(norm.NFKC.String(v)) }
	s.Kind = strings.ToLower(nfkc(s.Kind))
	s.Jurisdiction = strings.ToUpper(nfkc(s.Jurisdiction))
	if s.Jurisdiction == "" {
		s.Jurisdiction = contract.JurisdictionJP
	}
	s.Locale = strings.ToLower(nfkc(s.Locale))
	if s.Locale == "" {
		s.Locale = "ja"
	}
	// Names keep their width: NFKC would turn half-width kana into full-width,
	// which is right, but must not touch the person's spelling otherwise.
	s.Subject.Name = strings.TrimSpace(norm.NFC.String(s.Subject.Name))
	s.Subject.NameKana = nfkc(s.Subject.NameKana)
	s.Subject.Email = nfkc(s.Subject.Email)
	s.Subject.Phone = nfkc(s.Subject.Phone)
	s.Subject.MemberID = strings.ToUpper(nfkc(s.Subject.MemberID))
	s.Details = strings.TrimSpace(norm.NFC.String(s.Details))
	if s.Agent != nil {
		s.Agent.Name = strings.TrimSpace(norm.NFC.String(s.Agent.Name))
		s.Agent.Email = nfkc(s.Agent.Email)
		s.Agent.Phone = nfkc(s.Agent.Phone)
		s.Agent.Relationship = strings.ToLower(nfkc(s.Agent.Relationship))
		if *s.Agent == (AgentInput{}) {
			s.Agent = nil
		}
	}
}

// Validate returns one message code per invalid field; empty means valid.
// Codes are looked up in the page's language by Message.
func (s *Submission) Validate() FieldErrors {
	errs := FieldErrors{}
	if s.Kind == "" {
		errs["kind"] = "required"
	} else if _, ok := contract.ParseKind(s.Kind); !ok {
		errs["kind"] = "unknown_kind"
	}
	switch s.Jurisdiction {
	case contract.JurisdictionJP, contract.JurisdictionGDPR, contract.JurisdictionCCPA:
	default:
		errs["jurisdiction"] = "unknown_jurisdiction"
	}
	if s.Locale != "ja" && s.Locale != "en" {
		errs["locale"] = "unknown_locale"
	}
	checkName(errs, "subject.name", s.Subject.Name, true)
	if utf8.RuneCountInString(s.Subject.NameKana) > 100 {
		errs["subject.name_kana"] = "too_long"
	}
	checkEmail(errs, "subject.email", s.Subject.Email)
	if s.Subject.Phone != "" && !phoneRE.MatchString(s.Subject.Phone) {
		errs["subject.phone"] = "invalid_phone"
	}
	if s.Subject.MemberID != "" && !memberRE.MatchString(s.Subject.MemberID) {
		errs["subject.member_id"] = "invalid_member_id"
	}
	if utf8.RuneCountInString(s.Details) > 4000 {
		errs["details"] = "too_long"
	}
	if k, _ := contract.ParseKind(s.Kind); (k == dsrv1.RequestKind_REQUEST_KIND_CORRECTION || k == dsrv1.RequestKind_REQUEST_KIND_ADDITION) && s.Details == "" {
		errs["details"] = "details_required_for_correction"
	}
	if a := s.Agent; a != nil {
		checkName(errs, "agent.name", a.Name, true)
		checkEmail(errs, "agent.email", a.Email)
		if a.Phone != "" && !phoneRE.MatchString(a.Phone) {
			errs["agent.phone"] = "invalid_phone"
		}
		if a.Relationship != "legal_representative" && a.Relationship != "appointed_proxy" {
			errs["agent.relationship"] = "invalid_relationship"
		}
	}
	return errs
}

func checkName(errs FieldErrors, field, v string, required bool) {
	switch n := utf8.RuneCountInString(v); {
	case n == 0 && required:
		errs[field] = "required"
	case n > 100:
		errs[field] = "too_long"
	}
}

func checkEmail(errs FieldErrors, field, v string) {
	if v == "" {
		errs[field] = "required"
		return
	}
	addr, err := mail.ParseAddress(v)
	// A bare address only: "Name <a@b>" would hide what we will write to.
	if err != nil || addr.Address != v || len(v) > 254 || !strings.Contains(v[strings.LastIndex(v, "@"):], ".") {
		errs[field] = "invalid_email"
	}
}

// Personal returns the request's personal data, to be sealed.
func (s *Submission) Personal() *dsrv1.PersonalData {
	p := &dsrv1.PersonalData{
		Subject: &dsrv1.Subject{
			Name: s.Subject.Name, NameKana: s.Subject.NameKana, Email: s.Subject.Email,
			Phone: s.Subject.Phone, MemberId: s.Subject.MemberID,
		},
		Details: s.Details,
	}
	if a := s.Agent; a != nil {
		p.Agent = &dsrv1.Agent{Name: a.Name, Email: a.Email, Phone: a.Phone, Relationship: a.Relationship}
	}
	return p
}
