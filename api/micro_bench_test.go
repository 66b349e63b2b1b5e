package api

import (
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/paulmach/orb"
)

func benchIndex(n int) *Index {
	ix := NewIndex()
	rng := rand.New(rand.NewPCG(7, 7))
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		v := storage.VesselRow{MMSI: keelson.MMSI(200000000 + i), HasPosition: true, Draught: keelson.NA}
		// Seven shipping areas, as in the benchmark dataset.
		c := [][2]float64{{4, 52}, {10, 56}, {-74, 40}, {104, 1}, {122, 31}, {-118, 33}, {32, 30}}[i%7]
		v.Position = storage.PositionRow{MMSI: v.MMSI, Time: t0, Lon: c[0] + rng.Float64()*6 - 3, Lat: c[1] + rng.Float64()*6 - 3}
		ix.Put(&v)
	}
	return ix
}

func BenchmarkIndexInBound5x5(b *testing.B) {
	ix := benchIndex(5000)
	b.ReportAllocs()
	var dst []storage.VesselRow
	for b.Loop() {
		dst = ix.InBound(dst[:0], orb.Bound{Min: orb.Point{7.5, 53.5}, Max: orb.Point{12.5, 58.5}}, nil)
	}
	b.ReportMetric(float64(len(dst)), "vessels")
}

func BenchmarkIndexNearest10(b *testing.B) {
	ix := benchIndex(5000)
	b.ReportAllocs()
	for b.Loop() {
		ix.Nearest(orb.Point{10.2, 55.9}, 10, maxRadius, nil)
	}
}

func BenchmarkIndexApply(b *testing.B) {
	ix := benchIndex(5000)
	ev := keelson.Event{MMSI: 200000001, Kind: keelson.KindPosition, Position: &keelson.Position{Class: keelson.ClassA}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		ev.Received = time.Unix(int64(i), 0)
		ev.Position.Point = orb.Point{10 + float64(i%100)*0.03, 56}
		ix.Apply(&ev)
	}
}

// BenchmarkEncode measures the encoders alone, per row.
func BenchmarkEncode(b *testing.B) {
	p := storage.PositionRow{MMSI: 211000001, Time: time.Date(2026, 10, 1, 1, 2, 3, 456e6, time.UTC), Lon: 10.1234567, Lat: 55.7654321, SOG: 12.3, COG: 254.1, Heading: keelson.NA, NavStatus: 0}
	for _, f := range []Format{FormatJSON, FormatNDJSON, FormatCSV, FormatGeoJSON, FormatParquet} {
		b.Run(string(f), func(b *testing.B) {
			b.ReportAllocs()
			w := httptest.NewRecorder()
			w.Body = nil
			rw := newRespWriter(discardRW{w}, func(h httpHeader) {})
			enc := newEncoder(positionTable, f, rw)
			for b.Loop() {
				p.MMSI++
				if err := enc.row(&p); err != nil {
					b.Fatal(err)
				}
			}
			if err := enc.finish("", nil); err != nil {
				b.Fatal(err)
			}
		})
	}
}
