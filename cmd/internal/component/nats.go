package component

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/natsauth"
	"madoguchi.dev/proto/contract"
)

// NATSLayout is what the NATS users and permissions are written for in ns:
// every holder this binary runs, and the erasure subscribers named.
func NATSLayout(ns contract.Namespace, erasureSubscribers ...string) natsauth.Layout {
	holders := make([]string, 0, len(Holders))
	for h := range Holders {
		holders = append(holders, h)
	}
	sort.Strings(holders)
	return natsauth.Layout{Namespace: ns, Holders: holders, ErasureSubscribers: erasureSubscribers}
}

// NATSOptions are the options to connect to NATS as user (natsauth names:
// "intake", "holder-members", "admin", …): its credentials — its seed in
// seeds (the dev stack gives each component its own), else NATS_NKEY_SEED,
// else the NATS_CREDS file, else none — its own inbox prefix, and
// reconnects without end.
func NATSOptions(cfg Config, seeds map[string]string, user string) ([]nats.Option, error) {
	opts := []nats.Option{nats.Name("madoguchi-" + user), nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second), nats.RetryOnFailedConnect(true)}
	if seed := cmp.Or(seeds[user], cfg.NATSNkeySeed); seed != "" {
		auth, err := natsauth.ConnectOptions(user, seed)
		if err != nil {
			return nil, fmt.Errorf("%s: NATS_NKEY_SEED: %w", user, err)
		}
		return append(opts, auth...), nil
	}
	if cfg.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(cfg.NATSCreds))
	}
	return append(opts, nats.CustomInboxPrefix(natsauth.InboxPrefix(user))), nil
}

// connectNATS connects as the component's own NATS user and checks that
// the streams it works on exist: an admin declares them (SetupNATS), a
// component may not.
func (rt *Runtime) connectNATS(ctx context.Context, user string) (*nats.Conn, jetstream.JetStream, error) {
	opts, err := NATSOptions(rt.Config, rt.NATSSeeds, user)
	if err != nil {
		return nil, nil, err
	}
	// A refused publish or subscription is reported asynchronously: log it
	// (its subject names no person).
	log := rt.Log.With().Str("nats_user", user).Logger()
	opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		log.Error().Err(err).Msg("NATS refused an operation")
	}))
	nc, err := nats.Connect(rt.Config.NATSURL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: connect NATS: %w", user, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("%s: JetStream: %w", user, err)
	}
	p, ok := natsauth.Of(rt.Namespace, user)
	if !ok {
		nc.Close()
		return nil, nil, fmt.Errorf("%s: no NATS role of that name", user)
	}
	for _, s := range p.Streams {
		if _, err := js.Stream(ctx, s); errors.Is(err, jetstream.ErrStreamNotFound) {
			nc.Close()
			return nil, nil, fmt.Errorf("%s: stream %s does not exist: declare the streams first "+
				"(`madoguchi nats-setup` with the admin's NATS credentials, or deploy/kubernetes/nack)", user, s)
		} else if err != nil {
			err = natsError(nc, err)
			nc.Close()
			return nil, nil, fmt.Errorf("%s: look up stream %s: %w", user, s, err)
		}
	}
	return nc, js, nil
}

// natsError adds the connection's last error (an authorization violation,
// say) to err, which is often only a timeout.
func natsError(nc *nats.Conn, err error) error {
	if last := nc.LastError(); last != nil && !errors.Is(err, last) {
		return fmt.Errorf("%w (NATS: %v)", err, last)
	}
	return err
}

// SetupNATS declares the streams and the packages object store as the NATS
// admin (`madoguchi nats-setup`): it creates what is missing and updates
// what differs, so it is safe to run at every deployment. It also creates
// every component's durable (NATSLayout) as a pull consumer, as the
// component itself would: nats-server never lets an update turn a pull
// consumer into a push one, whose deliver subject it would not check
// against the updater's permissions.
func SetupNATS(ctx context.Context, cfg Config, seeds map[string]string) error {
	ns, err := contract.NewNamespace(cfg.SubjectRoot)
	if err != nil {
		return fmt.Errorf("nats-setup: %w", err)
	}
	opts, err := NATSOptions(cfg, seeds, natsauth.Admin)
	if err != nil {
		return fmt.Errorf("nats-setup: %w", err)
	}
	nc, err := nats.Connect(cfg.NATSURL, opts...)
	if err != nil {
		return fmt.Errorf("nats-setup: connect NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("nats-setup: %w", err)
	}
	if err := bus.DeclareStreams(ctx, js, ns, bus.StreamOptions{Replicas: cfg.StreamReplicas}); err != nil {
		return fmt.Errorf("nats-setup: %w", natsError(nc, err))
	}
	perms, err := NATSLayout(ns).Permissions()
	if err != nil {
		return fmt.Errorf("nats-setup: %w", err)
	}
	for _, p := range perms {
		for _, d := range p.Durables {
			c := bus.Consumer{Namespace: ns, Stream: d.Stream, Durable: d.Name, FilterSubjects: []string{d.Filter}}
			if _, err := c.Ensure(ctx, js); err != nil {
				return fmt.Errorf("nats-setup: %w", natsError(nc, err))
			}
		}
	}
	return nil
}

// NATSConfigFiles are the generated NATS server configurations of deploy/
// (production namespace "dsr", every holder, and the erasure subscribers
// named), by path from the repository root. `madoguchi nats-config`
// writes them; a test keeps the committed ones equal to them.
func NATSConfigFiles(erasureSubscribers ...string) (map[string]string, error) {
	perms, err := NATSLayout(contract.Default, erasureSubscribers...).Permissions()
	if err != nil {
		return nil, err
	}
	helm, err := natsauth.HelmValues(perms, NATSUsersConfigMap)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"deploy/kubernetes/engines/nats/values-auth.yaml": helm,
		"deploy/compose/nats/auth.conf":                   natsauth.ConfigFile(perms),
	}, nil
}

// NATSUsersConfigMap holds the users' public keys beside the NATS servers
// in Kubernetes (namespace nats; deploy/README.md).
const NATSUsersConfigMap = "madoguchi-nats-users"
