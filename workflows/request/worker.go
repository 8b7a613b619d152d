package request

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"madoguchi.dev/platform/staffsig"
	"madoguchi.dev/proto/contract"
)

// Register adds the workflows and activities to a worker (or a test env).
// staff are the public keys staff actions must be signed with (nil: none
// is accepted).
func Register(r interface {
	RegisterWorkflowWithOptions(any, workflow.RegisterOptions)
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}, acts *Activities, staff *staffsig.Keys) {
	r.RegisterWorkflowWithOptions(Workflow(staff), workflow.RegisterOptions{Name: contract.WorkflowType})
	r.RegisterWorkflowWithOptions(PurgePackage, workflow.RegisterOptions{Name: PurgePackageWorkflowName})
	r.RegisterWorkflowWithOptions(DisclosurePackage, workflow.RegisterOptions{Name: contract.PackageWorkflowType})
	r.RegisterActivityWithOptions(acts, activity.RegisterOptions{})
}

// NewWorker builds the worker for task queue "dsr", trusting the staff
// keys staff.
func NewWorker(c client.Client, acts *Activities, staff *staffsig.Keys) worker.Worker {
	w := worker.New(c, contract.TaskQueue, worker.Options{})
	Register(w, acts, staff)
	return w
}
