package component

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"
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
