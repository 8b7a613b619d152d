package intake

import (
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

var pageTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"t":         text,
	"field":     newField,
	"agentVal":  agentVal,
	"formToken": newFormToken,
}).ParseFS(templateFS, "templates/*.html"))

// fieldView is one labelled input with its error.
type fieldView struct {
	Locale, Key, ID, Type, Value, Err, Auto string
	Required                                bool
}

func newField(locale, key, id, typ, value string, required bool, errs map[string]string, auto string) fieldView {
	return fieldView{Locale: locale, Key: key, ID: id, Type: typ, Value: value, Err: errs[id], Auto: auto, Required: required}
}

func agentVal(a *AgentInput, f string) string {
	if a == nil {
		return ""
	}
	switch f {
	case "name":
		return a.Name
	case "email":
		return a.Email
	case "phone":
		return a.Phone
	case "relationship":
		return a.Relationship
	}
	return ""
}

// newFormToken gives each rendered form a one-off id, used as its
// idempotency key so that a double submission stores one request.
func newFormToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// kindOption is one request kind on the form.
type kindOption struct {
	Value, Label, Explain string
	Fee                   bool
}

// kinds lists the rights of policy §5 in the order the policy names them.
var kindOrder = []string{"disclosure", "correction", "addition", "deletion", "suspension", "erasure",
	"third_party_stop", "third_party_record_disclosure", "purpose_notice"}

// feeKinds may carry a fee (APPI Art. 38); every other kind is free.
var feeKinds = map[string]bool{"disclosure": true, "third_party_record_disclosure": true, "purpose_notice": true}

type formPage struct {
	Locale   string
	Other    string // the other language's path
	Kinds    []kindOption
	Form     Submission
	AsAgent  bool
	Errors   map[string]string
	Order    []string // error fields in page order, for the summary
	Accepted *Accepted
}

var fieldOrder = []string{"kind", "subject.name", "subject.name_kana", "subject.email", "subject.phone",
	"subject.member_id", "details", "agent.name", "agent.email", "agent.phone", "agent.relationship"}

func (h *HTTP) page(locale string) formPage {
	p := formPage{Locale: locale, Other: "/en"}
	if locale == "en" {
		p.Other = "/"
	}
	for _, k := range kindOrder {
		p.Kinds = append(p.Kinds, kindOption{Value: k, Label: text(locale, "kind."+k),
			Explain: text(locale, "explain."+k), Fee: feeKinds[k]})
	}
	return p
}

func (h *HTTP) handleForm(locale string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := h.page(locale)
		p.Form.Kind = r.URL.Query().Get("kind")
		h.render(w, http.StatusOK, "form.html", p)
	}
}

// handleFormSubmit is POST /requests from the HTML form. On invalid input the
// form is shown again with every value the person typed and a message next
// to each field.
func (h *HTTP) handleFormSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	locale := r.PostFormValue("locale")
	if locale != "en" {
		locale = "ja"
	}
	f := r.PostForm
	sub := Submission{
		Kind: f.Get("kind"), Jurisdiction: f.Get("jurisdiction"), Locale: locale, Details: f.Get("details"),
		Subject: SubjectInput{Name: f.Get("name"), NameKana: f.Get("name_kana"), Email: f.Get("email"),
			Phone: f.Get("phone"), MemberID: f.Get("member_id")},
	}
	asAgent := f.Get("as_agent") == "on"
	if asAgent {
		sub.Agent = &AgentInput{Name: f.Get("agent_name"), Email: f.Get("agent_email"),
			Phone: f.Get("agent_phone"), Relationship: f.Get("agent_relationship")}
	}
	// The form token makes a double click or a browser resubmit idempotent.
	acc, err := h.Service.Submit(r.Context(), sub, formKey(f.Get("form_token")))
	p := h.page(locale)
	p.Form, p.AsAgent = sub, asAgent
	var verr *ValidationError
	switch {
	case errors.As(err, &verr):
		p.Errors = verr.Fields.Localise(locale)
		for _, f := range fieldOrder {
			if _, ok := p.Errors[f]; ok {
				p.Order = append(p.Order, f)
			}
		}
		h.render(w, http.StatusUnprocessableEntity, "form.html", p)
	case err != nil:
		h.Log.Error().Err(err).Msg("form submission failed")
		p.Errors = map[string]string{"_": text(locale, "error.unavailable")}
		p.Order = []string{"_"}
		h.render(w, http.StatusServiceUnavailable, "form.html", p)
	default:
		p.Accepted = &acc
		h.render(w, http.StatusOK, "receipt.html", p)
	}
}

func formKey(token string) string {
	token = strings.TrimSpace(token)
	if token == "" || len(token) > 100 {
		return ""
	}
	return "form:" + token
}

func (h *HTTP) render(w http.ResponseWriter, status int, name string, p formPage) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pageTemplates.ExecuteTemplate(w, name, p); err != nil {
		h.Log.Error().Err(err).Str("template", name).Msg("render failed")
	}
}
