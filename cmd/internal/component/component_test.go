package component

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"madoguchi.dev/platform/seal"
)

// A bad INTAKE_TRUSTED_PROXIES entry stops the intake before it serves
// anything, naming the variable and the entry.
func TestRunIntakeStopsOnABadTrustedProxyEntry(t *testing.T) {
	rt := &Runtime{Config: Config{IntakeTrustedProxies: "10.0.0.0/8, 192.168.0.0/33"}, Log: zerolog.Nop()}
	err := rt.RunIntake(context.Background())
	if err == nil || !strings.Contains(err.Error(), "INTAKE_TRUSTED_PROXIES") || !strings.Contains(err.Error(), `"192.168.0.0/33"`) {
		t.Fatalf("RunIntake = %v, want an error naming INTAKE_TRUSTED_PROXIES and the entry", err)
	}
}

func TestIntakeLimitsConfiguration(t *testing.T) {
	for _, k := range []string{"INTAKE_TRUSTED_PROXIES", "INTAKE_MAIL_PER_ADDRESS_PER_DAY"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.IntakeTrustedProxies != "" || cfg.IntakeMailPerAddressPerDay != 5 {
		t.Errorf("defaults: trusted proxies %q, mail per address %d; want none and 5", cfg.IntakeTrustedProxies, cfg.IntakeMailPerAddressPerDay)
	}
	t.Setenv("INTAKE_TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1")
	t.Setenv("INTAKE_MAIL_PER_ADDRESS_PER_DAY", "3")
	if cfg, err = LoadConfig(); err != nil || cfg.IntakeTrustedProxies != "10.0.0.0/8,127.0.0.1" || cfg.IntakeMailPerAddressPerDay != 3 {
		t.Errorf("LoadConfig = %q, %d, %v", cfg.IntakeTrustedProxies, cfg.IntakeMailPerAddressPerDay, err)
	}
}

// Each component asks for the keys its part needs, and for no other: a
// holder starts on the command ring alone, and nothing starts without
// what it needs, naming the variable.
func TestEachComponentRequiresOnlyItsOwnKeys(t *testing.T) {
	ring := func(id string) string {
		spec, err := seal.NewKeySpec(id)
		if err != nil {
			t.Fatal(err)
		}
		return spec
	}
	only := func(cfg Config) *Runtime {
		cfg.SubjectRoot = "dsr"
		rt, err := NewRuntime(cfg, zerolog.Nop())
		if err != nil {
			t.Fatalf("NewRuntime with only some keys: %v", err)
		}
		return rt
	}
	ctx := context.Background()
	// A holder with the command ring passes the key check and stops at its
	// database, which the test does not give it.
	holder := only(Config{CommandKeys: ring("c1")})
	if err := holder.RunHolder(ctx, "members"); err == nil || !strings.Contains(err.Error(), "HOLDER_MEMBERS_DATABASE_URL") {
		t.Errorf("a holder with only the command ring: %v; want it past its keys, at its database", err)
	}
	if err := only(Config{Keys: ring("k1")}).RunHolder(ctx, "members"); err == nil ||
		!strings.Contains(err.Error(), "MADOGUCHI_COMMAND_KEYS") {
		t.Errorf("a holder without the command ring: %v", err)
	}
	for name, run := range map[string]func(*Runtime) error{
		"worker": func(rt *Runtime) error { return rt.RunWorker(ctx) },
		"bridge": func(rt *Runtime) error { return rt.RunBridge(ctx) },
		"intake": func(rt *Runtime) error { return rt.RunIntake(ctx) },
	} {
		if err := run(only(Config{CommandKeys: ring("c1")})); err == nil || !strings.Contains(err.Error(), "MADOGUCHI_KEYS") ||
			!strings.HasPrefix(err.Error(), name+":") {
			t.Errorf("%s with only the command ring: %v; want it to ask for MADOGUCHI_KEYS", name, err)
		}
	}
	if err := only(Config{Keys: ring("k1"), PseudonymKey: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="}).RunWorker(ctx); err == nil ||
		!strings.Contains(err.Error(), "MADOGUCHI_VERIFICATION_KEYS") {
		t.Errorf("a worker without its verification ring: %v", err)
	}
}

// A worker without the staff verification keys does not start: it could
// accept no staff action.
func TestTheWorkerRequiresTheStaffVerificationKeys(t *testing.T) {
	spec := func(id string) string {
		s, err := seal.NewKeySpec(id)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cfg := Config{SubjectRoot: "dsr", Keys: spec("k1"), VerificationKeys: spec("v1"), CommandKeys: spec("c1"), PackageKeys: spec("p1"),
		PseudonymKey: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="}
	for value, want := range map[string]string{"": "MADOGUCHI_STAFF_VERIFY_KEYS is required", "s1:AAAA": "MADOGUCHI_STAFF_VERIFY_KEYS: "} {
		cfg.StaffVerifyKeys = value
		rt, err := NewRuntime(cfg, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.RunWorker(context.Background()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("worker with MADOGUCHI_STAFF_VERIFY_KEYS=%q: %v; want %q", value, err, want)
		}
	}
}
