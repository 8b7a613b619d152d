package request

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"madoguchi.dev/proto/contract"
)

// Register adds the workflows and activities to a worker (or a test env).
func Register(r interface {
	RegisterWorkflowWithOptions(any, workflow.RegisterOptions)
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}, acts *Activities) {
	r.RegisterWorkflowWithOptions(DataSubjectRequest, workflow.RegisterOptions{Name: contract.WorkflowType})
	r.RegisterWorkflowWithOptions(PurgePackage, workflow.RegisterOptions{Name: PurgePackageWorkflowName})
	r.RegisterWorkflowWithOptions(DisclosurePackage, workflow.RegisterOptions{Name: contract.PackageWorkflowType})
	r.RegisterActivityWithOptions(acts, activity.RegisterOptions{})
}

// NewWorker builds the worker for task queue "dsr".
func NewWorker(c client.Client, acts *Activities) worker.Worker {
	w := worker.New(c, contract.TaskQueue, worker.Options{})
	Register(w, acts)
	return w
}
