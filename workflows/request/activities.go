package request

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/law/deadline"
	"madoguchi.dev/law/fee"
	"madoguchi.dev/law/kind"
	"madoguchi.dev/law/verification"
	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/disclosure"
	"madoguchi.dev/platform/onetime"
	"madoguchi.dev/platform/pseudonym"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/registry"
)

// Activities carry the workflow's I/O. Their inputs hold personal data only
// in sealed form, and the payload codec encrypts them in history as well.
type Activities struct {
	JS        jetstream.JetStream
	Namespace contract.Namespace
	Ring      *seal.Ring
	// Commands is the command key ring (MADOGUCHI_COMMAND_KEYS), shared with
	// the holders only: it seals what commands carry and opens their exports.
	// Nil uses Ring (a worker given one ring for everything, as in tests).
	Commands *seal.Ring
	// Packages is the ring disclosure packages are sealed with at rest
	// (MADOGUCHI_PACKAGE_KEYS), shared with the intake that serves them.
	// Nil uses Ring.
	Packages *seal.Ring
	// Codes makes verification and download codes under the worker-only
	// verification key ring (platform/onetime).
	Codes     onetime.Codes
	Pseudonym pseudonym.Key
	Registry  *registry.Registry
	Settings  Settings
	Deadline  deadline.Policy
	// Mailer sends notices (SMTP in production, the mail catcher in dev).
	Mailer Mailer
	// Temporal finds related requests (duplicates, CCPA limits) by search
	// attributes; nil disables those checks.
	Temporal client.Client
}

// Settings are the operator's knobs, fixed into each request's history at
// its start so that a change applies to new requests only.
type Settings struct {
	Verification verification.Policy `json:"verification"`
	Fee          fee.Config          `json:"fee"`
	Payment      fee.PaymentPolicy   `json:"payment"`
	// EntrustedWait is how long an entrusting company has to instruct us;
	// EntrustedReminderBefore when it is reminded.
	EntrustedWait           time.Duration `json:"entrusted_wait"`
	EntrustedReminderBefore time.Duration `json:"entrusted_reminder_before"`
	// PackageTTL is how long a disclosure package can be downloaded.
	PackageTTL time.Duration `json:"package_ttl"`
	// Download limits the one-time codes that open a package (since
	// ChangeIdentity202612; zero in older histories).
	Download DownloadPolicy `json:"download"`
	// PublicURL is where the person's pages live (status, download links).
	PublicURL string `json:"public_url"`
	// CCPAAccessLimit per 12 months (Cal. Civ. Code 1798.100(d): two).
	CCPAAccessLimit int `json:"ccpa_access_limit"`
	// StaffMailbox receives staff alerts (deadline near, escalations).
	StaffMailbox string `json:"staff_mailbox"`
}

// DefaultSettings are used where the operator sets nothing.
func DefaultSettings() Settings {
	return Settings{
		Verification:            verification.DefaultPolicy(),
		Fee:                     fee.DefaultConfig(),
		EntrustedWait:           10 * 24 * time.Hour,
		EntrustedReminderBefore: 3 * 24 * time.Hour,
		PackageTTL:              30 * 24 * time.Hour,
		Download:                DefaultDownloadPolicy(),
		PublicURL:               "http://127.0.0.1:8080",
		CCPAAccessLimit:         2,
		StaffMailbox:            "privacy-office@caresmiley.example.jp",
	}
}

// HolderPlan is one holder in a fan-out.
type HolderPlan struct {
	Name        string        `json:"name"`
	SLA         time.Duration `json:"sla"`
	MaxAttempts int           `json:"max_attempts"`
	// MemberRegistry: this holder's locate may confirm the member number.
	MemberRegistry bool `json:"member_registry,omitempty"`
}

// Plan is the fan-out for a request.
type Plan struct {
	Action  dsrv1.Action `json:"action"`
	Holders []HolderPlan `json:"holders"`
}

// Prepared is everything decided once at receipt, recorded in history so
// that a later change of registry, settings or calendar library never moves
// a running request's timers or holders.
type Prepared struct {
	Settings  Settings           `json:"settings"`
	Deadlines deadline.Deadlines `json:"deadlines"`
	WarnAt    time.Time          `json:"warn_at"`
	Fee       fee.Assessment     `json:"fee"`
	Plan      Plan               `json:"plan"`
	// Locate is the holders asked, before acting, whether they hold records
	// (and for whom, 委託) and whether the identifiers match.
	Locate []HolderPlan `json:"locate"`
	// SubjectRef is the e-mail's pseudonym: links requests without PII.
	SubjectRef string `json:"subject_ref"`
	// CodeSecret and DownloadSecret are this request's random secrets for
	// verification codes and for its download link and codes, sealed under
	// the worker-only ring (platform/onetime); absent in requests prepared
	// before ChangeIdentity202612.
	CodeSecret     *dsrv1.Sealed `json:"code_secret,omitempty"`
	DownloadSecret *dsrv1.Sealed `json:"download_secret,omitempty"`
	// MemberNumberGiven: the person typed a member number, which proves
	// nothing until a member registry confirms it by the proven contact.
	MemberNumberGiven bool `json:"member_number_given,omitempty"`
}

// ActionFor maps a request kind to what holders are told to do.
func ActionFor(k dsrv1.RequestKind) dsrv1.Action {
	switch k {
	case dsrv1.RequestKind_REQUEST_KIND_DISCLOSURE:
		return dsrv1.Action_ACTION_EXPORT
	case dsrv1.RequestKind_REQUEST_KIND_CORRECTION, dsrv1.RequestKind_REQUEST_KIND_ADDITION:
		return dsrv1.Action_ACTION_CORRECT
	case dsrv1.RequestKind_REQUEST_KIND_DELETION, dsrv1.RequestKind_REQUEST_KIND_ERASURE:
		return dsrv1.Action_ACTION_ERASE
	case dsrv1.RequestKind_REQUEST_KIND_SUSPENSION:
		return dsrv1.Action_ACTION_SUSPEND
	case dsrv1.RequestKind_REQUEST_KIND_THIRD_PARTY_STOP:
		return dsrv1.Action_ACTION_STOP_PROVISION
	case dsrv1.RequestKind_REQUEST_KIND_THIRD_PARTY_RECORD_DISCLOSURE:
		return dsrv1.Action_ACTION_EXPORT_PROVISION_RECORDS
	default:
		// 利用目的の通知 is answered from the privacy policy: no holder acts.
		return dsrv1.Action_ACTION_UNSPECIFIED
	}
}

// PrepareInput is what Prepare needs.
type PrepareInput struct {
	// RequestID scopes the request's secrets (empty in histories from
	// before ChangeIdentity202612).
	RequestID    string            `json:"request_id,omitempty"`
	Kind         dsrv1.RequestKind `json:"kind"`
	Jurisdiction string            `json:"jurisdiction"`
	ReceivedAt   time.Time         `json:"received_at"`
	Personal     *dsrv1.Sealed     `json:"personal"`
}

func plansOf(hs []registry.Holder) []HolderPlan {
	var out []HolderPlan
	for _, h := range hs {
		out = append(out, HolderPlan{Name: h.Name, SLA: h.SLA.Duration, MaxAttempts: h.MaxAttempts, MemberRegistry: h.MemberRegistry})
	}
	return out
}

// Prepare fixes the request's deadlines, fee, fan-out plan and settings.
func (a *Activities) Prepare(_ context.Context, in PrepareInput) (Prepared, error) {
	j, err := kind.ParseJurisdiction(in.Jurisdiction)
	if err != nil {
		return Prepared{}, temporal.NewNonRetryableApplicationError("unknown jurisdiction", "InvalidInput", err)
	}
	k, err := kind.Parse(contract.KindName(in.Kind))
	if err != nil {
		return Prepared{}, temporal.NewNonRetryableApplicationError("unknown kind", "InvalidInput", err)
	}
	d, err := a.Deadline.DueFor(j, k, in.ReceivedAt)
	if err != nil {
		return Prepared{}, temporal.NewNonRetryableApplicationError("deadline", "InvalidInput", err)
	}
	assessment, err := fee.Assess(k, j, false, a.Settings.Fee)
	if err != nil {
		return Prepared{}, temporal.NewNonRetryableApplicationError("fee", "InvalidInput", err)
	}
	var pd dsrv1.PersonalData
	if err := a.Ring.OpenMessage(in.Personal, &pd); err != nil {
		return Prepared{}, temporal.NewNonRetryableApplicationError("personal data envelope cannot be opened", "SealError", err)
	}
	p := Prepared{Settings: a.Settings, Deadlines: d, WarnAt: a.Deadline.WarnAt(d), Fee: assessment,
		Plan:              Plan{Action: ActionFor(in.Kind)},
		Locate:            plansOf(a.Registry.Serving(dsrv1.Action_ACTION_LOCATE)),
		SubjectRef:        a.Pseudonym.Of(pseudonym.Email, pd.GetSubject().GetEmail()),
		MemberNumberGiven: strings.TrimSpace(pd.GetSubject().GetMemberId()) != ""}
	if p.Plan.Action != dsrv1.Action_ACTION_UNSPECIFIED {
		p.Plan.Holders = plansOf(a.Registry.Serving(p.Plan.Action))
	}
	if p.CodeSecret, err = a.Codes.NewSecret(onetime.Verification, in.RequestID); err != nil {
		return Prepared{}, err
	}
	if p.DownloadSecret, err = a.Codes.NewSecret(onetime.Download, in.RequestID); err != nil {
		return Prepared{}, err
	}
	return p, nil
}

// IssueInput asks for a verification code to be issued and e-mailed.
type IssueInput struct {
	RequestID string        `json:"request_id"`
	Receipt   string        `json:"receipt"`
	Locale    string        `json:"locale"`
	Personal  *dsrv1.Sealed `json:"personal"`
	// Issue numbers the codes of one request (0 first, then resends).
	Issue     int       `json:"issue"`
	ExpiresAt time.Time `json:"expires_at"`
	// Reminder re-sends the same code's reminder instead of the code notice.
	Reminder bool `json:"reminder"`
	// Kind and Jurisdiction of the request, for the notice's wording.
	Kind         string `json:"kind"`
	Jurisdiction string `json:"jurisdiction"`
	// Secret is the request's sealed code secret (Prepared.CodeSecret); nil
	// in requests recorded before ChangeIdentity202612.
	Secret *dsrv1.Sealed `json:"secret,omitempty"`
}

// legacyCode is the code of a request recorded before
// ChangeIdentity202612, whose history holds the code's SHA-256: derived
// from the pseudonym key, so that its reminders and resends stay
// consistent until the last such request ends. New requests never use it.
func (a *Activities) legacyCode(requestID string, issue int) string {
	m := hmac.New(sha256.New, []byte(a.Pseudonym.Of(pseudonym.Type("verification-code"), requestID)))
	fmt.Fprintf(m, "%s:%d", requestID, issue)
	n := binary.BigEndian.Uint64(m.Sum(nil)[:8]) % 1_000_000
	return fmt.Sprintf("%06d", n)
}

// IssueVerificationCode e-mails the code and returns its digest: a keyed
// MAC under the request's secret (a SHA-256 for requests recorded before
// ChangeIdentity202612). A retry mails the same code.
func (a *Activities) IssueVerificationCode(ctx context.Context, in IssueInput) ([]byte, error) {
	code, digest := a.legacyCode(in.RequestID, in.Issue), []byte(nil)
	if in.Secret != nil {
		var err error
		if code, err = a.Codes.Code(in.Secret, onetime.Verification, in.RequestID, in.Issue); err != nil {
			return nil, temporal.NewNonRetryableApplicationError("verification secret cannot be opened", "SealError", err)
		}
		if digest, err = a.Codes.MAC(in.Secret, onetime.Verification, in.RequestID, in.Issue, code); err != nil {
			return nil, err
		}
	} else {
		digest = verification.HashCode(code)
	}
	kindName := NoticeVerificationCode
	data := NoticeData{Kind: in.Kind, Jurisdiction: in.Jurisdiction, ExpiresAt: in.ExpiresAt, Code: code}
	if in.Reminder {
		kindName = NoticeVerificationReminder
	}
	_, err := a.SendNotice(ctx, NoticeInput{ID: fmt.Sprintf("%s.code.%d.%t", in.RequestID, in.Issue, in.Reminder),
		Kind: kindName, To: RecipientPerson, Receipt: in.Receipt, Locale: in.Locale, Personal: in.Personal, Data: data})
	if err != nil {
		return nil, err
	}
	return digest, nil
}

// CodeDigest is a local activity: the keyed MAC of a typed code, to
// compare with the issued code's (verification.State.CheckDigest).
func (a *Activities) CodeDigest(_ context.Context, in CodeMACInput) ([]byte, error) {
	d, err := a.Codes.MAC(in.Secret, onetime.Verification, in.RequestID, in.Issue, in.Code)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("verification secret cannot be opened", "SealError", err)
	}
	return d, nil
}

// SendInput is one command to one holder.
type SendInput struct {
	RequestID   string            `json:"request_id"`
	Receipt     string            `json:"receipt"`
	Holder      string            `json:"holder"`
	Action      dsrv1.Action      `json:"action"`
	Attempt     int               `json:"attempt"`
	Personal    *dsrv1.Sealed     `json:"personal"`
	Include     []string          `json:"include,omitempty"`
	Corrections map[string]string `json:"corrections,omitempty"`
	// Phase separates the command ids of successive fan-outs of one request.
	Phase string `json:"phase"`
	// Binding is what the requester has proved so far; nil in requests
	// recorded before ChangeIdentity202612 (holders then cover only the
	// subject's e-mail address).
	Binding *CommandBinding `json:"binding,omitempty"`
}

// CommandBinding is the non-personal part of a command's dsr.v1.Binding; the
// activity adds the proven address from the sealed personal data.
type CommandBinding struct {
	MemberConfirmed  bool `json:"member_confirmed"`
	IdentityReviewed bool `json:"identity_reviewed"`
}

// ProvenEmail is the address a request's code proved control of, as far as
// the subject's records are concerned: the subject's own address, or none
// when an agent filed (the code went to the agent).
func ProvenEmail(pd *dsrv1.PersonalData) string {
	if pd.GetAgent().GetEmail() != "" {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(pd.GetSubject().GetEmail()))
}

// CommandID is stable per attempt: redelivery of one attempt deduplicates,
// a resend is a new message.
func CommandID(requestID, holder string, attempt int) string {
	return fmt.Sprintf("%s.%s.%d", requestID, holder, attempt)
}

// SendHolderCommand publishes the command. Holders get only the subject's
// identifiers, resealed: never the free text or the agent's details.
func (a *Activities) SendHolderCommand(ctx context.Context, in SendInput) error {
	var pd dsrv1.PersonalData
	if err := a.Ring.OpenMessage(in.Personal, &pd); err != nil {
		return temporal.NewNonRetryableApplicationError("personal data envelope cannot be opened", "SealError", err)
	}
	s := pd.GetSubject()
	subject, err := a.commands().Message(&dsrv1.Subject{Email: s.GetEmail(), MemberId: s.GetMemberId(),
		Phone: s.GetPhone(), Name: s.GetName(), NameKana: s.GetNameKana()})
	if err != nil {
		return err
	}
	holder := in.Holder
	if in.Phase != "" {
		holder = in.Phase + "-" + in.Holder
	}
	id := CommandID(in.RequestID, holder, in.Attempt)
	cmd := &dsrv1.HolderCommand{
		CommandId: id, RequestId: in.RequestID, Receipt: in.Receipt, Holder: in.Holder,
		Action: in.Action, Attempt: int32(in.Attempt), IssuedAt: timestamppb.Now(), Subject: subject,
		IncludeEntrusted: in.Include,
	}
	if len(in.Corrections) > 0 {
		if cmd.Corrections, err = a.commands().Message(&dsrv1.Corrections{Values: in.Corrections}); err != nil {
			return err
		}
	}
	if b := in.Binding; b != nil {
		if cmd.Binding, err = a.commands().Message(&dsrv1.Binding{ProvenEmail: ProvenEmail(&pd),
			MemberConfirmed: b.MemberConfirmed, IdentityReviewed: b.IdentityReviewed}); err != nil {
			return err
		}
	}
	_, err = bus.Publish(ctx, a.JS, a.Namespace.Command(in.Holder, contract.ActionName(in.Action)), id, in.RequestID, cmd)
	return err
}

// ErasureInput announces a completed erasure.
type ErasureInput struct {
	RequestID string        `json:"request_id"`
	Receipt   string        `json:"receipt"`
	Personal  *dsrv1.Sealed `json:"personal"`
	Holders   []string      `json:"holders"`
}

// PublishErasureCompleted publishes the event with pseudonymous ids only,
// and returns its event id (stable: a retried activity is deduplicated).
func (a *Activities) PublishErasureCompleted(ctx context.Context, in ErasureInput) (string, error) {
	var pd dsrv1.PersonalData
	if err := a.Ring.OpenMessage(in.Personal, &pd); err != nil {
		return "", temporal.NewNonRetryableApplicationError("personal data envelope cannot be opened", "SealError", err)
	}
	s := pd.GetSubject()
	var ids []string
	for _, p := range []string{a.Pseudonym.Of(pseudonym.MemberID, s.GetMemberId()), a.Pseudonym.Of(pseudonym.Email, s.GetEmail()),
		a.Pseudonym.Of(pseudonym.Phone, s.GetPhone())} {
		if p != "" {
			ids = append(ids, p)
		}
	}
	id := in.RequestID + ".erasure-completed"
	ev := &dsrv1.ErasureCompleted{EventId: id, RequestId: in.RequestID, Receipt: in.Receipt,
		SubjectPseudonyms: ids, Holders: in.Holders, CompletedAt: timestamppb.Now()}
	if _, err := bus.Publish(ctx, a.JS, a.Namespace.ErasureCompleted(), id, in.RequestID, ev); err != nil {
		return "", err
	}
	return id, nil
}

// ConcludedInput announces the end of a request (no personal data).
type ConcludedInput struct {
	RequestID    string    `json:"request_id"`
	Receipt      string    `json:"receipt"`
	Stage        string    `json:"stage"`
	ClosedReason string    `json:"closed_reason"`
	At           time.Time `json:"at"`
}

// PublishRequestConcluded tells the intake that the request has ended, so
// that its retention clock starts; a retry is deduplicated by the event id.
func (a *Activities) PublishRequestConcluded(ctx context.Context, in ConcludedInput) error {
	id := in.RequestID + ".concluded"
	ev := &dsrv1.RequestConcluded{EventId: id, RequestId: in.RequestID, Receipt: in.Receipt, Stage: in.Stage,
		ClosedReason: in.ClosedReason, ConcludedAt: timestamppb.New(in.At)}
	if _, err := bus.Publish(ctx, a.JS, a.Namespace.RequestConcluded(), id, in.RequestID, ev); err != nil {
		return fmt.Errorf("publish request concluded: %w", err)
	}
	return nil
}

// RelatedInput asks for other requests about the same person.
type RelatedInput struct {
	Receipt      string    `json:"receipt"`
	SubjectRef   string    `json:"subject_ref"`
	Kind         string    `json:"kind"`
	Jurisdiction string    `json:"jurisdiction"`
	Now          time.Time `json:"now"`
}

// Related are the other requests found.
type Related struct {
	// OpenSameKind: receipts of open requests of the same kind.
	OpenSameKind []string `json:"open_same_kind"`
	// AccessesLast12Months counts verified CCPA access requests (this one excluded).
	AccessesLast12Months int `json:"accesses_last_12_months"`
}

// FindRelated searches Temporal's visibility by the subject's pseudonym.
func (a *Activities) FindRelated(ctx context.Context, in RelatedInput) (Related, error) {
	var out Related
	if a.Temporal == nil || in.SubjectRef == "" {
		return out, nil
	}
	self := contract.WorkflowID(in.Receipt)
	q := fmt.Sprintf("%s = '%s' AND %s = '%s' AND ExecutionStatus = 'Running' AND WorkflowId != '%s'",
		contract.SASubjectRef, in.SubjectRef, contract.SAKind, in.Kind, self)
	ids, err := a.list(ctx, q)
	if err != nil {
		return out, err
	}
	for _, id := range ids {
		if r, ok := contract.ReceiptFromWorkflowID(id); ok {
			out.OpenSameKind = append(out.OpenSameKind, r)
		}
	}
	if in.Jurisdiction == contract.JurisdictionCCPA && in.Kind == "disclosure" {
		since := in.Now.AddDate(-1, 0, 0).UTC().Format(time.RFC3339)
		q := fmt.Sprintf("%s = '%s' AND %s = 'disclosure' AND %s = '%s' AND StartTime > '%s' AND WorkflowId != '%s'",
			contract.SASubjectRef, in.SubjectRef, contract.SAKind, contract.SAJurisdiction, contract.JurisdictionCCPA, since, self)
		ids, err := a.list(ctx, q)
		if err != nil {
			return out, err
		}
		out.AccessesLast12Months = len(ids)
	}
	return out, nil
}

func (a *Activities) list(ctx context.Context, query string) ([]string, error) {
	var ids []string
	var token []byte
	for {
		resp, err := a.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: query, NextPageToken: token, PageSize: 100})
		if err != nil {
			return nil, fmt.Errorf("list workflows: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return ids, nil
		}
	}
}

// ExtendInput asks for a deadline extension.
type ExtendInput struct {
	Deadlines   deadline.Deadlines `json:"deadlines"`
	RequestedAt time.Time          `json:"requested_at"`
	Reason      string             `json:"reason"`
}

// Extended is the new timing.
type Extended struct {
	Deadlines deadline.Deadlines `json:"deadlines"`
	WarnAt    time.Time          `json:"warn_at"`
}

// ExtendDeadline applies the jurisdiction's extension rule.
func (a *Activities) ExtendDeadline(_ context.Context, in ExtendInput) (Extended, error) {
	d, err := a.Deadline.Extend(in.Deadlines.Jurisdiction, in.Deadlines, in.RequestedAt, in.Reason)
	if err != nil {
		return Extended{}, temporal.NewNonRetryableApplicationError(err.Error(), "ExtensionRefused", err)
	}
	return Extended{Deadlines: d, WarnAt: a.Deadline.WarnAt(d)}, nil
}

// PackageInput assembles a disclosure package.
type PackageInput struct {
	RequestID string          `json:"request_id"`
	Receipt   string          `json:"receipt"`
	Locale    string          `json:"locale"`
	Kind      string          `json:"kind"`
	Exports   []*dsrv1.Sealed `json:"exports"`
	// ExportHolders names the holder of each export (absent in requests
	// from before ChangeIdentity202612).
	ExportHolders []string  `json:"export_holders,omitempty"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// PackageRef points at a stored package.
type PackageRef struct {
	// ID is the object name: hex SHA-256 of the token.
	ID string `json:"id"`
	// Token is the secret in the download link; it is only e-mailed.
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// AssemblePackage opens each holder's export and stores the sealed package
// (requests from before ChangeIdentity202612; since, StorePackage).
func (a *Activities) AssemblePackage(ctx context.Context, in PackageInput) (PackageRef, error) {
	pkg, err := a.assemble(in)
	if err != nil {
		return PackageRef{}, err
	}
	id, token, err := a.packages().Put(ctx, pkg)
	if err != nil {
		return PackageRef{}, err
	}
	return PackageRef{ID: id, Token: token, ExpiresAt: in.ExpiresAt}, nil
}

// assemble opens each holder's export into the package document.
func (a *Activities) assemble(in PackageInput) (disclosure.Package, error) {
	pkg := disclosure.Package{Receipt: in.Receipt, Kind: in.Kind, Locale: in.Locale, GeneratedAt: time.Now().UTC(),
		ExpiresAt: in.ExpiresAt, Holders: map[string]json.RawMessage{}}
	for i, s := range in.Exports {
		holder := ""
		if i < len(in.ExportHolders) {
			holder = in.ExportHolders[i]
		}
		var ex dsrv1.Export
		if err := a.openExport(in.RequestID, holder, s, &ex); err != nil {
			return pkg, temporal.NewNonRetryableApplicationError("export envelope cannot be opened", "SealError", err)
		}
		if !json.Valid(ex.GetJson()) {
			return pkg, temporal.NewNonRetryableApplicationError("holder "+ex.GetHolder()+" exported invalid JSON", "BadExport", nil)
		}
		pkg.Holders[ex.GetHolder()] = ex.GetJson()
	}
	return pkg, nil
}

func (a *Activities) commands() *seal.Ring {
	if a.Commands != nil {
		return a.Commands
	}
	return a.Ring
}

// openExport opens a holder's export bound to its request and holder
// (contract.ExportScope). A request from before ChangeIdentity202612 does
// not say which holder sent which export, so each registered holder is
// tried; exports sealed before exports were bound open as they were
// sealed, with the command ring or the ring of everything.
func (a *Activities) openExport(requestID, holder string, s *dsrv1.Sealed, ex *dsrv1.Export) error {
	if holder != "" {
		if err := a.commands().OpenMessageFor(s, ex, contract.ExportScope(requestID, holder)); err != nil {
			return err
		}
		if ex.GetHolder() != holder {
			return fmt.Errorf("export of %q answers as %q", holder, ex.GetHolder())
		}
		return nil
	}
	if a.Registry != nil {
		for _, h := range a.Registry.Holders {
			if a.commands().OpenMessageFor(s, ex, contract.ExportScope(requestID, h.Name)) == nil && ex.GetHolder() == h.Name {
				return nil
			}
		}
	}
	if a.commands().OpenMessage(s, ex) == nil {
		return nil
	}
	return a.Ring.OpenMessage(s, ex)
}

func (a *Activities) packages() *disclosure.Store {
	ring := a.Packages
	if ring == nil {
		ring = a.Ring
	}
	return &disclosure.Store{JS: a.JS, Namespace: a.Namespace, Ring: ring}
}

// PurgePackage deletes a package at the end of its life.
func (a *Activities) PurgePackage(ctx context.Context, id string) error {
	return a.packages().Delete(ctx, id)
}
