package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// latencies collects durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) snapshot() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.d...)
}

// percentile returns the p-th percentile (0 < p ≤ 100) by the nearest-rank
// method; 0 for no samples.
func percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), samples...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(s) {
		rank = len(s)
	}
	return s[rank-1]
}

// Dist summarises a latency distribution in milliseconds.
type Dist struct {
	N     int     `json:"n"`
	P50ms float64 `json:"p50_ms"`
	P90ms float64 `json:"p90_ms"`
	P99ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func distOf(samples []time.Duration) Dist {
	return Dist{N: len(samples), P50ms: ms(percentile(samples, 50)), P90ms: ms(percentile(samples, 90)),
		P99ms: ms(percentile(samples, 99)), MaxMs: ms(percentile(samples, 100))}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

// Row is one line of the printed table.
type Row struct {
	Metric    string  `json:"metric"`
	Madoguchi string  `json:"madoguchi"`
	Baseline  string  `json:"baseline"`
	Ratio     float64 `json:"ratio,omitempty"`
	Target    string  `json:"target"`
	// Verdict is pass, FAIL, info, or skipped.
	Verdict string `json:"verdict"`
}

func ratioCell(r Row) string {
	if r.Ratio == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", r.Ratio*100)
}

func verdict(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}

// printTable writes rows as an aligned text table.
func printTable(w io.Writer, rows []Row) {
	head := []string{"metric", "Madoguchi", "baseline", "ratio", "target", "result"}
	cells := [][]string{head}
	for _, r := range rows {
		b := r.Baseline
		if b == "" {
			b = "—"
		}
		cells = append(cells, []string{r.Metric, r.Madoguchi, b, ratioCell(r), r.Target, r.Verdict})
	}
	width := make([]int, len(head))
	for _, row := range cells {
		for i, c := range row {
			if n := displayWidth(c); n > width[i] {
				width[i] = n
			}
		}
	}
	line := func(row []string) {
		var b strings.Builder
		for i, c := range row {
			b.WriteString(c)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", width[i]-displayWidth(c)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(cells[0])
	var sep []string
	for _, n := range width {
		sep = append(sep, strings.Repeat("-", n))
	}
	line(sep)
	for _, row := range cells[1:] {
		line(row)
	}
}

// displayWidth counts runes (the table is ASCII plus a few symbols).
func displayWidth(s string) int { return len([]rune(s)) }

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

func round2(f float64) float64 { return math.Round(f*100) / 100 }
