// Package metrics holds Madoguchi's Prometheus metrics and the ops HTTP
// server (/healthz, /readyz, /metrics) every component serves. Labels carry
// kinds, stages, holders, consumers and outcomes — never ids or personal data.
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry is the process's registry (one per process; components in the
// dev stack share it).
var Registry = prometheus.NewRegistry()

var (
	// RequestsAccepted counts requests stored by the intake, by kind.
	RequestsAccepted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "madoguchi", Name: "requests_accepted_total",
		Help: "Requests durably accepted by the intake, by kind and channel (api, form).",
	}, []string{"kind", "channel"})
	// IntakeBatchSize is how many requests each of the intake's statements
	// wrote: 1 at low load, more as submissions arrive together.
	IntakeBatchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "madoguchi", Name: "intake_commit_batch_size",
		Help:    "Requests written by one intake statement (one commit).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
	})
	// RequestsRejected counts submissions refused, by reason.
	RequestsRejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "madoguchi", Name: "requests_rejected_total",
		Help: "Submissions refused, by reason (validation, idempotency, mail_quota, unavailable).",
	}, []string{"reason"})
	// RetentionPurged counts records whose personal data a retention purge
	// removed, by what (request, processed_command, mail_quota).
	RetentionPurged = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "madoguchi", Name: "retention_purged_total",
		Help: "Records whose personal data was purged at the end of the retention period, by record type.",
	}, []string{"record"})
	// OutboxUnsent and OutboxOldestSeconds show the relay's lag.
	OutboxUnsent = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "madoguchi", Name: "outbox_unsent",
		Help: "Outbox rows not yet published to JetStream.",
	})
	OutboxOldestSeconds = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "madoguchi", Name: "outbox_oldest_unsent_seconds",
		Help: "Age of the oldest unpublished outbox row.",
	})
	OutboxPublished = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "madoguchi", Name: "outbox_published_total",
		Help: "Outbox rows published and acknowledged by JetStream.",
	})
	// Consumed counts messages handled by each consumer, by result
	// (ack, retry, dead_letter).
	Consumed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "madoguchi", Name: "messages_consumed_total",
		Help: "Messages handled by each durable consumer, by result (ack, retry, dead_letter).",
	}, []string{"consumer", "result"})
	// Redeliveries counts messages seen more than once.
	Redeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "madoguchi", Name: "messages_redelivered_total",
		Help: "Messages delivered more than once to a consumer.",
	}, []string{"consumer"})
	// ConsumerPending is the consumer's backlog, sampled.
	ConsumerPending = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "madoguchi", Name: "consumer_pending",
		Help: "Messages in the stream not yet delivered to the consumer (lag).",
	}, []string{"consumer"})
	// HandlerSeconds is how long each consumer's handler takes.
	HandlerSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "madoguchi", Name: "handler_seconds",
		Help:    "Time spent handling one message, by consumer.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
	}, []string{"consumer"})
	// HolderResultSeconds is command-issued → result-delivered, by holder.
	HolderResultSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "madoguchi", Name: "holder_result_seconds",
		Help:    "Time from a command being issued to its result reaching the workflow, by holder and outcome.",
		Buckets: prometheus.ExponentialBuckets(0.01, 3, 12),
	}, []string{"holder", "outcome"})
	// StageChanges counts requests entering each stage.
	StageChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "madoguchi", Name: "request_stage_total",
		Help: "Requests entering a stage, by kind and stage.",
	}, []string{"kind", "stage"})
	// DeadlineAlerts counts deadline warnings and breaches.
	DeadlineAlerts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "madoguchi", Name: "deadline_alerts_total",
		Help: "Deadline alerts raised, by alert (deadline_near, overdue).",
	}, []string{"alert"})
	// NoticesSent counts notices by kind.
	NoticesSent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "madoguchi", Name: "notices_sent_total",
		Help: "Notices e-mailed, by kind.",
	}, []string{"kind"})
)

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		RequestsAccepted, RequestsRejected, IntakeBatchSize, OutboxUnsent, OutboxOldestSeconds, OutboxPublished,
		Consumed, Redeliveries, ConsumerPending, HandlerSeconds, HolderResultSeconds, StageChanges,
		DeadlineAlerts, NoticesSent, RetentionPurged)
}

// Handler serves the registry in the Prometheus text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}

// ReadyFunc reports whether the component can do its work.
type ReadyFunc func(ctx context.Context) error

// ServeOps serves /healthz (process alive), /readyz (ready checks pass) and
// /metrics on ln until ctx ends.
func ServeOps(ctx context.Context, ln net.Listener, ready ReadyFunc) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		cctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if ready != nil {
			if err := ready(cctx); err != nil {
				http.Error(w, "not ready", http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
