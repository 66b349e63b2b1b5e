//go:build !shipboard

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/bus"
	"github.com/paulmach/orb"
	"github.com/segmentio/kafka-go"
)

func TestMigratePrint(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "-print", "-cluster", "ships", "-retention-days", "30"}, nil, &out, &errb); err != nil {
		t.Fatal(err)
	}
	ddl := out.String()
	for _, want := range []string{"CREATE TABLE IF NOT EXISTS positions_local ON CLUSTER ships", "Distributed(ships", "INTERVAL 30 DAY"} {
		if !strings.Contains(ddl, want) {
			t.Errorf("migrate -print lacks %q", want)
		}
	}
	if err := run(context.Background(), []string{"migrate", "-print", "-cluster", "bad name"}, nil, &out, &errb); err == nil {
		t.Error("bad cluster name accepted")
	}
}

// TestSinkCommandDrain runs `keelson sink -drain` against the embedded broker
// and embedded ClickHouse, then reads the result with `keelson sql`.
func TestSinkCommandDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded ClickHouse: skipped with -short")
	}
	br, err := bus.StartBroker(context.Background(), bus.BrokerConfig{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	cfg := bus.Config{Brokers: []string{br.Addr()}}
	w, err := cfg.NewWriter(bus.TopicEvents)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var msgs []kafka.Message
	for i := 0; i < 1000; i++ {
		e := keelson.Event{V: 1, ID: keelson.EventID{Collector: "c", Boot: 1, Seq: uint64(i)}, Kind: keelson.KindPosition,
			Received: at.Add(time.Duration(i) * time.Second), Source: keelson.Source{Collector: "c"}, MMSI: 219000001, AISType: 1,
			Position: &keelson.Position{Point: orb.Point{10, 55 + float64(i)/1000}, Class: keelson.ClassA, SOG: 5, COG: 1, Heading: keelson.NA,
				ROT: keelson.NA, Second: uint8(i % 60), Altitude: keelson.NA, HDOP: keelson.NA}}
		msgs = append(msgs, kafka.Message{Key: e.Key(), Value: e.AppendJSON(nil)})
	}
	msgs = append(msgs, kafka.Message{Key: []byte("x"), Value: []byte("{broken")})
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	ch := "chdb://" + t.TempDir()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, []string{"sink", "-brokers", br.Addr(), "-clickhouse", ch, "-drain", "-batch-size", "300", "-log-level", "warn"}, nil, &out, &errb); err != nil {
		t.Fatalf("sink: %v\n%s", err, errb.String())
	}
	if !strings.Contains(errb.String(), "dead letter") {
		t.Errorf("no dead letter logged:\n%s", errb.String())
	}
	out.Reset()
	if err := run(ctx, []string{"sql", "-clickhouse", ch, "-format", "json", "SELECT count() AS n, uniqExact(id) AS ids FROM events FINAL"}, nil, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != `{"n":1000,"ids":1000}`+"\n" {
		t.Errorf("sql: %q", got)
	}
}
