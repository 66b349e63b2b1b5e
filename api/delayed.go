package api

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keelson/keelson/storage"
)

// Keys with a delay see the latest positions as of now minus the delay.
// Reading them from storage on every request is slow (it means finding
// each vessel's newest position before a moving cutoff), so the server
// keeps one index per delay in use: a snapshot of every vessel's latest
// position at or before a cutoff. It is built on the first request with
// that delay, then moved forward in the background once it is
// DelayRefresh old, by applying the positions between the old and the new
// cutoff (a narrow time window), and rebuilt whole every delayedFull (to
// pick up identity changes of vessels that did not move). A snapshot never
// holds anything newer than its cutoff, which is never later than now
// minus the delay, so serving a slightly old snapshot shows a partner
// positions slightly older than the delay, never newer.

// maxDelayed bounds the snapshots kept (one per distinct delay in use).
const maxDelayed = 16

// delayedFull is how often (in data time) a snapshot is rebuilt whole.
const delayedFull = time.Hour

type delayedIndexes struct {
	mu sync.Mutex
	m  map[time.Duration]*delayedIndex
}

type delayedIndex struct {
	build    sync.Mutex // held while building
	snap     atomic.Pointer[delayedSnap]
	building atomic.Bool
	used     atomic.Int64 // unix nanos of the last request, for eviction
}

type delayedSnap struct {
	ix     *Index
	cutoff time.Time // everything up to it is applied
	full   time.Time // cutoff of the last whole build
}

// delayedIndex returns the snapshot index for the delay: the current one,
// starting a rebuild when it is stale, or (for a delay not seen yet, or
// when the clock went back) one built now.
func (s *Server) delayedIndex(ctx context.Context, delay time.Duration) (*Index, error) {
	s.delayed.mu.Lock()
	d := s.delayed.m[delay]
	if d == nil {
		if len(s.delayed.m) >= maxDelayed {
			var lru time.Duration
			oldest := int64(-1)
			for k, v := range s.delayed.m {
				if u := v.used.Load(); oldest < 0 || u < oldest {
					lru, oldest = k, u
				}
			}
			delete(s.delayed.m, lru)
		}
		d = &delayedIndex{}
		s.delayed.m[delay] = d
	}
	s.delayed.mu.Unlock()
	d.used.Store(time.Now().UnixNano())
	cutoff := s.now().Add(-delay)
	if sn := d.snap.Load(); sn != nil && !cutoff.Before(sn.cutoff) {
		if cutoff.Sub(sn.cutoff) >= s.cfg.DelayRefresh && d.building.CompareAndSwap(false, true) {
			go func() {
				defer d.building.Store(false)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				d.build.Lock()
				defer d.build.Unlock()
				if err := s.advanceDelayed(ctx, d, s.now().Add(-delay)); err != nil {
					s.m.feedErrors.Inc()
					s.log.Warn("delayed index rebuild failed", "delay", delay, "err", err)
				}
			}()
		}
		return sn.ix, nil
	}
	// No snapshot yet, or the clock went back before it (it may hold
	// positions newer than this cutoff): build one now.
	d.build.Lock()
	defer d.build.Unlock()
	if sn := d.snap.Load(); sn != nil && !cutoff.Before(sn.cutoff) { // built while we waited
		return sn.ix, nil
	}
	if err := s.buildDelayed(ctx, d, cutoff); err != nil {
		return nil, err
	}
	return d.snap.Load().ix, nil
}

// buildDelayed reads the latest positions at or before cutoff into a new
// index and publishes it.
func (s *Server) buildDelayed(ctx context.Context, d *delayedIndex, cutoff time.Time) error {
	start := time.Now()
	ix := NewIndex()
	err := s.store.LatestBefore(ctx, storage.LatestBeforeQuery{Before: cutoff}, func(v *storage.VesselRow) error {
		ix.Put(v)
		return nil
	})
	if err != nil {
		return err
	}
	d.snap.Store(&delayedSnap{ix: ix, cutoff: cutoff, full: cutoff})
	s.m.delayedBuild.WithLabelValues("full").Observe(time.Since(start).Seconds())
	return nil
}

// advanceDelayed moves the snapshot forward to cutoff: in place, by the
// positions after its cutoff, or by a whole rebuild when the last one is
// delayedFull old (or the clock went back).
func (s *Server) advanceDelayed(ctx context.Context, d *delayedIndex, cutoff time.Time) error {
	sn := d.snap.Load()
	if sn == nil || !cutoff.After(sn.cutoff) || cutoff.Sub(sn.full) >= delayedFull {
		return s.buildDelayed(ctx, d, cutoff)
	}
	start := time.Now()
	err := s.store.LatestBefore(ctx, storage.LatestBeforeQuery{After: sn.cutoff, Before: cutoff}, func(v *storage.VesselRow) error {
		sn.ix.Put(v)
		return nil
	})
	if err != nil {
		return err
	}
	d.snap.Store(&delayedSnap{ix: sn.ix, cutoff: cutoff, full: sn.full})
	s.m.delayedBuild.WithLabelValues("update").Observe(time.Since(start).Seconds())
	return nil
}
