package api

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/keelson/keelson/storage"
)

// BenchmarkDelayedLatest measures the latest positions a key with a delay
// sees, on a database loaded with the standard dataset (KEELSON_BENCH_DB,
// see BenchmarkQueryAPI; the dataset ends 2026-10-30 23:59, so the clock
// is set to 2026-10-31 00:00 and the delay to 24 h):
//
//   - argmax: the former query, an argMax over every position before the
//     cutoff (storage.Reader.Latest with Before);
//   - before: storage.Reader.LatestBefore (latest table for the vessels
//     silent since the cutoff, one day of positions for the others, MMSI
//     lookups for the rest);
//   - update-1m: LatestBefore with After one minute before the cutoff
//     (how the server moves a snapshot forward);
//   - snapshot: building the server's delayed index;
//   - first-cold: a new server's first request with the delayed key
//     (no Run: it starts the background build and waits for it);
//   - first-warm: a new server whose Run built the view of the key's
//     delay before the request (warm-up-ms: from Run to the view ready);
//   - api-vessels, api-near: a 5x5 degree box and the 10 nearest vessels
//     through the whole API with a delayed key (served from the snapshot).
//
// It checks first that argmax and before agree on every vessel.
func BenchmarkDelayedLatest(b *testing.B) {
	ctx := context.Background()
	db := openBenchDB(b)
	rd := db.Reader(storage.QueryLimits{})
	now := time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)
	cut := now.Add(-24 * time.Hour)
	collect := func(f func(fn func(*storage.VesselRow) error) error) []storage.VesselRow {
		var out []storage.VesselRow
		if err := f(func(v *storage.VesselRow) error { out = append(out, *v); return nil }); err != nil {
			b.Fatal(err)
		}
		slices.SortFunc(out, func(a, b storage.VesselRow) int { return int(a.MMSI) - int(b.MMSI) })
		return out
	}
	old := collect(func(fn func(*storage.VesselRow) error) error {
		return rd.Latest(ctx, storage.LatestQuery{Before: cut}, fn)
	})
	cur := collect(func(fn func(*storage.VesselRow) error) error {
		return rd.LatestBefore(ctx, storage.LatestBeforeQuery{Before: cut}, fn)
	})
	if len(old) != len(cur) || len(old) == 0 {
		b.Fatalf("argMax %d vessels, LatestBefore %d", len(old), len(cur))
	}
	for i := range old {
		if fmt.Sprint(old[i]) != fmt.Sprint(cur[i]) {
			b.Fatalf("vessel %d differs:\n%+v\n%+v", old[i].MMSI, old[i], cur[i])
		}
	}
	b.Run("argmax", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			collect(func(fn func(*storage.VesselRow) error) error {
				return rd.Latest(ctx, storage.LatestQuery{Before: cut}, fn)
			})
		}
	})
	b.Run("before", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			collect(func(fn func(*storage.VesselRow) error) error {
				return rd.LatestBefore(ctx, storage.LatestBeforeQuery{Before: cut}, fn)
			})
		}
	})
	b.Run("update-1m", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			collect(func(fn func(*storage.VesselRow) error) error {
				return rd.LatestBefore(ctx, storage.LatestBeforeQuery{After: cut.Add(-time.Minute), Before: cut}, fn)
			})
		}
	})
	secret, k, _ := NewKey("bench", Scope{Delay: Duration(24 * time.Hour), Export: true}, now)
	srv, err := New(Config{Store: rd, Keys: memKeys{k.ID: k}, Rate: 1e9, Burst: 1 << 30, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("snapshot", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := srv.buildDelayed(ctx, &delayedIndex{}, cut); err != nil {
				b.Fatal(err)
			}
		}
	})
	// first times the first request of a new server (with Run when warm).
	first := func(b *testing.B, warm bool) {
		b.ReportAllocs()
		var lat, warmup []time.Duration
		for b.Loop() {
			srv, err := New(Config{Store: rd, Keys: memKeyList{memKeys{k.ID: k}}, Rate: 1e9, Burst: 1 << 30, Now: func() time.Time { return now }, DelayWait: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			hs := httptest.NewServer(srv.Handler())
			ctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			if warm {
				t0 := time.Now()
				go func() { srv.Run(ctx); close(done) }()
				for srv.delayedSnapshot(24*time.Hour) == nil {
					time.Sleep(time.Millisecond)
				}
				warmup = append(warmup, time.Since(t0))
			} else {
				close(done)
			}
			t0 := time.Now()
			req, _ := http.NewRequest("GET", hs.URL+"/v1/vessels?limit=1", nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			resp, err := hs.Client().Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(t0))
			if resp.StatusCode != 200 {
				b.Fatalf("first request: %d", resp.StatusCode)
			}
			cancel()
			<-done
			hs.Close()
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
		if warm {
			slices.Sort(warmup)
			b.ReportMetric(float64(warmup[len(warmup)/2].Microseconds())/1000, "warm-up-ms")
		}
	}
	b.Run("first-cold", func(b *testing.B) { first(b, false) })
	b.Run("first-warm", func(b *testing.B) { first(b, true) })
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	get := func(b *testing.B, path string) {
		req, _ := http.NewRequest("GET", hs.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := hs.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n < 100 {
			b.Fatalf("%s: %d, %d bytes", path, resp.StatusCode, n)
		}
	}
	get(b, "/v1/vessels?limit=1") // the first request waits for the snapshot
	rng := rand.New(rand.NewPCG(42, 1))
	vs := srv.delayedSnapshot(24*time.Hour).ix.InBound(nil, world, nil)
	for _, c := range []struct {
		name string
		path func() string
	}{
		{"api-vessels-5x5", func() string {
			p := vs[rng.IntN(len(vs))].Position
			return fmt.Sprintf("/v1/vessels?bbox=%.3f,%.3f,%.3f,%.3f&limit=10000", max(p.Lon-2.5, -180), max(p.Lat-2.5, -90), min(p.Lon+2.5, 180), min(p.Lat+2.5, 90))
		}},
		{"api-near-10", func() string {
			p := vs[rng.IntN(len(vs))].Position
			return fmt.Sprintf("/v1/vessels/near?lat=%.4f&lon=%.4f&limit=10", p.Lat, p.Lon)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var lat []time.Duration
			for b.Loop() {
				path := c.path()
				t0 := time.Now()
				get(b, path)
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// memKeyList is memKeys that also lists its keys (a KeyLister), so that
// Run builds the views of their delays.
type memKeyList struct{ memKeys }

func (m memKeyList) APIKeys(ctx context.Context) ([]storage.APIKey, error) {
	var out []storage.APIKey
	for id := range m.memKeys {
		k, err := m.memKeys.APIKeyByID(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}
