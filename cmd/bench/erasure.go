package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/platform/bus"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
)

// ErasureResult is phase 4: bus.Publish → holderkit.OnErasure handler.
type ErasureResult struct {
	Published int     `json:"published"`
	Received  int     `json:"received"`
	RatePerS  float64 `json:"offered_per_sec"`
	Latency   Dist    `json:"latency"`
	// PublishAck is how long bus.Publish waited for the stream's ack.
	PublishAck Dist `json:"publish_ack"`
}

func (b *bench) erasurePhase(ctx context.Context, res *Results) error {
	n := b.cfg.ErasureN
	r := &ErasureResult{RatePerS: b.cfg.ErasureRate}
	res.Erasure = r
	ns := b.stk.Runtime.Namespace
	prefix := "bench-" + b.runID + "-erasure-"

	var lat latencies
	var mu sync.Mutex
	got := map[string]bool{}
	all := make(chan struct{})
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	subDone := make(chan error, 1)
	go func() {
		subDone <- holderkit.OnErasure(sctx, b.js, ns, "bench", b.log.With().Str("component", "bench-subscriber").Logger(),
			func(_ context.Context, ev *dsrv1.ErasureCompleted) error {
				if !strings.HasPrefix(ev.GetEventId(), prefix) {
					return nil // a real request's event
				}
				d := time.Since(ev.GetCompletedAt().AsTime())
				mu.Lock()
				defer mu.Unlock()
				if !got[ev.GetEventId()] {
					got[ev.GetEventId()] = true
					lat.add(d)
					if len(got) == n {
						close(all)
					}
				}
				return nil
			})
	}()
	// Let the durable consumer be created before publishing.
	time.Sleep(500 * time.Millisecond)

	var ack latencies
	interval := time.Duration(float64(time.Second) / b.cfg.ErasureRate)
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		id := fmt.Sprintf("%s%d", prefix, i)
		ev := &dsrv1.ErasureCompleted{EventId: id, RequestId: id, Receipt: "BENCH-" + b.runID,
			SubjectPseudonyms: []string{"psn_BENCH" + b.runID}, Holders: []string{"members"}}
		t := time.Now()
		ev.CompletedAt = timestamppb.New(t)
		if _, err := bus.Publish(ctx, b.js, ns.ErasureCompleted(), id, id, ev); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		ack.add(time.Since(t))
		r.Published++
	}
	select {
	case <-all:
	case <-time.After(60 * time.Second):
	case <-ctx.Done():
	case err := <-subDone:
		return fmt.Errorf("subscriber stopped: %v", err)
	}
	mu.Lock()
	r.Received = len(got)
	mu.Unlock()
	stop()
	select {
	case <-subDone:
	case <-time.After(30 * time.Second):
	}
	r.Latency, r.PublishAck = distOf(lat.snapshot()), distOf(ack.snapshot())
	logf("erasure: %d/%d events, p50 %.2f ms, p99 %.2f ms (publish ack p50 %.2f ms)",
		r.Received, r.Published, r.Latency.P50ms, r.Latency.P99ms, r.PublishAck.P50ms)
	if r.Received < r.Published {
		return fmt.Errorf("%d of %d events reached the subscriber", r.Received, r.Published)
	}
	return nil
}
