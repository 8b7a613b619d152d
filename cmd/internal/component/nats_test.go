package component

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"madoguchi.dev/platform/devinfra"
	"madoguchi.dev/platform/natsauth"
	"madoguchi.dev/proto/contract"
)

// The NATS server configurations in deploy/ are what platform/natsauth
// generates (refresh: go run ./cmd/madoguchi nats-config -write .).
func TestTheCommittedNATSServerConfigurationsAreGenerated(t *testing.T) {
	files, err := NATSConfigFiles()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join("..", "..", "..")
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if string(got) != want {
			t.Errorf("%s is not what platform/natsauth generates: run `go run ./cmd/madoguchi nats-config -write .`", path)
		}
	}
	// The compose file gives every NATS server each public key and every
	// component its own seed.
	compose, err := os.ReadFile(filepath.Join(root, "deploy/compose/compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range NATSLayout(contract.Default).Users() {
		for _, v := range []string{natsauth.KeyVar(u), natsauth.SeedVar(u)} {
			if !strings.Contains(string(compose), v) {
				t.Errorf("deploy/compose/compose.yaml does not use %s", v)
			}
		}
	}
}

// natsServer runs an embedded nats-server with every user of the layout of
// ns, returning its URL and the users' seeds.
func natsServer(t *testing.T, ns contract.Namespace) (string, map[string]string) {
	t.Helper()
	l := NATSLayout(ns)
	perms, err := l.Permissions()
	if err != nil {
		t.Fatal(err)
	}
	seeds, pubs := map[string]string{}, map[string]string{}
	for _, u := range l.Users() {
		if seeds[u], pubs[u], err = natsauth.NewSeed(); err != nil {
			t.Fatal(err)
		}
	}
	users, err := natsauth.ServerUsers(perms, pubs)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := devinfra.StartEmbeddedNATS(t.TempDir(), -1, users)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv.URL, seeds
}

func TestComponentsStartOnlyOnceTheAdminDeclaredTheStreams(t *testing.T) {
	ns, _ := contract.NewNamespace("nt")
	url, seeds := natsServer(t, ns)
	cfg := Config{NATSURL: url, SubjectRoot: ns.Root, StreamReplicas: 1}
	rt := &Runtime{Config: cfg, Namespace: ns, NATSSeeds: seeds}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	users := []string{natsauth.Intake, natsauth.Bridge, natsauth.Worker}
	for h := range Holders {
		users = append(users, natsauth.Holder(h))
	}

	// Before the setup: each stops, saying what to run.
	for _, u := range users {
		nc, _, err := rt.connectNATS(ctx, u)
		if err == nil {
			nc.Close()
			t.Fatalf("%s started without streams", u)
		}
		if !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "madoguchi nats-setup") ||
			!strings.HasPrefix(err.Error(), u+": ") {
			t.Fatalf("%s without streams: %v; want it to name itself, the stream and nats-setup", u, err)
		}
	}
	// A component cannot do the admin's step with its own credentials.
	holder := cfg
	holder.NATSNkeySeed = seeds[natsauth.Holder("members")]
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	defer cancelShort()
	if err := SetupNATS(short, holder, nil); err == nil || !strings.Contains(err.Error(), "ermissions") {
		t.Fatalf("setup with a holder's seed: %v; want a permissions violation", err)
	}
	if err := SetupNATS(ctx, cfg, seeds); err != nil {
		t.Fatalf("setup as the admin: %v", err)
	}
	if err := SetupNATS(ctx, cfg, seeds); err != nil {
		t.Fatalf("setup again: %v", err)
	}
	// Every component's durable exists, a pull consumer with its filter.
	aopts, err := natsauth.ConnectOptions(natsauth.Admin, seeds[natsauth.Admin])
	if err != nil {
		t.Fatal(err)
	}
	admin, err := nats.Connect(url, aopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ajs, _ := jetstream.New(admin)
	perms, _ := NATSLayout(ns).Permissions()
	durables := 0
	for _, p := range perms {
		for _, d := range p.Durables {
			c, err := ajs.Consumer(ctx, d.Stream, d.Name)
			if err != nil {
				t.Fatalf("durable %s on %s: %v", d.Name, d.Stream, err)
			}
			if cfg := c.CachedInfo().Config; cfg.DeliverSubject != "" || cfg.FilterSubject != d.Filter {
				t.Fatalf("durable %s: deliver subject %q, filter %q; want a pull consumer on %s", d.Name, cfg.DeliverSubject, cfg.FilterSubject, d.Filter)
			}
			durables++
		}
	}
	if want := 3 + len(Holders); durables != want {
		t.Fatalf("%d durables, want %d (dispatcher, results, intake-retention, one per holder)", durables, want)
	}
	for _, u := range users {
		nc, _, err := rt.connectNATS(ctx, u)
		if err != nil {
			t.Fatalf("%s after the setup: %v", u, err)
		}
		nc.Close()
	}

	// Someone else's seed, or none, is refused with the server's reason.
	other, _, _ := natsauth.NewSeed()
	stranger := &Runtime{Config: cfg, Namespace: ns, NATSSeeds: map[string]string{natsauth.Worker: other}}
	if nc, _, err := stranger.connectNATS(ctx, natsauth.Worker); err == nil {
		nc.Close()
		t.Fatal("a worker with an unknown seed connected")
	} else if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("unknown seed: %v; want the authorization violation named", err)
	}
	if _, err := NATSOptions(Config{NATSNkeySeed: "SUnot-a-seed"}, nil, natsauth.Intake); err == nil ||
		strings.Contains(err.Error(), "SUnot-a-seed") {
		t.Fatalf("a malformed seed: %v; want an error that does not echo it", err)
	}
}
