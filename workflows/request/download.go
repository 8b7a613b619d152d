package request

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/law/verification"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// A disclosure package delivered since ChangeIdentity202612 is not opened
// by its link alone. The link is mailed to the person; opening the package
// asks for a fresh one-time code mailed to the same address. The package
// has a workflow of its own, DisclosurePackage, started abandoned by the
// request's workflow: it mails the codes, checks them, counts the
// downloads, answers staff's query and purges the package when it expires.
// This file is deterministic workflow code.

// Defaults of DownloadPolicy.
const (
	DefaultDownloadCodeTTL     = 15 * time.Minute
	DefaultDownloadMaxCodes    = 10
	DefaultDownloadMaxAttempts = 5
)

// DownloadPolicy limits the one-time codes that open a disclosure package.
// Zero fields take the defaults.
type DownloadPolicy struct {
	// CodeTTL is how long a download code works.
	CodeTTL time.Duration `json:"code_ttl"`
	// MaxCodes is how many codes may be mailed for one package.
	MaxCodes int `json:"max_codes"`
	// MaxAttempts is how many wrong entries kill a code.
	MaxAttempts int `json:"max_attempts"`
}

// DefaultDownloadPolicy is 15 minutes, 10 codes, 5 attempts per code.
func DefaultDownloadPolicy() DownloadPolicy { return DownloadPolicy{}.normalized() }

func (p DownloadPolicy) normalized() DownloadPolicy {
	if p.CodeTTL <= 0 {
		p.CodeTTL = DefaultDownloadCodeTTL
	}
	if p.MaxCodes <= 0 {
		p.MaxCodes = DefaultDownloadMaxCodes
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultDownloadMaxAttempts
	}
	return p
}

// deliverPackage stores the package under the request's download token and
// starts the package's workflow; the caller then sends the completion
// notice with the returned link source, so the link arrives only once its
// package can be opened. History keeps the package id and the sealed
// secret, never the token.
func (r *run) deliverPackage(ctx, actx workflow.Context, results map[string]*dsrv1.HolderResult) (StoredPackage, *DownloadLink, error) {
	var exports []*dsrv1.Sealed
	var holders []string
	for _, h := range r.prepared.Plan.Holders {
		if ex := results[h.Name].GetExport(); ex != nil {
			exports, holders = append(exports, ex), append(holders, h.Name)
		}
	}
	expires := workflow.Now(ctx).Add(r.prepared.Settings.PackageTTL)
	var ref StoredPackage
	err := workflow.ExecuteActivity(actx, a.StorePackage, StoreInput{PackageInput: PackageInput{RequestID: r.in.GetRequestId(),
		Receipt: r.in.GetReceipt(), Locale: r.in.GetLocale(), Kind: contract.KindName(r.in.GetKind()),
		Exports: exports, ExportHolders: holders, ExpiresAt: expires}, Secret: r.prepared.DownloadSecret}).Get(ctx, &ref)
	if err != nil {
		return ref, nil, fmt.Errorf("store package: %w", err)
	}
	r.packageID, r.packageExpiry = ref.ID, ref.ExpiresAt
	r.event(ctx, "package_ready", "system", fmt.Sprintf("%d holder export(s)", len(exports)))
	// The package's workflow outlives this one: started abandoned.
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        contract.PackageWorkflowID(ref.ID),
		TaskQueue:         contract.TaskQueue,
		ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, contract.PackageWorkflowType, DisclosurePackageInput{
		PackageID: ref.ID, RequestID: r.in.GetRequestId(), Receipt: r.in.GetReceipt(), Locale: r.in.GetLocale(),
		Kind: contract.KindName(r.in.GetKind()), Jurisdiction: r.in.GetJurisdiction(), Personal: r.in.GetPersonal(),
		Secret: r.prepared.DownloadSecret, ExpiresAt: ref.ExpiresAt, Policy: r.prepared.Settings.Download})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return ref, nil, fmt.Errorf("start package workflow: %w", err)
	}
	return ref, &DownloadLink{RequestID: r.in.GetRequestId(), Secret: r.prepared.DownloadSecret}, nil
}

// DisclosurePackageInput starts a package's workflow. Personal data and the
// secret come sealed.
type DisclosurePackageInput struct {
	PackageID    string `json:"package_id"`
	RequestID    string `json:"request_id"`
	Receipt      string `json:"receipt"`
	Locale       string `json:"locale"`
	Kind         string `json:"kind"`
	Jurisdiction string `json:"jurisdiction"`
	// Personal resolves the address the codes go to: the one the link went
	// to (the agent's, when an agent filed).
	Personal *dsrv1.Sealed `json:"personal"`
	// Secret is the request's download secret, sealed under the
	// worker-only ring; codes and their MACs are derived from it.
	Secret    *dsrv1.Sealed  `json:"secret"`
	ExpiresAt time.Time      `json:"expires_at"`
	Policy    DownloadPolicy `json:"policy"`
}

// downloadCode is the live code of a package: its issue number, its keyed
// MAC (never the code), when it expires and the wrong entries against it.
type downloadCode struct {
	Issue     int
	MAC       []byte
	ExpiresAt time.Time
	Attempts  int
}

// packageRun is one package's state, shared by its handlers.
type packageRun struct {
	in     DisclosurePackageInput
	policy DownloadPolicy
	// codes counts the codes issued (a number is taken before it is mailed).
	codes int
	// current is the one code that opens the package now; nil when none
	// was asked for, or the last was used, locked or replaced.
	current      *downloadCode
	checking     bool
	downloads    int
	lastDownload time.Time
	over         bool // the package's lifetime has ended
	purged       bool
}

var errPackageOver = errors.New("the download link has expired")

// DisclosurePackage keeps one disclosure package: it mails one-time codes
// on request (RequestDownloadCode) to the address the link was mailed to,
// opens the package for the right code once and counts it (OpenPackage),
// answers the "package" query without personal data, and purges the
// package when it expires.
func DisclosurePackage(ctx workflow.Context, in DisclosurePackageInput) error {
	if in.PackageID == "" || in.RequestID == "" || in.Secret == nil || in.Personal == nil {
		return temporal.NewNonRetryableApplicationError("input lacks package id, request id, secret or personal data", "InvalidInput", nil)
	}
	p := &packageRun{in: in, policy: in.Policy.normalized()}
	if err := p.register(ctx); err != nil {
		return err
	}
	timer := workflow.NewTimerWithOptions(ctx, until(ctx, in.ExpiresAt), workflow.TimerOptions{Summary: "Package expiry"})
	if err := timer.Get(ctx, nil); err != nil {
		return err
	}
	p.over = true
	// Let a code check in flight answer before the package goes.
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	if err := workflow.ExecuteActivity(activityContext(ctx), a.PurgePackage, in.PackageID).Get(ctx, nil); err != nil {
		return fmt.Errorf("purge package: %w", err)
	}
	p.purged = true
	return nil
}

func (p *packageRun) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, contract.QueryPackage, func() (*dsrv1.PackageStatus, error) {
		return p.status(), nil
	}, workflow.QueryHandlerOptions{Description: "How the package was used, without personal data"}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, contract.UpdateRequestDownloadCode, p.onRequestCode(),
		workflow.UpdateHandlerOptions{Validator: p.validateRequestCode(ctx),
			Description: "The person asks for a code to open the package"}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, contract.UpdateOpenPackage, p.onOpen(),
		workflow.UpdateHandlerOptions{Validator: p.validateOpen(ctx), Description: "The person enters the e-mailed code"})
}

func (p *packageRun) closed(ctx workflow.Context) bool {
	return p.over || !workflow.Now(ctx).Before(p.in.ExpiresAt)
}

func (p *packageRun) codesLeft() int { return max(p.policy.MaxCodes-p.codes, 0) }

// live is the code that may be entered now, if any.
func (p *packageRun) live(ctx workflow.Context) *downloadCode {
	if c := p.current; c != nil && workflow.Now(ctx).Before(c.ExpiresAt) {
		return c
	}
	return nil
}

func (p *packageRun) validateRequestCode(ctx workflow.Context) func(*dsrv1.RequestDownloadCode) error {
	return func(*dsrv1.RequestDownloadCode) error {
		switch {
		case p.closed(ctx):
			return errPackageOver
		case p.codesLeft() == 0:
			return fmt.Errorf("no more codes can be sent for this package (at most %d)", p.policy.MaxCodes)
		}
		return nil
	}
}

// Handlers block on their own context (each runs as a coroutine of its own).

func (p *packageRun) onRequestCode() func(workflow.Context, *dsrv1.RequestDownloadCode) (*dsrv1.RequestDownloadCodeResult, error) {
	return func(ctx workflow.Context, _ *dsrv1.RequestDownloadCode) (*dsrv1.RequestDownloadCodeResult, error) {
		n := p.codes
		p.codes++
		expires := workflow.Now(ctx).Add(p.policy.CodeTTL)
		if expires.After(p.in.ExpiresAt) {
			expires = p.in.ExpiresAt
		}
		var mac []byte
		err := workflow.ExecuteActivity(activityContext(ctx), a.IssueDownloadCode, DownloadCodeInput{PackageID: p.in.PackageID,
			RequestID: p.in.RequestID, Receipt: p.in.Receipt, Locale: p.in.Locale, Personal: p.in.Personal,
			Secret: p.in.Secret, Issue: n, ExpiresAt: expires, Kind: p.in.Kind, Jurisdiction: p.in.Jurisdiction}).Get(ctx, &mac)
		if err != nil {
			return nil, fmt.Errorf("issue download code: %w", err)
		}
		// A code mailed later replaces this one; an earlier one never
		// replaces a later one.
		if p.current == nil || p.current.Issue < n {
			p.current = &downloadCode{Issue: n, MAC: mac, ExpiresAt: expires}
		}
		return &dsrv1.RequestDownloadCodeResult{CodesLeft: int32(p.codesLeft()), ExpiresAt: timestamppb.New(expires)}, nil
	}
}

// validateOpen refuses, before anything is written to history, what cannot
// be a try: an expired package, a malformed code, no live code. So history
// grows only with tries against a live code, which the limits bound.
func (p *packageRun) validateOpen(ctx workflow.Context) func(*dsrv1.OpenPackage) error {
	return func(u *dsrv1.OpenPackage) error {
		switch {
		case p.closed(ctx):
			return errPackageOver
		case len(u.GetCode()) > 32 || !verification.ValidCodeFormat(u.GetCode()):
			return errors.New("a download code is 6 digits")
		case p.live(ctx) == nil:
			return errors.New("no download code is valid now: ask for a new one")
		}
		return nil
	}
}

func (p *packageRun) onOpen() func(workflow.Context, *dsrv1.OpenPackage) (*dsrv1.OpenPackageResult, error) {
	return func(ctx workflow.Context, u *dsrv1.OpenPackage) (*dsrv1.OpenPackageResult, error) {
		// One check at a time: two entries never race for a code's attempts.
		if err := workflow.Await(ctx, func() bool { return !p.checking }); err != nil {
			return nil, err
		}
		p.checking = true
		defer func() { p.checking = false }()
		res := &dsrv1.OpenPackageResult{Outcome: dsrv1.OpenOutcome_OPEN_OUTCOME_EXPIRED,
			PackageExpiresAt: timestamppb.New(p.in.ExpiresAt)}
		c := p.live(ctx)
		if c == nil || p.closed(ctx) {
			res.CodesLeft = int32(p.codesLeft())
			return res, nil
		}
		// The MAC is computed where the secret can be opened; workflow code
		// sees only MACs.
		var mac []byte
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{ScheduleToCloseTimeout: 10 * time.Second})
		err := workflow.ExecuteLocalActivity(lctx, a.DownloadCodeMAC, CodeMACInput{RequestID: p.in.RequestID,
			Secret: p.in.Secret, Issue: c.Issue, Code: verification.NormalizeCode(u.GetCode())}).Get(ctx, &mac)
		if err != nil {
			return nil, fmt.Errorf("check download code: %w", err)
		}
		res.CodesLeft = int32(p.codesLeft())
		// Replaced by a newer code or expired while it was checked.
		if p.current != c || p.live(ctx) != c || p.closed(ctx) {
			return res, nil
		}
		if hmac.Equal(mac, c.MAC) {
			// Used: the next opening needs a new code.
			p.current = nil
			p.downloads++
			p.lastDownload = workflow.Now(ctx)
			res.Outcome = dsrv1.OpenOutcome_OPEN_OUTCOME_OPENED
			return res, nil
		}
		c.Attempts++
		if c.Attempts >= p.policy.MaxAttempts {
			p.current = nil
			res.Outcome = dsrv1.OpenOutcome_OPEN_OUTCOME_LOCKED
			return res, nil
		}
		res.Outcome = dsrv1.OpenOutcome_OPEN_OUTCOME_WRONG
		res.AttemptsLeft = int32(p.policy.MaxAttempts - c.Attempts)
		return res, nil
	}
}

// status answers the "package" query: counts and times, no personal data.
func (p *packageRun) status() *dsrv1.PackageStatus {
	return &dsrv1.PackageStatus{PackageId: p.in.PackageID, Receipt: p.in.Receipt, Downloads: int32(p.downloads),
		LastDownloadAt: ts(p.lastDownload), CodesIssued: int32(p.codes), CodesLeft: int32(p.codesLeft()),
		ExpiresAt: ts(p.in.ExpiresAt), Purged: p.purged}
}
