package intake

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"madoguchi.dev/law/fee"
	"madoguchi.dev/law/kind"
)

//go:embed templates/*.html
var templateFS embed.FS

var pageTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"t":         text,
	"tf":        textf,
	"field":     newField,
	"agentVal":  agentVal,
	"formToken": newFormToken,
	"date":      formatDate,
	"datetime":  formatDateTime,
	"yen":       formatYen,
	"size":      formatSize,
	"typeName":  func(ct string) string { return allowedTypes[ct] },
	"join":      strings.Join,
	"msg":       Message,
	"kindLabel": kindLabel,
}).ParseFS(templateFS, "templates/*.html"))

// base is what every page's layout needs.
type base struct {
	Locale string
	// Other is the same page in the other language.
	Other string
	// TitleKey names the page's title text.
	TitleKey string
}

func (b base) OtherLocale() string {
	if b.Locale == "en" {
		return "ja"
	}
	return "en"
}

// fieldView is one labelled input with its hint and error.
type fieldView struct {
	Locale, Key, ID, Type, Value, Err, Auto, Hint string
	Required                                      bool
}

// newField: key names the input and its label text; id is the field path
// used for errors; hint is a text key or "".
func newField(locale, key, id, typ, value string, required bool, errs map[string]string, auto, hint string) fieldView {
	return fieldView{Locale: locale, Key: key, ID: id, Type: typ, Value: value, Err: errs[id], Auto: auto,
		Required: required, Hint: hint}
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

// kindLabel names a kind (its API value) in locale, from law/kind: the
// form, the status page and the notices share the one table.
func kindLabel(locale, value string) string {
	if k, err := kind.Parse(value); err == nil {
		return k.Label(locale)
	}
	return value
}

// mayCharge: the kind may carry a fee (APPI Art. 38), per law/fee.
func mayCharge(value string) bool {
	k, err := kind.Parse(value)
	return err == nil && fee.MayCharge(k)
}

type formPage struct {
	base
	Kinds   []kindOption
	FeeText string
	Form    Submission
	AsAgent bool
	// Kept are files kept from an earlier attempt, by purpose.
	Kept   map[string]*Document
	Errors map[string]string
	Order  []string // error fields in page order, for the summary
	// Receipt page.
	Accepted *Accepted
	Due      time.Time
	Fee      bool
}

var fieldOrder = []string{"kind", "subject.name", "subject.name_kana", "subject.email", "subject.phone",
	"subject.member_id", "details", "correction", "disclosure_method", "agent.name", "agent.email", "agent.phone",
	"agent.relationship", "documents.authority", "documents.agent_id", "documents", "jurisdiction", "locale"}

func (h *HTTP) formPage(locale string) formPage {
	p := formPage{base: base{Locale: locale, Other: "/en", TitleKey: "title"}, Kept: map[string]*Document{}}
	if locale == "en" {
		p.Other = "/"
	}
	if h.DisclosureFeeJPY > 0 {
		p.FeeText = textf(locale, "fee_amount", formatYen(locale, int64(h.DisclosureFeeJPY)))
	} else {
		p.FeeText = text(locale, "fee")
	}
	// The rights of policy §5, in the order law/kind gives (the policy's).
	for _, k := range kind.All() {
		p.Kinds = append(p.Kinds, kindOption{Value: string(k), Label: k.Label(locale),
			Explain: k.Summary(locale), Fee: fee.MayCharge(k)})
	}
	return p
}

func (h *HTTP) handleForm(locale string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := h.formPage(locale)
		p.Form.Kind = r.URL.Query().Get("kind")
		h.render(w, http.StatusOK, "form.html", p)
	}
}

// submissionFrom builds a Submission from form fields: the same struct the
// JSON API decodes, so both go through one validation and one Submit.
func submissionFrom(fd formData, locale string) (Submission, bool) {
	f := fd.Values
	sub := Submission{
		Kind: f.Get("kind"), Jurisdiction: f.Get("jurisdiction"), Locale: locale, Details: f.Get("details"),
		Correction: f.Get("correction"), DisclosureMethod: f.Get("disclosure_method"),
		Subject: SubjectInput{Name: f.Get("name"), NameKana: f.Get("name_kana"), Email: f.Get("email"),
			Phone: f.Get("phone"), MemberID: f.Get("member_id")},
	}
	asAgent := f.Get("as_agent") == "on"
	if asAgent {
		sub.Agent = &AgentInput{Name: f.Get("agent_name"), Email: f.Get("agent_email"),
			Phone: f.Get("agent_phone"), Relationship: f.Get("agent_relationship")}
		// Files chosen while "as agent" was unticked are ignored with it.
		sub.Documents = fd.documents()
	}
	return sub, asAgent
}

// handleFormSubmit is POST /requests from the HTML form (multipart with
// files, or urlencoded). On invalid input the form is shown again with every
// value the person typed, valid files kept, and a message next to each field.
func (h *HTTP) handleFormSubmit(w http.ResponseWriter, r *http.Request) {
	fd, err := parseForm(w, r)
	locale := fd.Values.Get("locale")
	if locale != "en" {
		locale = "ja"
	}
	if err != nil {
		h.renderMessage(w, http.StatusBadRequest, locale, "badform_title", "badform_text")
		return
	}
	sub, asAgent := submissionFrom(fd, locale)
	// Files kept from an earlier attempt: known ones carry their type and
	// size for the page; unknown or expired ones are dropped (the required
	// check then asks for the file again).
	docs := sub.Documents[:0]
	for _, d := range sub.Documents {
		if d.Pending != "" {
			kept, ok, err := h.Service.PendingDocument(r.Context(), d.Purpose, d.Pending)
			if err != nil {
				h.Log.Error().Err(err).Msg("kept upload lookup failed")
			}
			if !ok {
				continue
			}
			d = kept
		}
		docs = append(docs, d)
	}
	sub.Documents = docs

	// The form token makes a double click or a browser resubmit idempotent.
	acc, err := h.Service.Submit(r.Context(), sub, formKey(fd.Values.Get("form_token")))
	p := h.formPage(locale)
	sub.Normalise() // what Submit saw: show the values as validated
	p.Form, p.AsAgent = sub, asAgent
	var verr *ValidationError
	var qerr *MailQuotaError
	switch {
	case errors.As(err, &verr):
		p.Errors = verr.Fields.Localise(locale)
		h.keepDocuments(r.Context(), &p, verr.Fields)
		p.Order = errorOrder(p.Errors)
		h.render(w, http.StatusUnprocessableEntity, "form.html", p)
	case errors.Is(err, ErrIdempotencyConflict):
		// The same page sent twice with different content: a new form token
		// (the page is rendered again) makes the next send a new request.
		p.Errors = map[string]string{"_": text(locale, "error.unavailable")}
		p.Order = []string{"_"}
		h.keepDocuments(r.Context(), &p, nil)
		h.render(w, http.StatusConflict, "form.html", p)
	case errors.As(err, &qerr):
		// Nothing is stored, not even the new files: tomorrow they are
		// chosen again (a kept file would not last until then).
		w.Header().Set("Retry-After", retryAfter(qerr.RetryAfter))
		p.Errors = map[string]string{"_": sentences(locale, mailQuotaText(locale, qerr.Limit), text(locale, "error.typed_kept"))}
		p.Order = []string{"_"}
		keepClaimed(&p)
		h.render(w, http.StatusTooManyRequests, "form.html", p)
	case err != nil:
		h.Log.Error().Err(err).Msg("form submission failed")
		p.Errors = map[string]string{"_": text(locale, "error.unavailable")}
		p.Order = []string{"_"}
		h.keepDocuments(r.Context(), &p, nil)
		h.render(w, http.StatusServiceUnavailable, "form.html", p)
	default:
		p.Accepted = &acc
		p.Fee = mayCharge(sub.Kind)
		p.Due = h.dueDate(r.Context(), acc.Receipt)
		p.TitleKey = "receipt_title"
		p.Other = ""
		h.render(w, http.StatusOK, "receipt.html", p)
	}
}

// keepDocuments stores the valid new files of a failed attempt so that the
// page can carry their claims instead of asking for them again.
func (h *HTTP) keepDocuments(ctx context.Context, p *formPage, errs FieldErrors) {
	for _, d := range p.Form.Documents {
		switch {
		case d.Pending != "":
			if _, bad := errs["documents."+d.Purpose]; !bad {
				p.Kept[d.Purpose] = &d
			}
		case documentOK(errs, d):
			kept, err := h.Service.KeepDocument(ctx, d)
			if err != nil {
				h.Log.Error().Err(err).Msg("keeping an upload failed")
				continue
			}
			p.Kept[d.Purpose] = &kept
		}
	}
}

// keepClaimed carries the files kept from an earlier attempt on to the
// page again, storing nothing new.
func keepClaimed(p *formPage) {
	for _, d := range p.Form.Documents {
		if d.Pending != "" {
			p.Kept[d.Purpose] = &d
		}
	}
}

// mailQuotaText tells the person that the address has had its day's
// request mails and when to send again; it names no address.
func mailQuotaText(locale string, limit int) string {
	return textf(locale, "error.mail_quota", limit)
}

// sentences joins sentences as the language does (Japanese without spaces).
func sentences(locale string, ss ...string) string {
	if locale == "ja" {
		return strings.Join(ss, "")
	}
	return strings.Join(ss, " ")
}

// dueDate asks the workflow for the due date, waiting briefly for it to
// start; zero when it has not reported one in time.
func (h *HTTP) dueDate(ctx context.Context, receipt string) time.Time {
	wait := h.ReceiptWait
	if wait == 0 {
		wait = 3 * time.Second
	}
	if h.Requests == nil || wait < 0 {
		return time.Time{}
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		st, err := h.Requests.Status(ctx, receipt)
		if err == nil && st.GetDueAt() != nil {
			return st.GetDueAt().AsTime()
		}
		select {
		case <-ctx.Done():
			return time.Time{}
		case <-time.After(150 * time.Millisecond):
		}
	}
}

func errorOrder(errs map[string]string) []string {
	var order []string
	seen := map[string]bool{}
	for _, f := range fieldOrder {
		if _, ok := errs[f]; ok {
			order, seen[f] = append(order, f), true
		}
	}
	for f := range errs {
		if !seen[f] {
			order = append(order, f)
		}
	}
	return order
}

// formKey makes the idempotency key of a form page from its token; a
// token the page cannot have carried (tampered with) gives no key.
func formKey(token string) string {
	token = strings.TrimSpace(token)
	if token == "" || len(token) > 100 {
		return ""
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return ""
		}
	}
	return "form:" + token
}

func (h *HTTP) render(w http.ResponseWriter, status int, name string, p any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pageTemplates.ExecuteTemplate(w, name, p); err != nil {
		h.Log.Error().Err(err).Str("template", name).Msg("render failed")
	}
}

// messagePage is a page with a title and one paragraph.
type messagePage struct {
	base
	TextKey string
	Back    string
}

func (h *HTTP) renderMessage(w http.ResponseWriter, status int, locale, titleKey, textKey string) {
	back := "/"
	if locale == "en" {
		back = "/en"
	}
	h.render(w, status, "message.html", messagePage{base: base{Locale: locale, TitleKey: titleKey}, TextKey: textKey, Back: back})
}
