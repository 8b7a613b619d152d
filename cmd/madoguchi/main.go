// Command madoguchi runs Madoguchi's parts: one per process in production
// (intake, bridge, worker, holder NAME), or all of them with their servers
// on one machine (dev).
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rs/zerolog"

	"madoguchi.dev/cmd/internal/component"
	"madoguchi.dev/cmd/internal/stack"
	"madoguchi.dev/platform/logging"
	"madoguchi.dev/platform/metrics"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/staffsig"
)

const usage = `usage: madoguchi <command>

  dev           run the whole stack on this machine (make dev)
  intake        serve the request form and API, relay the outbox
  bridge        start workflows for requests, deliver holder results
  worker        run the request workflow and its activities
  holder NAME   run one data holder (e.g. members)
  codec-server  decrypt payloads for staff in the Temporal UI and CLI
  keygen [ID]   print a new key-ring entry for MADOGUCHI_KEYS
  keygen --staff [ID]
                print a new staff signing key (MADOGUCHI_STAFF_SIGNING_KEY, for
                dsrctl alone) and its public key (MADOGUCHI_STAFF_VERIFY_KEYS, for
                the worker)
  reseal        after a key rotation, re-seal the intake's stored personal data,
                documents and announcements with the active key (safe while running)
  nats-setup    declare the JetStream streams and the packages store, as the NATS
                admin (NATS_NKEY_SEED); run before the components, at every deployment
  nats-keygen [USER...]
                print a new NATS user seed (NATS_NKEY_SEED_<USER>, the component's)
                and its public key (MADOGUCHI_NKEY_<USER>, the server's) per user
  nats-config [-write DIR] [-erasure-subscriber NAME]...
                print (or write under DIR) the NATS server configurations of deploy/

Configuration is read from the environment; see README.md.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1], os.Args[2:]); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "madoguchi:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cmd string, args []string) error {
	if cmd != "keygen" {
		flush, err := setupTracing(ctx, cmd, args)
		if err != nil {
			return err
		}
		defer flush()
	}
	switch cmd {
	case "dev":
		return dev(ctx)
	case "keygen":
		if len(args) > 0 && args[0] == "--staff" {
			return staffKeygen(args[1:])
		}
		id := "k1"
		if len(args) > 0 {
			id = args[0]
		}
		spec, err := seal.NewKeySpec(id)
		if err != nil {
			return err
		}
		fmt.Println(spec)
		return nil
	case "codec-server":
		return codecServer(ctx)
	case "reseal":
		return reseal(ctx)
	case "nats-setup":
		return natsSetup(ctx)
	case "nats-keygen":
		return natsKeygen(args)
	case "nats-config":
		return natsConfig(args)
	case "intake", "bridge", "worker", "holder":
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	log := logging.New(cmd)
	if err := serveOps(ctx, log); err != nil {
		return err
	}
	cfg, err := component.LoadConfig()
	if err != nil {
		return err
	}
	rt, err := component.NewRuntime(cfg, log)
	if err != nil {
		return err
	}
	switch cmd {
	case "intake":
		return rt.RunIntake(ctx)
	case "bridge":
		return rt.RunBridge(ctx)
	case "worker":
		return rt.RunWorker(ctx)
	default:
		if len(args) != 1 {
			return errors.New("usage: madoguchi holder NAME")
		}
		return rt.RunHolder(ctx, args[0])
	}
}

// serveOps starts /healthz, /readyz and /metrics on OPS_ADDR (default
// 127.0.0.1:9090; set ":9090" in containers).
func serveOps(ctx context.Context, log zerolog.Logger) error {
	ln, err := net.Listen("tcp", envOr("OPS_ADDR", "127.0.0.1:9090"))
	if err != nil {
		return fmt.Errorf("ops listener: %w", err)
	}
	go func() {
		if err := metrics.ServeOps(ctx, ln, nil); err != nil {
			log.Error().Err(err).Msg("ops server stopped")
		}
	}()
	return nil
}

func dev(ctx context.Context) error {
	if os.Getenv("LOG_FORMAT") == "" {
		os.Setenv("LOG_FORMAT", "console")
	}
	log := logging.New("dev")
	if err := serveOps(ctx, log); err != nil {
		return err
	}
	root, _ := os.Getwd()
	dir := envOr("MADOGUCHI_DEV_DIR", filepath.Join(root, ".dev"))
	fmt.Println("Madoguchi dev stack: starting PostgreSQL, NATS, Temporal and every component…")
	s, err := stack.Start(ctx, stack.Options{
		Dir: dir, TemporalBinary: envOr("TEMPORAL_CLI", filepath.Join(root, "bin", "temporal")),
		TemporalPort: 7233, TemporalUIPort: 8233, TemporalDBFile: filepath.Join(dir, "temporal.db"),
		MailpitBinary: envOr("MAILPIT_BIN", filepath.Join(root, "bin", "mailpit")), MailSMTPPort: 1025, MailUIPort: 8025,
		IntakeAddr: envOr("INTAKE_ADDR", "127.0.0.1:8080"), DatabasePrefix: "madoguchi", SubjectRoot: "dsr",
		Keys: os.Getenv("MADOGUCHI_KEYS"), PseudonymKey: os.Getenv("MADOGUCHI_PSEUDONYM_KEY"), PersistKeys: true,
		RegistryFile: os.Getenv("MADOGUCHI_REGISTRY"), Log: log, CodecAddr: envOr("CODEC_ADDR", "127.0.0.1:8089"),
	})
	if err != nil {
		return err
	}
	origin := func(started bool) string {
		if started {
			return "started by make dev"
		}
		return "reused"
	}
	fmt.Printf(`
  Request form (ja)   %[1]s/
  Request form (en)   %[1]s/en
  JSON API            POST %[1]s/api/v1/requests
  Metrics             http://127.0.0.1:9090/metrics
  Temporal Web UI     %[2]s
  Mail catcher        %[11]s  (every notice lands here)
  Codec server        %[12]s  (staff sign in at %[12]s/signin to see decrypted payloads in the UI)
  Staff CLI           set -a; . %[13]s; set +a; go run ./cmd/dsrctl list
  PostgreSQL          %[3]s (%[4]s)
  NATS JetStream      %[5]s (%[6]s)
  Temporal frontend   %[7]s (%[8]s)
  Holders             %[9]v
  State and keys      %[10]s

Try:  curl -s -XPOST %[1]s/api/v1/requests -H 'Content-Type: application/json' \
        -d '{"kind":"deletion","subject":{"name":"山田 花子","email":"hanako@example.jp","member_id":"M-1001"}}'
Ctrl-C stops everything.
`, s.IntakeURL, uiURL(s), redactURL(s.Postgres.AdminURL), origin(s.Postgres.Started), s.NATS.URL, origin(s.NATS.Started),
		s.Temporal.HostPort, origin(s.Temporal.Started), s.HolderNames(), dir, s.Mail.UIURL,
		s.CodecURL, filepath.Join(dir, "staff.env"))
	select {
	case <-ctx.Done():
		fmt.Println("\nstopping…")
	case <-s.Done():
		fmt.Println("a component stopped:", s.Err())
	}
	err = s.Stop()
	fmt.Println("stopped.")
	return err
}

// codecServer needs only the key ring and the staff database, not the
// rest of the runtime's configuration.
func codecServer(ctx context.Context) error {
	cfg, err := component.LoadConfig()
	if err != nil {
		return err
	}
	cc, err := component.LoadCodecConfig()
	if err != nil {
		return err
	}
	ring, err := seal.ParseRing(cfg.Keys)
	if err != nil {
		return fmt.Errorf("MADOGUCHI_KEYS: %w", err)
	}
	return component.RunCodecServer(ctx, ring, cfg.TemporalNamespace, cc, logging.New("codec-server"))
}

func uiURL(s *stack.Stack) string {
	if s.Temporal.UIURL == "" {
		return "(Temporal was reused: its own UI)"
	}
	return s.Temporal.UIURL
}

func redactURL(u string) string {
	if at := strings.LastIndex(u, "@"); at > 0 {
		return "postgres://…" + u[at:]
	}
	return u
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// reseal runs Runtime.Reseal once and reports what it rewrote (counts only).
func reseal(ctx context.Context) error {
	log := logging.New("reseal")
	cfg, err := component.LoadConfig()
	if err != nil {
		return err
	}
	rt, err := component.NewRuntime(cfg, log)
	if err != nil {
		return err
	}
	st, err := rt.Reseal(ctx)
	if err != nil {
		return err
	}
	log.Info().Int("requests", st.Requests).Int("uploads", st.Uploads).Int("announcements", st.Announcements).
		Str("key", rt.Ring.ActiveKeyID()).Msg("re-sealed with the active key")
	return nil
}

// staffKeygen prints a new staff key pair under id (args[0], default s1),
// one variable a line: the signing key goes to the staff side (dsrctl)
// alone, the public key to the worker.
func staffKeygen(args []string) error {
	id := "s1"
	if len(args) > 0 {
		id = args[0]
	}
	signing, verify, err := staffsig.NewKeyPair(id)
	if err != nil {
		return err
	}
	fmt.Println("MADOGUCHI_STAFF_SIGNING_KEY=" + signing)
	fmt.Println("MADOGUCHI_STAFF_VERIFY_KEYS=" + verify)
	return nil
}
