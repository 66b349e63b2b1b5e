package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/keelson/keelson"
	"github.com/keelson/keelson/bus"
	"github.com/keelson/keelson/storage"
	"github.com/keelson/keelson/storage/storagetest"
	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{BatchSize: -1},
		{BatchTime: time.Microsecond},
		{Topics: []string{bus.TopicDLQ}},
		{RetryMin: time.Second, RetryMax: time.Millisecond},
	} {
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: want ErrConfig, got %v", c, err)
		}
	}
	var c Config
	if err := c.Validate(); err != nil || c.BatchSize != 200_000 || c.BatchTime != time.Second || c.Group != "keelson-sink" {
		t.Fatalf("defaults: %+v %v", c, err)
	}
}

func TestDecodePoison(t *testing.T) {
	var ev keelson.Event
	for _, b := range []string{`{`, `{"v":1,"kind":"position"}`, `{"v":1,"id":"c/1/2","kind":"position"}`, `{"v":99,"id":"c/1/2","kind":"ais"}`, `{"id":"x"}`} {
		if err := decodeMessage(&ev, []byte(b)); !errors.Is(err, ErrPoison) {
			t.Errorf("%s: want ErrPoison, got %v", b, err)
		}
	}
	if err := decodeMessage(&ev, []byte(`{"v":1,"id":"c/1/2","kind":"ais","ais_type":8}`)); err != nil {
		t.Fatal(err)
	}
}

// startBroker starts the embedded Kafka-protocol broker on a TCP port.
func startBroker(t testing.TB, partitions int) *bus.Broker {
	t.Helper()
	b, err := bus.StartBroker(context.Background(), bus.BrokerConfig{Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func openDB(t testing.TB) *storage.DB { return storagetest.Open(t) }

func positionEvent(collector string, seq uint64, mmsi keelson.MMSI, at time.Time) keelson.Event {
	return keelson.Event{V: 1, ID: keelson.EventID{Collector: collector, Boot: 1, Seq: seq}, Kind: keelson.KindPosition,
		Received: at, Source: keelson.Source{Collector: collector}, MMSI: mmsi, AISType: 1,
		Position: &keelson.Position{Point: orb.Point{10 + float64(seq%1000)/1000, 55}, Class: keelson.ClassA,
			SOG: 10, COG: 90, Heading: keelson.NA, ROT: keelson.NA, Second: uint8(at.Second()), Altitude: keelson.NA, HDOP: keelson.NA}}
}

func produce(t testing.TB, cfg bus.Config, msgs []kafka.Message) {
	t.Helper()
	w, err := cfg.NewWriter("")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 0; i < len(msgs); i += 5000 {
		if err := w.WriteMessages(context.Background(), msgs[i:min(i+5000, len(msgs))]...); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSinkDrainDLQ(t *testing.T) {
	db := openDB(t)
	br := startBroker(t, 4)
	cfg := bus.Config{Brokers: []string{br.Addr()}}
	at := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	var msgs []kafka.Message
	const n = 20000
	for i := 0; i < n; i++ {
		e := positionEvent("c1", uint64(i), keelson.MMSI(200000000+i%100), at.Add(time.Duration(i)*time.Second))
		msgs = append(msgs, kafka.Message{Topic: bus.TopicEvents, Key: e.Key(), Value: e.AppendJSON(nil)})
		if i%5000 == 0 {
			msgs = append(msgs, kafka.Message{Topic: bus.TopicEvents, Key: []byte("x"), Value: []byte(fmt.Sprintf("not json %d", i))})
		}
	}
	produce(t, cfg, msgs)
	reg := prometheus.NewRegistry()
	run := func() {
		s, err := New(Config{Bus: cfg, Drain: true, BatchSize: 3000, BatchTime: 200 * time.Millisecond, Registry: reg, Logger: testLogger(t)}, db)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	run()
	var cnt, ids uint64
	if err := db.QueryRow(context.Background(), "SELECT count(), uniqExact(id) FROM events FINAL", nil, &cnt, &ids); err != nil {
		t.Fatal(err)
	}
	if cnt != n || ids != n {
		t.Fatalf("events: count %d, ids %d, want %d", cnt, ids, n)
	}
	var pos uint64
	if err := db.QueryRow(context.Background(), "SELECT count() FROM positions FINAL", nil, &pos); err != nil || pos != n {
		t.Fatalf("positions: %d %v", pos, err)
	}
	if got := counter(reg, "keelson_sink_dead_lettered_total"); got != 4 {
		t.Errorf("dead-lettered metric %v, want 4", got)
	}
	// The dead letters are on the DLQ with their reason.
	r := kafka.NewReader(cfg.ReaderConfig("", bus.TopicDLQ))
	defer r.Close()
	seen := 0
	for p := 0; p < 4 && seen < 4; p++ {
		r.Close()
		rc := cfg.ReaderConfig("", bus.TopicDLQ)
		rc.Partition = p
		r = kafka.NewReader(rc)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			m, err := r.ReadMessage(ctx)
			cancel()
			if err != nil {
				break
			}
			seen++
			var reason string
			for _, h := range m.Headers {
				if h.Key == bus.HeaderError {
					reason = string(h.Value)
				}
			}
			if reason == "" || string(m.Value[:8]) != "not json" {
				t.Errorf("dead letter %q: reason %q", m.Value, reason)
			}
		}
	}
	if seen != 4 {
		t.Errorf("found %d dead letters on %s, want 4", seen, bus.TopicDLQ)
	}
	// A second drain finds nothing new and changes nothing.
	run()
	if err := db.QueryRow(context.Background(), "SELECT count() FROM events", nil, &cnt); err != nil || cnt != n {
		t.Fatalf("after second drain: %d %v", cnt, err)
	}
}

// counter returns the value of a registered counter, -1 when missing.
func counter(reg *prometheus.Registry, name string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return -1
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// The sink's decoder agrees with encoding/json on the event schema
// (including "absent is not available" defaults).
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	p := positionEvent("c", 1, 219000001, at)
	p.Position.SOG = keelson.NA
	st := keelson.Event{V: 1, ID: keelson.EventID{Collector: "c", Boot: 1, Seq: 2}, Kind: keelson.KindStatic, Received: at,
		MMSI: 219000001, AISType: 5, Static: &keelson.Static{Name: "X", Draught: keelson.NA}, AIS: keelson.RawJSON(`{"type":5}`)}
	for _, e := range []keelson.Event{p, st} {
		b := e.AppendJSON(nil)
		var want, got keelson.Event
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if err := decodeMessage(&got, b); err != nil {
			t.Fatal(err)
		}
		wb, _ := json.Marshal(want)
		gb, _ := json.Marshal(got)
		if string(wb) != string(gb) {
			t.Errorf("decoded differently:\n got %s\nwant %s", gb, wb)
		}
		if got.Kind == keelson.KindPosition && (got.Position.SOG.Valid() || got.Position.Altitude.Valid()) {
			t.Errorf("absent SOG/altitude not NA: %+v", got.Position)
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	at := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	p := positionEvent("c", 1, 219000001, at)
	f.Add(p.AppendJSON(nil))
	f.Add([]byte(`{"v":1,"id":"c/1/2","kind":"static","received":"2026-10-01T00:00:00Z","mmsi":1,"static":{"name":"X"}}`))
	f.Add([]byte(`{"v":1,"id":"c/1/3","kind":"telemetry","received":"2026-10-01T00:00:00Z","vessel":"v","telemetry":{"sentence":"DPT","readings":[{"quantity":"depth","value":3.5,"unit":"m"}]}}`))
	f.Add([]byte(`{"v":1,"id":"c/1/4","kind":"observation","received":"2026-10-01T00:00:00Z","observation":{"dac":1,"fi":31,"point":[1,2],"wind_speed":null}}`))
	f.Add([]byte(`{"id":"/1/2"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev keelson.Event
		err := decodeMessage(&ev, b)
		if err != nil && !errors.Is(err, ErrPoison) {
			t.Fatalf("error not ErrPoison: %v", err)
		}
		if err == nil {
			// What the sink accepts, a batch accepts.
			storage.NewBatch().Add(&ev)
		}
	})
}

// FuzzFastDecode: whatever the fast path accepts, json v2 decodes to the
// same event.
func FuzzFastDecode(f *testing.F) {
	at := time.Date(2026, 10, 1, 0, 0, 0, 123456789, time.UTC)
	p := positionEvent("c", 1, 219000001, at)
	p.AIS = keelson.RawJSON(`{"type":1,"x":[1,{"y":"z\""}]}`)
	p.TagTime = at
	p.Flags = 9
	p.Vessel = "own"
	p.Source.Station = "st"
	f.Add(p.AppendJSON(nil))
	f.Add([]byte(`{"v":1,"id":"c/1/2","kind":"static","received":"2026-10-01T00:00:00Z","mmsi":1,"static":{"name":"X"}}`))
	f.Add([]byte(`{"v":1,"id":"c/1/2","kind":"position","received":"2026-10-01T00:00:00+02:00","position":{"point":[1.5,-2e-3],"sog":null,"accuracy":true,"nav_status":3}}`))
	// The UTC time and short-decimal fast paths, and their edges.
	for _, tm := range []string{"2026-10-01T23:59:59.5Z", "2024-02-29T12:00:00.000000001Z", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-10-01T24:00:00Z", "2026-13-01T00:00:00Z", "0000-01-01T00:00:60Z"} {
		f.Add([]byte(`{"v":1,"id":"c/1/2","kind":"position","received":"` + tm + `","position":{"point":[0,0]}}`))
	}
	for _, x := range []string{"-0", "-0.0", "0.1", "179.9999999", "123456789012345", "1234567890123456", "0.30000000000000004", "-90.12345678901234", "1.5e2", "00.1", "-.5", "-01", "-", "5."} {
		f.Add([]byte(`{"v":1,"id":"c/1/2","kind":"position","received":"2026-10-01T00:00:00Z","position":{"point":[` + x + `,1],"sog":` + x + `}}`))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast keelson.Event
		if !fastDecode(&fast, b) {
			return
		}
		var ref keelson.Event
		if err := jsonv2.Unmarshal(b, &ref, unmarshalOpts); err != nil {
			t.Fatalf("fast path accepted what json v2 rejects (%v): %q", err, b)
		}
		fb, _ := json.Marshal(fast)
		rb, _ := json.Marshal(ref)
		if string(fb) != string(rb) || !fast.Received.Equal(ref.Received) {
			t.Fatalf("fast and json v2 differ on %q:\nfast %s\n  v2 %s", b, fb, rb)
		}
	})
}

// TestSinkRetriesUntilClickHouseIsBack: inserts fail (the positions table is
// away), the sink keeps its batch and retries without committing; once the
// table is back everything lands exactly once.
func TestSinkRetriesUntilClickHouseIsBack(t *testing.T) {
	db := openDB(t)
	br := startBroker(t, 2)
	cfg := bus.Config{Brokers: []string{br.Addr()}}
	ctx := context.Background()
	if err := db.Exec(ctx, "RENAME TABLE positions TO positions_away", nil, nil); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var msgs []kafka.Message
	const n = 5000
	for i := 0; i < n; i++ {
		e := positionEvent("c1", uint64(i), keelson.MMSI(200000000+i%10), at.Add(time.Duration(i)*time.Second))
		msgs = append(msgs, kafka.Message{Topic: bus.TopicEvents, Key: e.Key(), Value: e.AppendJSON(nil)})
	}
	produce(t, cfg, msgs)
	reg := prometheus.NewRegistry()
	s, err := New(Config{Bus: cfg, BatchSize: 1000, BatchTime: 100 * time.Millisecond, RetryMin: 20 * time.Millisecond,
		RetryMax: 100 * time.Millisecond, Registry: reg}, db)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for retries(reg, "insert") < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no insert retries")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Nothing was committed while ClickHouse refused the batch.
	if c := counter(reg, "keelson_sink_batches_total"); c > 0 {
		t.Fatalf("%v batches committed while inserts failed", c)
	}
	if err := db.Exec(ctx, "RENAME TABLE positions_away TO positions", nil, nil); err != nil {
		t.Fatal(err)
	}
	for counter(reg, "keelson_sink_inserted_events_total") < n {
		if time.Now().After(deadline) {
			t.Fatalf("inserted %v of %d after the table came back", counter(reg, "keelson_sink_inserted_events_total"), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	var ev, pos uint64
	if err := db.QueryRow(ctx, "SELECT (SELECT count() FROM events FINAL), (SELECT count() FROM positions FINAL)", nil, &ev, &pos); err != nil || ev != n || pos != n {
		t.Fatalf("events %d positions %d, want %d (%v)", ev, pos, n, err)
	}
}

func retries(reg *prometheus.Registry, op string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "keelson_sink_retries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" && l.GetValue() == op {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
