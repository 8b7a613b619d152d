// Package chaos injects faults into a whole running Madoguchi — processes
// killed at the worst moment, servers restarted, holders gone silent, garbage
// on every subject — and checks afterwards that every request still reached
// its correct final state exactly once: one workflow per request, each
// holder's command applied once, one erasure event per completed erasure.
// Duplicates on the wire are allowed; duplicate effects are not.
//
// One stack serves the whole package (as in cmd/e2e), with two differences:
// NATS is always the embedded server and PostgreSQL a private cluster, so
// that the tests may restart them; and the holder registry has a short SLA
// for billing, so that a holder can be down for longer than its SLA in
// seconds. The scenarios run one after another on that stack.
package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"

	"madoguchi.dev/cmd/internal/stack"
	"madoguchi.dev/platform/devinfra"
	"madoguchi.dev/platform/natsauth"
	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/workflows/registry"
)

var (
	stk      *stack.Stack
	temporal client.Client
	// pg is the private cluster the stack runs on; nil when none could be
	// started (no server binaries), and then the restart scenario is skipped.
	pg *devinfra.Postgres
	// js is the tests' own JetStream connection (it reconnects across restarts).
	nc *nats.Conn
	js jetstream.JetStream
)

// The holder that the SLA scenario keeps down: a short SLA and few attempts
// so that it is escalated within seconds. The others keep a generous SLA so
// that a slow machine does not make them resend.
const (
	slowHolder         = "billing"
	slowHolderSLA      = 3 * time.Second
	slowHolderAttempts = 2
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, _ := filepath.Abs("../../bin/temporal")
	if _, err := os.Stat(bin); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: bin/temporal is missing: run `make tools` (make test does)")
		return 1
	}
	mailpit, _ := filepath.Abs("../../bin/mailpit")
	dir, err := os.MkdirTemp("", "madoguchi-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if os.Getenv("CHAOS_KEEP_DIR") != "" {
		fmt.Fprintln(os.Stderr, "chaos: keeping", dir, "(components.log, temporal.log)")
	} else {
		defer os.RemoveAll(dir)
	}
	// The private cluster runs as the postgres user when we are root: it
	// must be able to reach its directory inside ours.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	// Servers the tests may restart: the embedded nats-server, and a private
	// PostgreSQL cluster named to the stack through DATABASE_URL.
	os.Setenv("NATS_URL", "embedded")
	if pg, err = devinfra.StartPrivatePostgres(ctx, filepath.Join(dir, "postgres")); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: no private PostgreSQL cluster (the restart scenario will be skipped):", err)
		pg = nil
	} else {
		defer pg.Stop()
		os.Setenv("DATABASE_URL", pg.AdminURL)
	}

	regFile, err := writeRegistry(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	id := randomToken()
	logFile, _ := os.Create(filepath.Join(dir, "components.log"))
	stk, err = stack.Start(ctx, stack.Options{
		Dir: dir, TemporalBinary: bin, MailpitBinary: mailpit, DatabasePrefix: "chaos_" + id, SubjectRoot: "chaos_" + id,
		RegistryFile: regFile, Log: zerolog.New(logFile).With().Timestamp().Logger(),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos: start stack:", err)
		return 1
	}
	defer func() {
		_ = stk.Stop()
		if pg == nil { // a shared server: leave it as we found it
			for _, dsn := range stk.Databases {
				name := dsn[strings.LastIndex(dsn, "/")+1:]
				_ = pgdb.DropDatabase(context.Background(), stk.Postgres.AdminURL, name)
			}
		}
	}()
	if temporal, err = stk.Runtime.DialTemporal(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	defer temporal.Close()
	// The tests' own connection: the admin's NATS user (poison on every
	// subject, a subscriber of their own, consumer and stream lookups).
	if nc, err = stk.ConnectNATS(natsauth.Admin, nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond)); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	defer nc.Close()
	if js, err = jetstream.New(nc); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}

	code := m.Run()
	if code != 0 {
		b, _ := os.ReadFile(filepath.Join(dir, "components.log"))
		fmt.Fprintf(os.Stderr, "---- component log (tail) ----\n%s\n", tail(b, 80))
		select {
		case <-stk.Done():
			// A component that failed stops the whole stack: say which.
			fmt.Fprintf(os.Stderr, "---- the stack stopped: %v\n", stk.Err())
		default:
		}
	}
	return code
}

// writeRegistry writes the built-in registry with the test SLAs: every
// holder and action as in production, billing with a short SLA.
func writeRegistry(dir string) (string, error) {
	reg, err := registry.Load("")
	if err != nil {
		return "", err
	}
	type holder struct {
		Name        string   `json:"name"`
		Description string   `json:"description"`
		Actions     []string `json:"actions"`
		SLA         string   `json:"sla,omitempty"`
		MaxAttempts int      `json:"max_attempts,omitempty"`
		// MemberRegistry as in production: its locate confirms member numbers.
		MemberRegistry bool `json:"member_registry,omitempty"`
	}
	doc := struct {
		Defaults struct {
			SLA         string `json:"sla"`
			MaxAttempts int    `json:"max_attempts"`
		} `json:"defaults"`
		Holders []holder `json:"holders"`
	}{}
	doc.Defaults.SLA, doc.Defaults.MaxAttempts = "2m", 3
	for _, h := range reg.Holders {
		x := holder{Name: h.Name, Description: h.Description, Actions: h.Actions, MemberRegistry: h.MemberRegistry}
		if h.Name == slowHolder {
			x.SLA, x.MaxAttempts = slowHolderSLA.String(), slowHolderAttempts
		}
		doc.Holders = append(doc.Holders, x)
	}
	b, err := json.Marshal(doc) // JSON is YAML
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, "holders.yaml")
	return file, os.WriteFile(file, b, 0o644)
}

func randomToken() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(b []byte, lines int) string {
	all := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
