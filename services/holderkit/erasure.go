package holderkit

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// ErasureFunc forgets the person behind the event's pseudonyms. It must be
// idempotent: delivery is at-least-once. An error retries with backoff.
type ErasureFunc func(ctx context.Context, ev *dsrv1.ErasureCompleted) error

// OnErasure subscribes service (a durable name such as "search-index") to
// erasure events until ctx ends. A new subscriber first receives every event
// still in the stream's replay window.
func OnErasure(ctx context.Context, js jetstream.JetStream, ns contract.Namespace, service string, log zerolog.Logger, fn ErasureFunc) error {
	return bus.Consumer{
		Namespace: ns, Stream: ns.StreamEvents(), Durable: "erasure-" + service,
		FilterSubjects: []string{ns.ErasureCompleted()}, Log: log,
	}.Run(ctx, js, func(ctx context.Context, msg jetstream.Msg) error {
		var ev dsrv1.ErasureCompleted
		if err := bus.Decode(msg, &ev); err != nil {
			return bus.Poison("%v", err)
		}
		return fn(ctx, &ev)
	})
}
