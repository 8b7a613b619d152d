// Package contract names what the services and the workflows agree on besides
// the message types in gen/: NATS subjects, stream names, message headers and
// the Temporal names (workflow type, task queue, signals, workflow ids).
//
// Everything is relative to a Namespace so that tests and side-by-side stacks
// can share one NATS server and one Temporal server without colliding.
package contract

import (
	"fmt"
	"regexp"
	"strings"
)

// Namespace prefixes every subject and stream. The zero value is not valid;
// use Default or NewNamespace.
type Namespace struct {
	// Root is the first subject token, "dsr" in production.
	Root string
	// StreamPrefix starts every stream name, "DSR" in production.
	StreamPrefix string
}

// Default is the production namespace.
var Default = Namespace{Root: "dsr", StreamPrefix: "DSR"}

var tokenRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)

// NewNamespace builds a namespace from a root token such as "dsr" or
// "t_3f9a" (tests). Stream names use its upper-case form.
func NewNamespace(root string) (Namespace, error) {
	if !tokenRE.MatchString(root) {
		return Namespace{}, fmt.Errorf("contract: namespace root %q must match %s", root, tokenRE)
	}
	return Namespace{Root: root, StreamPrefix: strings.ToUpper(root)}, nil
}

// Subjects.

// RequestSubmitted is where the intake relay publishes dsr.v1.RequestSubmitted.
func (n Namespace) RequestSubmitted() string { return n.Root + ".requests.submitted" }

// Command is where the workflow sends dsr.v1.HolderCommand to one holder.
// action is the lower-case action token, e.g. "erase".
func (n Namespace) Command(holder, action string) string {
	return n.Root + ".commands." + holder + "." + action
}

// CommandsFor matches every command for one holder.
func (n Namespace) CommandsFor(holder string) string { return n.Root + ".commands." + holder + ".>" }

// Result is where a holder publishes dsr.v1.HolderResult.
func (n Namespace) Result(holder string) string { return n.Root + ".results." + holder }

// AllResults matches every holder's results.
func (n Namespace) AllResults() string { return n.Root + ".results.>" }

// ErasureCompleted is where dsr.v1.ErasureCompleted is published.
func (n Namespace) ErasureCompleted() string { return n.Root + ".events.erasure.completed" }

// RequestConcluded is where dsr.v1.RequestConcluded is published.
func (n Namespace) RequestConcluded() string { return n.Root + ".events.request.concluded" }

// DeadLetter is where a consumer puts a message it cannot process, with the
// reason in headers. source names the consumer, e.g. "dispatcher".
func (n Namespace) DeadLetter(source string) string { return n.Root + ".deadletter." + source }

// PackagesBucket is the JetStream object store holding sealed disclosure
// packages, keyed by the SHA-256 of the download token.
func (n Namespace) PackagesBucket() string { return n.StreamPrefix + "_PACKAGES" }

// Streams.

// StreamRequests holds submitted requests (limits retention, dedup window).
func (n Namespace) StreamRequests() string { return n.StreamPrefix + "_REQUESTS" }

// StreamCommands holds holder commands (work-queue retention).
func (n Namespace) StreamCommands() string { return n.StreamPrefix + "_COMMANDS" }

// StreamResults holds holder results.
func (n Namespace) StreamResults() string { return n.StreamPrefix + "_RESULTS" }

// StreamEvents holds events for internal subscribers (limits, replay window).
func (n Namespace) StreamEvents() string { return n.StreamPrefix + "_EVENTS" }

// StreamDeadLetter holds dead-lettered messages for staff.
func (n Namespace) StreamDeadLetter() string { return n.StreamPrefix + "_DEADLETTER" }

// Headers on every message.
const (
	// HeaderType carries the full protobuf message name of the body.
	HeaderType = "Madoguchi-Type"
	// HeaderRequestID lets logs and traces follow a request without decoding.
	HeaderRequestID = "Madoguchi-Request-Id"
	// Dead-letter headers.
	HeaderDeadReason  = "Madoguchi-Dead-Reason"
	HeaderDeadSubject = "Madoguchi-Dead-Subject"
	HeaderDeadSource  = "Madoguchi-Dead-Source"
)

// ContentType of every message body.
const ContentType = "application/protobuf"

// Temporal.
const (
	// TaskQueue of the request workflow and its activities.
	TaskQueue = "dsr"
	// WorkflowType is the registered name of the request workflow.
	WorkflowType = "DataSubjectRequest"
	// SignalHolderResult delivers a dsr.v1.HolderResult to the workflow.
	SignalHolderResult = "holder-result"
	// QueryStatus returns the request's current picture (dsr.v1.RequestStatus).
	QueryStatus = "status"
)

// Temporal update names: every action on a running request. Each takes the
// dsr.v1 message of the same name and returns dsr.v1.ActionResult (or
// VerifyIdentityResult / ResendCodeResult for the person's two).
const (
	UpdateVerifyIdentity       = "VerifyIdentity"
	UpdateResendCode           = "ResendCode"
	UpdateWithdraw             = "Withdraw"
	UpdateReviewIdentity       = "ReviewIdentity"
	UpdateDecide               = "Decide"
	UpdateMarkFeePaid          = "MarkFeePaid"
	UpdateExtendDeadline       = "ExtendDeadline"
	UpdateEntrustedInstruction = "EntrustedInstruction"
	UpdateRetryHolder          = "RetryHolder"
	UpdateCloseWithdrawn       = "CloseWithdrawn"
)

// Disclosure packages: each package delivered since identity-2026-12 has a
// workflow of its own (PackageWorkflowID) that mails the one-time codes
// opening it, counts its downloads and purges it when it expires.
const (
	// PackageWorkflowType is the registered name of the package workflow.
	PackageWorkflowType = "DisclosurePackage"
	// QueryPackage returns dsr.v1.PackageStatus (no personal data).
	QueryPackage = "package"
	// UpdateRequestDownloadCode takes dsr.v1.RequestDownloadCode and
	// returns dsr.v1.RequestDownloadCodeResult.
	UpdateRequestDownloadCode = "RequestDownloadCode"
	// UpdateOpenPackage takes dsr.v1.OpenPackage and returns
	// dsr.v1.OpenPackageResult.
	UpdateOpenPackage = "OpenPackage"
)

// Search attributes the workflow keeps current (registered by the worker at
// start-up and by the deploy job).
const (
	SAReceipt        = "DsrReceipt"
	SAKind           = "DsrKind"
	SAJurisdiction   = "DsrJurisdiction"
	SAStage          = "DsrStage"
	SANeedsAttention = "DsrNeedsAttention"
	// SAAttention lists why (agent_review, holder_escalated, deadline_near, …).
	SAAttention = "DsrAttention"
	SADueAt     = "DsrDueAt"
	SAFeeState  = "DsrFeeState"
	// SASubjectRef is the pseudonym of the subject's e-mail: links duplicates
	// without personal data.
	SASubjectRef = "DsrSubjectRef"
)

// WorkflowID is the one workflow id for a request receipt: the dedup key
// that makes starting twice impossible.
func WorkflowID(receipt string) string { return "dsr-" + receipt }

// PackageWorkflowID is the workflow id of a disclosure package's workflow,
// from the package id (the hex SHA-256 of its download token, which the
// intake computes from the link): one workflow per package.
func PackageWorkflowID(packageID string) string { return "dsr-package-" + packageID }

// ReceiptFromWorkflowID is the inverse of WorkflowID.
func ReceiptFromWorkflowID(id string) (string, bool) { return strings.CutPrefix(id, "dsr-") }

// ExportScope is what a holder's sealed export (dsr.v1.Export) is bound to:
// its request and holder, so that an export moved to another request, or
// passed off as another holder's, does not open (seal.Ring.MessageFor).
func ExportScope(requestID, holder string) string { return requestID + "\x00" + holder }
