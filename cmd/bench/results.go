package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// Results is everything one run measured (test-output/bench.json).
type Results struct {
	Started     time.Time      `json:"started"`
	Finished    time.Time      `json:"finished"`
	Config      config         `json:"config"`
	Machine     Machine        `json:"machine"`
	Idle        ProcessSample  `json:"idle_stack"`
	Phases      []PhaseInfo    `json:"phases"`
	Intake      *IntakeResult  `json:"intake,omitempty"`
	Drain       *DrainResult   `json:"drain,omitempty"`
	E2E         *E2EResult     `json:"e2e,omitempty"`
	Erasure     *ErasureResult `json:"erasure,omitempty"`
	Park        *ParkResult    `json:"park,omitempty"`
	ParkRecheck *ParkResult    `json:"park_recheck,omitempty"`
	Rows        []Row          `json:"rows"`
	Notes       []string       `json:"notes,omitempty"`
	Errors      []string       `json:"errors,omitempty"`
	Skipped     []string       `json:"skipped,omitempty"`
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// rows builds the table: one line per figure, Madoguchi beside its baseline.
func (r *Results) rows() []Row {
	var rows []Row
	if in := r.Intake; in != nil {
		ratio := in.Ratio
		rows = append(rows,
			Row{Metric: fmt.Sprintf("1. intake accepts/s (%d clients)", in.Clients),
				Madoguchi: fmt.Sprintf("%.0f/s", in.Max.PerSec), Baseline: fmt.Sprintf("%.0f/s PG insert", in.Baseline.PerSec),
				Ratio: ratio, Target: "≥ 50%", Verdict: verdict(ratio >= 0.5)},
			Row{Metric: fmt.Sprintf("   rounds (median shown): %s", in.roundRatios()), Target: "diagnostic", Verdict: "info"})
		if lo := in.Low; lo != nil {
			rows = append(rows, Row{Metric: fmt.Sprintf("   at %d clients (one pair)", in.LowClients),
				Madoguchi: fmt.Sprintf("%.0f/s", lo.AcceptPerSec), Baseline: fmt.Sprintf("%.0f/s PG insert", lo.BaselinePerSec),
				Ratio: lo.Ratio, Target: "diagnostic", Verdict: "info"})
		}
		rows = append(rows,
			Row{Metric: fmt.Sprintf("1. accept latency p50 @ %.0f/s", in.Load.OfferedPerSec),
				Madoguchi: fmt.Sprintf("%.1f ms", in.Load.Latency.P50ms), Baseline: fmt.Sprintf("%.1f ms (insert, max load)", in.Baseline.Latency.P50ms),
				Target: "report", Verdict: "info"},
			Row{Metric: fmt.Sprintf("1. accept latency p99 @ %.0f/s", in.Load.OfferedPerSec),
				Madoguchi: fmt.Sprintf("%.1f ms", in.Load.Latency.P99ms), Baseline: fmt.Sprintf("%.1f ms (insert, max load)", in.Baseline.Latency.P99ms),
				Target: "report", Verdict: "info"},
			Row{Metric: "   why: intake's statement alone, unbatched",
				Madoguchi: fmt.Sprintf("%.0f/s; %.0f/s via %d conns", in.TxShape.PerSec, in.TxShapeSmallPool.PerSec, in.TxShapeSmallPool.Conns),
				Baseline:  fmt.Sprintf("%.0f/s PG insert", in.Baseline.PerSec), Ratio: safeDiv(in.TxShape.PerSec, in.Baseline.PerSec),
				Target: "diagnostic", Verdict: "info"})
	}
	if d := r.Drain; d != nil {
		rows = append(rows, Row{Metric: "   intake → code mailed (workflow start)",
			Madoguchi: fmt.Sprintf("%.0f req/s", d.PerSec), Target: "report", Verdict: "info"})
	}
	if e := r.E2E; e != nil {
		rows = append(rows, Row{Metric: fmt.Sprintf("2. e2e deletions/s (N=%d, 6 holders)", e.N),
			Madoguchi: fmt.Sprintf("%.2f/s", e.PerSec), Baseline: fmt.Sprintf("%.2f/s bare (%d act.)", e.Bare.PerSec, e.Activities),
			Ratio: e.Ratio, Target: "≥ 70%", Verdict: verdict(e.Ratio >= 0.7 && e.Failed == 0)},
			Row{Metric: fmt.Sprintf("   rounds (median shown): %s", e.roundRatios()), Target: "diagnostic", Verdict: "info"},
			Row{Metric: "2. e2e latency p50 / p99 (submit → done)",
				Madoguchi: fmt.Sprintf("%.1f / %.1f s", e.Latency.P50ms/1000, e.Latency.P99ms/1000),
				Baseline:  fmt.Sprintf("%.1f / %.1f s bare", e.Bare.Latency.P50ms/1000, e.Bare.Latency.P99ms/1000),
				Target:    "report", Verdict: "info"})
	}
	for _, p := range []*ParkResult{r.Park, r.ParkRecheck} {
		if p == nil {
			continue
		}
		label := fmt.Sprintf("3. %d parked: process RSS (cache %d)", p.Parked, p.StickyCache)
		rows = append(rows, Row{Metric: label, Madoguchi: fmt.Sprintf("%.0f MiB", p.RSSMaxMiB),
			Baseline: fmt.Sprintf("%.0f MiB idle", p.Idle.RSSMiB), Target: fmt.Sprintf("≤ %d MiB", rssTargetMiB), Verdict: verdict(p.rssOK())})
		g := "—"
		if len(p.Checkpoints) == 2 {
			g = fmt.Sprintf("%d → %d (%+.2f/req)", p.Checkpoints[0].Goroutines, p.Checkpoints[1].Goroutines, p.Slope)
		}
		rows = append(rows, Row{Metric: fmt.Sprintf("3. goroutines %s parked", parkedSpan(p)), Madoguchi: g,
			Baseline: fmt.Sprintf("%d idle", p.Idle.Goroutines), Target: fmt.Sprintf("flat (≤ %.2f/req)", maxSlope), Verdict: verdict(p.flatOK())})
	}
	if e := r.Erasure; e != nil {
		rows = append(rows, Row{Metric: fmt.Sprintf("4. erasure event → subscriber p50 (%.0f/s)", e.RatePerS),
			Madoguchi: fmt.Sprintf("%.2f ms", e.Latency.P50ms), Baseline: fmt.Sprintf("%.2f ms publish ack", e.PublishAck.P50ms), Target: "report", Verdict: "info"},
			Row{Metric: fmt.Sprintf("4. erasure event → subscriber p99 (%.0f/s)", e.RatePerS),
				Madoguchi: fmt.Sprintf("%.2f ms", e.Latency.P99ms), Baseline: fmt.Sprintf("%.2f ms publish ack", e.PublishAck.P99ms), Target: "report", Verdict: "info"})
	}
	return rows
}

func parkedSpan(p *ParkResult) string {
	if len(p.Checkpoints) != 2 {
		return ""
	}
	return fmt.Sprintf("%d→%d", p.Checkpoints[0].Parked, p.Checkpoints[1].Parked)
}

// notes are printed under the table.
func (r *Results) notes() []string {
	m := r.Machine
	n := []string{fmt.Sprintf("machine: %d CPUs (%s), %.1f GiB, %s, %s; %s; %s; %s",
		m.CPUs, m.CPUModel, m.MemTotalGiB, m.Kernel, m.GoVersion, m.Postgres, m.NATS, m.Temporal)}
	if in := r.Intake; in != nil {
		windows := fmt.Sprintf("%d rounds", len(in.Rounds))
		if in.Low != nil {
			windows += fmt.Sprintf(" and the %d-client pair", in.LowClients)
		}
		n = append(n, fmt.Sprintf("intake: %d accepted in %s (median round: %d accepted, %d rate-limited, %d failed; all taken off the stream) + %d at fixed load (%d dropped, %d failed; the last %d dispatched); %d not dispatched in all; statuses %v",
			in.Accepted-in.Load.Accepted, windows, in.Max.Accepted, in.Max.RateLimited, in.Max.Failed, in.Load.Accepted, in.Load.Dropped, in.Load.Failed, in.Dispatched, in.Undispatched, in.Statuses))
	}
	if e := r.E2E; e != nil && (e.Failed > 0 || e.Entrusted > 0) {
		n = append(n, fmt.Sprintf("e2e: %d failed, %d entrusted instructions given", e.Failed, e.Entrusted))
	}
	if p := r.Park; p != nil {
		n = append(n, fmt.Sprintf("park: %d from the intake phase + %d started directly in %.0fs; Temporal/mailpit RSS %v MiB (not in the figure)",
			p.FromIntake, p.Started, p.StartSecs, p.Servers))
	}
	n = append(n, r.Notes...)
	if len(r.Phases) > 0 {
		s := "phases (s, machine load avg before→after):"
		for _, p := range r.Phases {
			s += fmt.Sprintf(" %s %.0fs %.1f→%.1f;", p.Name, p.Seconds, p.LoadBefore, p.LoadAfter)
		}
		n = append(n, s)
	}
	for _, e := range r.Errors {
		n = append(n, "error: "+e)
	}
	for _, s := range r.Skipped {
		n = append(n, "skipped: "+s)
	}
	return n
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func (e *E2EResult) roundRatios() string {
	var ratios []float64
	for _, r := range e.Rounds {
		ratios = append(ratios, r.Ratio)
	}
	return percents(ratios)
}

func (in *IntakeResult) roundRatios() string {
	var ratios []float64
	for _, r := range in.Rounds {
		ratios = append(ratios, r.Ratio)
	}
	return percents(ratios)
}

func percents(ratios []float64) string {
	var parts []string
	for _, r := range ratios {
		parts = append(parts, fmt.Sprintf("%.0f%%", r*100))
	}
	return strings.Join(parts, " ")
}
