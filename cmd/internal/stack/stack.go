// Package stack runs the whole of Madoguchi on one machine: it brings up
// (or reuses) PostgreSQL, NATS with JetStream and a Temporal dev server,
// creates each component's database, and runs the intake, bridge, worker and
// every holder in this process. `madoguchi dev` and the end-to-end tests use it.
package stack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"madoguchi.dev/cmd/internal/component"
	"madoguchi.dev/platform/devinfra"
	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/platform/seal"
)

// Options configure a stack.
type Options struct {
	// Dir holds the private PostgreSQL cluster, JetStream data, the Temporal
	// database and the dev keys (".dev" for make dev; a temp dir in tests).
	Dir string
	// TemporalBinary is bin/temporal, built by `make tools`.
	TemporalBinary string
	// TemporalPort/UIPort: 0 picks free ports.
	TemporalPort, TemporalUIPort int
	// TemporalDBFile persists Temporal state; "" keeps it in memory.
	TemporalDBFile string
	// MailpitBinary is bin/mailpit; MailSMTPPort/MailUIPort 0 pick free ports.
	MailpitBinary            string
	MailSMTPPort, MailUIPort int
	// IntakeAddr, e.g. 127.0.0.1:8080; "" picks a free port.
	IntakeAddr string
	// Name prefixes databases and namespaces NATS subjects ("madoguchi"/"dsr"
	// for dev; a unique token in tests so that runs do not collide).
	DatabasePrefix string
	SubjectRoot    string
	// Keys and PseudonymKey: "" generates (and, with PersistKeys, stores in Dir).
	Keys, PseudonymKey string
	PersistKeys        bool
	// Registry overrides holders.yaml (tests shorten SLAs).
	RegistryFile string
	Log          zerolog.Logger
}

// Stack is a running Madoguchi.
type Stack struct {
	Postgres  *devinfra.Postgres
	NATS      *devinfra.NATS
	Temporal  *devinfra.Temporal
	Mail      *devinfra.Mailpit
	Runtime   *component.Runtime
	IntakeURL string
	// Databases maps a component to its DSN.
	Databases map[string]string
	cancel    context.CancelFunc
	// done is closed when every component has stopped; runErr says why.
	done   chan struct{}
	runErr error
	opts   Options
}

// Start brings everything up and returns once the intake answers /readyz.
func Start(ctx context.Context, o Options) (*Stack, error) {
	s := &Stack{opts: o, Databases: map[string]string{}}
	if err := s.start(ctx, o); err != nil {
		s.stopInfra()
		return nil, err
	}
	return s, nil
}

func (s *Stack) start(ctx context.Context, o Options) (err error) {
	if s.Postgres, err = devinfra.StartPostgres(ctx, filepath.Join(o.Dir, "postgres")); err != nil {
		return err
	}
	if s.NATS, err = devinfra.StartNATS(ctx, filepath.Join(o.Dir, "nats")); err != nil {
		return err
	}
	tlog := ""
	if o.Dir != "" {
		tlog = filepath.Join(o.Dir, "temporal.log")
	}
	if s.Temporal, err = devinfra.StartTemporal(ctx, devinfra.TemporalOptions{
		Binary: o.TemporalBinary, Port: o.TemporalPort, UIPort: o.TemporalUIPort, DBFile: o.TemporalDBFile, LogFile: tlog,
	}); err != nil {
		return err
	}

	if s.Mail, err = devinfra.StartMailpit(ctx, devinfra.MailpitOptions{
		Binary: o.MailpitBinary, SMTPPort: o.MailSMTPPort, UIPort: o.MailUIPort,
	}); err != nil {
		return err
	}

	keys, psn, err := devKeys(o)
	if err != nil {
		return err
	}
	cfg, err := component.LoadConfig()
	if err != nil {
		return err
	}
	cfg.NATSURL, cfg.TemporalAddress, cfg.TemporalNamespace = s.NATS.URL, s.Temporal.HostPort, s.Temporal.Namespace
	cfg.SubjectRoot, cfg.Keys, cfg.PseudonymKey = o.SubjectRoot, keys, psn
	cfg.RegistryFile = o.RegistryFile
	cfg.SMTPAddr = s.Mail.SMTPAddr
	if s.Databases["intake"], err = pgdb.EnsureDatabase(ctx, s.Postgres.AdminURL, o.DatabasePrefix+"_intake"); err != nil {
		return err
	}
	cfg.IntakeDatabaseURL = s.Databases["intake"]
	for name := range component.Holders {
		dsn, err := pgdb.EnsureDatabase(ctx, s.Postgres.AdminURL, o.DatabasePrefix+"_"+name)
		if err != nil {
			return err
		}
		s.Databases[name], cfg.HolderDatabaseURLs[name] = dsn, dsn
	}
	if s.Runtime, err = component.NewRuntime(cfg, o.Log); err != nil {
		return err
	}
	addr := o.IntakeAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("intake listen %s: %w", addr, err)
	}
	s.Runtime.IntakeListener = ln
	s.IntakeURL = "http://" + ln.Addr().String()
	if o.IntakeAddr == "" || s.Runtime.Config.PublicURL == "" {
		s.Runtime.Config.PublicURL = s.IntakeURL
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel, s.done = cancel, make(chan struct{})
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return s.Runtime.RunIntake(gctx) })
	g.Go(func() error { return s.Runtime.RunBridge(gctx) })
	g.Go(func() error { return s.Runtime.RunWorker(gctx) })
	for _, name := range s.HolderNames() {
		g.Go(func() error { return s.Runtime.RunHolder(gctx, name) })
	}
	go func() { s.runErr = g.Wait(); close(s.done) }()

	if err := s.waitReady(ctx); err != nil {
		s.cancel()
		<-s.done
		return err
	}
	return nil
}

// HolderNames lists the holders the stack runs, sorted.
func (s *Stack) HolderNames() []string {
	var names []string
	for n := range component.Holders {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Done is closed when a component has failed (or all have stopped); Err says why.
func (s *Stack) Done() <-chan struct{} { return s.done }

// Err is the first component error, after Done is closed.
func (s *Stack) Err() error { return s.runErr }

// Stop ends the components (letting work in flight finish), then the servers
// this stack started.
func (s *Stack) Stop() error {
	var err error
	if s.cancel != nil {
		s.cancel()
		select {
		case <-s.done:
			err = s.runErr
		case <-time.After(30 * time.Second):
			err = errors.New("components did not stop within 30s")
		}
	}
	s.stopInfra()
	return err
}

func (s *Stack) stopInfra() {
	if s.Mail != nil {
		s.Mail.Stop()
	}
	if s.Temporal != nil {
		s.Temporal.Stop()
	}
	if s.NATS != nil {
		s.NATS.Stop()
	}
	if s.Postgres != nil {
		s.Postgres.Stop()
	}
}

var readyClient = &http.Client{Timeout: 2 * time.Second}

func (s *Stack) waitReady(ctx context.Context) error {
	url := s.IntakeURL + "/readyz"
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("a component stopped during start-up: %w", s.runErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := readyClient.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("intake not ready at %s after 60s", url)
}

// devKeys returns the key ring and pseudonym key: given, stored in Dir, or new.
func devKeys(o Options) (keys, psn string, err error) {
	keys, psn = o.Keys, o.PseudonymKey
	file := filepath.Join(o.Dir, "keys.env")
	if o.PersistKeys && (keys == "" || psn == "") {
		if b, err := os.ReadFile(file); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "MADOGUCHI_KEYS="); ok && keys == "" {
					keys = v
				}
				if v, ok := strings.CutPrefix(line, "MADOGUCHI_PSEUDONYM_KEY="); ok && psn == "" {
					psn = v
				}
			}
		}
	}
	if keys == "" {
		if keys, err = seal.NewKeySpec("dev1"); err != nil {
			return "", "", err
		}
	}
	if psn == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", "", err
		}
		psn = base64.StdEncoding.EncodeToString(b)
	}
	if o.PersistKeys {
		if err := os.MkdirAll(o.Dir, 0o700); err != nil {
			return "", "", err
		}
		content := "MADOGUCHI_KEYS=" + keys + "\nMADOGUCHI_PSEUDONYM_KEY=" + psn + "\n"
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			return "", "", fmt.Errorf("store dev keys: %w", err)
		}
	}
	return keys, psn, nil
}
