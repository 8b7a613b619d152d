// Package testinfra gives tests the real servers Madoguchi runs on — a
// PostgreSQL database of their own and an embedded NATS JetStream server with
// the contract's streams — plus a fresh key ring and a logger that writes to
// the test log. Nothing here is a mock, and nothing here is used outside tests.
//
// A test package that uses Postgres should route its TestMain through Main,
// so that a private PostgreSQL cluster (started only when none is reachable)
// is stopped when the test binary ends:
//
//	func TestMain(m *testing.M) { testinfra.Main(m) }
package testinfra

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/devinfra"
	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/proto/contract"
)

// Timeout bounds every wait for infrastructure in these helpers. It is a
// failure detector, not a performance budget.
const Timeout = 20 * time.Second

var (
	pgOnce  sync.Once
	pgSrv   *devinfra.Postgres
	pgDir   string
	pgErr   error
	mainRan bool
)

// Main runs the package's tests and then stops a PostgreSQL cluster that
// Postgres had to start itself. Use it from TestMain.
func Main(m *testing.M) {
	mainRan = true
	code := m.Run()
	if pgSrv != nil && pgSrv.Started {
		pgSrv.Stop()
	}
	if pgDir != "" {
		_ = os.RemoveAll(pgDir)
	}
	os.Exit(code)
}

// Postgres returns a superuser URL of a reachable PostgreSQL server: the one
// named by DATABASE_URL, the one on 127.0.0.1:5432, or a private cluster
// started once per test binary.
func Postgres(t testing.TB) string {
	t.Helper()
	pgOnce.Do(func() {
		pgDir, pgErr = os.MkdirTemp("", "madoguchi-testpg-")
		if pgErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		pgSrv, pgErr = devinfra.StartPostgres(ctx, pgDir)
		if pgErr == nil && pgSrv.Started && !mainRan {
			fmt.Fprintln(os.Stderr, "testinfra: started a private PostgreSQL cluster without testinfra.Main; it will outlive this test binary:", pgDir)
		}
	})
	if pgErr != nil {
		t.Fatalf("testinfra: PostgreSQL: %v", pgErr)
	}
	return pgSrv.AdminURL
}

// UniqueName returns prefix + "_" + 12 random hex characters, lower case, a
// valid database name and NATS namespace root (prefix must start with a letter).
func UniqueName(prefix string) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return strings.ToLower(prefix) + "_" + hex.EncodeToString(b)
}

// Database creates a fresh, uniquely named database, drops it when the test
// ends, and returns its DSN.
func Database(t testing.TB, prefix string) string {
	t.Helper()
	admin := Postgres(t)
	name := UniqueName(prefix)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	dsn, err := pgdb.EnsureDatabase(ctx, admin, name)
	if err != nil {
		t.Fatalf("testinfra: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		if err := pgdb.DropDatabase(ctx, admin, name); err != nil {
			t.Errorf("testinfra: drop database %s: %v", name, err)
		}
	})
	return dsn
}

// Pool creates a fresh database (see Database), applies each migration set
// in order with pgdb.Migrate, and returns an open pool closed at cleanup
// (before the database is dropped).
func Pool(t testing.TB, prefix string, migrations ...fs.FS) *pgxpool.Pool {
	t.Helper()
	dsn := Database(t, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	pool, err := pgdb.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("testinfra: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	for _, m := range migrations {
		if err := pgdb.Migrate(ctx, pool, m); err != nil {
			t.Fatalf("testinfra: migrate: %v", err)
		}
	}
	return pool
}

// NATSServer starts an embedded nats-server with JetStream (storing under a
// test temp dir) and shuts it down when the test ends.
func NATSServer(t testing.TB) *devinfra.NATS {
	t.Helper()
	srv, err := devinfra.StartEmbeddedNATS(t.TempDir(), -1, nil)
	if err != nil {
		t.Fatalf("testinfra: NATS: %v", err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// Connect opens a NATS connection and JetStream context to url, closed at cleanup.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name(t.Name()))
	if err != nil {
		t.Fatalf("testinfra: connect NATS: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("testinfra: JetStream: %v", err)
	}
	return nc, js
}

// NATS starts an embedded JetStream server, connects to it and declares the
// contract's streams in a fresh namespace ("t_<hex>").
func NATS(t testing.TB) (*nats.Conn, jetstream.JetStream, contract.Namespace) {
	t.Helper()
	srv := NATSServer(t)
	nc, js := Connect(t, srv.URL)
	ns, err := contract.NewNamespace(UniqueName("t"))
	if err != nil {
		t.Fatalf("testinfra: namespace: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := bus.DeclareStreams(ctx, js, ns, bus.StreamOptions{}); err != nil {
		t.Fatalf("testinfra: declare streams: %v", err)
	}
	return nc, js, ns
}

// RingSpec returns a fresh one-key MADOGUCHI_KEYS entry "id:base64key".
func RingSpec(t testing.TB, id string) string {
	t.Helper()
	spec, err := seal.NewKeySpec(id)
	if err != nil {
		t.Fatalf("testinfra: key: %v", err)
	}
	return spec
}

// Ring returns a key ring with one fresh random key.
func Ring(t testing.TB) *seal.Ring {
	t.Helper()
	r, err := seal.ParseRing(RingSpec(t, "test1"))
	if err != nil {
		t.Fatalf("testinfra: ring: %v", err)
	}
	return r
}

// Logger writes JSON log lines to the test log while the test runs and drops
// them afterwards (goroutines may outlive a failed test briefly).
func Logger(t testing.TB) zerolog.Logger {
	w := &tbWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return zerolog.New(w).With().Timestamp().Logger()
}

type tbWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// WaitStreamMsg polls stream for the last message on subject until there is
// one, failing the test after Timeout.
func WaitStreamMsg(t testing.TB, js jetstream.JetStream, stream, subject string) *jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("testinfra: stream %s: %v", stream, err)
	}
	for {
		m, err := s.GetLastMsgForSubject(ctx, subject)
		if err == nil {
			return m
		}
		select {
		case <-ctx.Done():
			t.Fatalf("testinfra: no message on %s in stream %s: %v", subject, stream, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// SubjectCount returns how many messages stream holds on subject (which may
// hold wildcards).
func SubjectCount(t testing.TB, js jetstream.JetStream, stream, subject string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("testinfra: stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatalf("testinfra: stream info %s: %v", stream, err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// Go runs fn in a goroutine with a context cancelled at cleanup, and at
// cleanup waits for fn to return (failing the test if it returned an error or
// does not return within Timeout).
func Go(t testing.TB, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("testinfra: background function: %v", err)
			}
		case <-time.After(Timeout):
			t.Errorf("testinfra: background function did not return after cancellation")
		}
	})
}
