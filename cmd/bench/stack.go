package main

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"madoguchi.dev/cmd/internal/stack"
	"madoguchi.dev/platform/natsauth"
	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/platform/staffsig"
)

// bench is the running stack and the clients the phases share.
type bench struct {
	cfg   config
	root  string
	dir   string
	runID string
	stk   *stack.Stack
	tc    client.Client
	// staff signs staff actions with the stack's staff signing key.
	staff   *staffsig.Signer
	nc      *nats.Conn
	js      jetstream.JetStream
	log     zerolog.Logger
	logFile *os.File
	startup time.Duration
	// natsKind says whether NATS runs in this process (embedded) or not.
	natsKind string

	mu sync.Mutex
	// workflows lists every request workflow id this run started (through
	// the intake or directly), to terminate them at the end.
	workflows map[string]bool
	// scratch databases to drop at the end (beyond the stack's).
	scratch   []string
	closeOnce sync.Once
}

func startBench(ctx context.Context, cfg config, root string) (*bench, error) {
	b := &bench{cfg: cfg, root: root, runID: randomToken(), workflows: map[string]bool{}}
	for _, bin := range []string{"bin/temporal", "bin/mailpit"} {
		if _, err := os.Stat(filepath.Join(root, bin)); err != nil {
			return nil, fmt.Errorf("%s is missing: run `make tools` (make bench does)", bin)
		}
	}
	dir, err := os.MkdirTemp("", "madoguchi-bench-")
	if err != nil {
		return nil, err
	}
	b.dir = dir
	logPath := filepath.Join(root, cfg.LogFile)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	if b.logFile, err = os.Create(logPath); err != nil {
		return nil, err
	}
	b.log = zerolog.New(b.logFile).With().Timestamp().Logger()
	prefix := "bench_" + b.runID
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	t0 := time.Now()
	b.stk, err = stack.Start(sctx, stack.Options{
		Dir: dir, TemporalBinary: filepath.Join(root, "bin/temporal"), MailpitBinary: filepath.Join(root, "bin/mailpit"),
		DatabasePrefix: prefix, SubjectRoot: prefix, Log: b.log,
		// As a production server: the dev server's default re-reads the
		// search attributes on every use (docs/performance.md).
		SearchAttributeCache: true,
	})
	if err != nil {
		b.logFile.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	b.startup = time.Since(t0)
	b.natsKind = "separate server " + b.stk.NATS.URL
	if b.stk.NATS.Started {
		b.natsKind = "embedded in this process"
	}
	if b.tc, err = b.stk.Runtime.DialTemporal(sctx); err != nil {
		b.close()
		return nil, err
	}
	if b.staff, err = staffsig.ParseSigningKey(b.stk.StaffSigningKey); err != nil {
		b.close()
		return nil, fmt.Errorf("staff signing key: %w", err)
	}
	// The admin's NATS user: the bench publishes events, subscribes and
	// deletes its streams at the end.
	if b.nc, err = b.stk.ConnectNATS(natsauth.Admin, nats.Name("madoguchi-bench")); err != nil {
		b.close()
		return nil, err
	}
	if b.js, err = jetstream.New(b.nc); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *bench) track(workflowID string) {
	b.mu.Lock()
	b.workflows[workflowID] = true
	b.mu.Unlock()
}

// close stops the stack, drops the run's databases and streams, and removes
// the temporary directory. Safe to call more than once.
func (b *bench) close() {
	b.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if b.tc != nil {
			b.tc.Close()
		}
		if b.js != nil {
			b.deleteStreams(ctx)
		}
		if b.nc != nil {
			b.nc.Close()
		}
		if b.stk != nil {
			if err := b.stk.Stop(); err != nil {
				logf("stack stop: %v", err)
			}
			for _, dsn := range b.stk.Databases {
				// The DSN carries a query (?sslmode=…): the name is the path.
				if u, err := url.Parse(dsn); err == nil {
					b.scratch = append(b.scratch, strings.TrimPrefix(u.Path, "/"))
				}
			}
			dropped := 0
			for _, name := range b.scratch {
				if err := pgdb.DropDatabase(ctx, b.stk.Postgres.AdminURL, name); err != nil {
					logf("drop database %s: %v", name, err)
					continue
				}
				dropped++
			}
			logf("dropped %d databases of this run", dropped)
		}
		if b.logFile != nil {
			b.logFile.Close()
		}
		if b.dir != "" {
			os.RemoveAll(b.dir)
		}
	})
}

// deleteStreams removes this run's streams (and object store) from NATS,
// which may be the machine's shared server.
func (b *bench) deleteStreams(ctx context.Context) {
	ns := b.stk.Runtime.Namespace
	names := b.js.StreamNames(ctx)
	var mine []string
	for n := range names.Name() {
		if strings.HasPrefix(n, ns.StreamPrefix+"_") || strings.HasPrefix(n, "OBJ_"+ns.StreamPrefix+"_") {
			mine = append(mine, n)
		}
	}
	for _, n := range mine {
		if err := b.js.DeleteStream(ctx, n); err != nil {
			logf("delete stream %s: %v", n, err)
		}
	}
}

// countWorkflows runs a visibility count.
func (b *bench) countWorkflows(ctx context.Context, query string) (int64, error) {
	resp, err := b.tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
	if err != nil {
		return 0, err
	}
	return resp.GetCount(), nil
}

// ProcessSample is this process's footprint at one moment.
type ProcessSample struct {
	At         time.Time `json:"at"`
	RSSMiB     float64   `json:"rss_mib"`
	Goroutines int       `json:"goroutines"`
	HeapMiB    float64   `json:"heap_inuse_mib"`
	StackMiB   float64   `json:"stack_inuse_mib"`
	// Parked is the number of requests parked when sampled (park phase).
	Parked int64 `json:"parked,omitempty"`
}

func sampleProcess() ProcessSample {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return ProcessSample{At: time.Now().UTC(), RSSMiB: round1(float64(readRSS()) / (1 << 20)),
		Goroutines: runtime.NumGoroutine(), HeapMiB: round1(float64(m.HeapInuse) / (1 << 20)),
		StackMiB: round1(float64(m.StackInuse) / (1 << 20))}
}

// readRSS is VmRSS of this process in bytes.
func readRSS() int64 { return statusKB("/proc/self/status", "VmRSS:") * 1024 }

func statusKB(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// childRSS reports the RSS (MiB) of this process's direct children by
// command name (the Temporal dev server, mailpit).
func childRSS() map[string]float64 {
	out := map[string]float64{}
	entries, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		p := filepath.Join("/proc", e.Name())
		b, err := os.ReadFile(filepath.Join(p, "status"))
		if err != nil {
			continue
		}
		var name, ppid string
		var rss int64
		for _, line := range strings.Split(string(b), "\n") {
			switch {
			case strings.HasPrefix(line, "Name:"):
				name = strings.TrimSpace(strings.TrimPrefix(line, "Name:"))
			case strings.HasPrefix(line, "PPid:"):
				ppid = strings.TrimSpace(strings.TrimPrefix(line, "PPid:"))
			case strings.HasPrefix(line, "VmRSS:"):
				v := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:")), "kB"))
				rss, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		if ppid == me {
			out[name] += round1(float64(rss) / 1024)
		}
	}
	return out
}

// Machine describes where the figures were taken.
type Machine struct {
	CPUs        int     `json:"cpus"`
	CPUModel    string  `json:"cpu_model"`
	MemTotalGiB float64 `json:"mem_total_gib"`
	Kernel      string  `json:"kernel"`
	GoVersion   string  `json:"go_version"`
	GOMAXPROCS  int     `json:"gomaxprocs"`
	Postgres    string  `json:"postgres"`
	PGSettings  string  `json:"postgres_settings"`
	NATS        string  `json:"nats"`
	Temporal    string  `json:"temporal"`
	StickyCache int     `json:"sticky_cache"`
}

func machineInfo() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	m.MemTotalGiB = round1(float64(statusKB("/proc/meminfo", "MemTotal:")) / (1 << 20))
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	return m
}

func (m *Machine) fillServers(ctx context.Context, b *bench) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, b.stk.Postgres.AdminURL); err == nil {
		var v, sc, sb string
		_ = conn.QueryRow(ctx, "SELECT split_part(version(), ' on ', 1), current_setting('synchronous_commit'), current_setting('shared_buffers')").Scan(&v, &sc, &sb)
		m.Postgres = v
		if b.stk.Postgres.Started {
			m.Postgres += " (private cluster started by the bench)"
		} else {
			m.Postgres += " (the machine's server)"
		}
		m.PGSettings = "synchronous_commit=" + sc + ", shared_buffers=" + sb
		conn.Close(ctx)
	}
	m.NATS = "nats-server " + b.nc.ConnectedServerVersion() + ", " + b.natsKind
	if info, err := b.tc.WorkflowService().GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{}); err == nil {
		m.Temporal = "dev server " + info.GetServerVersion()
	}
	if b.stk.Temporal.Started {
		m.Temporal += " (bin/temporal server start-dev, in-memory SQLite, search attributes cached as in production, started by the bench)"
	}
}
