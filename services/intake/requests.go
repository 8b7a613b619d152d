package intake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"madoguchi.dev/platform/disclosure"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// Requests is what the person's pages ask of a running request. The
// production implementation is TemporalRequests (the request workflow's
// status query and updates, by the names in proto/contract); tests use a fake.
type Requests interface {
	Status(ctx context.Context, receipt string) (*dsrv1.RequestStatus, error)
	Verify(ctx context.Context, receipt, code string) (*dsrv1.VerifyIdentityResult, error)
	Resend(ctx context.Context, receipt string) (*dsrv1.ResendCodeResult, error)
	Withdraw(ctx context.Context, receipt, reason string) (*dsrv1.ActionResult, error)
	// RequestDownloadCode and OpenPackage act on a disclosure package's
	// workflow, named by the package id (disclosure.ID of the link's token).
	RequestDownloadCode(ctx context.Context, packageID string) (*dsrv1.RequestDownloadCodeResult, error)
	OpenPackage(ctx context.Context, packageID, code string) (*dsrv1.OpenPackageResult, error)
}

// Packages opens disclosure packages by download token (disclosure.Store).
type Packages interface {
	Open(ctx context.Context, token string, now time.Time) (*disclosure.Package, error)
}

// ErrNotStarted: the request's workflow does not exist yet (the intake has
// stored the request; the bridge starts the workflow moments later) or no
// longer accepts the action.
var ErrNotStarted = errors.New("the request is still being registered")

// RejectedError is the workflow's refusal of an action (its update
// validator): the request is not at a stage where the action is possible.
type RejectedError struct{ Reason string }

func (e *RejectedError) Error() string { return "rejected: " + e.Reason }

// TemporalRequests talks to the request workflows. The client must carry
// the payload codec (component.Runtime.DialTemporal does).
type TemporalRequests struct {
	Client client.Client
	// Timeout bounds each call (default 10s).
	Timeout time.Duration
}

func (t TemporalRequests) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	d := t.Timeout
	if d <= 0 {
		d = 10 * time.Second
	}
	return context.WithTimeout(ctx, d)
}

// Status runs the workflow's status query.
func (t TemporalRequests) Status(ctx context.Context, receipt string) (*dsrv1.RequestStatus, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	v, err := t.Client.QueryWorkflow(ctx, contract.WorkflowID(receipt), "", contract.QueryStatus)
	if err != nil {
		return nil, mapTemporalError(err)
	}
	var s dsrv1.RequestStatus
	if err := v.Get(&s); err != nil {
		return nil, fmt.Errorf("intake: decode status of %s: %w", receipt, err)
	}
	return &s, nil
}

// Verify submits the e-mailed code.
func (t TemporalRequests) Verify(ctx context.Context, receipt, code string) (*dsrv1.VerifyIdentityResult, error) {
	var out dsrv1.VerifyIdentityResult
	if err := t.update(ctx, receipt, contract.UpdateVerifyIdentity, &dsrv1.VerifyIdentity{Code: code}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Resend asks for a new code.
func (t TemporalRequests) Resend(ctx context.Context, receipt string) (*dsrv1.ResendCodeResult, error) {
	var out dsrv1.ResendCodeResult
	if err := t.update(ctx, receipt, contract.UpdateResendCode, &dsrv1.ResendCode{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Withdraw withdraws the request.
func (t TemporalRequests) Withdraw(ctx context.Context, receipt, reason string) (*dsrv1.ActionResult, error) {
	var out dsrv1.ActionResult
	if err := t.update(ctx, receipt, contract.UpdateWithdraw, &dsrv1.Withdraw{Reason: reason}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RequestDownloadCode has a one-time code mailed for a disclosure package.
func (t TemporalRequests) RequestDownloadCode(ctx context.Context, packageID string) (*dsrv1.RequestDownloadCodeResult, error) {
	var out dsrv1.RequestDownloadCodeResult
	if err := t.updateWorkflow(ctx, contract.PackageWorkflowID(packageID), contract.UpdateRequestDownloadCode,
		&dsrv1.RequestDownloadCode{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// OpenPackage submits the mailed code of a disclosure package.
func (t TemporalRequests) OpenPackage(ctx context.Context, packageID, code string) (*dsrv1.OpenPackageResult, error) {
	var out dsrv1.OpenPackageResult
	if err := t.updateWorkflow(ctx, contract.PackageWorkflowID(packageID), contract.UpdateOpenPackage,
		&dsrv1.OpenPackage{Code: code}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (t TemporalRequests) update(ctx context.Context, receipt, name string, arg, out any) error {
	return t.updateWorkflow(ctx, contract.WorkflowID(receipt), name, arg, out)
}

func (t TemporalRequests) updateWorkflow(ctx context.Context, workflowID, name string, arg, out any) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	h, err := t.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflowID, UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return mapTemporalError(err)
	}
	if err := h.Get(ctx, out); err != nil {
		return mapTemporalError(err)
	}
	return nil
}

// mapTemporalError turns "no such workflow" into ErrNotStarted and a
// validator's refusal into RejectedError; the rest stays an error (whose
// text holds ids only, never personal data).
func mapTemporalError(err error) error {
	var nf *serviceerror.NotFound
	var app *temporal.ApplicationError
	switch {
	case errors.As(err, &nf):
		return ErrNotStarted
	case errors.As(err, &app):
		return &RejectedError{Reason: app.Message()}
	}
	return fmt.Errorf("intake: temporal: %w", err)
}
