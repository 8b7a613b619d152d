package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// TemporalHandler lets workflow code count business events through
// workflow.GetMetricsHandler, which stays silent during replay, so a
// replayed history never counts twice. It forwards only Madoguchi's own
// metrics (by name); the SDK's internal metrics are dropped.
type TemporalHandler struct{ tags map[string]string }

var _ client.MetricsHandler = TemporalHandler{}

// Metric names workflow code may emit.
const (
	WorkflowStageMetric    = "madoguchi_request_stage_total"
	WorkflowDeadlineMetric = "madoguchi_deadline_alerts_total"
)

var workflowCounters = map[string]*prometheus.CounterVec{
	WorkflowStageMetric:    StageChanges,
	WorkflowDeadlineMetric: DeadlineAlerts,
}

// WithTags adds tags (labels) for the metrics created from the result.
func (h TemporalHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	for k, v := range h.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[k] = v
	}
	return TemporalHandler{tags: merged}
}

// Counter returns a counter for one of our metrics, or a no-op.
func (h TemporalHandler) Counter(name string) client.MetricsCounter {
	vec, ok := workflowCounters[name]
	if !ok {
		return client.MetricsNopHandler.Counter(name)
	}
	return counter{vec: vec, tags: h.tags}
}

// Gauge is not used by workflow code.
func (h TemporalHandler) Gauge(name string) client.MetricsGauge {
	return client.MetricsNopHandler.Gauge(name)
}

// Timer is not used by workflow code.
func (h TemporalHandler) Timer(name string) client.MetricsTimer {
	return client.MetricsNopHandler.Timer(name)
}

type counter struct {
	vec  *prometheus.CounterVec
	tags map[string]string
}

func (c counter) Inc(n int64) {
	// Only the tags the vector declares are used: the SDK adds its own
	// (namespace, task queue, workflow type) that we do not want as labels.
	m, err := c.vec.GetMetricWith(prometheus.Labels(pick(c.tags, c.vec)))
	if err != nil {
		return
	}
	m.Add(float64(n))
}

func pick(tags map[string]string, vec *prometheus.CounterVec) map[string]string {
	out := map[string]string{}
	for _, l := range labelsOf[vec] {
		out[l] = tags[l]
	}
	return out
}

var labelsOf = map[*prometheus.CounterVec][]string{
	StageChanges:   {"kind", "stage"},
	DeadlineAlerts: {"alert"},
}
