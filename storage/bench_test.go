package storage

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/paulmach/orb"
)

// benchEvents returns n position events of 1000 vessels moving in time.
func benchEvents(n int) []keelson.Event {
	evs := make([]keelson.Event, n)
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for i := range evs {
		v := i % 1000
		k := i / 1000
		at := t0.Add(time.Duration(k)*10*time.Second + time.Duration(v)*time.Millisecond)
		evs[i] = keelson.Event{V: 1, ID: keelson.EventID{Collector: "bench", Boot: 1, Seq: uint64(i)}, Kind: keelson.KindPosition,
			Received: at, Source: keelson.Source{Collector: "bench"}, MMSI: keelson.MMSI(200000000 + v), AISType: 1,
			Position: &keelson.Position{Point: orb.Point{10 + float64(v)/100 + float64(k)*1e-4, 55 + float64(k)*5e-5}, Class: keelson.ClassA,
				SOG: keelson.Float(float32(10 + float64(k%50)/10)), COG: keelson.Float(float32(45 + float64(k%20)/10)), Heading: 45, ROT: keelson.NA,
				NavStatus: 0, Second: uint8(at.Second()), Altitude: keelson.NA, HDOP: keelson.NA}}
	}
	return evs
}

func BenchmarkBatchAdd(b *testing.B) {
	evs := benchEvents(50000)
	bt := NewBatch()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bt.Add(&evs[i%len(evs)])
		if bt.Len() == len(evs) {
			bt.Reset()
		}
	}
}

// BenchmarkInsertPositions measures inserts of 50k-position batches into the
// embedded engine (each b.N is one batch).
func BenchmarkInsertPositions(b *testing.B) {
	db := openTestDB(b)
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	const n = 50000
	evs := benchEvents(n * 4)
	bt := NewBatch()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bt.Reset()
		off := (i % 4) * n
		for j := off; j < off+n; j++ {
			e := &evs[j]
			e.ID.Boot = int64(i) // distinct events every round
			bt.Add(e)
		}
		if err := db.InsertEvents(ctx, bt, fmt.Sprint(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "positions/s")
}

// BenchmarkServerInsertPositions measures 50k-row batch inserts of the
// positions columns into a ClickHouse server over the native protocol
// (Debian's 18.16 here: a table of the types it has, no DateTime64 or
// aggregate columns).
func BenchmarkServerInsertPositions(b *testing.B) {
	srv := startServer(b)
	ctx := context.Background()
	db, err := Open(ctx, srv.url("default"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Exec(ctx, `CREATE TABLE positions (mmsi UInt32, vessel String, ts Int64, lat_e7 Int32, lon_e7 Int32,
		class String, ais_type UInt8, sog_c UInt16, cog_c UInt16, heading_c UInt16, rot Float32, nav_status UInt8,
		accuracy UInt8, raim UInt8, second_c UInt8, flags UInt16, altitude Float32, fix_quality UInt8, satellites UInt8,
		hdop Float32, receivers Array(String)) ENGINE = MergeTree ORDER BY (mmsi, ts)`, nil, nil); err != nil {
		b.Fatal(err)
	}
	const n = 50000
	evs := benchEvents(n)
	bt := NewBatch()
	for i := range evs {
		bt.Add(&evs[i])
	}
	var cols []column
	for _, c := range bt.positions.cols {
		if c.colName() != "rx" {
			cols = append(cols, c)
		}
	}
	blk := &block{table: "positions", cols: cols}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := db.eng.insert(ctx, "positions", blk, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "positions/s")
}
