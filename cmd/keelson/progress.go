package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress reports the advance of long CLI work (replay, backfill, export to
// a file): a progress bar when w is a terminal, otherwise a plain log line
// every interval and one at the end, so that logs of services and CI stay
// readable. Safe for concurrent use.
//
//	p := newProgress(io.err, "replay", total, "events")
//	defer p.Finish()
//	p.Add(n)
type progress struct {
	bar *progressbar.ProgressBar // nil when w is not a terminal

	mu       sync.Mutex
	w        io.Writer
	desc     string
	unit     string
	total    int64 // <= 0: unknown
	n        int64
	start    time.Time
	last     time.Time
	interval time.Duration
	done     bool
}

// progressLogInterval is how often the plain form logs a line.
const progressLogInterval = 10 * time.Second

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress starts reporting progress on w; total <= 0 means unknown.
func newProgress(w io.Writer, desc string, total int64, unit string) *progress {
	now := time.Now()
	p := &progress{w: w, desc: desc, unit: unit, total: total, start: now, last: now, interval: progressLogInterval}
	if isTerminal(w) {
		max := total
		if max <= 0 {
			max = -1 // spinner
		}
		p.bar = progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(unit),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
			progressbar.OptionFullWidth(),
		)
	}
	return p
}

// Add records n more units done.
func (p *progress) Add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.n += int64(n)
	if p.bar != nil {
		_ = p.bar.Add64(int64(n))
		return
	}
	if now := time.Now(); now.Sub(p.last) >= p.interval {
		p.last = now
		p.logLine(now)
	}
}

// Finish ends the report with a final line.
func (p *progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.done = true
	if p.bar != nil {
		_ = p.bar.Finish()
		return
	}
	p.logLine(time.Now())
}

func (p *progress) logLine(now time.Time) {
	el := now.Sub(p.start)
	rate := 0.0
	if s := el.Seconds(); s > 0 {
		rate = float64(p.n) / s
	}
	if p.total > 0 {
		fmt.Fprintf(p.w, "%s: %d/%d %s (%.0f%%) in %s, %.0f %s/s\n", p.desc, p.n, p.total, p.unit,
			100*float64(p.n)/float64(p.total), el.Round(time.Second), rate, p.unit)
		return
	}
	fmt.Fprintf(p.w, "%s: %d %s in %s, %.0f %s/s\n", p.desc, p.n, p.unit, el.Round(time.Second), rate, p.unit)
}
