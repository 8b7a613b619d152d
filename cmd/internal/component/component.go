// Package component starts each part of Madoguchi from its configuration:
// the intake, the bridge, the workflow worker and the data holders. The
// madoguchi binary runs one per process in production; the dev stack and the
// end-to-end tests run them all in one process.
package component

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"

	"madoguchi.dev/cmd/internal/temporalconn"
	"madoguchi.dev/law/deadline"
	"madoguchi.dev/platform/codec"
	"madoguchi.dev/platform/disclosure"
	"madoguchi.dev/platform/logging"
	"madoguchi.dev/platform/metrics"
	"madoguchi.dev/platform/onetime"
	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/platform/pseudonym"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/staffsig"
	"madoguchi.dev/platform/tracing"
	"madoguchi.dev/proto/contract"
	"madoguchi.dev/services/bridge"
	"madoguchi.dev/services/holderkit"
	"madoguchi.dev/services/intake"
	intakemigrations "madoguchi.dev/services/intake/migrations"
	"madoguchi.dev/workflows/notify"
	"madoguchi.dev/workflows/registry"
	"madoguchi.dev/workflows/request"
)

// Config is read from the environment (see README, "Configuration").
type Config struct {
	NATSURL           string `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	TemporalAddress   string `env:"TEMPORAL_ADDRESS" envDefault:"127.0.0.1:7233"`
	TemporalNamespace string `env:"TEMPORAL_NAMESPACE" envDefault:"default"`
	// Temporal holds TLS / API key settings (TEMPORAL_TLS_*, TEMPORAL_API_KEY).
	Temporal temporalconn.Options
	// NATSNkeySeed is this component's own NATS user ("SU…", from
	// `madoguchi nats-keygen`; README, "Trust model"); NATSCreds names a
	// credentials file instead (a server in operator/JWT mode). Neither:
	// no authentication.
	NATSNkeySeed string `env:"NATS_NKEY_SEED"`
	NATSCreds    string `env:"NATS_CREDS"`
	// SubjectRoot namespaces NATS subjects and streams ("dsr").
	SubjectRoot string `env:"MADOGUCHI_SUBJECT_ROOT" envDefault:"dsr"`
	// Keys is the seal key ring "id:base64,id:base64", first one active.
	Keys string `env:"MADOGUCHI_KEYS"`
	// PseudonymKey (base64, ≥32 bytes) derives pseudonymous ids in events.
	PseudonymKey string `env:"MADOGUCHI_PSEUDONYM_KEY"`
	// IntakeKeys is the intake's own ring (same format as Keys): what it
	// keeps at rest (requests' personal data, uploads, download grants).
	IntakeKeys string `env:"MADOGUCHI_INTAKE_KEYS"`
	// PackageKeys is the ring disclosure packages are sealed with at rest
	// (same format as Keys), shared by the worker and the intake alone.
	PackageKeys string `env:"MADOGUCHI_PACKAGE_KEYS"`
	// CommandKeys is the ring of holder commands and their results (same
	// format as Keys), shared by the worker and the holders alone.
	CommandKeys string `env:"MADOGUCHI_COMMAND_KEYS"`
	// VerificationKeys is the worker's own ring (same format as Keys): it
	// seals the secrets one-time codes are made from. Only the worker holds it.
	VerificationKeys string `env:"MADOGUCHI_VERIFICATION_KEYS"`
	// StaffVerifyKeys are the public keys staff actions must be signed with
	// ("id:base64pub,…", platform/staffsig), checked by the worker's update
	// validators. The private key is the staff side's alone (dsrctl's
	// MADOGUCHI_STAFF_SIGNING_KEY); no component here holds it.
	StaffVerifyKeys string `env:"MADOGUCHI_STAFF_VERIFY_KEYS"`
	// StreamReplicas for JetStream streams (3 on a production cluster).
	StreamReplicas int `env:"MADOGUCHI_STREAM_REPLICAS" envDefault:"1"`
	// RegistryFile names a holders.yaml; empty uses the built-in one.
	RegistryFile string `env:"MADOGUCHI_REGISTRY"`

	// SMTPAddr receives notices (the mail catcher in dev, a relay in production).
	SMTPAddr string `env:"SMTP_ADDR" envDefault:"127.0.0.1:1025"`
	MailFrom string `env:"MAIL_FROM" envDefault:"ケアスマイリー個人情報窓口 <privacy@caresmiley.example.jp>"`
	// SMTPStartTLS is "required" (STARTTLS, the relay's certificate
	// verified) or "none", which the sender allows only for a loopback
	// SMTPAddr (the dev stack's mail catcher). SMTPUsername/SMTPPassword
	// authenticate with AUTH PLAIN inside TLS; SMTPTLSServerName and
	// SMTPTLSCA (a PEM file) verify a relay with another name or a private CA.
	SMTPStartTLS      string `env:"SMTP_STARTTLS" envDefault:"required"`
	SMTPUsername      string `env:"SMTP_USERNAME"`
	SMTPPassword      string `env:"SMTP_PASSWORD"`
	SMTPTLSServerName string `env:"SMTP_TLS_SERVER_NAME"`
	SMTPTLSCA         string `env:"SMTP_TLS_CA"`
	// PublicURL is where people reach the intake (links in notices).
	PublicURL    string `env:"MADOGUCHI_PUBLIC_URL" envDefault:"http://127.0.0.1:8080"`
	StaffMailbox string `env:"STAFF_MAILBOX" envDefault:"privacy-office@caresmiley.example.jp"`
	// Workflow settings (fixed into each request's history at its start).
	CodeTTL           time.Duration `env:"VERIFY_CODE_TTL" envDefault:"24h"`
	CodeMaxAttempts   int           `env:"VERIFY_MAX_ATTEMPTS" envDefault:"5"`
	CodeMaxResends    int           `env:"VERIFY_MAX_RESENDS" envDefault:"3"`
	CodeReminder      time.Duration `env:"VERIFY_REMINDER_BEFORE" envDefault:"6h"`
	DisclosureFeeJPY  int           `env:"FEE_DISCLOSURE_JPY" envDefault:"1000"`
	PaymentWindowDays int           `env:"FEE_PAYMENT_DAYS" envDefault:"14"`
	EntrustedWait     time.Duration `env:"ENTRUSTED_WAIT" envDefault:"240h"`
	PackageTTL        time.Duration `env:"PACKAGE_TTL" envDefault:"720h"`
	JPTargetDays      int           `env:"JP_TARGET_BUSINESS_DAYS" envDefault:"10"`
	// WorkerStickyCache bounds how many workflows a worker keeps in memory
	// between tasks (worker.SetStickyWorkflowCacheSize; the SDK default is
	// 10000). Most requests wait days for a person or staff, so caching them
	// buys little: a miss replays the history, while each cached request
	// costs memory and goroutines (docs/performance.md has the figures).
	WorkerStickyCache int `env:"WORKER_STICKY_CACHE" envDefault:"1000"`
	// Retention: personal data of a concluded request (intake) and holders'
	// processed commands are purged this long after (privacy policy §7).
	Retention time.Duration `env:"MADOGUCHI_RETENTION" envDefault:"8760h"`

	// BridgeConcurrency: workflow starts, and holder-result signals, in
	// flight at once in the bridge. HolderConcurrency: commands a holder
	// carries out at once (each in its own transaction; at most the holder's
	// pool size is useful).
	BridgeConcurrency int `env:"BRIDGE_CONCURRENCY" envDefault:"16"`
	HolderConcurrency int `env:"HOLDER_CONCURRENCY" envDefault:"4"`

	IntakeAddr        string `env:"INTAKE_ADDR" envDefault:"127.0.0.1:8080"`
	IntakeDatabaseURL string `env:"INTAKE_DATABASE_URL"`
	// IntakeWriteConcurrency: the intake's insert statements in flight;
	// submissions arriving meanwhile share the next one (group commit).
	IntakeWriteConcurrency int `env:"INTAKE_WRITE_CONCURRENCY" envDefault:"1"`
	// IntakeTrustedProxies lists the reverse proxies in front of the intake
	// (CIDR prefixes, comma-separated): only a request from one of them is
	// named by its X-Forwarded-For for the per-client limits.
	IntakeTrustedProxies string `env:"INTAKE_TRUSTED_PROXIES"`
	// IntakeMailPerAddressPerDay bounds the submissions a day (JST) whose
	// mails go to one e-mail address (0: no bound).
	IntakeMailPerAddressPerDay int `env:"INTAKE_MAIL_PER_ADDRESS_PER_DAY" envDefault:"5"`
	// HolderDatabaseURLs are read from HOLDER_<NAME>_DATABASE_URL, one per
	// holder: each holder owns its database.
	HolderDatabaseURLs map[string]string `env:"-"`
}

// LoadConfig reads the environment.
func LoadConfig() (Config, error) {
	cfg, err := env.ParseAs[Config]()
	if err != nil {
		return cfg, fmt.Errorf("configuration: %w", err)
	}
	cfg.HolderDatabaseURLs = map[string]string{}
	for name := range Holders {
		if v := os.Getenv(HolderDatabaseEnv(name)); v != "" {
			cfg.HolderDatabaseURLs[name] = v
		}
	}
	return cfg, nil
}

// HolderDatabaseEnv names a holder's database variable.
func HolderDatabaseEnv(name string) string {
	return "HOLDER_" + strings.ToUpper(name) + "_DATABASE_URL"
}

// Runtime is the parsed configuration shared by components in one process.
type Runtime struct {
	Config    Config
	Namespace contract.Namespace
	Ring      *seal.Ring
	Pseudonym pseudonym.Key
	Registry  *registry.Registry
	Log       zerolog.Logger
	// IntakeListener overrides IntakeAddr (tests pick a free port).
	IntakeListener net.Listener
	// NATSSeeds are NATS user seeds by user name, for a process running
	// several components (the dev stack): each connects as its own user.
	NATSSeeds map[string]string
}

// NewRuntime validates cfg.
func NewRuntime(cfg Config, log zerolog.Logger) (*Runtime, error) {
	ns, err := contract.NewNamespace(cfg.SubjectRoot)
	if err != nil {
		return nil, err
	}
	// Each component holds only the keys its part needs (README, "Trust
	// model"): the rings and the pseudonym key are read here when given,
	// and each Run* requires those it uses.
	var ring *seal.Ring
	if cfg.Keys != "" {
		if ring, err = seal.ParseRing(cfg.Keys); err != nil {
			return nil, fmt.Errorf("MADOGUCHI_KEYS: %w", err)
		}
	}
	var psn pseudonym.Key
	if cfg.PseudonymKey != "" {
		secret, err := base64.StdEncoding.DecodeString(cfg.PseudonymKey)
		if err != nil {
			return nil, fmt.Errorf("MADOGUCHI_PSEUDONYM_KEY is not base64")
		}
		if psn, err = pseudonym.NewKey(secret); err != nil {
			return nil, fmt.Errorf("MADOGUCHI_PSEUDONYM_KEY: %w", err)
		}
	}
	reg, err := registry.Load(cfg.RegistryFile)
	if err != nil {
		return nil, err
	}
	return &Runtime{Config: cfg, Namespace: ns, Ring: ring, Pseudonym: psn, Registry: reg, Log: log}, nil
}

// requireKeys reports, naming the component, the first of the keys it
// needs that this process was not given.
func (rt *Runtime) requireKeys(component string, payload, pseudonyms bool) error {
	if payload && rt.Ring == nil {
		return fmt.Errorf("%s: MADOGUCHI_KEYS is required (generate one with `madoguchi keygen`)", component)
	}
	if pseudonyms && rt.Config.PseudonymKey == "" {
		return fmt.Errorf("%s: MADOGUCHI_PSEUDONYM_KEY is required", component)
	}
	return nil
}

// ring parses the key ring variable name (spec its value) that component
// requires.
func ring(component, name, spec string) (*seal.Ring, error) {
	if spec == "" {
		return nil, fmt.Errorf("%s: %s is required (generate one with `madoguchi keygen`)", component, name)
	}
	r, err := seal.ParseRing(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", component, name, err)
	}
	return r, nil
}

// DialTemporal connects a client with the payload codec and zerolog. Its
// OpenTelemetry interceptor carries the caller's trace into workflow
// headers, and gives the workers made from it workflow and activity spans.
func (rt *Runtime) DialTemporal(ctx context.Context) (client.Client, error) {
	tracer, err := tracing.TemporalInterceptor()
	if err != nil {
		return nil, fmt.Errorf("temporal tracing: %w", err)
	}
	co := client.Options{
		Interceptors: []interceptor.ClientInterceptor{tracer},
		HostPort:     rt.Config.TemporalAddress, Namespace: rt.Config.TemporalNamespace,
		DataConverter:  codec.DataConverter(rt.Ring),
		MetricsHandler: metrics.TemporalHandler{},
		Logger:         logging.Temporal{L: rt.Log.With().Str("part", "temporal-sdk").Logger().Level(zerolog.WarnLevel)},
	}
	if err := rt.Config.Temporal.Apply(&co); err != nil {
		return nil, err
	}
	c, err := client.DialContext(ctx, co)
	if err != nil {
		return nil, fmt.Errorf("dial Temporal at %s: %w", rt.Config.TemporalAddress, err)
	}
	return c, nil
}

// Settings turns the configuration into the workflow's settings.
func (rt *Runtime) Settings() request.Settings {
	s := request.DefaultSettings()
	c := rt.Config
	s.Verification.CodeTTL, s.Verification.MaxAttempts = c.CodeTTL, c.CodeMaxAttempts
	s.Verification.MaxResends, s.Verification.ReminderBefore = c.CodeMaxResends, c.CodeReminder
	s.Fee.DisclosureFeeJPY = c.DisclosureFeeJPY
	s.Payment.WindowDays = c.PaymentWindowDays
	s.EntrustedWait, s.PackageTTL = c.EntrustedWait, c.PackageTTL
	if s.EntrustedReminderBefore >= s.EntrustedWait {
		s.EntrustedReminderBefore = s.EntrustedWait / 3
	}
	s.PublicURL, s.StaffMailbox = c.PublicURL, c.StaffMailbox
	return s
}

// mailer is the worker's SMTP sender, checked: STARTTLS unless the relay is
// on a loopback address, credentials only inside TLS.
func (rt *Runtime) mailer() (request.Mailer, error) {
	c := rt.Config
	s, err := notify.NewSender(notify.SenderOptions{Addr: c.SMTPAddr, From: c.MailFrom, STARTTLS: c.SMTPStartTLS,
		Username: c.SMTPUsername, Password: c.SMTPPassword, TLSServerName: c.SMTPTLSServerName, TLSCAFile: c.SMTPTLSCA,
		Timeout: 20 * time.Second})
	if err != nil {
		return nil, err
	}
	return request.NotifyMailer{Sender: s}, nil
}

// RunIntake serves the form and API and relays the outbox.
func (rt *Runtime) RunIntake(ctx context.Context) error {
	log := rt.Log.With().Str("component", "intake").Logger()
	proxies, err := intake.ParseTrustedProxies(rt.Config.IntakeTrustedProxies)
	if err != nil {
		return fmt.Errorf("intake: INTAKE_TRUSTED_PROXIES: %w", err)
	}
	if err := rt.requireKeys("intake", true, true); err != nil {
		return err
	}
	packages, err := ring("intake", "MADOGUCHI_PACKAGE_KEYS", rt.Config.PackageKeys)
	if err != nil {
		return err
	}
	atRest, err := ring("intake", "MADOGUCHI_INTAKE_KEYS", rt.Config.IntakeKeys)
	if err != nil {
		return err
	}
	pool, err := pgdb.Open(ctx, rt.Config.IntakeDatabaseURL)
	if err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	defer pool.Close()
	nc, js, err := rt.connectNATS(ctx, "intake")
	if err != nil {
		return err
	}
	defer nc.Drain()
	ln := rt.IntakeListener
	if ln == nil {
		if ln, err = net.Listen("tcp", rt.Config.IntakeAddr); err != nil {
			return fmt.Errorf("intake: listen: %w", err)
		}
	}
	// The person's pages query and update the request workflows (status,
	// code, withdrawal) through a client with the payload codec.
	tc, err := rt.DialTemporal(ctx)
	if err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	defer tc.Close()
	log.Info().Str("addr", ln.Addr().String()).Int("trusted_proxies", len(proxies)).
		Int("mail_per_address_per_day", rt.Config.IntakeMailPerAddressPerDay).Msg("intake serving")
	return intake.Run(ctx, intake.Deps{Pool: pool, NATS: nc, JS: js, Ring: atRest, Payloads: rt.Ring, Namespace: rt.Namespace, Log: log, Listener: ln,
		Requests:         intake.TemporalRequests{Client: tc},
		Packages:         &disclosure.Store{JS: js, Namespace: rt.Namespace, Ring: packages},
		PublicURL:        rt.Config.PublicURL,
		DisclosureFeeJPY: rt.Config.DisclosureFeeJPY, Retention: rt.Config.Retention,
		WriteConcurrency: rt.Config.IntakeWriteConcurrency,
		Limits:           intake.Limits{TrustedProxies: proxies},
		// The counter's key hashes the address with the pseudonym key
		// every component holds already: no new secret to manage.
		MailQuota: intake.MailQuota{PerDay: rt.Config.IntakeMailPerAddressPerDay, Key: rt.Pseudonym}})
}

// Reseal re-seals what the intake stores under older keys with the active
// one (after a key rotation, deploy/README.md), so the old key can go.
func (rt *Runtime) Reseal(ctx context.Context) (intake.ResealStats, error) {
	if err := rt.requireKeys("reseal", true, false); err != nil {
		return intake.ResealStats{}, err
	}
	pool, err := pgdb.Open(ctx, rt.Config.IntakeDatabaseURL)
	if err != nil {
		return intake.ResealStats{}, fmt.Errorf("reseal: %w", err)
	}
	defer pool.Close()
	if err := pgdb.Migrate(ctx, pool, intakemigrations.FS); err != nil {
		return intake.ResealStats{}, fmt.Errorf("reseal: %w", err)
	}
	atRest, err := ring("reseal", "MADOGUCHI_INTAKE_KEYS", rt.Config.IntakeKeys)
	if err != nil {
		return intake.ResealStats{}, err
	}
	svc := &intake.Service{Pool: pool, Ring: atRest, Payloads: rt.Ring, Namespace: rt.Namespace, Log: rt.Log}
	return svc.Reseal(ctx)
}

// RunBridge dispatches requests to Temporal and results to workflows.
func (rt *Runtime) RunBridge(ctx context.Context) error {
	log := rt.Log.With().Str("component", "bridge").Logger()
	if err := rt.requireKeys("bridge", true, false); err != nil {
		return err
	}
	nc, js, err := rt.connectNATS(ctx, "bridge")
	if err != nil {
		return err
	}
	defer nc.Drain()
	tc, err := rt.DialTemporal(ctx)
	if err != nil {
		return err
	}
	defer tc.Close()
	// The workflows start with their search attributes, which must exist
	// before the first start (the worker registers them too).
	if err := request.RegisterSearchAttributes(ctx, tc, rt.Config.TemporalNamespace); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	return (&bridge.Bridge{JS: js, Temporal: tc, Namespace: rt.Namespace, Log: log,
		Concurrency: rt.Config.BridgeConcurrency, StartAttributes: request.StartSearchAttributes}).Run(ctx)
}

// RunWorker runs the request workflow and its activities.
func (rt *Runtime) RunWorker(ctx context.Context) error {
	log := rt.Log.With().Str("component", "worker").Logger()
	if err := rt.requireKeys("worker", true, true); err != nil {
		return err
	}
	vring, err := ring("worker", "MADOGUCHI_VERIFICATION_KEYS", rt.Config.VerificationKeys)
	if err != nil {
		return err
	}
	commands, err := ring("worker", "MADOGUCHI_COMMAND_KEYS", rt.Config.CommandKeys)
	if err != nil {
		return err
	}
	packages, err := ring("worker", "MADOGUCHI_PACKAGE_KEYS", rt.Config.PackageKeys)
	if err != nil {
		return err
	}
	if rt.Config.StaffVerifyKeys == "" {
		return fmt.Errorf("worker: MADOGUCHI_STAFF_VERIFY_KEYS is required (generate a pair with `madoguchi keygen --staff`)")
	}
	staffKeys, err := staffsig.ParseVerifyKeys(rt.Config.StaffVerifyKeys)
	if err != nil {
		return fmt.Errorf("worker: MADOGUCHI_STAFF_VERIFY_KEYS: %w", err)
	}
	mailer, err := rt.mailer()
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	nc, js, err := rt.connectNATS(ctx, "worker")
	if err != nil {
		return err
	}
	defer nc.Drain()
	tc, err := rt.DialTemporal(ctx)
	if err != nil {
		return err
	}
	defer tc.Close()
	// Global to the process; takes effect for workers started after it.
	if n := rt.Config.WorkerStickyCache; n > 0 {
		worker.SetStickyWorkflowCacheSize(n)
	}
	if err := request.RegisterSearchAttributes(ctx, tc, rt.Config.TemporalNamespace); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	w := request.NewWorker(tc, &request.Activities{JS: js, Namespace: rt.Namespace, Ring: rt.Ring,
		Commands: commands, Packages: packages, Codes: onetime.Codes{Ring: vring},
		Pseudonym: rt.Pseudonym, Registry: rt.Registry, Settings: rt.Settings(),
		Deadline: deadline.Policy{JPTargetBusinessDays: rt.Config.JPTargetDays},
		Mailer:   mailer, Temporal: tc}, staffKeys)
	if err := w.Start(); err != nil {
		return fmt.Errorf("worker: start: %w", err)
	}
	log.Info().Str("task_queue", "dsr").Msg("worker polling")
	<-ctx.Done()
	w.Stop() // waits for activities in flight
	return nil
}

// RunHolder runs one data holder.
func (rt *Runtime) RunHolder(ctx context.Context, name string) error {
	svc, ok := Holders[name]
	if !ok {
		return fmt.Errorf("unknown holder %q", name)
	}
	log := rt.Log.With().Str("component", "holder").Str("holder", name).Logger()
	// A holder holds the command ring alone: it cannot read Temporal
	// history, the intake's data or anyone's codes.
	commands, err := ring("holder "+name, "MADOGUCHI_COMMAND_KEYS", rt.Config.CommandKeys)
	if err != nil {
		return err
	}
	dsn := rt.Config.HolderDatabaseURLs[name]
	if dsn == "" {
		return fmt.Errorf("holder %s: %s is not set", name, HolderDatabaseEnv(name))
	}
	pool, err := pgdb.Open(ctx, dsn)
	if err != nil {
		return fmt.Errorf("holder %s: %w", name, err)
	}
	defer pool.Close()
	if err := pgdb.Migrate(ctx, pool, svc.Migrations); err != nil {
		return fmt.Errorf("holder %s: %w", name, err)
	}
	nc, js, err := rt.connectNATS(ctx, "holder-"+name)
	if err != nil {
		return err
	}
	defer nc.Drain()
	h := &holderkit.Holder{Name: name, Namespace: rt.Namespace, JS: js, Pool: pool, Ring: commands, Log: log, Actions: svc.Actions(),
		Retention: rt.Config.Retention, Concurrency: rt.Config.HolderConcurrency}
	log.Info().Msg("holder consuming commands")
	return h.Run(ctx)
}
