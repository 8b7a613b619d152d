package main

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"

	"madoguchi.dev/proto/contract"
)

// DrainResult: how long the intake's requests took to reach verification
// (relay → JetStream → bridge → workflow start → receipt notice → code mail).
type DrainResult struct {
	Requests int     `json:"requests"`
	Seconds  float64 `json:"seconds_after_intake"`
	// PerSec is requests brought to verification per second, from the
	// first submission to the last one parked.
	PerSec float64 `json:"per_sec"`
	// Complete is false when the drain timed out.
	Complete bool `json:"complete"`
}

const qVerifying = `WorkflowType = '` + contract.WorkflowType + `' AND ExecutionStatus = 'Running' AND ` + contract.SAStage + ` = 'verifying'`

func (b *bench) drainPhase(ctx context.Context, res *Results) error {
	if res.Intake == nil {
		return nil
	}
	want := int64(res.Intake.Dispatched)
	t0 := time.Now()
	got, err := b.waitParked(ctx, want, b.cfg.DrainTimeout, func(n int64) {
		logf("drain: %d/%d requests at verification", n, want)
	})
	el := time.Since(t0)
	total := time.Duration(res.Intake.Max.Seconds*float64(time.Second)) + time.Duration(res.Intake.Load.Seconds*float64(time.Second)) + el
	res.Drain = &DrainResult{Requests: int(got), Seconds: round1(el.Seconds()), PerSec: round1(rate(int(got), total)), Complete: err == nil}
	if err != nil {
		// Not fatal: the rest runs with the backlog still being worked off.
		res.Notes = append(res.Notes, fmt.Sprintf("drain: only %d of %d intake requests reached verification within %s; later phases ran with that backlog",
			got, want, b.cfg.DrainTimeout))
	}
	return nil
}

// waitParked waits until want request workflows are at verification with
// their code mailed: the visibility count has reached want and the task
// queue has no backlog left.
func (b *bench) waitParked(ctx context.Context, want int64, limit time.Duration, progress func(int64)) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var n int64
	lastLog := time.Now()
	for {
		c, err := b.countWorkflows(ctx, qVerifying)
		if err == nil {
			n = c
		}
		if n >= want && b.queueIdle(ctx) {
			progress(n)
			return n, nil
		}
		if time.Since(lastLog) > 15*time.Second {
			progress(n)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return n, fmt.Errorf("%d of %d requests reached verification: %w", n, want, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// queueIdle: no workflow or activity task waiting on the request task queue.
func (b *bench) queueIdle(ctx context.Context) bool {
	for _, typ := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		resp, err := b.tc.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
			Namespace: b.stk.Temporal.Namespace, TaskQueue: &taskqueuepb.TaskQueue{Name: contract.TaskQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
			TaskQueueType: typ, ReportStats: true})
		if err != nil {
			return false
		}
		if s := resp.GetStats(); s != nil && s.GetApproximateBacklogCount() > 0 {
			return false
		}
	}
	return true
}
