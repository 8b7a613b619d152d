package intake

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode"
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
	// Correction says what to correct or add (correction / addition kinds);
	// Details then says which data.
	Correction string `json:"correction,omitempty"`
	// DisclosureMethod is "electronic" (the default) or "written".
	DisclosureMethod string      `json:"disclosure_method,omitempty"`
	Agent            *AgentInput `json:"agent,omitempty"`
	// Documents support an agent's filing (委任状, ID). They come from the
	// form or a multipart API call, never from JSON.
	Documents []Document `json:"-"`
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
	// kanaRE: hiragana, katakana (with ー and ・) and spaces, after NFKC.
	kanaRE = regexp.MustCompile(`^[\p{Hiragana}\p{Katakana}ー・ 　]+$`)
)

// Disclosure methods (PersonalData.disclosure_method).
const (
	MethodElectronic = "electronic"
	MethodWritten    = "written"
)

// Normalise trims spaces and folds full-width ASCII (common in Japanese
// input: ｈａｎａｋｏ＠…, ０９０…) so that validation and matching see one form.
func (s *Submission) Normalise() {
	// Bytes that are not UTF-8 (a form sent in Shift_JIS, say) become U+FFFD,
	// as encoding/json does for the API; Validate then refuses the field.
	for _, f := range []*string{&s.Kind, &s.Jurisdiction, &s.Locale, &s.Subject.Name, &s.Subject.NameKana, &s.Subject.Email,
		&s.Subject.Phone, &s.Subject.MemberID, &s.Details, &s.Correction, &s.DisclosureMethod} {
		*f = strings.ToValidUTF8(*f, "\uFFFD")
	}
	if a := s.Agent; a != nil {
		for _, f := range []*string{&a.Name, &a.Email, &a.Phone, &a.Relationship} {
			*f = strings.ToValidUTF8(*f, "\uFFFD")
		}
	}
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
	s.Correction = strings.TrimSpace(norm.NFC.String(s.Correction))
	s.DisclosureMethod = strings.ToLower(nfkc(s.DisclosureMethod))
	if s.Agent != nil {
		s.Agent.Name = strings.TrimSpace(norm.NFC.String(s.Agent.Name))
		s.Agent.Email = nfkc(s.Agent.Email)
		s.Agent.Phone = nfkc(s.Agent.Phone)
		s.Agent.Relationship = strings.ToLower(nfkc(s.Agent.Relationship))
		if *s.Agent == (AgentInput{}) {
			s.Agent = nil
		}
	}
	for i := range s.Documents {
		d := &s.Documents[i]
		d.Purpose = strings.ToLower(strings.TrimSpace(d.Purpose))
		if d.Pending == "" {
			d.ContentType, d.Size = sniff(d.Content), len(d.Content)
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
	if n := utf8.RuneCountInString(s.Subject.NameKana); n > 100 {
		errs["subject.name_kana"] = "too_long"
	} else if n > 0 && !kanaRE.MatchString(s.Subject.NameKana) {
		errs["subject.name_kana"] = "invalid_kana"
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
	if utf8.RuneCountInString(s.Correction) > 4000 {
		errs["correction"] = "too_long"
	}
	// A correction or addition must say what to change; older API clients
	// put it in details, the form has its own field.
	if k, _ := contract.ParseKind(s.Kind); (k == dsrv1.RequestKind_REQUEST_KIND_CORRECTION || k == dsrv1.RequestKind_REQUEST_KIND_ADDITION) &&
		s.Details == "" && s.Correction == "" {
		errs["correction"] = "details_required_for_correction"
	}
	switch s.DisclosureMethod {
	case "", MethodElectronic, MethodWritten:
	default:
		errs["disclosure_method"] = "invalid_disclosure_method"
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
	validateDocuments(errs, s.Agent != nil, s.Documents)
	// Text that cannot be what the person meant: control characters (a
	// line break only in the free-text fields) or bytes that were not UTF-8.
	for field, v := range map[string]string{"subject.name": s.Subject.Name, "subject.name_kana": s.Subject.NameKana,
		"subject.email": s.Subject.Email, "subject.phone": s.Subject.Phone, "subject.member_id": s.Subject.MemberID} {
		checkText(errs, field, v, false)
	}
	checkText(errs, "details", s.Details, true)
	checkText(errs, "correction", s.Correction, true)
	if a := s.Agent; a != nil {
		for field, v := range map[string]string{"agent.name": a.Name, "agent.email": a.Email, "agent.phone": a.Phone} {
			checkText(errs, field, v, false)
		}
	}
	return errs
}

func checkText(errs FieldErrors, field, v string, multiline bool) {
	for _, r := range v {
		switch {
		case r == utf8.RuneError, r == '\uFFFE', r == '\uFFFF':
		case multiline && (r == '\n' || r == '\r' || r == '\t'):
			continue
		case unicode.IsControl(r):
		default:
			continue
		}
		errs[field] = "invalid_characters"
		return
	}
}

// validKey: an idempotency key the database can keep (UTF-8, no control
// characters).
func validKey(k string) bool {
	if !utf8.ValidString(k) {
		return false
	}
	for _, r := range k {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
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
		Details: s.Details, DisclosureMethod: s.DisclosureMethod,
	}
	if s.Correction != "" {
		// The sealed record has one free-text field: keep both parts, labelled.
		p.Details = strings.TrimSpace(s.Details + "\n\n【訂正・追加の内容 / Correction】\n" + s.Correction)
	}
	if p.DisclosureMethod == "" {
		p.DisclosureMethod = MethodElectronic
	}
	if a := s.Agent; a != nil {
		p.Agent = &dsrv1.Agent{Name: a.Name, Email: a.Email, Phone: a.Phone, Relationship: a.Relationship}
	}
	return p
}
