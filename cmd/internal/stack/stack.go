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
	"sync"
	"time"

	"github.com/rs/zerolog"

	"madoguchi.dev/cmd/internal/component"
	"madoguchi.dev/platform/devinfra"
	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/staffsig"
	"madoguchi.dev/workflows/request"
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

	// SearchAttributeCache: the dev server caches search attributes as a
	// production server does (devinfra.TemporalOptions); the bench sets it.
	SearchAttributeCache bool

	// CodecAddr is where the codec server listens (127.0.0.1:8089 in dev);
	// "" picks a free port.
	CodecAddr string
}

// Stack is a running Madoguchi.
type Stack struct {
	Postgres  *devinfra.Postgres
	NATS      *devinfra.NATS
	Temporal  *devinfra.Temporal
	Mail      *devinfra.Mailpit
	Runtime   *component.Runtime
	IntakeURL string
	// StaffSigningKey signs staff actions (MADOGUCHI_STAFF_SIGNING_KEY, in
	// Dir/staff.env with PersistKeys, for dsrctl); no component gets it.
	StaffSigningKey string
	// CodecURL is the codec server the Temporal UI decrypts payloads with;
	// StaffToken is the dev staff account's token (also in Dir/staff.env
	// with PersistKeys).
	CodecURL, StaffToken string
	codecLn              net.Listener
	codecCfg             component.CodecConfig
	// Databases maps a component to its DSN.
	Databases map[string]string
	// natsSeeds are the NATS users' seeds by user (startNATS).
	natsSeeds map[string]string
	cancel    context.CancelFunc
	// done is closed when every component has stopped; runErr says why.
	done   chan struct{}
	runErr error
	opts   Options

	runCtx     context.Context
	mu         sync.Mutex
	components map[string]*componentRun
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
	if err = s.startNATS(ctx, o); err != nil {
		return err
	}
	tlog := ""
	if o.Dir != "" {
		tlog = filepath.Join(o.Dir, "temporal.log")
	}
	// The codec server's address must be known before the UI starts.
	codecAddr := o.CodecAddr
	if codecAddr == "" {
		codecAddr = "127.0.0.1:0"
	}
	if s.codecLn, err = net.Listen("tcp", codecAddr); err != nil {
		return fmt.Errorf("codec server listen %s: %w", codecAddr, err)
	}
	s.CodecURL = "http://" + s.codecLn.Addr().String()
	if s.Temporal, err = devinfra.StartTemporal(ctx, devinfra.TemporalOptions{
		Binary: o.TemporalBinary, Port: o.TemporalPort, UIPort: o.TemporalUIPort, DBFile: o.TemporalDBFile, LogFile: tlog,
		ExtraArgs: []string{"--ui-codec-endpoint", s.CodecURL},
		// Registered at start: in the UI from the first moment, and known to a
		// server that caches them.
		SearchAttributes: request.SearchAttributeTypes, SearchAttributeCache: o.SearchAttributeCache,
	}); err != nil {
		return err
	}

	if s.Mail, err = devinfra.StartMailpit(ctx, devinfra.MailpitOptions{
		Binary: o.MailpitBinary, SMTPPort: o.MailSMTPPort, UIPort: o.MailUIPort,
	}); err != nil {
		return err
	}

	keys, err := devKeys(o)
	if err != nil {
		return err
	}
	cfg, err := component.LoadConfig()
	if err != nil {
		return err
	}
	cfg.NATSURL, cfg.TemporalAddress, cfg.TemporalNamespace = s.NATS.URL, s.Temporal.HostPort, s.Temporal.Namespace
	cfg.SubjectRoot, cfg.Keys, cfg.PseudonymKey = o.SubjectRoot, keys["MADOGUCHI_KEYS"], keys["MADOGUCHI_PSEUDONYM_KEY"]
	cfg.VerificationKeys = keys["MADOGUCHI_VERIFICATION_KEYS"]
	// The worker checks staff actions with the public key; the signing key
	// is dsrctl's (Dir/staff.env) and the tests' (StaffSigningKey) only.
	cfg.StaffVerifyKeys, s.StaffSigningKey = keys["MADOGUCHI_STAFF_VERIFY_KEYS"], keys["MADOGUCHI_STAFF_SIGNING_KEY"]
	cfg.CommandKeys = keys["MADOGUCHI_COMMAND_KEYS"]
	cfg.PackageKeys = keys["MADOGUCHI_PACKAGE_KEYS"]
	cfg.IntakeKeys = keys["MADOGUCHI_INTAKE_KEYS"]
	cfg.RegistryFile = o.RegistryFile
	cfg.SMTPAddr = s.Mail.SMTPAddr
	// The mail catcher on 127.0.0.1 speaks plain SMTP: the one place the
	// worker may send without STARTTLS (the sender refuses "none" elsewhere).
	cfg.SMTPStartTLS = "none"
	if s.Databases["intake"], err = pgdb.EnsureDatabase(ctx, s.Postgres.AdminURL, o.DatabasePrefix+"_intake"); err != nil {
		return err
	}
	cfg.IntakeDatabaseURL = s.Databases["intake"]
	if err := s.prepareStaff(ctx, o); err != nil {
		return err
	}
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
	if err := s.setupNATS(ctx); err != nil {
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
	s.runCtx, s.cancel, s.done = runCtx, cancel, make(chan struct{})
	s.components = map[string]*componentRun{}
	for _, name := range s.ComponentNames() {
		if err := s.StartComponent(name); err != nil {
			return err
		}
	}
	go func() {
		<-runCtx.Done()
		s.mu.Lock()
		runs := make([]*componentRun, 0, len(s.components))
		for _, r := range s.components {
			runs = append(runs, r)
		}
		s.mu.Unlock()
		for _, r := range runs {
			<-r.done
		}
		close(s.done)
	}()

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

// componentRun is one component running in this process.
type componentRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// ComponentNames lists what the stack runs: intake, bridge, worker and
// holder:<name> for each holder.
func (s *Stack) ComponentNames() []string {
	names := []string{"intake", "bridge", "worker", "codec-server"}
	for _, h := range s.HolderNames() {
		names = append(names, "holder:"+h)
	}
	return names
}

func (s *Stack) runner(name string) (func(context.Context) error, error) {
	switch {
	case name == "intake":
		return s.Runtime.RunIntake, nil
	case name == "bridge":
		return s.Runtime.RunBridge, nil
	case name == "worker":
		return s.Runtime.RunWorker, nil
	case name == "codec-server":
		return s.runCodecServer, nil
	case strings.HasPrefix(name, "holder:"):
		h := strings.TrimPrefix(name, "holder:")
		return func(ctx context.Context) error { return s.Runtime.RunHolder(ctx, h) }, nil
	}
	return nil, fmt.Errorf("stack: no component %q", name)
}

// StartComponent (re)starts one component, e.g. after StopComponent in a
// fault-injection test. An unexpected failure of a component stops the stack.
func (s *Stack) StartComponent(name string) error {
	run, err := s.runner(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.components[name]; ok {
		select {
		case <-r.done:
		default:
			return fmt.Errorf("stack: %s is already running", name)
		}
	}
	if name == "intake" && s.Runtime.IntakeListener == nil {
		// A restarted intake listens on the same address again.
		ln, err := net.Listen("tcp", strings.TrimPrefix(s.IntakeURL, "http://"))
		if err != nil {
			return fmt.Errorf("stack: intake listen: %w", err)
		}
		s.Runtime.IntakeListener = ln
	}
	ctx, cancel := context.WithCancel(s.runCtx)
	r := &componentRun{cancel: cancel, done: make(chan struct{})}
	s.components[name] = r
	go func() {
		defer close(r.done)
		err := run(ctx)
		if name == "intake" {
			s.mu.Lock()
			s.Runtime.IntakeListener = nil
			s.mu.Unlock()
		}
		if err != nil && ctx.Err() == nil {
			s.mu.Lock()
			if s.runErr == nil {
				s.runErr = fmt.Errorf("%s: %w", name, err)
			}
			s.mu.Unlock()
			s.cancel()
		}
	}()
	return nil
}

// StopComponent stops one component and waits for it, like a crash of its
// process would (work in flight is abandoned at its next cancellation point).
func (s *Stack) StopComponent(name string) error {
	s.mu.Lock()
	r, ok := s.components[name]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("stack: no component %q", name)
	}
	r.cancel()
	select {
	case <-r.done:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("stack: %s did not stop within 30s", name)
	}
}

// Done is closed when a component has failed (or all have stopped); Err says why.
func (s *Stack) Done() <-chan struct{} { return s.done }

// Err is the first component error, after Done is closed.
func (s *Stack) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runErr
}

// Stop ends the components (letting work in flight finish), then the servers
// this stack started.
func (s *Stack) Stop() error {
	var err error
	if s.cancel != nil {
		s.cancel()
		select {
		case <-s.done:
			err = s.Err()
		case <-time.After(30 * time.Second):
			err = errors.New("components did not stop within 30s")
		}
	}
	s.stopInfra()
	return err
}

// prepareStaff creates and migrates the staff database, ensures the dev
// staff account, and configures the codec server for this stack's UI.
func (s *Stack) prepareStaff(ctx context.Context, o Options) error {
	cc, err := component.LoadCodecConfig()
	if err != nil {
		return err
	}
	if s.Databases["staff"], err = pgdb.EnsureDatabase(ctx, s.Postgres.AdminURL, o.DatabasePrefix+"_staff"); err != nil {
		return err
	}
	if err := component.PrepareStaffDatabase(ctx, s.Databases["staff"]); err != nil {
		return err
	}
	file := ""
	if o.PersistKeys {
		file = filepath.Join(o.Dir, "staff.env")
	}
	if s.StaffToken, err = component.EnsureDevStaff(ctx, s.Databases["staff"], s.CodecURL, s.StaffSigningKey, file); err != nil {
		return err
	}
	cc.StaffDatabaseURL = s.Databases["staff"]
	if ui := s.Temporal.UIURL; ui != "" {
		cc.UIURL = ui
		cc.UIOrigins = []string{ui, strings.Replace(ui, "127.0.0.1", "localhost", 1)}
	}
	s.codecCfg = cc
	return nil
}

// runCodecServer serves on the listener bound before Temporal started (its
// URL is the UI's codec endpoint), or on the same address after a restart.
func (s *Stack) runCodecServer(ctx context.Context) error {
	s.mu.Lock()
	ln := s.codecLn
	s.codecLn = nil
	s.mu.Unlock()
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", strings.TrimPrefix(s.CodecURL, "http://")); err != nil {
			return fmt.Errorf("stack: codec server listen: %w", err)
		}
	}
	cc := s.codecCfg
	cc.Listener = ln
	return s.Runtime.RunCodecServer(ctx, cc)
}

func (s *Stack) stopInfra() {
	if s.codecLn != nil {
		_ = s.codecLn.Close()
	}
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
			return fmt.Errorf("a component stopped during start-up: %w", s.Err())
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

// devKeys returns the keys each component needs, by variable name: given in
// o, stored in Dir (with PersistKeys), or new.
func devKeys(o Options) (map[string]string, error) {
	newRing := func(id string) func() (string, error) { return func() (string, error) { return seal.NewKeySpec(id) } }
	secret := func() (string, error) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(b), nil
	}
	keys := map[string]string{}
	staffKey := func() (string, error) {
		signing, _, err := staffsig.NewKeyPair("staff1")
		return signing, err
	}
	// The worker's public key is derived from dsrctl's signing key (made
	// just before it), never made on its own, so that the pair matches.
	staffPublic := func() (string, error) {
		signer, err := staffsig.ParseSigningKey(keys["MADOGUCHI_STAFF_SIGNING_KEY"])
		if err != nil {
			return "", err
		}
		return signer.VerifyKey(), nil
	}
	vars := []struct {
		name  string
		given string
		make  func() (string, error)
	}{
		{"MADOGUCHI_KEYS", o.Keys, newRing("dev1")},
		{"MADOGUCHI_PSEUDONYM_KEY", o.PseudonymKey, secret},
		{"MADOGUCHI_VERIFICATION_KEYS", "", newRing("verify1")},
		{"MADOGUCHI_STAFF_SIGNING_KEY", "", staffKey},
		{"MADOGUCHI_STAFF_VERIFY_KEYS", "", staffPublic},
		{"MADOGUCHI_COMMAND_KEYS", "", newRing("cmd1")},
		{"MADOGUCHI_PACKAGE_KEYS", "", newRing("pkg1")},
		{"MADOGUCHI_INTAKE_KEYS", "", newRing("intake1")},
	}
	file := filepath.Join(o.Dir, "keys.env")
	if o.PersistKeys {
		if b, err := os.ReadFile(file); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if name, v, ok := strings.Cut(line, "="); ok && v != "" {
					keys[name] = v
				}
			}
		}
	}
	var content strings.Builder
	for _, v := range vars {
		if v.given != "" {
			keys[v.name] = v.given
		}
		if keys[v.name] == "" {
			k, err := v.make()
			if err != nil {
				return nil, fmt.Errorf("generate %s: %w", v.name, err)
			}
			keys[v.name] = k
		}
		content.WriteString(v.name + "=" + keys[v.name] + "\n")
	}
	if o.PersistKeys {
		if err := os.MkdirAll(o.Dir, 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(file, []byte(content.String()), 0o600); err != nil {
			return nil, fmt.Errorf("store dev keys: %w", err)
		}
	}
	return keys, nil
}
