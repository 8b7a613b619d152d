package staff

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"madoguchi.dev/platform/staffsig"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// Service performs staff reads and actions. Temporal must be dialled with
// the payload codec (platform/codec, or the codec server as a remote codec):
// update arguments carry personal data (corrections) and the status query's
// answer comes back encrypted.
type Service struct {
	Temporal client.Client
	Store    *Store
	// Signer signs each action for the account that acts
	// (MADOGUCHI_STAFF_SIGNING_KEY): the workflow accepts no staff action
	// without a signature. Nil: reads work, actions are refused.
	Signer *staffsig.Signer
	// Now is the clock for queries (default time.Now).
	Now func() time.Time
	// Timeout bounds one action (default 30s).
	Timeout time.Duration
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// RejectedError is a refused action: the workflow's validator said no (wrong
// stage, missing reason, …), there is no such running request, or the
// account may not act. Message is the reason, in the workflow's words.
type RejectedError struct{ Message string }

func (e *RejectedError) Error() string { return "rejected: " + e.Message }

// Outcome is what came of an action.
type Outcome struct {
	Result  Result
	Stage   string
	Message string
	Actor   string
	// Audit is the row written for the action.
	Audit AuditEntry
}

// Authenticate resolves a token to its account.
func (s *Service) Authenticate(ctx context.Context, token string) (Account, error) {
	return s.Store.Authenticate(ctx, token)
}

// Do authenticates token, signs the action for the account (its id is the
// actor the workflow records), sends it as a Temporal update and waits for
// the workflow's answer, then writes exactly one audit row. A refused
// action returns a *RejectedError (with the row written); a token that
// matches no active account returns ErrUnauthenticated (the attempt is
// recorded with actor "unauthenticated").
func (s *Service) Do(ctx context.Context, token string, a Action) (Outcome, error) {
	entry := AuditEntry{Action: a.Name, Receipt: a.Receipt, Fields: a.Fields, Reason: a.Reason}
	if receiptRE.MatchString(a.Receipt) {
		entry.WorkflowID = contract.WorkflowID(a.Receipt)
	}
	acct, err := s.Store.Authenticate(ctx, token)
	if errors.Is(err, ErrUnauthenticated) {
		entry.Actor, entry.Result, entry.Message = "unauthenticated", Rejected, "not authenticated"
		if _, aerr := s.Store.Append(ctx, entry); aerr != nil {
			return Outcome{}, errors.Join(err, aerr)
		}
		return Outcome{}, err
	}
	if err != nil {
		return Outcome{}, err
	}
	entry.Actor = acct.ID
	out, actErr := s.act(ctx, acct, a, &entry)
	written, err := s.Store.Append(ctx, entry)
	if err != nil {
		// The workflow may have changed while the record of it failed: say
		// so loudly; the update id finds the action in the history.
		return out, fmt.Errorf("the action was %s (update %s) but its audit row could not be written: %w",
			entry.Result, entry.UpdateID, err)
	}
	out.Audit = written
	return out, actErr
}

func (s *Service) act(ctx context.Context, acct Account, a Action, entry *AuditEntry) (Outcome, error) {
	out := Outcome{Actor: acct.ID}
	reject := func(msg string) (Outcome, error) {
		entry.Result, entry.Message = Rejected, msg
		out.Result, out.Message = Rejected, msg
		return out, &RejectedError{Message: msg}
	}
	if !acct.CanAct() {
		return reject(fmt.Sprintf("account %s (role %s) may not perform staff actions", acct.ID, acct.Role))
	}
	if err := a.Err(); err != nil {
		return reject(err.Error())
	}
	if s.Signer == nil {
		return reject("no staff signing key is configured (MADOGUCHI_STAFF_SIGNING_KEY): the workflow accepts signed staff actions only")
	}
	workflowID := contract.WorkflowID(a.Receipt)
	arg := a.Arg(acct.ID)
	sa, ok := arg.(staffsig.Action)
	if !ok {
		return reject(fmt.Sprintf("%s: %T is not a staff action", a.Name, arg))
	}
	if err := s.Signer.Sign(workflowID, a.Update, acct.ID, sa); err != nil {
		// Nothing was sent.
		return reject(fmt.Sprintf("%s on %s could not be signed: %v", a.Name, a.Receipt, err))
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id, err := uuid.NewV7()
	if err != nil {
		return out, err
	}
	entry.UpdateID = id.String()
	var res dsrv1.ActionResult
	h, err := s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflowID, UpdateID: entry.UpdateID, UpdateName: a.Update,
		Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, &res)
	}
	var notFound *serviceerror.NotFound
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		entry.Result, entry.Message, entry.StageAfter = Accepted, res.GetMessage(), res.GetStage()
		out.Result, out.Message, out.Stage = Accepted, res.GetMessage(), res.GetStage()
		return out, nil
	case errors.As(err, &notFound):
		return reject(fmt.Sprintf("request %s is not running (no such request, or it is already completed or closed)", a.Receipt))
	case errors.As(err, &appErr):
		return reject(appErr.Message())
	default:
		entry.Result, entry.Message = Failed, "outcome unknown: "+err.Error()
		out.Result, out.Message = Failed, entry.Message
		return out, fmt.Errorf("%s on %s: outcome unknown (check `dsrctl show %s`): %w", a.Name, a.Receipt, a.Receipt, err)
	}
}

// Summary is one row of `dsrctl list`, from the search attributes alone.
type Summary struct {
	Receipt      string
	WorkflowID   string
	Kind         string
	Jurisdiction string
	Stage        string
	DueAt        time.Time
	Attention    []string
	FeeState     string
	Status       string // Running, Completed, …
	StartedAt    time.Time
}

// Overdue reports whether the request is flagged overdue.
func (s Summary) Overdue() bool {
	for _, a := range s.Attention {
		if a == "overdue" {
			return true
		}
	}
	return false
}

// List returns the requests matching f, newest first. Any active account
// (staff or viewer) may list.
func (s *Service) List(ctx context.Context, token string, f Filter) ([]Summary, string, error) {
	if _, err := s.Store.Authenticate(ctx, token); err != nil {
		return nil, "", err
	}
	q, err := f.Query(s.now())
	if err != nil {
		return nil, "", err
	}
	rows, err := s.ListQuery(ctx, q, f.Limit)
	return rows, q, err
}

// ListQuery runs a visibility query and reads each request's search
// attributes (stored unencrypted: the codec never touches them).
func (s *Service) ListQuery(ctx context.Context, query string, limit int) ([]Summary, error) {
	if limit <= 0 {
		limit = 200
	}
	var out []Summary
	var next []byte
	for len(out) < limit {
		resp, err := s.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: query, NextPageToken: next, PageSize: int32(min(limit, 100))})
		if err != nil {
			return nil, fmt.Errorf("list requests: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			out = append(out, summaryOf(e.GetExecution().GetWorkflowId(), e.GetStatus(), e.GetStartTime().AsTime(),
				e.GetSearchAttributes().GetIndexedFields()))
			if len(out) == limit {
				break
			}
		}
		if next = resp.GetNextPageToken(); len(next) == 0 {
			break
		}
	}
	return out, nil
}

func summaryOf(workflowID string, status enums.WorkflowExecutionStatus, started time.Time, sa map[string]*commonpb.Payload) Summary {
	dc := converter.GetDefaultDataConverter()
	str := func(name string) string {
		var v string
		if p := sa[name]; p != nil {
			_ = dc.FromPayload(p, &v)
		}
		return v
	}
	s := Summary{WorkflowID: workflowID, Receipt: str(contract.SAReceipt), Kind: str(contract.SAKind),
		Jurisdiction: str(contract.SAJurisdiction), Stage: str(contract.SAStage), FeeState: str(contract.SAFeeState),
		Status: statusName(status), StartedAt: started}
	if s.Receipt == "" {
		s.Receipt, _ = contract.ReceiptFromWorkflowID(workflowID)
	}
	if p := sa[contract.SAAttention]; p != nil {
		_ = dc.FromPayload(p, &s.Attention)
	}
	if p := sa[contract.SADueAt]; p != nil {
		var t time.Time
		if dc.FromPayload(p, &t) == nil {
			s.DueAt = t
		}
	}
	return s
}

func statusName(s enums.WorkflowExecutionStatus) string {
	switch s {
	case enums.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return "Running"
	case enums.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return "Completed"
	case enums.WORKFLOW_EXECUTION_STATUS_FAILED:
		return "Failed"
	case enums.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "Canceled"
	case enums.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "Terminated"
	case enums.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return "ContinuedAsNew"
	case enums.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "TimedOut"
	}
	return s.String()
}

// Details is `dsrctl show`: the workflow's status query, its execution
// status, and the staff actions recorded for it.
type Details struct {
	Status          *dsrv1.RequestStatus
	ExecutionStatus string
	Audit           []AuditEntry
	// Package is the disclosure package's use (downloads, codes), from its
	// workflow's query; nil when there is none, or when the package is of a
	// request from before identity-2026-12 (it has no workflow of its own).
	Package *dsrv1.PackageStatus
	// PackageUnavailable says why Package could not be read, if it could not.
	PackageUnavailable string
}

// Show returns one request's status, timeline and audit rows. Any active
// account may look.
func (s *Service) Show(ctx context.Context, token, receipt string) (*Details, error) {
	if _, err := s.Store.Authenticate(ctx, token); err != nil {
		return nil, err
	}
	if !receiptRE.MatchString(receipt) {
		return nil, fmt.Errorf("%q is not a receipt number", receipt)
	}
	wid := contract.WorkflowID(receipt)
	d := &Details{}
	desc, err := s.Temporal.DescribeWorkflowExecution(ctx, wid, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return nil, fmt.Errorf("no request %s", receipt)
	}
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", wid, err)
	}
	d.ExecutionStatus = statusName(desc.GetWorkflowExecutionInfo().GetStatus())
	v, err := s.Temporal.QueryWorkflow(ctx, wid, "", contract.QueryStatus)
	if err != nil {
		return nil, fmt.Errorf("status of %s: %w", receipt, err)
	}
	d.Status = &dsrv1.RequestStatus{}
	if err := v.Get(d.Status); err != nil {
		return nil, fmt.Errorf("status of %s: %w", receipt, err)
	}
	if id := d.Status.GetPackageId(); id != "" {
		d.Package, d.PackageUnavailable = s.packageStatus(ctx, id)
	}
	if d.Audit, err = s.Store.Audit(ctx, AuditFilter{Receipt: receipt}); err != nil {
		return nil, err
	}
	return d, nil
}

// packageStatus queries a disclosure package's workflow; a package without
// one (delivered before identity-2026-12) has no status and no problem.
func (s *Service) packageStatus(ctx context.Context, packageID string) (*dsrv1.PackageStatus, string) {
	v, err := s.Temporal.QueryWorkflow(ctx, contract.PackageWorkflowID(packageID), "", contract.QueryPackage)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return nil, ""
	}
	if err != nil {
		return nil, fmt.Sprintf("package query failed: %v", err)
	}
	var st dsrv1.PackageStatus
	if err := v.Get(&st); err != nil {
		return nil, fmt.Sprintf("package status unreadable: %v", err)
	}
	return &st, ""
}

// Audit returns audit rows (newest first). Any active account may read.
func (s *Service) Audit(ctx context.Context, token string, f AuditFilter) ([]AuditEntry, error) {
	if _, err := s.Store.Authenticate(ctx, token); err != nil {
		return nil, err
	}
	return s.Store.Audit(ctx, f)
}
