// Command bench measures Madoguchi side by side with bare baselines on the
// same machine and servers, in one run:
//
//  1. intake: durable accept rate over HTTP vs raw PostgreSQL single-row
//     insert commits, then p50/p99 accept latency at a fixed offered load;
//  2. end to end: N deletion requests driven to completion (code by mail,
//     verification, staff decision) vs a bare Temporal workflow running the
//     same number of trivial activities;
//  3. requests parked on verification timers: this process's RSS and
//     goroutines (the worker runs in-process with every other component);
//  4. erasure event → holderkit subscriber latency.
//
// It starts one stack (PostgreSQL, NATS, a Temporal dev server and mailpit,
// reused or started as for the e2e tests; all on loopback), prints a table and
// writes test-output/bench.json. Run it from the repository root:
//
//	go run ./cmd/bench            # or: make bench
//	go run ./cmd/bench -h         # the knobs
//
// It is bounded in count and time (-timeout) and stops by itself.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/worker"
)

type config struct {
	Phases  string        `json:"phases"`
	Timeout time.Duration `json:"timeout"`
	Out     string        `json:"-"`
	LogFile string        `json:"-"`
	// ProfileDir receives <phase>.cpu.pprof and <phase>.heap.pprof when set.
	ProfileDir string `json:"-"`

	IntakeClients      int           `json:"intake_clients"`
	IntakeLowClients   int           `json:"intake_low_clients"`
	IntakeRounds       int           `json:"intake_rounds"`
	IntakeDuration     time.Duration `json:"intake_duration"`
	IntakeMax          int           `json:"intake_max_requests"`
	IntakeLoad         float64       `json:"intake_load_fraction"`
	IntakeLoadDuration time.Duration `json:"intake_load_duration"`
	IntakeLoadMax      int           `json:"intake_load_max_requests"`
	DrainTimeout       time.Duration `json:"drain_timeout"`

	E2EN       int           `json:"e2e_n"`
	E2ERounds  int           `json:"e2e_rounds"`
	E2ETimeout time.Duration `json:"e2e_timeout"`

	ErasureN    int     `json:"erasure_n"`
	ErasureRate float64 `json:"erasure_rate"`

	ParkN            int           `json:"park_n"`
	ParkConcurrency  int           `json:"park_concurrency"`
	ParkSample       time.Duration `json:"park_sample"`
	ParkTimeout      time.Duration `json:"park_timeout"`
	StickyCache      int           `json:"sticky_cache"`
	ParkRecheckCache int           `json:"park_recheck_cache"`
}

func parseFlags() config {
	var c config
	flag.StringVar(&c.Phases, "phases", "e2e,erasure,intake,park", "comma-separated phases to run (in this order, whatever the order given)")
	flag.DurationVar(&c.Timeout, "timeout", 25*time.Minute, "hard limit for the whole run")
	flag.StringVar(&c.Out, "out", "test-output/bench.json", "JSON results (relative to the repository root)")
	flag.StringVar(&c.LogFile, "log", "test-output/bench-components.log", "component log (relative to the repository root)")
	flag.StringVar(&c.ProfileDir, "profile-dir", "", "write a CPU profile of this process per phase, and its heap at the phase's end, into this directory (relative to the repository root)")

	flag.IntVar(&c.IntakeClients, "intake-clients", 64, "concurrent HTTP clients (and baseline inserting goroutines); 64 is where the baseline's commit rate peaks (docs/performance.md) on a server of 100 connections")
	flag.IntVar(&c.IntakeLowClients, "intake-low-clients", 16, "one more (intake, baseline) pair at this many clients, a diagnostic (0: none)")
	flag.IntVar(&c.IntakeRounds, "intake-rounds", 3, "rounds of (the intake's closed loop, then the insert baseline for as long; every second round the baseline first); the median round is reported")
	flag.DurationVar(&c.IntakeDuration, "intake-duration", 3*time.Second, "closed-loop accept-rate window, each round (the insert baseline then runs as long as the window took), and the diagnostics' window")
	flag.IntVar(&c.IntakeMax, "intake-max", 15000, "stop a round's accept-rate window early after this many requests (they are not dispatched, but each leaves its message id, ~0.13 KiB, in the embedded NATS server's 10-minute dedup window, in the park phase's RSS)")
	flag.Float64Var(&c.IntakeLoad, "intake-load", 0.5, "fixed offered load as a fraction of the measured accept rate")
	flag.DurationVar(&c.IntakeLoadDuration, "intake-load-duration", 3*time.Second, "open-loop fixed-load window")
	flag.IntVar(&c.IntakeLoadMax, "intake-load-max", 1000, "the fixed load's last requests kept on the stream and dispatched (each becomes a parked workflow, counted in phase 3); the others are taken off it")
	flag.DurationVar(&c.DrainTimeout, "drain-timeout", 4*time.Minute, "how long to wait for the intake's requests to reach verification")

	flag.IntVar(&c.E2EN, "e2e-n", 100, "deletion requests driven end to end (all at once)")
	flag.IntVar(&c.E2ERounds, "e2e-rounds", 5, "rounds of (N requests, then the bare baseline; every second round the baseline first); the median round is reported")
	flag.DurationVar(&c.E2ETimeout, "e2e-timeout", 5*time.Minute, "limit for the end-to-end phase (each side)")

	flag.IntVar(&c.ErasureN, "erasure-n", 1000, "erasure events published")
	flag.Float64Var(&c.ErasureRate, "erasure-rate", 200, "erasure events per second")

	flag.IntVar(&c.ParkN, "park-n", 1000, "requests parked on verification timers (the intake phase's count towards it; the issue's figure is 10000, which takes ~40 min on a busy 2-core machine)")
	flag.IntVar(&c.ParkConcurrency, "park-concurrency", 32, "concurrent workflow starts when parking")
	flag.DurationVar(&c.ParkSample, "park-sample", 30*time.Second, "how long RSS and goroutines are sampled once parked")
	flag.DurationVar(&c.ParkTimeout, "park-timeout", 14*time.Minute, "limit for parking (it starts all but the fixed load's requests itself: ~9,000 of 10,000 at ~25/s on a busy 2-core machine)")
	flag.IntVar(&c.StickyCache, "sticky-cache", 1000, "the worker's sticky workflow cache (WORKER_STICKY_CACHE; the worker's default is 1000, the SDK's 10000)")
	flag.IntVar(&c.ParkRecheckCache, "park-recheck-cache", 1000,
		"when the park targets fail, measure again in a fresh process with this sticky cache size, at most park-n/3 (0: do not)")
	flag.Parse()
	return c
}

func (c config) has(phase string) bool {
	for _, p := range strings.Split(c.Phases, ",") {
		if strings.TrimSpace(p) == phase {
			return true
		}
	}
	return false
}

func main() {
	cfg := parseFlags()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	code := run(ctx, cfg)
	cancel()
	stop()
	os.Exit(code)
}

func run(ctx context.Context, cfg config) int {
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	// Must precede the first worker: the cache is created when it starts.
	// The stack's worker sets it from WORKER_STICKY_CACHE.
	worker.SetStickyWorkflowCacheSize(cfg.StickyCache)
	if err := os.Setenv("WORKER_STICKY_CACHE", strconv.Itoa(cfg.StickyCache)); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	res := &Results{Started: time.Now().UTC(), Config: cfg, Machine: machineInfo()}
	res.Machine.StickyCache = cfg.StickyCache

	b, err := startBench(ctx, cfg, root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: start:", err)
		return 1
	}
	res.Machine.fillServers(ctx, b)
	res.Idle = sampleProcess()
	logf("stack up in %s (intake %s, NATS %s, Temporal %s)", b.startup.Round(time.Millisecond), b.stk.IntakeURL, b.natsKind, b.stk.Temporal.HostPort)

	failed := false
	step := func(name string, f func() error) {
		if ctx.Err() != nil {
			res.Skipped = append(res.Skipped, name+": "+ctx.Err().Error())
			return
		}
		t0 := time.Now()
		la := loadAvg()
		logf("── %s (machine load average %.1f)", name, la)
		stopProfile := startProfile(root, cfg.ProfileDir, name)
		err := f()
		stopProfile()
		res.Phases = append(res.Phases, PhaseInfo{Name: name, Seconds: round1(time.Since(t0).Seconds()), LoadBefore: la, LoadAfter: loadAvg()})
		if err != nil {
			failed = true
			res.Errors = append(res.Errors, name+": "+err.Error())
			logf("%s failed: %v", name, err)
		}
		logf("%s done in %s", name, time.Since(t0).Round(time.Second))
	}
	// Order: the end-to-end and erasure figures first, on a quiet stack; then
	// the intake, whose requests (each a real workflow, waiting for its code)
	// become the first of those parked for phase 3.
	if cfg.has("e2e") {
		step("e2e", func() error { return b.e2ePhase(ctx, res) })
	}
	if cfg.has("erasure") {
		step("erasure", func() error { return b.erasurePhase(ctx, res) })
	}
	if cfg.has("intake") {
		step("intake", func() error { return b.intakePhase(ctx, res) })
		if !cfg.has("park") {
			step("drain", func() error { return b.drainPhase(ctx, res) })
		}
	}
	if cfg.has("park") {
		step("park", func() error { return b.parkPhase(ctx, res) })
	}
	logf("stopping the stack")
	b.close()

	if cfg.has("park") && res.Park != nil && !res.Park.pass() && cfg.ParkRecheckCache > 0 && cfg.ParkRecheckCache != cfg.StickyCache {
		step("park recheck", func() error { return recheckPark(ctx, cfg, root, res) })
	}

	res.Finished = time.Now().UTC()
	rows := res.rows()
	fmt.Println()
	printTable(os.Stdout, rows)
	for _, n := range res.notes() {
		fmt.Println("  • " + n)
	}
	res.Rows = rows
	out := filepath.Join(root, cfg.Out)
	if err := writeJSON(out, res); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	fmt.Printf("\nresults: %s\n", out)
	if failed || len(res.Skipped) > 0 {
		return 1
	}
	return 0
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// repoRoot is the nearest directory upwards holding go.work.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the repository (no go.work found upwards)")
		}
		dir = parent
	}
}

func randomToken() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var startedAt = time.Now()

// PhaseInfo records how long a phase took and how loaded the machine was
// (1-minute load average from /proc/loadavg, all processes, not just ours).
type PhaseInfo struct {
	Name       string  `json:"name"`
	Seconds    float64 `json:"seconds"`
	LoadBefore float64 `json:"load_before"`
	LoadAfter  float64 `json:"load_after"`
}

func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return f
}

// startProfile writes this process's CPU profile for one phase.
func startProfile(root, dir, phase string) func() {
	if dir == "" {
		return func() {}
	}
	path := filepath.Join(root, dir, strings.ReplaceAll(phase, " ", "-")+".cpu.pprof")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		// And the heap the phase leaves behind (after a collection), which is
		// what the next phases' RSS carries.
		runtime.GC()
		if h, err := os.Create(strings.TrimSuffix(path, ".cpu.pprof") + ".heap.pprof"); err == nil {
			_ = pprof.WriteHeapProfile(h)
			h.Close()
		}
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(startedAt).Seconds(), fmt.Sprintf(format, args...))
}
