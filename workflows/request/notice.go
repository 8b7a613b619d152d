package request

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"madoguchi.dev/platform/metrics"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/notify"
)

// Notice kinds the workflow sends: workflows/notify's, whose templates
// render them.
const (
	NoticeReceipt              = notify.Receipt
	NoticeVerificationCode     = notify.VerificationCode
	NoticeVerificationReminder = notify.VerificationReminder
	NoticeUnverified           = notify.Unverified
	NoticeFeeInstructions      = notify.FeeInstructions
	NoticeFeeReminder          = notify.FeeReminder
	NoticeUnpaid               = notify.Unpaid
	NoticeExtension            = notify.Extension
	NoticeDecision             = notify.Decision
	NoticeCompletion           = notify.Completion
	NoticeWithdrawn            = notify.Withdrawn
	NoticeEntrusted            = notify.EntrustedNotice
	NoticeEntrustedReminder    = notify.EntrustedReminder
	NoticeDuplicateLinked      = notify.DuplicateLinked
	NoticeStaffAlert           = notify.StaffAlert
	// NoticeDownloadCode carries a one-time code opening a disclosure
	// package (sent by the package's workflow).
	NoticeDownloadCode = notify.DownloadCode
)

// Recipients.
const (
	// RecipientPerson is whoever filed: the agent when there is one.
	RecipientPerson = "person"
	// RecipientCompany is an entrusting company's business contact.
	RecipientCompany = "company"
	// RecipientStaff is the privacy office's mailbox.
	RecipientStaff = "staff"
)

// NoticeData is what a notice says besides its kind; no personal data of
// the subject (the recipient's address is resolved from the sealed data).
type NoticeData struct {
	Kind          string    `json:"kind,omitempty"`
	Jurisdiction  string    `json:"jurisdiction,omitempty"`
	ReceivedAt    time.Time `json:"received_at,omitzero"`
	DueAt         time.Time `json:"due_at,omitzero"`
	PreviousDueAt time.Time `json:"previous_due_at,omitzero"`
	// ExpiresAt is when a verification or download code expires. Notices
	// scheduled before the named fields below carried those dates here too
	// (NotifyMailer reads them by kind when the named field is empty).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// FeeDue: the fee notices' payment due date.
	FeeDue time.Time `json:"fee_due,omitzero"`
	// DownloadExpiresAt: the completion notice's package expiry.
	DownloadExpiresAt time.Time `json:"download_expires_at,omitzero"`
	// ReplyDue: the date an entrusting company is asked to answer by.
	ReplyDue time.Time `json:"reply_due,omitzero"`
	// Code is set only inside IssueVerificationCode and IssueDownloadCode,
	// never in history.
	Code          string `json:"-"`
	AttemptsLeft  int    `json:"attempts_left,omitempty"`
	FeeJPY        int    `json:"fee_jpy,omitempty"`
	Decision      string `json:"decision,omitempty"`
	ReasonCode    string `json:"reason_code,omitempty"`
	ReasonText    string `json:"reason_text,omitempty"`
	DownloadToken string `json:"download_token,omitempty"`
	// DownloadLink (since ChangeIdentity202612, in place of DownloadToken)
	// lets SendNotice derive the link itself: history keeps only the
	// sealed secret, never the token.
	DownloadLink *DownloadLink `json:"download_link,omitempty"`
	CompanyName  string        `json:"company_name,omitempty"`
	Linked       []string      `json:"linked,omitempty"`
	Holders      []string      `json:"holders,omitempty"`
	Withdrawn    bool          `json:"withdrawn,omitempty"`
	Alert        string        `json:"alert,omitempty"`
}

// DownloadLink is where a download link comes from: the request's download
// secret (sealed under the worker-only ring) and the scope it is bound to.
type DownloadLink struct {
	RequestID string        `json:"request_id"`
	Secret    *dsrv1.Sealed `json:"secret"`
}

// NoticeInput asks for one notice to be e-mailed.
type NoticeInput struct {
	// ID is stable per notice so that a retried send is recognisable.
	ID           string        `json:"id"`
	Kind         notify.Kind   `json:"kind"`
	To           string        `json:"to"`
	CompanyEmail string        `json:"company_email,omitempty"`
	Receipt      string        `json:"receipt"`
	Locale       string        `json:"locale"`
	Personal     *dsrv1.Sealed `json:"personal,omitempty"`
	Data         NoticeData    `json:"data"`
}

// Mail is a notice with its recipient and links resolved, for the Mailer.
type Mail struct {
	ID, To, Receipt, Locale string
	Kind                    notify.Kind
	// StatusURL is the person's secret status link; DownloadURL the package's.
	StatusURL, DownloadURL string
	Data                   NoticeData
}

// Mailer delivers notices (workflows/notify over SMTP).
type Mailer interface {
	Deliver(ctx context.Context, m Mail) error
}

// SendNotice resolves the recipient and delivers the notice.
func (a *Activities) SendNotice(ctx context.Context, in NoticeInput) (string, error) {
	if a.Mailer == nil {
		return "", errors.New("no mailer configured")
	}
	m := Mail{ID: in.ID, Kind: in.Kind, Receipt: in.Receipt, Locale: in.Locale, Data: in.Data}
	switch in.To {
	case RecipientPerson:
		var pd dsrv1.PersonalData
		if err := a.Ring.OpenMessage(in.Personal, &pd); err != nil {
			return "", temporal.NewNonRetryableApplicationError("personal data envelope cannot be opened", "SealError", err)
		}
		m.To = pd.GetSubject().GetEmail()
		if pd.GetAgent().GetEmail() != "" {
			m.To = pd.GetAgent().GetEmail()
		}
		if tok := pd.GetStatusToken(); tok != "" && a.Settings.PublicURL != "" {
			m.StatusURL = a.Settings.PublicURL + "/status/" + tok
		}
		if in.Data.DownloadToken != "" && a.Settings.PublicURL != "" {
			m.DownloadURL = a.Settings.PublicURL + "/download/" + in.Data.DownloadToken
		}
		if l := in.Data.DownloadLink; l != nil && a.Settings.PublicURL != "" {
			token, err := a.downloadToken(l.Secret, l.RequestID)
			if err != nil {
				return "", err
			}
			m.DownloadURL = a.Settings.PublicURL + "/download/" + token
		}
	case RecipientCompany:
		m.To = in.CompanyEmail
	case RecipientStaff:
		m.To = a.Settings.StaffMailbox
	}
	if m.To == "" {
		return "", temporal.NewNonRetryableApplicationError("notice has no recipient address", "NoRecipient", nil)
	}
	if err := a.Mailer.Deliver(ctx, m); err != nil {
		return "", err
	}
	metrics.NoticesSent.WithLabelValues(string(in.Kind)).Inc()
	return in.ID, nil
}
