package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestWorkflowCountersKeepOnlyTheirOwnLabels(t *testing.T) {
	before := testutil.ToFloat64(StageChanges.WithLabelValues("deletion", "fan_out"))
	h := TemporalHandler{}.WithTags(map[string]string{"namespace": "default", "task_queue": "dsr"}).
		WithTags(map[string]string{"kind": "deletion", "stage": "fan_out"})
	h.Counter(WorkflowStageMetric).Inc(2)
	if got := testutil.ToFloat64(StageChanges.WithLabelValues("deletion", "fan_out")) - before; got != 2 {
		t.Errorf("stage counter grew by %v, want 2", got)
	}
	// The SDK's own metrics are dropped, not registered under our names.
	h.Counter("temporal_workflow_completed").Inc(1)
	h.Timer("temporal_activity_execution_latency").Record(1)
	h.Gauge("temporal_worker_task_slots_available").Update(3)
}

func TestOpsServerServesHealthReadinessAndMetrics(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var ready atomic.Bool
	done := make(chan error, 1)
	go func() {
		done <- ServeOps(ctx, ln, func(context.Context) error {
			if !ready.Load() {
				return context.DeadlineExceeded
			}
			return nil
		})
	}()
	base := "http://" + ln.Addr().String()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before ready = %d, want 503", code)
	}
	ready.Store(true)
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz when ready = %d", code)
	}
	RequestsAccepted.WithLabelValues("deletion", "api").Inc()
	code, body := get("/metrics")
	if code != 200 || !strings.Contains(body, `madoguchi_requests_accepted_total{channel="api",kind="deletion"}`) {
		t.Errorf("/metrics = %d without the accepted counter", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeOps returned %v after shutdown", err)
	}
}
