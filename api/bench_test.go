package api

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/keelson/keelson/storage"
	"github.com/keelson/keelson/storage/hot"
	"github.com/paulmach/orb"
)

// BenchmarkQueryAPI measures the reference queries of the standard
// benchmark dataset through the whole API: HTTP, key check, rate limiter,
// query, encoding, and the client reading every byte. It needs a database
// loaded with the dataset, named by KEELSON_BENCH_DB (a chdb:// or
// clickhouse:// URL), e.g.
//
//	python3 gen.py --vessels 500 /tmp/ais1m.csv
//	keelson import -clickhouse chdb:///tmp/bench1m -format bench /tmp/ais1m.csv
//	KEELSON_BENCH_DB=chdb:///tmp/bench1m go test -run '^$' -bench QueryAPI -benchtime 200x ./api
//
// Each sub-benchmark reports p50 and p99 latency over its runs (seeded
// random parameters, as in the dataset's reference table).
func BenchmarkQueryAPI(b *testing.B) {
	ctx := context.Background()
	db := openBenchDB(b)
	// Keys live in the same database; a read-write handle would be needed
	// to create one, so the benchmark serves keys from memory instead.
	secret, k, _ := NewKey("bench", Scope{Export: true}, time.Now())
	keys := memKeys{k.ID: k}
	srv, err := New(Config{Store: db.Reader(storage.QueryLimits{}), Keys: keys, Rate: 1e9, Burst: 1 << 30, MaxPage: 10000})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := srv.load(ctx); err != nil {
		b.Fatal(err)
	}
	srv.ready.Store(true)
	b.Logf("index: %d vessels loaded in %v", srv.index.Len(), time.Since(start))
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	client := hs.Client()
	base := hs.URL
	get := func(path string) (int64, error) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			return n, fmt.Errorf("%s: status %d", path, resp.StatusCode)
		}
		return n, err
	}
	vessels := srv.index.InBound(nil, world, nil)
	first, last := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(42, 1))
	vessel := func() int { return rng.IntN(len(vessels)) }
	day := func() time.Time { return first.Add(time.Duration(rng.IntN(int(last.Sub(first).Hours()))) * time.Hour) }
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }

	run := func(b *testing.B, path func() string) {
		b.ReportAllocs()
		lat := make([]time.Duration, 0, b.N)
		var bytes int64
		for b.Loop() {
			p := path()
			t0 := time.Now()
			n, err := get(p)
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
			bytes += n
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(bytes)/float64(len(lat)), "bytes/op")
	}
	track := func() string {
		d := day()
		return fmt.Sprintf("/v1/vessels/%d/track?from=%s&to=%s", vessels[vessel()].MMSI, ts(d), ts(d.Add(24*time.Hour)))
	}
	b.Run("track-1day", func(b *testing.B) { run(b, track) })
	// The same with the dataset's month of positions held in memory (what
	// `keelson serve -track-days 31` does), through a second server.
	var memURL string
	parent := b
	fromMemory := func(path func() string) func(b *testing.B) {
		return func(b *testing.B) {
			if memURL == "" {
				memURL = trackServer(b, parent, ctx, db, srv.cfg, 31, vessels, first)
			}
			base = memURL
			defer func() { base = hs.URL }()
			run(b, path)
		}
	}
	b.Run("track-1day-memory", fromMemory(track))
	b.Run("latest-bbox-5x5", func(b *testing.B) {
		run(b, func() string {
			p := vessels[vessel()].Position
			return fmt.Sprintf("/v1/vessels?bbox=%.4f,%.4f,%.4f,%.4f&limit=10000", max(p.Lon-2.5, -180), max(p.Lat-2.5, -90), min(p.Lon+2.5, 180), min(p.Lat+2.5, 90))
		})
	})
	b.Run("nearest-10", func(b *testing.B) {
		run(b, func() string {
			p := vessels[vessel()].Position
			return fmt.Sprintf("/v1/vessels/near?lat=%.5f&lon=%.5f&limit=10", p.Lat+rng.Float64()-0.5, p.Lon+rng.Float64()-0.5)
		})
	})
	// Centred on a real report: pick a vessel and a time, find where it was.
	area := func() string {
		v := vessels[vessel()]
		t := day()
		var lon, lat float64 = v.Position.Lon, v.Position.Lat
		srv.store.Track(ctx, storage.TrackQuery{MMSI: v.MMSI, From: t, To: t.Add(6 * time.Hour), Limit: 1}, func(p *storage.PositionRow) error {
			lon, lat = p.Lon, p.Lat
			return nil
		})
		return fmt.Sprintf("/v1/positions?bbox=%.4f,%.4f,%.4f,%.4f&from=%s&to=%s&limit=10000", lon-1, lat-1, lon+1, lat+1, ts(t), ts(t.Add(6*time.Hour)))
	}
	b.Run("area-2x2-6h", func(b *testing.B) { run(b, area) })
	// The same from memory (package hot answers area-time queries too).
	b.Run("area-2x2-6h-memory", fromMemory(area))
	// A time window holding about 1M rows (the dataset has 2,000 reports
	// per vessel over 30 days), so that the export reads what it sends.
	span := min(31*24*time.Hour, time.Duration(float64(30*24*time.Hour)*1e6/(2000*float64(len(vessels)))))
	b.Logf("export window %v", span)
	export := func(format string) func() string {
		return func() string {
			return "/v1/positions?from=" + ts(first) + "&to=" + ts(first.Add(span)) + "&format=" + format + "&limit=1000000"
		}
	}
	b.Run("export-parquet-1M", func(b *testing.B) { run(b, export("parquet")) })
	b.Run("export-csv-1M", func(b *testing.B) { run(b, export("csv")) })

}

// openBenchDB opens the database KEELSON_BENCH_DB names, read-only, until
// the benchmark ends; it skips the benchmark when the variable is unset.
func openBenchDB(b *testing.B) *storage.DB {
	url := os.Getenv("KEELSON_BENCH_DB")
	if url == "" {
		b.Skip("KEELSON_BENCH_DB is not set (see BenchmarkQueryAPI)")
	}
	db, err := storage.Open(context.Background(), url, storage.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// trackServer serves cfg with tracks held in memory (package hot) for the
// given days, once they are loaded; it logs the load's time and memory.
//
// It lives until the whole benchmark ends (parent's cleanup): the
// sub-benchmarks that use it share it.
func trackServer(b, parent *testing.B, ctx context.Context, db *storage.DB, cfg Config, days int, vessels []storage.VesselRow, first time.Time) string {
	ctx, cancel := context.WithCancel(ctx)
	parent.Cleanup(cancel)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	r := db.Reader(storage.QueryLimits{})
	t, err := hot.New(hot.Config{DB: db, Fallback: r, Days: days})
	if err != nil {
		b.Fatal(err)
	}
	go t.Run(ctx)
	for !t.Ready() {
		if time.Since(start) > 10*time.Minute {
			b.Fatal("tracks not loaded in 10 minutes")
		}
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	n := t.Len()
	b.Logf("tracks: %d positions held in memory, loaded in %v, %.1f bytes each (heap)", n, time.Since(start).Round(time.Millisecond),
		float64(after.HeapAlloc-before.HeapAlloc)/float64(max(n, 1)))
	// Memory answers what ClickHouse answers: 300 random vessel-days of
	// the dataset, row by row.
	rng := rand.New(rand.NewPCG(9, 9))
	rows := 0
	for i := 0; i < 300; i++ {
		v := vessels[rng.IntN(len(vessels))].MMSI
		from := first.Add(time.Duration(rng.IntN(30*24)) * time.Hour)
		q := storage.TrackQuery{MMSI: v, From: from, To: from.Add(24 * time.Hour)}
		var got, want []storage.PositionRow
		if err := t.Track(ctx, q, func(p *storage.PositionRow) error { got = append(got, *p); return nil }); err != nil {
			b.Fatal(err)
		}
		if err := r.Track(ctx, q, func(p *storage.PositionRow) error { want = append(want, *p); return nil }); err != nil {
			b.Fatal(err)
		}
		if !slices.EqualFunc(got, want, func(a, b storage.PositionRow) bool {
			return a.MMSI == b.MMSI && a.Time.Equal(b.Time) && a.Lat == b.Lat && a.Lon == b.Lon && a.NavStatus == b.NavStatus &&
				fmt.Sprint(a.SOG, a.COG, a.Heading) == fmt.Sprint(b.SOG, b.COG, b.Heading)
		}) {
			b.Fatalf("track %v from %v: memory %d rows, ClickHouse %d, not the same", v, from, len(got), len(want))
		}
		rows += len(got)
	}
	b.Logf("tracks: 300 random vessel-days (%d positions) the same from memory and ClickHouse", rows)
	b.Logf("areas: the cell index takes %.2f bytes per position held", float64(t.IndexBytes())/float64(max(n, 1)))
	// And area-time queries: 300 random 2x2 degree x 6 h boxes around a
	// vessel's report, row by row in order (rows of equal (time, MMSI),
	// whose order ClickHouse leaves undefined, compared as sets).
	rows = 0
	for i := 0; i < 300; i++ {
		v := vessels[rng.IntN(len(vessels))]
		from := first.Add(time.Duration(rng.IntN(30*24)) * time.Hour)
		p := v.Position.Point()
		t.Track(ctx, storage.TrackQuery{MMSI: v.MMSI, From: from, To: from.Add(6 * time.Hour), Limit: 1}, func(r *storage.PositionRow) error {
			p = r.Point()
			return nil
		})
		q := storage.PositionQuery{From: from, To: from.Add(6 * time.Hour), Limit: 10001,
			Area: storage.Area{Set: true, Bound: orb.Bound{Min: orb.Point{p[0] - 1, p[1] - 1}, Max: orb.Point{p[0] + 1, p[1] + 1}}}}
		var got, want []storage.PositionRow
		if err := t.Positions(ctx, q, func(p *storage.PositionRow) error { got = append(got, *p); return nil }); err != nil {
			b.Fatal(err)
		}
		if err := r.Positions(ctx, q, func(p *storage.PositionRow) error { want = append(want, *p); return nil }); err != nil {
			b.Fatal(err)
		}
		if len(got) == q.Limit {
			b.Fatalf("area %v: more than %d rows", q.Area.Bound, q.Limit-1)
		}
		key := func(a storage.PositionRow) string {
			return fmt.Sprint(a.Time.UnixMilli(), a.MMSI, a.Lat, a.Lon, a.SOG, a.COG, a.Heading, a.NavStatus)
		}
		// In the same order: both sort by (time, MMSI, place).
		if !slices.EqualFunc(got, want, func(a, b storage.PositionRow) bool { return key(a) == key(b) }) {
			b.Fatalf("area %v from %v: memory %d rows, ClickHouse %d, not the same", q.Area.Bound, from, len(got), len(want))
		}
		rows += len(got)
	}
	b.Logf("areas: 300 random 2x2 degree x 6 h queries (%d positions) the same from memory and ClickHouse", rows)
	cfg.Store, cfg.Registry = hot.Store{Reader: r, Tracks: t}, nil
	srv, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.load(ctx); err != nil {
		b.Fatal(err)
	}
	srv.ready.Store(true)
	hs := httptest.NewServer(srv.Handler())
	parent.Cleanup(hs.Close)
	return hs.URL
}

// memKeys is a KeyStore in memory (benchmarks only).
type memKeys map[string]Key

func (m memKeys) APIKeyByID(_ context.Context, id string) (storage.APIKey, error) {
	k, ok := m[id]
	if !ok {
		return storage.APIKey{}, storage.ErrNotFound
	}
	return k.Storage()
}
