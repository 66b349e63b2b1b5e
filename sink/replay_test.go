package sink

import (
	"bufio"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/bus"
	"github.com/keelson/keelson/decode"
	"github.com/keelson/keelson/storage"
	"github.com/segmentio/kafka-go"
)

// TestReplayCaptures decodes every real AIS capture in testdata/ais, sends the
// events through Kafka (kfake over TCP) and the sink into embedded
// ClickHouse, and compares what the tables hold with what the decoder found.
func TestReplayCaptures(t *testing.T) {
	db := openDB(t)
	br := startBroker(t, 4)
	cfg := bus.Config{Brokers: []string{br.Addr()}}
	files, _ := filepath.Glob("../testdata/ais/*")
	if len(files) == 0 {
		t.Fatal("no captures in testdata/ais")
	}
	type pkey struct {
		mmsi     keelson.MMSI
		lat, lon int32
	}
	var (
		msgs      []kafka.Message
		kinds     = map[keelson.Kind]int{}
		positions = map[pkey]bool{}
		lastName  = map[keelson.MMSI]string{}
		nameAt    = map[keelson.MMSI]time.Time{}
		ambiguous = map[keelson.MMSI]bool{}
		seq       uint64
	)
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := decode.NewDecoder(decode.Config{Collector: "replay", Input: filepath.Base(f), MaxAge: -1})
		sc := bufio.NewScanner(fh)
		var evs []keelson.Event
		for sc.Scan() {
			seq++
			evs, _ = dec.Decode(evs[:0], sc.Bytes(), t0.Add(time.Duration(seq)*time.Millisecond))
			for k := range evs {
				e := &evs[k]
				e.ID = keelson.EventID{Collector: "replay", Boot: 1, Seq: seq*16 + uint64(k)}
				kinds[e.Kind]++
				if e.Kind == keelson.KindPosition {
					positions[pkey{e.MMSI, storedE7(e.Position.Point.Lat()), storedE7(e.Position.Point.Lon())}] = true
				}
				// The latest name by reception time (tag block or line
				// times when the capture has them), as vessels keeps it.
				if e.Kind == keelson.KindStatic && e.Static.Name != "" {
					at, seen := nameAt[e.MMSI]
					rx := time.UnixMilli(e.Received.UnixMilli()) // stored in ms
					switch {
					case !seen || rx.After(at):
						lastName[e.MMSI], nameAt[e.MMSI], ambiguous[e.MMSI] = strings.Clone(e.Static.Name), rx, false
					case rx.Equal(at) && e.Static.Name != lastName[e.MMSI]:
						ambiguous[e.MMSI] = true
					}
				}
				msgs = append(msgs, kafka.Message{Topic: bus.TopicEvents, Key: e.Key(), Value: e.AppendJSON(nil)})
			}
		}
		fh.Close()
	}
	if kinds[keelson.KindPosition] < 1000 || kinds[keelson.KindStatic] == 0 {
		t.Fatalf("captures decoded to too little: %v", kinds)
	}
	produce(t, cfg, msgs)
	s, err := New(Config{Bus: cfg, Drain: true, BatchSize: 2000, BatchTime: 100 * time.Millisecond}, db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}

	rows, err := db.Query(ctx, "SELECT kind, count() FROM events FINAL GROUP BY kind", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[keelson.Kind]int{}
	for rows.Next() {
		var k string
		var n uint64
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		got[keelson.Kind(k)] = int(n)
	}
	rows.Close()
	for k, n := range kinds {
		if got[k] != n {
			t.Errorf("events of kind %s: %d in ClickHouse, %d decoded", k, got[k], n)
		}
	}
	var distinct uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM (SELECT DISTINCT mmsi, lat_e7, lon_e7 FROM positions FINAL)", nil, &distinct); err != nil {
		t.Fatal(err)
	}
	if int(distinct) != len(positions) {
		t.Errorf("distinct (mmsi, lat, lon): %d in ClickHouse, %d decoded", distinct, len(positions))
	}
	// Every decoded position is there, at the decoded coordinates.
	n := 0
	for k := range positions {
		if n++; n > 200 {
			break
		}
		var c uint64
		if err := db.QueryRow(ctx, "SELECT count() FROM positions FINAL WHERE mmsi = {m:UInt32} AND lat_e7 = {la:Int32} AND lon_e7 = {lo:Int32}",
			storage.Params{"m": uint32(k.mmsi), "la": k.lat, "lo": k.lon}, &c); err != nil || c == 0 {
			t.Fatalf("position %+v not found (%v)", k, err)
		}
	}
	for mmsi, name := range lastName {
		if ambiguous[mmsi] || mmsi == 0 {
			continue // MMSI 0 is no vessel: test captures hold several under it
		}
		var got string
		if err := db.QueryRow(ctx, "SELECT argMaxMerge(name) FROM vessels WHERE mmsi = {m:UInt32} GROUP BY mmsi",
			storage.Params{"m": uint32(mmsi)}, &got); err != nil || got != name {
			t.Errorf("vessel %d: name %q in ClickHouse, last decoded %q (%v)", mmsi, got, name, err)
		}
	}
	t.Logf("replayed %d events from %d captures: %v; %d distinct positions, %d named vessels", len(msgs), len(files), kinds, len(positions), len(lastName))
}

// storedE7 is a coordinate as the positions table stores it: 1e-7 degrees,
// and 0 (with a flag) when it is not available or out of range. Converting
// NaN with int32() instead gives an arbitrary value (math.MinInt32 on amd64),
// which made this test fail whenever it sampled such a position.
func storedE7(deg float64) int32 {
	if math.IsNaN(deg) || deg < -214 || deg > 214 {
		return 0
	}
	return int32(math.Round(deg * 1e7))
}
