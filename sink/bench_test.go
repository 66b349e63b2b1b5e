package sink

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/bus"
	"github.com/segmentio/kafka-go"
)

func BenchmarkDecodeMessage(b *testing.B) {
	e := positionEvent("bench", 12345, 219000001, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	e.AIS = keelson.RawJSON(`{"type":1,"repeat":0,"mmsi":219000001,"status":0,"turn":-128,"speed":10.0,"accuracy":false,"lon":10.5,"lat":55.0,"course":90.0,"heading":511,"second":0}`)
	msg := e.AppendJSON(nil)
	var ev keelson.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for i := 0; i < b.N; i++ {
		if err := decodeMessage(&ev, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeMessageNoAIS: a position event as the collector sends it
// by default (without the AIS JSON), as in BenchmarkSinkKafkaToCHDB.
func BenchmarkDecodeMessageNoAIS(b *testing.B) {
	e := positionEvent("bench", 12345, 219000001, time.Date(2026, 10, 1, 0, 0, 0, 123000000, time.UTC))
	msg := e.AppendJSON(nil)
	var ev keelson.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for i := 0; i < b.N; i++ {
		if err := decodeMessage(&ev, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeJSONv2(b *testing.B) {
	e := positionEvent("bench", 12345, 219000001, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	e.AIS = keelson.RawJSON(`{"type":1,"repeat":0,"mmsi":219000001,"status":0,"turn":-128,"speed":10.0,"accuracy":false,"lon":10.5,"lat":55.0,"course":90.0,"heading":511,"second":0}`)
	msg := e.AppendJSON(nil)
	var ev keelson.Event
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ev = keelson.Event{}
		if err := jsonv2.Unmarshal(msg, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSinkKafkaToCHDB measures the whole path: 1M position events
// already in Kafka (kfake over TCP, 8 partitions) are consumed by a sink in
// drain mode into embedded ClickHouse; each iteration drains them all with
// a fresh consumer group.
func BenchmarkSinkKafkaToCHDB(b *testing.B) {
	db := openDB(b)
	br := startBroker(b, 8)
	cfg := bus.Config{Brokers: []string{br.Addr()}}
	const n = 1_000_000
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	w, err := cfg.NewWriter(bus.TopicEvents, bus.WriterOptions{BatchSize: 20000, BatchBytes: 8 << 20})
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]kafka.Message, 0, 20000)
	for i := 0; i < n; i++ {
		v := i % 5000
		at := t0.Add(time.Duration(i/5000)*10*time.Second + time.Duration(v)*time.Millisecond)
		e := positionEvent("bench", uint64(i), keelson.MMSI(200000000+v), at)
		msgs = append(msgs, kafka.Message{Key: e.Key(), Value: e.AppendJSON(nil)})
		if len(msgs) == cap(msgs) {
			if err := w.WriteMessages(context.Background(), msgs...); err != nil {
				b.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
	w.Close()
	b.ReportAllocs()
	cpu0 := cpuTime()
	// Sustained rate: events landed from the first batch's commit to the
	// last's, over that time (no group join, first fill or reader close).
	var (
		steadyEvents int
		steadyTime   time.Duration
	)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var first, last time.Time
		landed := 0
		s, err := New(Config{Bus: cfg, Group: fmt.Sprintf("bench-%d", i), Drain: true, OnBatch: func(m int) {
			if first.IsZero() {
				first = time.Now()
			} else {
				landed += m
			}
			last = time.Now()
		}}, db)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		steadyEvents += landed
		steadyTime += last.Sub(first)
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
	if steadyTime > 0 {
		b.ReportMetric(float64(steadyEvents)/steadyTime.Seconds(), "sustained-events/s")
	}
	// CPU time of the whole process (sink, embedded ClickHouse's threads and
	// the in-process broker): throughput per core, whatever else the machine runs.
	b.ReportMetric(float64(b.N*n)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
