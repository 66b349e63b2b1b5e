package api

import (
	"context"
	"encoding/json"
	"fmt"
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

// A delayed key's view is a snapshot that follows the clock: rebuilt in
// the background once DelayRefresh old, never newer than now - delay.
func TestDelayedSnapshotFollowsClock(t *testing.T) {
	e := env(t)
	var now atomic.Int64
	now.Store(e.base.Add(time.Hour).UnixNano())
	srv, err := New(Config{Store: e.db.Reader(storage.QueryLimits{}), Keys: e.db, Registry: prometheus.NewRegistry(),
		Now: func() time.Time { return time.Unix(0, now.Load()) }, DelayRefresh: 10 * time.Minute, KeyCacheTTL: time.Millisecond})
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
	cut1 := time.Unix(0, now.Load()).Add(-delay)
	n1, c1 := get()
	if c1 == 0 || n1.After(cut1) {
		t.Fatalf("first view: %d vessels, newest %v (cutoff %v)", c1, n1, cut1)
	}
	// Five minutes later: the same snapshot (younger than DelayRefresh).
	now.Add(int64(5 * time.Minute))
	if n, _ := get(); !n.Equal(n1) {
		t.Fatalf("snapshot changed before DelayRefresh: %v -> %v", n1, n)
	}
	// Two hours later: the stale snapshot is served while a new one builds,
	// then the new one, with positions up to the new cutoff.
	now.Add(int64(2 * time.Hour))
	cut2 := time.Unix(0, now.Load()).Add(-delay)
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, c := get()
		if n.After(cut2) {
			t.Fatalf("view newer than the cutoff: %v > %v", n, cut2)
		}
		if n.After(n1) && c >= c1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot not rebuilt: newest %v, %d vessels", n, c)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
