package component

import (
	"errors"
	"strings"
	"testing"

	"madoguchi.dev/workflows/notify"
	"madoguchi.dev/workflows/request"
)

// The worker's mailer follows SMTP_STARTTLS: required by default, none only
// for the loopback mail catcher the dev stack sets it for, and never with
// credentials in clear.
func TestWorkerMailerRequiresSTARTTLSExceptOnLoopback(t *testing.T) {
	t.Setenv("SMTP_ADDR", "smtp.example.com:587")
	t.Setenv("SMTP_USERNAME", "madoguchi-worker")
	t.Setenv("SMTP_PASSWORD", "pw-SENTINEL")
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SMTPStartTLS != "required" {
		t.Errorf("SMTP_STARTTLS defaults to %q, want required", cfg.SMTPStartTLS)
	}
	rt := &Runtime{Config: cfg}
	m, err := rt.mailer()
	if err != nil {
		t.Fatalf("production settings: %v", err)
	}
	nm, ok := m.(request.NotifyMailer)
	if !ok || nm.Sender == nil {
		t.Fatalf("mailer is a %T, want a request.NotifyMailer with a Sender", m)
	}
	if nm.Sender.TLS != notify.STARTTLSRequired || nm.Sender.Username != "madoguchi-worker" || nm.Sender.Password == "" {
		t.Errorf("production mailer: TLS %q, user set %v: want STARTTLS required with AUTH", nm.Sender.TLS, nm.Sender.Username != "")
	}

	for name, c := range map[string]struct {
		addr, mode, user, want string
	}{
		"dev stack's catcher":     {"127.0.0.1:1025", "none", "", ""},
		"none to a remote relay":  {"smtp.example.com:25", "none", "", "loopback"},
		"credentials in clear":    {"127.0.0.1:1025", "none", "u", "only over STARTTLS"},
		"a mode nobody knows":     {"smtp.example.com:587", "maybe", "", "want required or none"},
		"required with AUTH":      {"smtp.example.com:587", "required", "u", ""},
		"empty means required":    {"smtp.example.com:587", "", "", ""},
		"required to the catcher": {"127.0.0.1:1025", "required", "", ""}, // allowed; it would fail at send
	} {
		rt := &Runtime{Config: Config{SMTPAddr: c.addr, SMTPStartTLS: c.mode, SMTPUsername: c.user}}
		if c.user != "" {
			rt.Config.SMTPPassword = "pw-SENTINEL"
		}
		_, err := rt.mailer()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.want != "" && (err == nil || !errors.Is(err, notify.ErrConfig) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err = %v, want one with %q", name, err, c.want)
		case err != nil && strings.Contains(err.Error(), "SENTINEL"):
			t.Errorf("%s: error leaks the password: %v", name, err)
		}
	}
}
