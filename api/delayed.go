package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keelson/keelson/storage"
)

// Keys with a delay see the latest positions as of now minus the delay.
// Reading them from storage on every request is slow (it means finding
// each vessel's newest position before a moving cutoff), so the server
// keeps one index per delay in use: a snapshot of every vessel's latest
// position at or before a cutoff.
//
// Snapshots are built in the background, never inside a request: under
// the server's lifetime (not a request's context, so a client going away
// cancels nothing shared) and reading through Config.Background with
// Config.BackgroundTimeout (limits meant for reading every vessel, not a
// request's). Run builds the snapshots of the delays of every active key
// at start and of every key that appears later (it lists the keys every
// KeyCacheTTL, and a key looked up for the first time is noticed at
// once). A request for a delay whose snapshot is not ready yet starts or
// joins its build and waits at most Config.DelayWait for it, then gets
// 503 with Retry-After. A build that fails is retried in the background
// with a backoff (1 s doubling up to 1 min); the requests that waited for
// it, and those that come before the retry, get the failure (answered as
// any storage failure: 500, or 413 for a ClickHouse cap), never a view
// they should not see.
//
// A snapshot is moved forward in the background once it is DelayRefresh
// old, by applying the positions between the old and the new cutoff (a
// narrow time window), and rebuilt whole every delayedFull (to pick up
// identity changes of vessels that did not move). A snapshot never holds
// anything newer than its cutoff, which is never later than now minus the
// delay (the cutoff is taken when the read starts), so serving a slightly
// old snapshot shows a partner positions slightly older than the delay,
// never newer. A request whose cutoff is before the snapshot's (the clock
// went back) is never served from it: it waits for a rebuild like a
// request with no snapshot.

// maxDelayed bounds the snapshots kept (one per distinct delay in use).
const maxDelayed = 16

// delayedFull is how often (in data time) a snapshot is rebuilt whole.
const delayedFull = time.Hour

// The backoff between attempts to build a snapshot after a failure.
const (
	delayedRetryMin = time.Second
	delayedRetryMax = time.Minute
)

type delayedIndexes struct {
	mu     sync.Mutex
	m      map[time.Duration]*delayedIndex
	wanted map[time.Duration]bool // delays of the active keys (last key list)

	ctx      context.Context    // the server's lifetime: background reads run under it
	stop     context.CancelFunc // ends it (when Run's context ends)
	sem      chan struct{}      // one background read at a time
	retryMin time.Duration      // first backoff after a failure (tests shorten it)
	lastFull atomic.Int64       // duration of the last whole build, for Retry-After
}

type delayedIndex struct {
	delay time.Duration
	snap  atomic.Pointer[delayedSnap]
	used  atomic.Int64 // unix nanos (real time) of the last request, for eviction

	mu       sync.Mutex
	running  chan struct{} // closed when the running build or update ends; nil when none runs
	started  time.Time     // when the running one started (real time)
	err      error         // the last attempt's error; nil after a success
	failures int           // consecutive failures
	retryAt  time.Time     // after a failure: when the next attempt starts (real time)
}

type delayedSnap struct {
	ix     *Index
	cutoff time.Time // everything up to it is applied
	full   time.Time // cutoff of the last whole build
}

func (s *Server) initDelayed() {
	s.delayed.m = map[time.Duration]*delayedIndex{}
	s.delayed.ctx, s.delayed.stop = context.WithCancel(context.Background())
	s.delayed.sem = make(chan struct{}, 1)
	s.delayed.retryMin = delayedRetryMin
}

// delayedEntry returns the entry of a delay, making it (and evicting the
// least recently used entry, preferring delays no active key has, when
// maxDelayed are kept) when there is none.
func (s *Server) delayedEntry(delay time.Duration) *delayedIndex {
	s.delayed.mu.Lock()
	defer s.delayed.mu.Unlock()
	d := s.delayed.m[delay]
	if d != nil {
		return d
	}
	if len(s.delayed.m) >= maxDelayed {
		var lru time.Duration
		oldest, oldestWanted := int64(-1), true
		for k, v := range s.delayed.m {
			u, w := v.used.Load(), s.delayed.wanted[k]
			if oldest < 0 || (oldestWanted && !w) || (w == oldestWanted && u < oldest) {
				lru, oldest, oldestWanted = k, u, w
			}
		}
		delete(s.delayed.m, lru)
	}
	d = &delayedIndex{delay: delay}
	d.used.Store(time.Now().UnixNano())
	s.delayed.m[delay] = d
	return d
}

// current reports whether d is still the entry of its delay (not evicted).
func (s *Server) current(d *delayedIndex) bool {
	s.delayed.mu.Lock()
	defer s.delayed.mu.Unlock()
	return s.delayed.m[d.delay] == d
}

// kickDelayed starts a background build (or update) of d unless one runs
// already, and returns the channel closed when the running one ends. After
// a failure it starts none before the backoff ends: it returns nil and the
// failure.
func (s *Server) kickDelayed(d *delayedIndex) (done <-chan struct{}, failed error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running != nil {
		return d.running, nil
	}
	if d.err != nil && time.Now().Before(d.retryAt) {
		return nil, d.err
	}
	ch := make(chan struct{})
	d.running, d.started = ch, time.Now()
	go s.runDelayed(d, ch)
	return ch, nil
}

// runDelayed builds or moves d forward under the server's lifetime, then
// records the outcome and, after a failure, schedules the next attempt.
func (s *Server) runDelayed(d *delayedIndex, done chan struct{}) {
	ctx := s.delayed.ctx
	err := ctx.Err()
	if err == nil {
		select {
		case s.delayed.sem <- struct{}{}:
			ctx, cancel := context.WithTimeout(ctx, s.cfg.BackgroundTimeout)
			// The cutoff is taken when the read starts: never later
			// than now minus the delay while the snapshot is served.
			err = s.advanceDelayed(ctx, d, s.now().Add(-d.delay))
			cancel()
			<-s.delayed.sem
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	d.mu.Lock()
	d.running = nil
	d.err = err
	if err == nil {
		d.failures = 0
	} else {
		d.failures++
		wait := min(s.delayed.retryMin<<min(d.failures-1, 16), delayedRetryMax)
		d.retryAt = time.Now().Add(wait)
		if s.delayed.ctx.Err() == nil {
			s.log.Warn("delayed index build failed; retrying", "delay", d.delay, "failures", d.failures, "retry_in", wait, "err", err)
			time.AfterFunc(wait, func() {
				if s.delayed.ctx.Err() == nil && s.current(d) {
					s.kickDelayed(d)
				}
			})
		}
	}
	d.mu.Unlock()
	close(done)
}

// delayedIndex returns the snapshot index for the delay: the current one
// (starting an update in the background when it is DelayRefresh old), or,
// when there is none yet or it is newer than this request's cutoff (the
// clock went back), the one being built, waited for at most DelayWait;
// past that, an ErrUnavailable *Error with a RetryAfter. When the build
// fails (or failed before and waits for its retry) it returns the
// failure, which the request answers as any storage failure (500, or 413
// for a ClickHouse cap).
func (s *Server) delayedIndex(ctx context.Context, delay time.Duration) (*Index, error) {
	d := s.delayedEntry(delay)
	d.used.Store(time.Now().UnixNano())
	var timeout <-chan time.Time
	for {
		cutoff := s.now().Add(-delay)
		if sn := d.snap.Load(); sn != nil && !cutoff.Before(sn.cutoff) {
			if cutoff.Sub(sn.cutoff) >= s.cfg.DelayRefresh {
				s.kickDelayed(d)
			}
			return sn.ix, nil
		}
		done, failed := s.kickDelayed(d)
		if done == nil {
			return nil, fmt.Errorf("api: delayed view %v: %w", delay, failed)
		}
		if timeout == nil {
			t := time.NewTimer(s.cfg.DelayWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-done:
			d.mu.Lock()
			failed = d.err
			d.mu.Unlock()
			if failed != nil && d.snap.Load() == nil {
				return nil, fmt.Errorf("api: delayed view %v: %w", delay, failed)
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timeout:
			return nil, &Error{Kind: ErrUnavailable, RetryAfter: s.delayedETA(d),
				Message: fmt.Sprintf("the view of keys with a delay of %v is being prepared", delay)}
		}
	}
}

// delayedETA estimates how long d's running build has left: the last
// whole build's duration minus the time it has run, at least a second.
func (s *Server) delayedETA(d *delayedIndex) time.Duration {
	d.mu.Lock()
	started := d.started
	d.mu.Unlock()
	return max(time.Second, time.Duration(s.delayed.lastFull.Load())-time.Since(started))
}

// delayedSnapshot returns the current snapshot of a delay, or nil.
func (s *Server) delayedSnapshot(delay time.Duration) *delayedSnap {
	s.delayed.mu.Lock()
	d := s.delayed.m[delay]
	s.delayed.mu.Unlock()
	if d == nil {
		return nil
	}
	return d.snap.Load()
}

// wantDelay makes sure a delay's snapshot exists or is being built (a key
// with that delay was seen).
func (s *Server) wantDelay(delay time.Duration) {
	d := s.delayedEntry(delay)
	if d.snap.Load() == nil {
		s.kickDelayed(d)
	}
}

// syncDelays takes the delays of the active keys: it builds the snapshots
// missing, moves forward those DelayRefresh old, and drops the snapshots
// of delays no active key has that were not used for delayedFull.
func (s *Server) syncDelays(keys []Key) {
	wanted := map[time.Duration]bool{}
	for _, k := range keys {
		if !k.Revoked && k.Scope.Delay > 0 {
			wanted[time.Duration(k.Scope.Delay)] = true
		}
	}
	s.delayed.mu.Lock()
	s.delayed.wanted = wanted
	for delay, d := range s.delayed.m {
		if !wanted[delay] && time.Since(time.Unix(0, d.used.Load())) > delayedFull {
			delete(s.delayed.m, delay)
		}
	}
	s.delayed.mu.Unlock()
	for delay := range wanted {
		s.wantDelay(delay)
	}
	s.refreshDelayed()
}

// refreshDelayed starts an update of every snapshot DelayRefresh old.
func (s *Server) refreshDelayed() {
	s.delayed.mu.Lock()
	ds := make([]*delayedIndex, 0, len(s.delayed.m))
	for _, d := range s.delayed.m {
		ds = append(ds, d)
	}
	s.delayed.mu.Unlock()
	now := s.now()
	for _, d := range ds {
		if sn := d.snap.Load(); sn != nil && now.Add(-d.delay).Sub(sn.cutoff) >= s.cfg.DelayRefresh {
			s.kickDelayed(d)
		}
	}
}

// watchKeys builds the snapshots of the active keys' delays at start and
// as keys appear (listing the keys every KeyCacheTTL, at least every
// 100 ms), and keeps them current, until ctx ends. Without a KeyLister it
// only keeps the snapshots current.
func (s *Server) watchKeys(ctx context.Context) {
	lister, _ := s.cfg.Keys.(KeyLister)
	t := time.NewTicker(min(max(s.cfg.KeyCacheTTL, 100*time.Millisecond), s.cfg.DelayRefresh))
	defer t.Stop()
	for {
		if lister == nil {
			s.refreshDelayed()
		} else if keys, err := listKeys(ctx, lister); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.m.feedErrors.Inc()
			s.log.Warn("listing API keys failed", "err", err)
			s.refreshDelayed()
		} else {
			s.syncDelays(keys)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// listKeys returns the stored keys; a key that does not decode is skipped
// (it cannot authenticate either), and a database without the api_keys
// table has none.
func listKeys(ctx context.Context, l KeyLister) ([]Key, error) {
	sks, err := l.APIKeys(ctx)
	var qe *storage.QueryError
	if errors.As(err, &qe) && (qe.Code == 60 || strings.Contains(qe.Msg, "UNKNOWN_TABLE")) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	keys := make([]Key, 0, len(sks))
	for _, sk := range sks {
		if k, err := KeyFromStorage(sk); err == nil {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// buildDelayed reads the latest positions at or before cutoff into a new
// index and publishes it.
func (s *Server) buildDelayed(ctx context.Context, d *delayedIndex, cutoff time.Time) error {
	start := time.Now()
	ix := NewIndex()
	err := s.background.LatestBefore(ctx, storage.LatestBeforeQuery{Before: cutoff}, func(v *storage.VesselRow) error {
		ix.Put(v)
		return nil
	})
	if err != nil {
		s.m.delayedFailed.WithLabelValues("full").Inc()
		return err
	}
	d.snap.Store(&delayedSnap{ix: ix, cutoff: cutoff, full: cutoff})
	took := time.Since(start)
	s.delayed.lastFull.Store(int64(took))
	s.m.delayedBuild.WithLabelValues("full").Observe(took.Seconds())
	return nil
}

// advanceDelayed moves the snapshot forward to cutoff: in place, by the
// positions after its cutoff, or by a whole rebuild when there is none,
// the last one is delayedFull old or the clock went back.
func (s *Server) advanceDelayed(ctx context.Context, d *delayedIndex, cutoff time.Time) error {
	sn := d.snap.Load()
	if sn == nil || !cutoff.After(sn.cutoff) || cutoff.Sub(sn.full) >= delayedFull {
		return s.buildDelayed(ctx, d, cutoff)
	}
	start := time.Now()
	err := s.background.LatestBefore(ctx, storage.LatestBeforeQuery{After: sn.cutoff, Before: cutoff}, func(v *storage.VesselRow) error {
		sn.ix.Put(v)
		return nil
	})
	if err != nil {
		// Part of the update may be applied: the snapshot takes the new
		// cutoff (nothing in it is newer) and the next attempt rebuilds
		// it whole (the vessels not applied would otherwise stay behind).
		d.snap.Store(&delayedSnap{ix: sn.ix, cutoff: cutoff})
		s.m.delayedFailed.WithLabelValues("update").Inc()
		return err
	}
	d.snap.Store(&delayedSnap{ix: sn.ix, cutoff: cutoff, full: sn.full})
	s.m.delayedBuild.WithLabelValues("update").Observe(time.Since(start).Seconds())
	return nil
}
