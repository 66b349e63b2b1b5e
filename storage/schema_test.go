package storage

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/paulmach/orb"
)

func TestDDLCluster(t *testing.T) {
	single := strings.Join(DDL(Options{}), ";\n")
	if strings.Contains(single, "ON CLUSTER") || strings.Contains(single, "Replicated") || strings.Contains(single, "TTL") {
		t.Fatalf("single-node DDL mentions cluster/TTL:\n%s", single)
	}
	cl := DDL(Options{Cluster: "ships", Retention: 30 * 24 * time.Hour})
	all := strings.Join(cl, ";\n")
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS positions_local ON CLUSTER ships (",
		"ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')",
		"CREATE TABLE IF NOT EXISTS positions ON CLUSTER ships AS positions_local\nENGINE = Distributed(ships, currentDatabase(), positions_local, mmsi)",
		"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS latest_mv ON CLUSTER ships TO latest_local AS",
		"FROM positions_local",
		"TTL toDateTime(ts) + INTERVAL 30 DAY DELETE",
		"CREATE TABLE IF NOT EXISTS keelson_migrations ON CLUSTER ships",
		"CREATE TABLE IF NOT EXISTS api_keys_local ON CLUSTER ships (",
		"CREATE TABLE IF NOT EXISTS api_keys ON CLUSTER ships AS api_keys_local\nENGINE = Distributed(ships, currentDatabase(), api_keys_local, cityHash64(id))",
		"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS positions_area_mv ON CLUSTER ships TO positions_area_local AS",
		"CREATE TABLE IF NOT EXISTS positions_cells_local ON CLUSTER ships (",
		"CREATE TABLE IF NOT EXISTS positions_cells ON CLUSTER ships AS positions_cells_local\nENGINE = Distributed(ships, currentDatabase(), positions_cells_local, mmsi)",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS positions_cells_mv ON CLUSTER ships TO positions_cells_local AS",
		"ALTER TABLE positions_local ON CLUSTER ships MODIFY COLUMN ts DateTime64(3, 'UTC') CODEC(GCD, Delta, T64, ZSTD(6))",
		"DROP VIEW IF EXISTS positions_area_mv ON CLUSTER ships",
		"DROP TABLE IF EXISTS positions_area ON CLUSTER ships",
		"DROP TABLE IF EXISTS positions_area_local ON CLUSTER ships",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("cluster DDL lacks %q", want)
		}
	}
	for _, st := range cl {
		if !strings.Contains(st, " ON CLUSTER ships") {
			t.Errorf("statement without ON CLUSTER:\n%s", st)
		}
		if strings.HasPrefix(st, "INSERT") {
			t.Errorf("cluster DDL inserts (no ON CLUSTER for INSERT):\n%s", st)
		}
		if strings.Contains(st, "MergeTree") && !strings.Contains(st, "Replicated") {
			t.Errorf("non-replicated engine in cluster mode:\n%s", st)
		}
	}
}

func testEvent(seq uint64, collector string) keelson.Event {
	return keelson.Event{
		V: 1, ID: keelson.EventID{Collector: collector, Boot: 1700000000000, Seq: seq},
		Kind: keelson.KindPosition, Received: time.Date(2024, 3, 1, 12, 0, 17, 250e6, time.UTC),
		Source: keelson.Source{Collector: collector, Station: "st1"}, MMSI: 219000001, AISType: 1,
		Position: &keelson.Position{Point: orb.Point{10.5, 55.25}, Class: keelson.ClassA, SOG: 12.3, COG: 45,
			Heading: keelson.NA, ROT: keelson.NA, NavStatus: 0, Second: 15, Altitude: keelson.NA, HDOP: keelson.NA},
	}
}

func TestMigrateInsertDedup(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	v, err := db.Migrate(ctx)
	if err != nil || len(v) != SchemaVersion() {
		t.Fatalf("migrate: %v %v", v, err)
	}
	if v, err := db.Migrate(ctx); err != nil || len(v) != 0 {
		t.Fatalf("second migrate: %v %v", v, err)
	}
	b := NewBatch()
	e1 := testEvent(1, "c1")
	e2 := testEvent(7, "c2") // the same broadcast heard by another collector, earlier
	e2.Received = e2.Received.Add(-150 * time.Millisecond)
	e2.Source.Station = ""
	st := keelson.Event{V: 1, ID: keelson.EventID{Collector: "c1", Boot: 1700000000000, Seq: 2}, Kind: keelson.KindStatic,
		Received: e1.Received, MMSI: 219000001, AISType: 5, Static: &keelson.Static{Name: "ANNA", CallSign: "OXAB", ToBow: 10, ToStern: 20, Draught: 4.5}}
	b.Add(&e1)
	b.Add(&e2)
	b.Add(&st)
	for i := 0; i < 3; i++ { // a retried batch adds nothing
		if err := db.InsertEvents(ctx, b, "tok-1"); err != nil {
			t.Fatal(err)
		}
	}
	// Not even before merges: the insert_deduplication_token dropped the
	// retries (non_replicated_deduplication_window).
	var raw uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM events", nil, &raw); err != nil || raw != 3 {
		t.Fatalf("events after 3 inserts with one token: %d rows (want 3) %v", raw, err)
	}
	// Same events under another token: collapsed by the engines.
	if err := db.InsertEvents(ctx, b, "tok-2"); err != nil {
		t.Fatal(err)
	}
	var n, ids uint64
	if err := db.QueryRow(ctx, "SELECT count(), uniqExact(id) FROM events FINAL", nil, &n, &ids); err != nil || n != 3 || ids != 3 {
		t.Fatalf("events: %d %d %v", n, ids, err)
	}
	var (
		cnt      uint64
		ts, rx   time.Time
		rcv      string
		rcvCount uint32
		lat, lon float64
		sog      float32
	)
	err = db.QueryRow(ctx, `SELECT count(), any(ts), any(received), any(receiver), any(receiver_count), any(lat), any(lon), any(sog)
		FROM positions FINAL WHERE mmsi = {m:UInt32}`, Params{"m": 219000001}, &cnt, &ts, &rx, &rcv, &rcvCount, &lat, &lon, &sog)
	if err != nil {
		t.Fatal(err)
	}
	if cnt != 1 || rcvCount != 2 || rcv != "c2" || !ts.Equal(time.Date(2024, 3, 1, 12, 0, 15, 0, time.UTC)) ||
		!rx.Equal(e2.Received) || lat != 55.25 || lon != 10.5 || sog != 12.3 {
		t.Fatalf("position: n=%d ts=%v rx=%v rcv=%q count=%d %v %v %v", cnt, ts, rx, rcv, rcvCount, lat, lon, sog)
	}
	var name string
	var length uint32
	if err := db.QueryRow(ctx, "SELECT argMaxMerge(name), argMaxMerge(to_bow) + argMaxMerge(to_stern) FROM vessels WHERE mmsi = {m:UInt32} GROUP BY mmsi",
		Params{"m": 219000001}, &name, &length); err != nil || name != "ANNA" || length != 30 {
		t.Fatalf("vessels: %q %d %v", name, length, err)
	}
	var lm uint32
	if err := db.QueryRow(ctx, "SELECT mmsi FROM latest FINAL WHERE lat BETWEEN 55 AND 56", nil, &lm); err != nil || lm != 219000001 {
		t.Fatalf("latest: %d %v", lm, err)
	}
}

func TestBroadcastTime(t *testing.T) {
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		rx     time.Duration
		second uint8
		want   time.Duration
	}{
		{17*time.Second + 250*time.Millisecond, 15, 15 * time.Second},
		{2 * time.Second, 58, -2 * time.Second},
		{59 * time.Second, 1, 61 * time.Second},
		{30*time.Second + 999*time.Millisecond, 60, 30 * time.Second},
		{10 * time.Second, 10, 10 * time.Second},
	} {
		e := keelson.Event{Received: base.Add(c.rx), AISType: 1}
		got := broadcastTime(&e, &keelson.Position{Second: c.second})
		if want := base.Add(c.want).UnixMilli(); got != want {
			t.Errorf("rx +%v second %d: got %v want %v", c.rx, c.second, time.UnixMilli(got).UTC(), base.Add(c.want))
		}
	}
}

// A large batch lands whole (libchdb once cut inline Native data short at a
// "\n\n" in the bytes; row 2569's array offset is 0x0A0A).
func TestInsertLargeBatch(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b := NewBatch()
	const n = 10000
	for i := 0; i < n; i++ {
		e := testEvent(uint64(i), "c1")
		e.Received = e.Received.Add(time.Duration(i) * time.Second)
		e.Position.Second = uint8(e.Received.Second())
		b.Add(&e)
	}
	if err := db.InsertEvents(ctx, b, "big"); err != nil {
		t.Fatal(err)
	}
	var ev, pos uint64
	if err := db.QueryRow(ctx, "SELECT (SELECT count() FROM events), (SELECT count() FROM positions FINAL)", nil, &ev, &pos); err != nil || ev != n || pos != n {
		t.Fatalf("events %d positions %d (want %d): %v", ev, pos, n, err)
	}
}
