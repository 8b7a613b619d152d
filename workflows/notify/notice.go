// Package notify writes and sends the e-mail notices of a privacy request:
// receipt, verification code, reminders, fee instructions, extension,
// decision with reasons, completion, withdrawal, and the notices to an
// entrusting company (委託元) and to staff.
//
// Render turns a Notice into subject and bodies from the embedded templates
// (templates/ja, templates/en), chosen by the request's locale. Each notice
// kind may use only the data fields listed for it (see fieldsFor); the
// templates run with missingkey=error, so a template that reaches for a field
// its kind does not carry — say, a download link in the notice to an
// entrusting company — fails to render instead of leaking it. Render also
// refuses a notice that lacks a field its kind needs.
//
// Sender delivers a rendered notice over SMTP (net/smtp): in production to
// the relay named by SMTP_ADDR, always upgraded with STARTTLS (the server's
// certificate verified) and authenticated with AUTH PLAIN inside it; in dev
// and tests to the mail catcher (platform/devinfra.Mailpit) on a loopback
// address, the only place a Sender sends in clear. Activities wraps it for a
// Temporal worker.
//
// All dates are shown in Japan time (JST, UTC+9), the zone the deadlines are
// counted in by default: ja as 2026年11月26日(木), en as Thu 26 Nov 2026.
// Amounts are shown as ¥1,000.
//
// Personal data: notices to the person carry only what the person needs
// (no name); the entrusting company's notice carries the receipt number and
// the kind of request only; the staff alert carries the receipt and the
// reason. Errors never contain a recipient address, a field value or a body.
package notify

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"madoguchi.dev/law/grounds"
	"madoguchi.dev/law/kind"
)

// Kind is a kind of notice. The values are stable (they name the template
// files and appear in the X-Madoguchi-Notice header).
type Kind string

// The notice kinds.
const (
	// To the person.
	Receipt              Kind = "receipt"               // request received
	VerificationCode     Kind = "verification_code"     // the one-time code
	VerificationReminder Kind = "verification_reminder" // code not yet entered
	Unverified           Kind = "unverified"            // closed: not verified in time
	FeeInstructions      Kind = "fee_instructions"      // how much and how to pay
	FeeReminder          Kind = "fee_reminder"          // fee not yet paid
	Unpaid               Kind = "unpaid"                // closed: fee not paid in time
	Extension            Kind = "extension"             // answer due date moved, with reason
	Decision             Kind = "decision"              // approve / refuse / partially refuse, with reasons
	Completion           Kind = "completion"            // done; optional download link
	Withdrawn            Kind = "withdrawn"             // the person withdrew
	DuplicateLinked      Kind = "duplicate_linked"      // merged into an earlier request
	DownloadCode         Kind = "download_code"         // the one-time code that opens a disclosure package
	// To the entrusting company's contact (委託元).
	EntrustedNotice   Kind = "entrusted_notice"   // please instruct proceed/decline by a date
	EntrustedReminder Kind = "entrusted_reminder" // no instruction yet
	// To the staff mailbox.
	StaffAlert Kind = "staff_alert" // deadline near, escalation
)

// Kinds returns every Kind. A new slice each call.
func Kinds() []Kind {
	return []Kind{
		Receipt, VerificationCode, VerificationReminder, Unverified,
		FeeInstructions, FeeReminder, Unpaid, Extension, Decision, Completion,
		Withdrawn, DuplicateLinked, DownloadCode, EntrustedNotice, EntrustedReminder, StaffAlert,
	}
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { _, ok := fieldsFor(k); return ok }

// Locales.
const (
	LocaleJA = "ja"
	LocaleEN = "en"
)

// Notice is one e-mail to send.
type Notice struct {
	// ID is a caller-supplied id, stable across retries of the same notice
	// (e.g. "<request id>.verification_code.1"); the Message-ID is derived
	// from it so that a resent copy can be recognised.
	ID     string `json:"id"`
	Kind   Kind   `json:"kind"`
	Locale string `json:"locale"` // "ja" or "en", exactly
	To     string `json:"to"`     // one address
	Data   Data   `json:"data"`
}

// Data is what the templates may show. Which fields a kind may use, and
// which it needs, is fixed in fieldsFor; the others are ignored. Zero times
// and empty strings mean "not given".
type Data struct {
	Receipt      string            `json:"receipt,omitempty"`
	RequestKind  kind.Kind         `json:"request_kind,omitempty"` // shown as its ja/en label
	Jurisdiction kind.Jurisdiction `json:"jurisdiction,omitempty"` // JP, EU, US-CA

	ReceivedAt    time.Time `json:"received_at,omitzero"`
	DueAt         time.Time `json:"due_at,omitzero"`          // answer, payment, instruction or verification due
	PreviousDueAt time.Time `json:"previous_due_at,omitzero"` // Extension: the due date before

	Code         string    `json:"code,omitempty"`      // VerificationCode, DownloadCode
	ExpiresAt    time.Time `json:"expires_at,omitzero"` // code expiry / verification window end
	AttemptsLeft int       `json:"attempts_left,omitempty"`

	FeeJPY              int    `json:"fee_jpy,omitempty"`
	PaymentInstructions string `json:"payment_instructions,omitempty"`

	Outcome    grounds.Outcome       `json:"outcome,omitempty"` // Decision
	Reason     grounds.RefusalReason `json:"reason,omitempty"`  // Decision: refusal code (wording from package grounds)
	ReasonText string                `json:"reason_text,omitempty"`

	DownloadURL string `json:"download_url,omitempty"`
	// DownloadNeedsCode: opening the link asks for a one-time code mailed
	// to the same address (packages since identity-2026-12).
	DownloadNeedsCode bool      `json:"download_needs_code,omitempty"`
	DownloadExpiresAt time.Time `json:"download_expires_at,omitzero"`
	StatusURL         string    `json:"status_url,omitempty"`

	CompanyName   string `json:"company_name,omitempty"`   // entrusting company
	LinkedReceipt string `json:"linked_receipt,omitempty"` // DuplicateLinked: the request this one joined
}

// Field names, as used in fieldsFor and the templates.
const (
	fReceipt           = "Receipt"
	fKindLabel         = "KindLabel"
	fJurisdiction      = "Jurisdiction"
	fReceivedAt        = "ReceivedAt"
	fDueAt             = "DueAt"
	fPreviousDueAt     = "PreviousDueAt"
	fCode              = "Code"
	fExpiresAt         = "ExpiresAt"
	fAttemptsLeft      = "AttemptsLeft"
	fFee               = "Fee"
	fPayment           = "PaymentInstructions"
	fOutcome           = "Outcome"
	fReason            = "Reason"
	fReasonText        = "ReasonText"
	fDownloadURL       = "DownloadURL"
	fDownloadExpiresAt = "DownloadExpiresAt"
	fStatusURL         = "StatusURL"
	fCompanyName       = "CompanyName"
	fLinkedReceipt     = "LinkedReceipt"
)

// fields lists what a kind may show (allowed) and must be given (required).
type fields struct{ allowed, required []string }

func fieldsFor(k Kind) (fields, bool) {
	req := func(f ...string) []string { return f }
	switch k {
	case Receipt:
		return fields{req(fReceipt, fKindLabel, fJurisdiction, fReceivedAt, fDueAt, fStatusURL),
			req(fReceipt, fKindLabel, fJurisdiction, fReceivedAt)}, true
	case VerificationCode:
		return fields{req(fReceipt, fKindLabel, fCode, fExpiresAt, fAttemptsLeft, fStatusURL),
			req(fReceipt, fKindLabel, fCode, fExpiresAt)}, true
	case DownloadCode:
		// The code alone: never the link it opens, which the person has.
		return fields{req(fReceipt, fKindLabel, fCode, fExpiresAt),
			req(fReceipt, fKindLabel, fCode, fExpiresAt)}, true
	case VerificationReminder:
		return fields{req(fReceipt, fKindLabel, fExpiresAt, fStatusURL),
			req(fReceipt, fKindLabel, fExpiresAt)}, true
	case Unverified:
		return fields{req(fReceipt, fKindLabel, fStatusURL), req(fReceipt, fKindLabel)}, true
	case FeeInstructions, FeeReminder:
		return fields{req(fReceipt, fKindLabel, fFee, fPayment, fDueAt, fStatusURL),
			req(fReceipt, fKindLabel, fFee, fPayment, fDueAt)}, true
	case Unpaid:
		return fields{req(fReceipt, fKindLabel, fFee), req(fReceipt, fKindLabel, fFee)}, true
	case Extension:
		return fields{req(fReceipt, fKindLabel, fJurisdiction, fDueAt, fPreviousDueAt, fReasonText, fStatusURL),
			req(fReceipt, fKindLabel, fJurisdiction, fDueAt, fReasonText)}, true
	case Decision:
		return fields{req(fReceipt, fKindLabel, fJurisdiction, fOutcome, fReason, fReasonText, fDueAt, fStatusURL),
			req(fReceipt, fKindLabel, fJurisdiction, fOutcome)}, true
	case Completion:
		return fields{req(fReceipt, fKindLabel, fJurisdiction, fDownloadURL, fDownloadExpiresAt, fStatusURL),
			req(fReceipt, fKindLabel, fJurisdiction)}, true
	case Withdrawn:
		return fields{req(fReceipt, fKindLabel), req(fReceipt, fKindLabel)}, true
	case DuplicateLinked:
		return fields{req(fReceipt, fKindLabel, fLinkedReceipt, fStatusURL),
			req(fReceipt, fKindLabel, fLinkedReceipt)}, true
	case EntrustedNotice, EntrustedReminder:
		// Receipt and kind of request only: never the person's name,
		// address, code, links or free text.
		return fields{req(fReceipt, fKindLabel, fCompanyName, fReceivedAt, fDueAt),
			req(fReceipt, fKindLabel, fCompanyName, fDueAt)}, true
	case StaffAlert:
		return fields{req(fReceipt, fKindLabel, fJurisdiction, fDueAt, fReasonText),
			req(fReceipt, fReasonText)}, true
	}
	return fields{}, false
}

// ErrInvalidNotice is returned (wrapped) by Render and Send for a notice
// that cannot be written: unknown kind or locale, a missing or malformed
// field. The message names the field, never its value. Retrying does not
// help.
var ErrInvalidNotice = errors.New("notify: invalid notice")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidNotice}, args...)...)
}

// given reports whether field f of d is set.
func (d Data) given(f string) bool {
	switch f {
	case fReceipt:
		return d.Receipt != ""
	case fKindLabel:
		return d.RequestKind != ""
	case fJurisdiction:
		return d.Jurisdiction != ""
	case fReceivedAt:
		return !d.ReceivedAt.IsZero()
	case fDueAt:
		return !d.DueAt.IsZero()
	case fPreviousDueAt:
		return !d.PreviousDueAt.IsZero()
	case fCode:
		return d.Code != ""
	case fExpiresAt:
		return !d.ExpiresAt.IsZero()
	case fAttemptsLeft:
		return d.AttemptsLeft > 0
	case fFee:
		return d.FeeJPY > 0
	case fPayment:
		return d.PaymentInstructions != ""
	case fOutcome:
		return d.Outcome != ""
	case fReason:
		return d.Reason != ""
	case fReasonText:
		return d.ReasonText != ""
	case fDownloadURL:
		return d.DownloadURL != ""
	case fDownloadExpiresAt:
		return !d.DownloadExpiresAt.IsZero()
	case fStatusURL:
		return d.StatusURL != ""
	case fCompanyName:
		return d.CompanyName != ""
	case fLinkedReceipt:
		return d.LinkedReceipt != ""
	}
	return false
}

// validate checks the notice before rendering.
func (n Notice) validate() (fields, error) {
	fs, ok := fieldsFor(n.Kind)
	if !ok {
		return fields{}, invalid("unknown kind %q", string(n.Kind))
	}
	if n.Locale != LocaleJA && n.Locale != LocaleEN {
		return fields{}, invalid("unsupported locale %q", n.Locale)
	}
	for _, f := range fs.required {
		if !n.Data.given(f) {
			return fields{}, invalid("%s notice needs %s", n.Kind, f)
		}
	}
	d := n.Data
	has := func(f string) bool {
		for _, a := range fs.allowed {
			if a == f {
				return true
			}
		}
		return false
	}
	if has(fKindLabel) && d.RequestKind != "" && !d.RequestKind.Valid() {
		return fields{}, invalid("unknown request kind %q", string(d.RequestKind))
	}
	if has(fJurisdiction) && d.Jurisdiction != "" && !d.Jurisdiction.Valid() {
		return fields{}, invalid("unknown jurisdiction %q", string(d.Jurisdiction))
	}
	if has(fFee) && d.FeeJPY < 0 {
		return fields{}, invalid("negative FeeJPY")
	}
	if n.Kind == Decision {
		dec := grounds.Decision{Outcome: d.Outcome, Reason: d.Reason, Explanation: d.ReasonText}
		if err := dec.Validate(); err != nil {
			// grounds' errors quote only the code, not free text.
			return fields{}, invalid("decision: %v", err)
		}
	}
	if has(fDownloadURL) && d.DownloadURL != "" {
		if err := checkURL(d.DownloadURL); err != nil {
			return fields{}, invalid("DownloadURL %v", err)
		}
		if d.DownloadExpiresAt.IsZero() {
			return fields{}, invalid("%s notice with DownloadURL needs DownloadExpiresAt", n.Kind)
		}
	}
	if has(fStatusURL) && d.StatusURL != "" {
		if err := checkURL(d.StatusURL); err != nil {
			return fields{}, invalid("StatusURL %v", err)
		}
	}
	return fs, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("is not an absolute http(s) URL")
	}
	return nil
}
