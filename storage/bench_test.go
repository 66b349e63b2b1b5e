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
