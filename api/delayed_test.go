package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/prometheus/client_golang/prometheus"
)

func collectVessels(t testing.TB, f func(fn func(*storage.VesselRow) error) error) []storage.VesselRow {
	t.Helper()
	var out []storage.VesselRow
	if err := f(func(v *storage.VesselRow) error { out = append(out, *v); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b storage.VesselRow) int { return int(a.MMSI) - int(b.MMSI) })
	return out
}

// LatestBefore (latest table, a window of positions_area, MMSI lookups)
// gives exactly what an argMax over every position before the cutoff
// gives, whatever the window: with a short one most vessels come from the
// MMSI lookup.
func TestLatestBeforeMatchesArgMax(t *testing.T) {
	e := env(t)
	rd := e.db.Reader(storage.QueryLimits{})
	ctx := context.Background()
	span := e.now.Sub(e.base)
	for _, cut := range []time.Time{e.base.Add(span / 8), e.base.Add(span / 3), e.base.Add(span / 2), e.now.Add(-time.Hour), e.now.Add(time.Hour)} {
		want := collectVessels(t, func(fn func(*storage.VesselRow) error) error {
			return rd.Latest(ctx, storage.LatestQuery{Before: cut}, fn)
		})
		if len(want) == 0 {
			t.Fatalf("cutoff %v: no vessel", cut)
		}
		for _, win := range []time.Duration{time.Second, 5 * time.Minute, time.Hour, 0} {
			got := collectVessels(t, func(fn func(*storage.VesselRow) error) error {
				return rd.LatestBefore(ctx, storage.LatestBeforeQuery{Before: cut, Window: win}, fn)
			})
			if len(got) != len(want) {
				t.Fatalf("cutoff %v window %v: %d vessels, argMax %d", cut, win, len(got), len(want))
			}
			for i := range want {
				if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
					t.Fatalf("cutoff %v window %v: vessel %d\n got %+v\nwant %+v", cut, win, want[i].MMSI, got[i], want[i])
				}
				if got[i].Position.Time.After(cut) {
					t.Fatalf("position after the cutoff: %+v", got[i])
				}
			}
		}
		// An MMSI list restricts the answer.
		mm := want[len(want)/2].MMSI
		got := collectVessels(t, func(fn func(*storage.VesselRow) error) error {
			return rd.LatestBefore(ctx, storage.LatestBeforeQuery{Before: cut, Window: time.Minute, MMSIs: []keelson.MMSI{mm}}, fn)
		})
		if len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(want[len(want)/2]) {
			t.Fatalf("MMSI %d: %+v", mm, got)
		}
	}
	if err := rd.LatestBefore(ctx, storage.LatestBeforeQuery{}, func(*storage.VesselRow) error { return nil }); err == nil {
		t.Fatal("LatestBefore without a cutoff: no error")
	}
}

// A delayed key's view is a snapshot that follows the clock: moved forward
// in the background once DelayRefresh old (by the positions since its
// cutoff), rebuilt whole after an hour, never newer than now - delay, and
// after each refresh holding exactly the latest positions at its cutoff.
func TestDelayedSnapshotFollowsClock(t *testing.T) {
	e := env(t)
	rd := e.db.Reader(storage.QueryLimits{})
	var now atomic.Int64
	now.Store(e.base.Add(time.Hour).UnixNano())
	srv, err := New(Config{Store: rd, Keys: e.db, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(tWriter{t}, nil)),
		Now: func() time.Time { return time.Unix(0, now.Load()) }, DelayRefresh: 10 * time.Minute, KeyCacheTTL: time.Millisecond, KeyLookupRate: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptestServer(t, srv)
	const delay = 30 * time.Minute
	k := e.key(t, Scope{Delay: Duration(delay), Export: true})
	get := func() (newest time.Time, n int) {
		req, _ := http.NewRequest("GET", hs+"/v1/vessels?limit=5000", nil)
		req.Header.Set("Authorization", "Bearer "+k)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var pg page
		err = json.NewDecoder(resp.Body).Decode(&pg)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("status %d: %v", resp.StatusCode, err)
		}
		for _, r := range pg.Data {
			if ts := r.time("time"); ts.After(newest) {
				newest = ts
			}
		}
		return newest, len(pg.Data)
	}
	// exact checks the snapshot against the latest positions at its cutoff.
	exact := func(cut time.Time) {
		t.Helper()
		sn := srv.delayedSnapshot(delay)
		if !sn.cutoff.Equal(cut) {
			t.Fatalf("snapshot cutoff %v, want %v", sn.cutoff, cut)
		}
		want := collectVessels(t, func(fn func(*storage.VesselRow) error) error {
			return rd.Latest(context.Background(), storage.LatestQuery{Before: cut}, fn)
		})
		got := sn.ix.InBound(nil, world, nil)
		if len(got) != len(want) {
			t.Fatalf("snapshot at %v: %d vessels, want %d", cut, len(got), len(want))
		}
		for i := range want {
			if got[i].MMSI != want[i].MMSI || fmt.Sprint(got[i].Position) != fmt.Sprint(want[i].Position) {
				t.Fatalf("snapshot at %v: vessel %d at %+v, want %+v", cut, want[i].MMSI, got[i].Position, want[i].Position)
			}
		}
	}
	cut1 := time.Unix(0, now.Load()).Add(-delay)
	n1, c1 := get()
	if c1 == 0 || n1.After(cut1) {
		t.Fatalf("first view: %d vessels, newest %v (cutoff %v)", c1, n1, cut1)
	}
	exact(cut1)
	// Five minutes later: the same snapshot (younger than DelayRefresh).
	now.Add(int64(5 * time.Minute))
	if n, _ := get(); !n.Equal(n1) {
		t.Fatalf("snapshot changed before DelayRefresh: %v -> %v", n1, n)
	}
	// Then 20 and 120 minutes later (moved forward, then rebuilt): the
	// stale snapshot is served while the new one is made, then the new one.
	for _, step := range []time.Duration{20 * time.Minute, 2 * time.Hour} {
		now.Add(int64(step))
		cut := time.Unix(0, now.Load()).Add(-delay)
		deadline := time.Now().Add(10 * time.Second)
		for srv.delayedSnapshot(delay).cutoff.Before(cut) {
			if n, _ := get(); n.After(cut) {
				t.Fatalf("view newer than the cutoff: %v > %v", n, cut)
			}
			if time.Now().After(deadline) {
				t.Fatalf("snapshot not moved to %v", cut)
			}
			time.Sleep(20 * time.Millisecond)
		}
		srv.delayedSettle(delay)
		exact(cut)
		if n, c := get(); n.After(cut) || !n.After(n1) || c < c1 {
			t.Fatalf("after %v: newest %v (cutoff %v), %d vessels (before %d)", step, n, cut, c, c1)
		}
	}
	// The clock goes back an hour: the view goes back with it at once.
	now.Add(-int64(time.Hour))
	back := time.Unix(0, now.Load()).Add(-delay)
	if n, _ := get(); n.After(back) {
		t.Fatalf("after the clock went back: newest %v, cutoff %v", n, back)
	}
	exact(back)
}

// tWriter sends a server's log to the test's.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

// delayedSettle waits for the running build or update of a delay to end.
func (s *Server) delayedSettle(delay time.Duration) {
	s.delayed.mu.Lock()
	d := s.delayed.m[delay]
	s.delayed.mu.Unlock()
	if d == nil {
		return
	}
	d.mu.Lock()
	ch := d.running
	d.mu.Unlock()
	if ch != nil {
		<-ch
	}
}
