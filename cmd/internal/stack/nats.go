package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"

	"madoguchi.dev/cmd/internal/component"
	"madoguchi.dev/platform/devinfra"
	"madoguchi.dev/platform/natsauth"
	"madoguchi.dev/proto/contract"
)

// startNATS starts the embedded nats-server with a user per component (and
// the admin), each with the permissions of platform/natsauth and a seed of
// its own (given back in s.natsSeeds; in Dir/nats.env with PersistKeys).
// A server named by NATS_URL is the operator's, with its own users: then
// every component and the setup connect with this process's NATS_NKEY_SEED
// or NATS_CREDS.
func (s *Stack) startNATS(ctx context.Context, o Options) error {
	dir := filepath.Join(o.Dir, "nats")
	cfg, err := component.LoadConfig()
	if err != nil {
		return err
	}
	if u := os.Getenv("NATS_URL"); u != "" && u != "embedded" {
		opts, err := component.NATSOptions(cfg, nil, natsauth.Admin)
		if err != nil {
			return err
		}
		s.NATS, err = devinfra.StartNATS(ctx, dir, devinfra.NATSAuth{Connect: opts})
		return err
	}
	ns, err := contract.NewNamespace(o.SubjectRoot)
	if err != nil {
		return err
	}
	layout := component.NATSLayout(ns)
	perms, err := layout.Permissions()
	if err != nil {
		return err
	}
	if s.natsSeeds, err = natsSeeds(o, layout.Users()); err != nil {
		return err
	}
	pubs := map[string]string{}
	for user, seed := range s.natsSeeds {
		if pubs[user], err = natsauth.PublicKey(seed); err != nil {
			return fmt.Errorf("stack: %s: %w", natsauth.SeedVar(user), err)
		}
	}
	users, err := natsauth.ServerUsers(perms, pubs)
	if err != nil {
		return err
	}
	s.NATS, err = devinfra.StartNATS(ctx, dir, devinfra.NATSAuth{Users: users})
	return err
}

// setupNATS declares the streams as the admin, as `madoguchi nats-setup`
// does in production, and gives the components their own NATS users.
func (s *Stack) setupNATS(ctx context.Context) error {
	s.Runtime.NATSSeeds = s.natsSeeds
	return component.SetupNATS(ctx, s.Runtime.Config, s.natsSeeds)
}

// ConnectNATS connects to the stack's NATS as user (natsauth.Admin for a
// test's own taps, or a component's user to act as it), with that user's
// credentials and inbox; opts are applied after them.
func (s *Stack) ConnectNATS(user string, opts ...nats.Option) (*nats.Conn, error) {
	base, err := component.NATSOptions(s.Runtime.Config, s.natsSeeds, user)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(s.NATS.URL, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("stack: connect NATS as %s: %w", user, err)
	}
	return nc, nil
}

// NATSSeed is the seed of one of the stack's NATS users ("" when the
// server is the operator's, NATS_URL).
func (s *Stack) NATSSeed(user string) string { return s.natsSeeds[user] }

// natsSeeds returns a seed for each user: kept from Dir/nats.env (with
// PersistKeys), else new; with PersistKeys the file is written back.
func natsSeeds(o Options, users []string) (map[string]string, error) {
	file := filepath.Join(o.Dir, "nats.env")
	kept := map[string]string{}
	if o.PersistKeys {
		if b, err := os.ReadFile(file); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if name, v, ok := strings.Cut(line, "="); ok && v != "" {
					kept[name] = v
				}
			}
		}
	}
	seeds := map[string]string{}
	var content strings.Builder
	content.WriteString("# NATS user seeds of the dev stack (one per component; platform/natsauth).\n")
	for _, u := range users {
		seed := kept[natsauth.SeedVar(u)]
		if _, err := natsauth.PublicKey(seed); err != nil {
			if seed, _, err = natsauth.NewSeed(); err != nil {
				return nil, err
			}
		}
		seeds[u] = seed
		content.WriteString(natsauth.SeedVar(u) + "=" + seed + "\n")
	}
	if o.PersistKeys {
		if err := os.MkdirAll(o.Dir, 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(file, []byte(content.String()), 0o600); err != nil {
			return nil, fmt.Errorf("stack: store NATS seeds: %w", err)
		}
	}
	return seeds, nil
}
