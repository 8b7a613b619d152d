package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// ParkResult is phase 3: requests parked on their verification timers.
type ParkResult struct {
	Target      int `json:"target"`
	StickyCache int `json:"sticky_cache"`
	// FromIntake were already parked (the intake phase's requests);
	// Started were started directly with the Temporal client.
	FromIntake int     `json:"from_intake"`
	Started    int     `json:"started_directly"`
	StartSecs  float64 `json:"start_seconds"`
	Parked     int64   `json:"parked"`
	// Checkpoints are steady states (queue idle) at two parked counts: the
	// goroutine slope between them says whether goroutines grow with parked
	// requests.
	Checkpoints []Checkpoint `json:"checkpoints"`
	// Curve samples this process while requests are being parked.
	Curve []ProcessSample `json:"curve"`
	// Slope is extra goroutines per extra parked request between them.
	Slope float64 `json:"goroutines_per_parked_request"`
	// RSSMaxMiB is the largest VmRSS sampled at the last checkpoint.
	RSSMaxMiB  float64 `json:"rss_max_mib"`
	Goroutines int     `json:"goroutines"`
	// Servers are the RSS (MiB) of the Temporal dev server and mailpit.
	Servers    map[string]float64 `json:"server_rss_mib"`
	Terminated int                `json:"terminated"`
	After      *ProcessSample     `json:"after_terminate,omitempty"`
	Idle       ProcessSample      `json:"idle_stack"`
	Recheck    bool               `json:"recheck,omitempty"`
}

// Checkpoint is a steady state with n requests parked.
type Checkpoint struct {
	Parked int64 `json:"parked"`
	// Settled: the task queue was idle (every code mailed) when sampled.
	Settled bool            `json:"settled"`
	Samples []ProcessSample `json:"samples"`
	// Medians of the samples.
	RSSMiB     float64 `json:"rss_mib"`
	RSSMaxMiB  float64 `json:"rss_max_mib"`
	Goroutines int     `json:"goroutines"`
}

// Targets: ≤ 200 MiB, and a flat goroutine count — fewer than one extra
// goroutine per 20 extra parked requests.
const (
	rssTargetMiB = 200
	maxSlope     = 0.05
)

func (p *ParkResult) rssOK() bool { return p.RSSMaxMiB > 0 && p.RSSMaxMiB <= rssTargetMiB }
func (p *ParkResult) flatOK() bool {
	return len(p.Checkpoints) == 2 && p.Checkpoints[1].Parked > p.Checkpoints[0].Parked && p.Slope <= maxSlope
}
func (p *ParkResult) pass() bool { return p.rssOK() && p.flatOK() && p.Parked >= int64(p.Target) }

func (b *bench) parkPhase(ctx context.Context, res *Results) error {
	target := b.cfg.ParkN
	p := &ParkResult{Target: target, StickyCache: b.cfg.StickyCache, Idle: res.Idle}
	res.Park = p
	phaseEnd := time.Now().Add(b.cfg.ParkTimeout)
	pctx, cancel := context.WithDeadline(ctx, phaseEnd)
	defer cancel()
	// This process hosts every component. What earlier phases allocated and
	// freed (the intake phase alone handles tens of thousands of requests)
	// is returned to the OS first, so that the figure is what parked
	// requests hold, as in a worker process of its own, not what the
	// runtime has yet to give back.
	debug.FreeOSMemory()

	// The intake phase's requests park on their own (they may still be on
	// their way: relay, bridge, receipt notice, code mail).
	var already int64
	if res.Intake != nil {
		already = int64(res.Intake.Dispatched)
	}
	p.FromIntake = int(already)
	// First checkpoint at half the target, or once the intake's requests
	// are parked; the second a third of the target further at least.
	half := max(int64(target/2), already)
	full := max(int64(target), half+int64(target/3))
	p.Target = int(full)
	var next atomic.Int64
	next.Store(already)
	t0 := time.Now()
	startTo := func(upTo int64) error {
		t0 := time.Now()
		n, err := b.startParked(pctx, &next, upTo)
		p.Started += n
		p.StartSecs += time.Since(t0).Seconds()
		return err
	}
	// checkpoint waits (until limit) for want parked requests, then samples
	// this process. A checkpoint cut short by its limit still samples, at
	// the count reached, with the queue still busy (Settled false).
	checkpoint := func(want int64, limit time.Time, sample time.Duration) error {
		got, werr := b.waitParked(pctx, want, time.Until(limit), func(n int64) {
			s := sampleProcess()
			s.Parked = n
			p.Curve = append(p.Curve, s)
			logf("park: %d/%d at verification (RSS %.0f MiB, %d goroutines)", n, want, s.RSSMiB, s.Goroutines)
		})
		p.Parked = got
		if ctx.Err() != nil {
			return ctx.Err()
		}
		cp := Checkpoint{Parked: got, Settled: werr == nil}
		if werr == nil {
			// Let activities in flight and the SDK settle.
			time.Sleep(5 * time.Second)
		}
		runtime.GC()
		end := time.Now().Add(sample)
		for time.Now().Before(end) && ctx.Err() == nil {
			s := sampleProcess()
			s.Parked = got
			cp.Samples = append(cp.Samples, s)
			time.Sleep(time.Second)
		}
		cp.summarise()
		p.Checkpoints = append(p.Checkpoints, cp)
		logf("park: %d parked (settled %t): RSS %.0f MiB (max %.0f), %d goroutines", got, cp.Settled, cp.RSSMiB, cp.RSSMaxMiB, cp.Goroutines)
		return nil
	}
	// Half the time for the first checkpoint (less what sampling needs).
	mid := time.Now().Add(time.Until(phaseEnd)/2 - b.cfg.ParkSample/3)
	if already < half {
		if err := startTo(half); err != nil {
			return err
		}
	}
	if err := checkpoint(half, mid, b.cfg.ParkSample/3); err != nil {
		return err
	}
	if already > 0 && half == already && p.Checkpoints[0].Settled {
		// How fast the intake's requests reached verification.
		res.Drain = &DrainResult{Requests: int(already), Seconds: round1(time.Since(t0).Seconds()), Complete: true,
			PerSec: round1(rate(int(already), time.Since(t0)+time.Duration((res.Intake.Max.Seconds+res.Intake.Load.Seconds)*float64(time.Second))))}
	}
	if err := startTo(full); err != nil && pctx.Err() == nil {
		return err
	}
	// Keep time for sampling and terminating.
	if err := checkpoint(full, phaseEnd.Add(-b.cfg.ParkSample-20*time.Second), b.cfg.ParkSample); err != nil {
		return err
	}
	p.StartSecs = round1(p.StartSecs)
	c0, c1 := p.Checkpoints[0], p.Checkpoints[1]
	if d := c1.Parked - c0.Parked; d > 0 {
		p.Slope = round2(float64(c1.Goroutines-c0.Goroutines) / float64(d))
	}
	p.RSSMaxMiB, p.Goroutines = c1.RSSMaxMiB, c1.Goroutines
	p.Servers = childRSS()

	// Clean up: terminate every request workflow this run started.
	p.Terminated = b.terminateAll(ctx)
	time.Sleep(3 * time.Second)
	runtime.GC()
	after := sampleProcess()
	p.After = &after
	logf("park: terminated %d workflows; now RSS %.0f MiB, %d goroutines", p.Terminated, after.RSSMiB, after.Goroutines)
	if p.Parked < full {
		return fmt.Errorf("only %d of %d requests parked within %s (figures taken at %d)", p.Parked, full, b.cfg.ParkTimeout, p.Parked)
	}
	return nil
}

func (c *Checkpoint) summarise() {
	if len(c.Samples) == 0 {
		return
	}
	var rss []float64
	var g []int
	for _, s := range c.Samples {
		rss = append(rss, s.RSSMiB)
		g = append(g, s.Goroutines)
		if s.RSSMiB > c.RSSMaxMiB {
			c.RSSMaxMiB = s.RSSMiB
		}
	}
	sort.Float64s(rss)
	sort.Ints(g)
	c.RSSMiB, c.Goroutines = rss[len(rss)/2], g[len(g)/2]
}

// startParked starts request workflows directly, as the bridge would (same
// id scheme, options and input shape: a RequestSubmitted with the person's
// data sealed by the runtime's key ring), until next reaches upTo.
func (b *bench) startParked(ctx context.Context, next *atomic.Int64, upTo int64) (int, error) {
	var started atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < b.cfg.ParkConcurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := next.Load()
				if n >= upTo {
					return
				}
				if !next.CompareAndSwap(n, n+1) {
					continue
				}
				n++
				if err := b.startOne(ctx, n); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				started.Add(1)
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return int(started.Load()), firstErr
}

var jst = time.FixedZone("JST", 9*60*60)

const receiptAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

func newReceipt(now time.Time) string {
	b := randBytes(6)
	for i := range b {
		b[i] = receiptAlphabet[int(b[i])%len(receiptAlphabet)]
	}
	return now.In(jst).Format("20060102") + "-" + string(b)
}

func (b *bench) startOne(ctx context.Context, n int64) error {
	tok := make([]byte, 32)
	_, _ = rand.Read(tok)
	personal, err := b.stk.Runtime.Ring.Message(&dsrv1.PersonalData{
		Subject: &dsrv1.Subject{Name: "性能 試験", Email: fmt.Sprintf("bench-%s-p%d@example.jp", b.runID, n),
			MemberId: fmt.Sprintf("P%s-%d", b.runID, n)},
		Details: "退会したので全て削除してください（性能測定）", StatusToken: hex.EncodeToString(tok), DisclosureMethod: "electronic",
	})
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		now := time.Now().Truncate(time.Microsecond)
		ev := &dsrv1.RequestSubmitted{RequestId: newUUID(), Receipt: newReceipt(now), Kind: dsrv1.RequestKind_REQUEST_KIND_DELETION,
			Jurisdiction: contract.JurisdictionJP, Locale: "ja", SubmittedAt: timestamppb.New(now), Personal: personal}
		id := contract.WorkflowID(ev.GetReceipt())
		_, err = b.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: id, TaskQueue: contract.TaskQueue,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
			Memo: map[string]any{"receipt": ev.GetReceipt(), "kind": contract.KindName(ev.GetKind()),
				"jurisdiction": ev.GetJurisdiction(), "request_id": ev.GetRequestId()},
		}, contract.WorkflowType, ev)
		var dup *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &dup) && attempt < 3 {
			continue // a receipt collision: draw another
		}
		if err != nil {
			return fmt.Errorf("start workflow: %w", err)
		}
		b.track(id)
		return nil
	}
}

// terminateAll terminates the run's request workflows still running
// (bounded to four minutes; the dev server is discarded afterwards anyway).
func (b *bench) terminateAll(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	b.mu.Lock()
	ids := make(chan string, len(b.workflows))
	for id := range b.workflows {
		ids <- id
	}
	b.mu.Unlock()
	close(ids)
	var n atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				if ctx.Err() != nil {
					return
				}
				if err := b.tc.TerminateWorkflow(ctx, id, "", "bench cleanup"); err == nil {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(n.Load())
}

// recheckPark measures the park phase again in a fresh process (a new stack)
// with a smaller sticky cache: the SDK's cache size is fixed once the first
// worker of a process has started.
func recheckPark(ctx context.Context, cfg config, root string, res *Results) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(cfg.ParkTimeout + 2*time.Minute)
	}
	remaining := time.Until(deadline)
	if remaining < 3*time.Minute {
		return fmt.Errorf("only %s left: not enough for a recheck", remaining.Round(time.Second))
	}
	// The same number parked as the first measurement reached for.
	n := cfg.ParkN
	if res.Park != nil && res.Park.Target > n {
		n = res.Park.Target
	}
	cache := cfg.ParkRecheckCache
	if c := n / 3; cache > c {
		// The first checkpoint (half the target) must find the cache full,
		// or the goroutine slope measures the cache filling up.
		cache = c
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	out := strings.TrimSuffix(cfg.Out, ".json") + "-park-recheck.json"
	logOut := strings.TrimSuffix(cfg.LogFile, ".log") + "-park-recheck.log"
	args := []string{"-phases=park", "-sticky-cache=" + strconv.Itoa(cache), "-park-recheck-cache=0",
		"-park-n=" + strconv.Itoa(n), "-park-concurrency=" + strconv.Itoa(cfg.ParkConcurrency),
		"-park-sample=" + cfg.ParkSample.String(), "-park-timeout=" + min(cfg.ParkTimeout, remaining-90*time.Second).Round(time.Second).String(),
		"-timeout=" + (remaining - 30*time.Second).Round(time.Second).String(),
		"-out=" + out, "-log=" + logOut}
	logf("park targets not met with a sticky cache of %d: measuring again with %d in a fresh process", cfg.StickyCache, cache)
	_ = os.Remove(filepath.Join(root, out))
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
	cmd.WaitDelay = 30 * time.Second
	runErr := cmd.Run()
	var child Results
	if err := readJSON(filepath.Join(root, out), &child); err != nil {
		return fmt.Errorf("recheck: %v (run: %v)", err, runErr)
	}
	if child.Park != nil {
		child.Park.Recheck = true
		res.ParkRecheck = child.Park
	}
	if runErr != nil {
		return fmt.Errorf("recheck: %w", runErr)
	}
	return nil
}
