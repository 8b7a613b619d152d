package request

import (
	"context"
	"time"

	"madoguchi.dev/law/grounds"
	"madoguchi.dev/law/kind"
	"madoguchi.dev/workflows/notify"
)

// NotifyMailer delivers notices with workflows/notify (templates + SMTP).
type NotifyMailer struct {
	Sender *notify.Sender
	// PaymentInstructions is the operator's payment text for fee notices.
	PaymentInstructions string
}

// DefaultPaymentInstructions are fictional bank details for dev and tests.
const DefaultPaymentInstructions = "銀行振込 / Bank transfer: 山口みなと銀行 下関支店 普通 1234567 カ)ニコ (Nico Inc.) — 受付番号をご記入ください / quote your receipt number"

// Deliver renders and sends one notice; errors are already classified for
// Temporal (invalid notice or 5xx: not retryable).
func (m NotifyMailer) Deliver(ctx context.Context, mail Mail) error {
	_, err := notify.Activities{Sender: m.Sender}.SendNotice(ctx, m.Notice(mail))
	return err
}

// Notice is the notify notice a mail becomes.
func (m NotifyMailer) Notice(mail Mail) notify.Notice {
	d := mail.Data
	n := notify.Notice{ID: mail.ID, Kind: notify.Kind(mail.Kind), Locale: mail.Locale, To: mail.To, Data: notify.Data{
		Receipt: mail.Receipt, RequestKind: kind.Kind(d.Kind), Jurisdiction: kind.Jurisdiction(d.Jurisdiction),
		ReceivedAt: d.ReceivedAt, DueAt: d.DueAt, PreviousDueAt: d.PreviousDueAt, Code: d.Code,
		ExpiresAt: d.ExpiresAt, AttemptsLeft: d.AttemptsLeft, FeeJPY: d.FeeJPY,
		Outcome: grounds.Outcome(d.Decision), Reason: grounds.RefusalReason(d.ReasonCode), ReasonText: d.ReasonText,
		DownloadURL: mail.DownloadURL, DownloadNeedsCode: d.DownloadLink != nil, StatusURL: mail.StatusURL, CompanyName: d.CompanyName,
	}}
	// A notice scheduled before the named fields carries its date in
	// ExpiresAt.
	or := func(named time.Time) time.Time {
		if named.IsZero() {
			return d.ExpiresAt
		}
		return named
	}
	switch notify.Kind(mail.Kind) {
	case notify.FeeInstructions, notify.FeeReminder:
		n.Data.PaymentInstructions = m.PaymentInstructions
		if n.Data.PaymentInstructions == "" {
			n.Data.PaymentInstructions = DefaultPaymentInstructions
		}
		n.Data.DueAt, n.Data.ExpiresAt = or(d.FeeDue), time.Time{}
	case notify.Completion:
		n.Data.DownloadExpiresAt, n.Data.ExpiresAt = or(d.DownloadExpiresAt), time.Time{}
	case notify.EntrustedNotice, notify.EntrustedReminder:
		n.Data.DueAt, n.Data.ExpiresAt = or(d.ReplyDue), time.Time{}
	case notify.StaffAlert:
		n.Data.ReasonText = d.Alert
	case notify.DuplicateLinked:
		if len(d.Linked) > 0 {
			n.Data.LinkedReceipt = d.Linked[0]
		}
	}
	return n
}
