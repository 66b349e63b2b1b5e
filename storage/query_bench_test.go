package storage

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/paulmach/orb"
)

// BenchmarkQueryBare measures read queries on the bare engine (no HTTP) over
// a database loaded with the standard benchmark dataset, named by
// KEELSON_BENCH_DB (see BenchmarkQueryAPI in api/bench_test.go), e.g.
//
//	KEELSON_BENCH_DB=chdb:///tmp/bench10m go test -run '^$' -bench QueryBare -benchtime 200x ./storage
//
// to tell the engine's per-query cost from the query's own.
func BenchmarkQueryBare(b *testing.B) {
	url := os.Getenv("KEELSON_BENCH_DB")
	if url == "" {
		b.Skip("KEELSON_BENCH_DB is not set")
	}
	ctx := context.Background()
	db, err := Open(ctx, url, Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r := db.Reader(QueryLimits{})
	first := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var nv uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM latest FINAL", nil, &nv); err != nil || nv == 0 {
		b.Fatalf("latest: %d vessels, %v", nv, err)
	}
	rng := rand.New(rand.NewPCG(42, 1))
	mmsi := func() keelson.MMSI { return keelson.MMSI(200000000 + rng.IntN(int(nv))) }
	day := func() time.Time { return first.Add(time.Duration(rng.IntN(29*24)) * time.Hour) }
	// run times q(), which prep returns (prep itself is not timed).
	run := func(b *testing.B, prep func() func() error) {
		b.ReportAllocs()
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			q := prep()
			t0 := time.Now()
			if err := q(); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
	}
	b.Run("select1", func(b *testing.B) {
		run(b, func() func() error { return func() error { return r.Ping(ctx) } })
	})
	b.Run("track-1day", func(b *testing.B) {
		n := 0
		run(b, func() func() error {
			m, d := mmsi(), day()
			return func() error {
				// The API's limit (MaxTrack + 1).
				return r.Track(ctx, TrackQuery{MMSI: m, From: d, To: d.Add(24 * time.Hour), Limit: 1_000_001}, func(*PositionRow) error { n++; return nil })
			}
		})
		b.ReportMetric(float64(n)/float64(b.N), "rows/op")
	})
	b.Run("vessel", func(b *testing.B) {
		run(b, func() func() error {
			m := mmsi()
			return func() error { _, err := r.Vessel(ctx, m, time.Time{}); return err }
		})
	})
	b.Run("area-2x2-6h", func(b *testing.B) {
		n := 0
		run(b, func() func() error {
			// Centred on a vessel's position at a random time.
			var lon, lat float64
			t := day()
			if err := r.Track(ctx, TrackQuery{MMSI: mmsi(), From: t, To: t.Add(6 * time.Hour), Limit: 1}, func(p *PositionRow) error {
				lon, lat = p.Lon, p.Lat
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			q := PositionQuery{From: t, To: t.Add(6 * time.Hour), Limit: 10000,
				Area: Area{Set: true, Bound: orb.Bound{Min: orb.Point{lon - 1, lat - 1}, Max: orb.Point{lon + 1, lat + 1}}}}
			return func() error { return r.Positions(ctx, q, func(*PositionRow) error { n++; return nil }) }
		})
		b.ReportMetric(float64(n)/float64(b.N), "rows/op")
	})
	for _, sql := range []struct {
		name, q string
		s       Settings // instead of the Reader's
	}{
		// track-final is Track as it was before it read the stored
		// hundredths with trackSettings (the "before" in docs/BENCHMARKS.md).
		{"track-final", "SELECT " + queryPosCols + " FROM positions FINAL WHERE mmsi = {mmsi:UInt32} AND ts >= {from:DateTime64(3)} AND ts < {to:DateTime64(3)} AND bitAnd(flags, 24) = 0 ORDER BY ts", nil},
		{"track-nofinal", "SELECT " + queryPosCols + " FROM positions WHERE mmsi = {mmsi:UInt32} AND ts >= {from:DateTime64(3)} AND ts < {to:DateTime64(3)} AND bitAnd(flags, 24) = 0 ORDER BY ts", nil},
		{"track-count", "SELECT count() FROM positions WHERE mmsi = {mmsi:UInt32} AND ts >= {from:DateTime64(3)} AND ts < {to:DateTime64(3)}", nil},
		// The engine's floor for a MergeTree read: one column of one or
		// two granules found by the primary key.
		{"pk-count", "SELECT count() FROM positions WHERE mmsi = {mmsi:UInt32}", Settings{"enable_analyzer": 0}},
	} {
		b.Run(sql.name, func(b *testing.B) {
			run(b, func() func() error {
				d := day()
				p := Params{"mmsi": uint32(mmsi()), "from": d, "to": d.Add(24 * time.Hour)}
				s := r.settings
				if sql.s != nil {
					s = sql.s
				}
				return func() error { return r.eachWith(ctx, sql.q, p, s, false, func(rows Rows) error { return nil }) }
			})
		})
	}
}
