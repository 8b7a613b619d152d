// Package bus is the JetStream side of the contracts: it declares the
// streams, publishes contract messages with stable message ids, and runs
// consumers that ack, retry or dead-letter every message they are given.
package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"madoguchi.dev/proto/contract"
)

// StreamOptions are the operator's knobs for the streams.
type StreamOptions struct {
	// Replicas per stream: 1 on one server, 3 in a production cluster.
	Replicas int
	// DedupWindow must exceed the longest time a publisher may retry the same
	// message (outbox relay, activity retries).
	DedupWindow time.Duration
	// EventsReplay is how long erasure events stay replayable for a
	// subscriber that was down.
	EventsReplay time.Duration
	// Storage: file in production; memory is allowed for throwaway stacks.
	Storage jetstream.StorageType
}

// DefaultStreamOptions are used when a field is zero.
var DefaultStreamOptions = StreamOptions{
	Replicas:     1,
	DedupWindow:  10 * time.Minute,
	EventsReplay: 7 * 24 * time.Hour,
	Storage:      jetstream.FileStorage,
}

func (o StreamOptions) withDefaults() StreamOptions {
	d := DefaultStreamOptions
	if o.Replicas > 0 {
		d.Replicas = o.Replicas
	}
	if o.DedupWindow > 0 {
		d.DedupWindow = o.DedupWindow
	}
	if o.EventsReplay > 0 {
		d.EventsReplay = o.EventsReplay
	}
	if o.Storage != 0 {
		d.Storage = o.Storage
	}
	return d
}

// StreamConfigs lists every stream of a namespace.
func StreamConfigs(ns contract.Namespace, o StreamOptions) []jetstream.StreamConfig {
	o = o.withDefaults()
	base := func(name, desc string, subjects ...string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    subjects,
			Storage:     o.Storage,
			Replicas:    o.Replicas,
			Duplicates:  o.DedupWindow,
			Discard:     jetstream.DiscardOld,
		}
	}
	req := base(ns.StreamRequests(), "Submitted privacy requests, from the intake outbox", ns.RequestSubmitted())
	req.MaxAge = 30 * 24 * time.Hour

	// Work queue: a command is gone once its holder acked it; each holder's
	// consumer filters on its own subjects, so they never overlap.
	cmd := base(ns.StreamCommands(), "Commands to data holders", ns.Root+".commands.>")
	cmd.Retention = jetstream.WorkQueuePolicy

	res := base(ns.StreamResults(), "Results reported by data holders", ns.AllResults())
	res.Retention = jetstream.WorkQueuePolicy

	ev := base(ns.StreamEvents(), "Events for internal subscribers (erasure completed)", ns.Root+".events.>")
	ev.MaxAge = o.EventsReplay

	dl := base(ns.StreamDeadLetter(), "Messages a consumer could not process, with the reason", ns.Root+".deadletter.>")
	dl.MaxAge = 30 * 24 * time.Hour
	return []jetstream.StreamConfig{req, cmd, res, ev, dl}
}

// PackagesConfig is the object store of sealed disclosure packages, with
// the same storage and replicas as the streams.
func PackagesConfig(ns contract.Namespace, o StreamOptions) jetstream.ObjectStoreConfig {
	o = o.withDefaults()
	return jetstream.ObjectStoreConfig{
		Bucket: ns.PackagesBucket(), Description: "Sealed disclosure packages",
		Storage: o.Storage, Replicas: o.Replicas,
		// A backstop only: each package is purged by its workflow at expiry.
		TTL: 90 * 24 * time.Hour,
	}
}

// DeclareStreams creates or updates every stream and the packages object
// store; safe to run at every start. It needs the NATS admin's permissions
// (`madoguchi nats-setup`; no component may declare a stream). A stream
// already as declared is left alone: an update with nothing to change would
// still race, inside the server, with a component creating its consumer on
// that stream (nats-server 2.15's file store, seen under the race detector).
func DeclareStreams(ctx context.Context, js jetstream.JetStream, ns contract.Namespace, o StreamOptions) error {
	for _, cfg := range StreamConfigs(ns, o) {
		if err := declareStream(ctx, js, cfg); err != nil {
			return fmt.Errorf("bus: declare stream %s: %w", cfg.Name, err)
		}
	}
	if err := declareObjectStore(ctx, js, PackagesConfig(ns, o)); err != nil {
		return fmt.Errorf("bus: declare object store %s: %w", ns.PackagesBucket(), err)
	}
	return nil
}

func declareStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) error {
	s, err := js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err = js.CreateStream(ctx, cfg); !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return err
		}
		s, err = js.Stream(ctx, cfg.Name) // another component created it just now
	}
	if err != nil {
		return err
	}
	if declared(s.CachedInfo().Config, cfg) {
		return nil
	}
	_, err = js.UpdateStream(ctx, cfg)
	return err
}

// declared reports whether have already holds every setting StreamConfigs
// makes (the server fills in the rest with its defaults).
func declared(have, want jetstream.StreamConfig) bool {
	return have.Description == want.Description && slices.Equal(have.Subjects, want.Subjects) &&
		have.Storage == want.Storage && have.Replicas == want.Replicas && have.Duplicates == want.Duplicates &&
		have.Discard == want.Discard && have.MaxAge == want.MaxAge && have.Retention == want.Retention
}

func declareObjectStore(ctx context.Context, js jetstream.JetStream, cfg jetstream.ObjectStoreConfig) error {
	store, err := js.ObjectStore(ctx, cfg.Bucket)
	if err == nil {
		st, err := store.Status(ctx)
		if err != nil {
			return err
		}
		if st.Description() == cfg.Description && st.TTL() == cfg.TTL && st.Storage() == cfg.Storage && st.Replicas() == cfg.Replicas {
			return nil
		}
	} else if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return err
	}
	_, err = js.CreateOrUpdateObjectStore(ctx, cfg)
	return err
}
