package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keelson/keelson"
)

// The schema, in one place. Tables (see docs/storage.md for the reasons):
//
//	events        one row per event id (collector, boot, seq): the ledger that
//	              proves exactly-once and shows gaps in a collector's seq
//	positions     one row per AIS broadcast or own-ship fix, merged across the
//	              collectors that heard it (AggregatingMergeTree): receiver set,
//	              first reception (time, receiver); daily partitions,
//	              ordered (mmsi, vessel, ts)
//	positions_cells  which vessels were in which 1-degree cell each day
//	              (MV): the index of the area-time query
//	latest        latest position per vessel (ReplacingMergeTree(ts), MV)
//	statics       vessel static/voyage versions: one row per distinct content
//	              with first/last seen and count
//	vessels       latest non-empty value of each static field per MMSI (MV)
//	observations  DAC 1 FI 11/31 met/hydro observations
//	telemetry     own-ship sensor readings, long form
//	messages      other AIS messages, whole (JSON)
//
// Times are DateTime64(3, 'UTC'); positions are Int32 in 1e-7 degrees
// (lat_e7, lon_e7) with Float64 ALIAS columns lat and lon; floats that may
// be "not available" are Float32 NaN.

// migration is one schema version: statements that are each idempotent
// (IF NOT EXISTS), so a migration interrupted half-way is simply re-run.
type migration struct {
	version int
	name    string
	stmts   []string
}

// schema renders the DDL for the options: single node, or with Cluster set,
// Replicated engines on the *_local tables and Distributed tables under the
// public names, all ON CLUSTER.
type schema struct {
	cluster   string
	retention time.Duration
	autoStats bool // the engine has auto_statistics_types (see noAutoStats)
}

func (s schema) on() string {
	if s.cluster == "" {
		return ""
	}
	return " ON CLUSTER " + s.cluster
}

// local is the name of the table that stores rows.
func (s schema) local(name string) string {
	if s.cluster == "" {
		return name
	}
	return name + "_local"
}

func (s schema) engine(kind, args string) string {
	if s.cluster == "" {
		return kind + "(" + args + ")"
	}
	zk := "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"
	if args != "" {
		zk += ", " + args
	}
	return "Replicated" + kind + "(" + zk + ")"
}

// ttl returns the TTL clause on time column col, or "".
func (s schema) ttl(col string) string {
	if s.retention <= 0 {
		return ""
	}
	return fmt.Sprintf("\nTTL toDateTime(%s) + INTERVAL %d DAY DELETE", col, int(s.retention/(24*time.Hour)))
}

// table renders CREATE TABLE for a stored table, and in cluster mode the
// Distributed table in front of it (sharded by shardKey).
func (s schema) table(name, cols, engine, tail, shardKey string) []string {
	st := []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s (\n%s\n) ENGINE = %s\n%s",
		s.local(name), s.on(), strings.TrimSpace(cols), engine, strings.TrimSpace(tail))}
	if s.cluster != "" {
		st = append(st, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s AS %s\nENGINE = Distributed(%s, currentDatabase(), %s, %s)",
			name, s.on(), s.local(name), s.cluster, s.local(name), shardKey))
	}
	return st
}

// dedupSettings make a retried insert with the same insert_deduplication_token
// a no-op on non-replicated tables too.
const dedupSettings = "non_replicated_deduplication_window = 10000"

func (s schema) migrations() []migration {
	return []migration{{
		version: 1,
		name:    "initial schema",
		stmts: concat(
			s.table("events", `
    collector LowCardinality(String),
    boot Int64 CODEC(Delta, ZSTD(3)),
    seq UInt64 CODEC(Delta, ZSTD(3)),
    kind LowCardinality(String),
    received DateTime64(3, 'UTC') CODEC(Delta, ZSTD(3)),
    id String ALIAS concat(collector, '/', toString(boot), '/', toString(seq))`,
				s.engine("ReplacingMergeTree", ""), `
PARTITION BY toYYYYMM(received)
ORDER BY (collector, boot, seq)`+s.ttl("received")+`
SETTINGS `+dedupSettings, "cityHash64(collector, boot)"),

			s.table("positions", `
    mmsi UInt32 CODEC(Delta, ZSTD(3)),
    vessel LowCardinality(String),
    ts DateTime64(3, 'UTC') CODEC(Delta, ZSTD(3)),
    lat_e7 Int32 CODEC(Delta, ZSTD(3)),
    lon_e7 Int32 CODEC(Delta, ZSTD(3)),
    lat Float64 ALIAS lat_e7 / 10000000,
    lon Float64 ALIAS lon_e7 / 10000000,
    class LowCardinality(String),
    ais_type UInt8 CODEC(ZSTD(3)),
    sog_c UInt16 CODEC(ZSTD(3)),
    cog_c UInt16 CODEC(Delta, ZSTD(3)),
    heading_c UInt16 CODEC(Delta, ZSTD(3)),
    sog Float32 ALIAS if(sog_c = 65535, nan, sog_c / 100),
    cog Float32 ALIAS if(cog_c = 65535, nan, cog_c / 100),
    heading Float32 ALIAS if(heading_c = 65535, nan, heading_c / 100),
    rot Float32 CODEC(ZSTD(3)),
    nav_status UInt8 CODEC(ZSTD(3)),
    accuracy Bool CODEC(ZSTD(3)),
    raim Bool CODEC(ZSTD(3)),
    second_c UInt8 CODEC(ZSTD(3)),
    second UInt8 ALIAS if(second_c = 0, toSecond(ts), second_c - 1),
    flags UInt16 CODEC(ZSTD(3)),
    altitude Float32 CODEC(ZSTD(3)),
    fix_quality UInt8 CODEC(ZSTD(3)),
    satellites UInt8 CODEC(ZSTD(3)),
    hdop Float32 CODEC(ZSTD(3)),
    rx SimpleAggregateFunction(min, Tuple(Int32, String)) CODEC(ZSTD(3)),
    receivers SimpleAggregateFunction(groupUniqArrayArray, Array(String)) CODEC(ZSTD(3)),
    received DateTime64(3, 'UTC') ALIAS ts + toIntervalMillisecond(rx.1),
    receiver String ALIAS rx.2,
    receiver_count UInt32 ALIAS length(receivers),
    INDEX ts_minmax ts TYPE minmax GRANULARITY 1,
    INDEX lat_minmax lat_e7 TYPE minmax GRANULARITY 1,
    INDEX lon_minmax lon_e7 TYPE minmax GRANULARITY 1`,
				s.engine("AggregatingMergeTree", ""), `
PARTITION BY `+positionsPartition+`
ORDER BY (`+positionsOrder+`)`+s.ttl("ts")+`
SETTINGS `+dedupSettings+s.noAutoStats(), "mmsi"),

			s.table("latest", `
    mmsi UInt32,
    vessel LowCardinality(String),
    ts DateTime64(3, 'UTC'),
    lat_e7 Int32,
    lon_e7 Int32,
    lat Float64 ALIAS lat_e7 / 10000000,
    lon Float64 ALIAS lon_e7 / 10000000,
    class LowCardinality(String),
    sog Float32,
    cog Float32,
    heading Float32,
    nav_status UInt8,
    flags UInt16`,
				s.engine("ReplacingMergeTree", "ts"), `
ORDER BY (mmsi, vessel)`, "mmsi"),

			[]string{fmt.Sprintf(`CREATE MATERIALIZED VIEW IF NOT EXISTS latest_mv%s TO %s AS
SELECT mmsi, vessel, ts, lat_e7, lon_e7, class,
    toFloat32(if(sog_c = 65535, nan, sog_c / 100)) AS sog,
    toFloat32(if(cog_c = 65535, nan, cog_c / 100)) AS cog,
    toFloat32(if(heading_c = 65535, nan, heading_c / 100)) AS heading,
    nav_status, flags
FROM %s
WHERE bitAnd(flags, %d) = 0`, s.on(), s.local("latest"), s.local("positions"), int(keelson.FlagPositionNA|keelson.FlagPositionInvalid))},

			s.table("statics", `
    mmsi UInt32,
    ais_type UInt8,
    part LowCardinality(String),
    content UInt64,
    imo UInt32,
    callsign String,
    name String,
    ship_type UInt8,
    to_bow UInt16,
    to_stern UInt16,
    to_port UInt8,
    to_starboard UInt8,
    epfd UInt8,
    eta String,
    draught Float32,
    destination String,
    vendor_id String,
    mothership_mmsi UInt32,
    virtual Bool,
    off_position Bool,
    lat_e7 Int32,
    lon_e7 Int32,
    first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    seen SimpleAggregateFunction(sum, UInt64),
    receivers SimpleAggregateFunction(groupUniqArrayArray, Array(String))`,
				s.engine("AggregatingMergeTree", ""), `
ORDER BY (mmsi, ais_type, part, content)`+s.ttl("last_seen")+`
SETTINGS `+dedupSettings, "mmsi"),

			s.table("vessels", `
    mmsi UInt32,
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    imo AggregateFunction(argMax, UInt32, DateTime64(3, 'UTC')),
    callsign AggregateFunction(argMax, String, DateTime64(3, 'UTC')),
    name AggregateFunction(argMax, String, DateTime64(3, 'UTC')),
    ship_type AggregateFunction(argMax, UInt8, DateTime64(3, 'UTC')),
    to_bow AggregateFunction(argMax, UInt16, DateTime64(3, 'UTC')),
    to_stern AggregateFunction(argMax, UInt16, DateTime64(3, 'UTC')),
    to_port AggregateFunction(argMax, UInt8, DateTime64(3, 'UTC')),
    to_starboard AggregateFunction(argMax, UInt8, DateTime64(3, 'UTC')),
    draught AggregateFunction(argMax, Float32, DateTime64(3, 'UTC')),
    destination AggregateFunction(argMax, String, DateTime64(3, 'UTC')),
    eta AggregateFunction(argMax, String, DateTime64(3, 'UTC'))`,
				s.engine("AggregatingMergeTree", ""), `
ORDER BY mmsi`, "mmsi"),

			[]string{fmt.Sprintf(`CREATE MATERIALIZED VIEW IF NOT EXISTS vessels_mv%s TO %s AS
SELECT s.mmsi AS mmsi,
    max(s.last_seen) AS last_seen,
    argMaxState(s.imo, if(s.imo = 0, toDateTime64(0, 3, 'UTC'), s.last_seen)) AS imo,
    argMaxState(s.callsign, if(s.callsign = '', toDateTime64(0, 3, 'UTC'), s.last_seen)) AS callsign,
    argMaxState(s.name, if(s.name = '', toDateTime64(0, 3, 'UTC'), s.last_seen)) AS name,
    argMaxState(s.ship_type, if(s.ship_type = 0, toDateTime64(0, 3, 'UTC'), s.last_seen)) AS ship_type,
    argMaxState(s.to_bow, if(s.to_bow + s.to_stern = 0, toDateTime64(0, 3, 'UTC'), s.last_seen)) AS to_bow,
    argMaxState(s.to_stern, if(s.to_bow + s.to_stern = 0, toDateTime64(0, 3, 'UTC'), s.last_seen)) AS to_stern,
    argMaxState(s.to_port, if(s.to_port + s.to_starboard = 0, toDateTime64(0, 3, 'UTC'), s.last_seen)) AS to_port,
    argMaxState(s.to_starboard, if(s.to_port + s.to_starboard = 0, toDateTime64(0, 3, 'UTC'), s.last_seen)) AS to_starboard,
    argMaxState(s.draught, if(isNaN(s.draught) OR s.draught = 0, toDateTime64(0, 3, 'UTC'), s.last_seen)) AS draught,
    argMaxState(s.destination, if(s.destination = '', toDateTime64(0, 3, 'UTC'), s.last_seen)) AS destination,
    argMaxState(s.eta, if(s.eta = '', toDateTime64(0, 3, 'UTC'), s.last_seen)) AS eta
FROM %s AS s
GROUP BY s.mmsi`, s.on(), s.local("vessels"), s.local("statics"))},

			s.table("observations", `
    mmsi UInt32,
    ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    received DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    dac UInt16,
    fi UInt8,
    lat_e7 Int32,
    lon_e7 Int32,
    lat Float64 ALIAS lat_e7 / 10000000,
    lon Float64 ALIAS lon_e7 / 10000000,
    wind_speed Float32, wind_gust Float32, wind_direction Float32, gust_direction Float32,
    air_temp Float32, humidity Float32, dew_point Float32, pressure Float32, pressure_trend UInt8,
    visibility Float32, water_level Float32, water_level_trend UInt8,
    current_speed Float32, current_direction Float32,
    current2_speed Float32, current2_direction Float32, current2_depth Float32,
    current3_speed Float32, current3_direction Float32, current3_depth Float32,
    wave_height Float32, wave_period Float32, wave_direction Float32,
    swell_height Float32, swell_period Float32, swell_direction Float32,
    sea_state UInt8, water_temp Float32, precipitation UInt8, salinity Float32, ice UInt8,
    collector LowCardinality(String),
    station LowCardinality(String)`,
				s.engine("ReplacingMergeTree", ""), `
PARTITION BY toYYYYMM(ts)
ORDER BY (mmsi, ts, fi, lat_e7, lon_e7)`+s.ttl("ts")+`
SETTINGS `+dedupSettings, "mmsi"),

			s.table("telemetry", `
    vessel LowCardinality(String),
    mmsi UInt32,
    quantity LowCardinality(String),
    sensor LowCardinality(String),
    ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    value Float64 CODEC(Gorilla, ZSTD(1)),
    unit LowCardinality(String),
    sentence LowCardinality(String),
    collector LowCardinality(String)`,
				s.engine("ReplacingMergeTree", ""), `
PARTITION BY toYYYYMM(ts)
ORDER BY (vessel, quantity, sensor, ts)`+s.ttl("ts")+`
SETTINGS `+dedupSettings, "cityHash64(vessel)"),

			s.table("messages", `
    mmsi UInt32,
    ais_type UInt8,
    received DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    collector LowCardinality(String),
    boot Int64,
    seq UInt64,
    station LowCardinality(String),
    flags UInt16,
    ais String CODEC(ZSTD(3)),
    raw Array(String) CODEC(ZSTD(3))`,
				s.engine("ReplacingMergeTree", ""), `
PARTITION BY toYYYYMM(received)
ORDER BY (ais_type, mmsi, received, collector, boot, seq)`+s.ttl("received")+`
SETTINGS `+dedupSettings, "mmsi"),
		),
	}, {
		version: 2,
		name:    "api keys",
		stmts:   s.table("api_keys", apiKeysCols, s.engine("ReplacingMergeTree", "version"), "ORDER BY id", "cityHash64(id)"),
	}, {
		version: 3,
		name:    "positions by area and time",
		stmts:   s.positionsArea(),
	}, {
		version: 4,
		name:    "positions cells index, codecs",
		stmts:   s.positionsCells(),
	}}
}

// positionsArea is the second ordering of the positions, for "everything in
// this box during these hours": positions_area, fed by a materialized view
// from positions, ordered by (day, 1-degree cell, mmsi, ts) and carrying only
// the usable positions and the columns that /v1/positions returns (a vessel's
// reports of one day in one cell stay together, so the codecs work almost
// as well as on positions: 13.4 bytes per position on the standard dataset,
// against 17.2 for (hour, cell, ts)). It is a second write of every
// position, so it is kept cheap to write: ZSTD(1) (ZSTD(3) saves 3% of its
// bytes), the default granule (1,024 rows measured no faster to read and a
// quarter slower to write) and no deduplication window (FINAL collapses). Rows keep the
// identity of the positions row (mmsi, vessel, ts, lat_e7, lon_e7) in the
// sorting key, so that the duplicates that positions merges (one broadcast
// heard by several receivers, a replayed batch) collapse here too
// (ReplacingMergeTree; readers use FINAL). On a single node the migration
// also copies the positions already stored; a duplicate row that a write
// racing with it adds collapses the same way. With Cluster set, that copy is
// left to the operator (see docs/storage.md), since INSERT has no ON CLUSTER.
func (s schema) positionsArea() []string {
	st := s.table("positions_area", `
    day Date CODEC(ZSTD(1)),
    cell UInt16 CODEC(ZSTD(1)),
    mmsi UInt32 CODEC(Delta, ZSTD(1)),
    vessel LowCardinality(String),
    ts DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    lat_e7 Int32 CODEC(Delta, ZSTD(1)),
    lon_e7 Int32 CODEC(Delta, ZSTD(1)),
    sog_c UInt16 CODEC(ZSTD(1)),
    cog_c UInt16 CODEC(Delta, ZSTD(1)),
    heading_c UInt16 CODEC(Delta, ZSTD(1)),
    nav_status UInt8 CODEC(ZSTD(1)),
    sog Float32 ALIAS if(sog_c = 65535, nan, sog_c / 100),
    cog Float32 ALIAS if(cog_c = 65535, nan, cog_c / 100),
    heading Float32 ALIAS if(heading_c = 65535, nan, heading_c / 100)`,
		s.engine("ReplacingMergeTree", ""), `
PARTITION BY toYYYYMM(ts)
ORDER BY (day, cell, mmsi, vessel, ts, lat_e7, lon_e7)`+s.ttl("ts"), "mmsi")
	sel := fmt.Sprintf(`SELECT toDate(ts) AS day, toUInt16(%s) AS cell, ts, mmsi, vessel, lat_e7, lon_e7, sog_c, cog_c, heading_c, nav_status
FROM {src}
WHERE mmsi != 0 AND bitAnd(flags, %d) = 0`, cellExpr, badPos)
	st = append(st, fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS positions_area_mv%s TO %s AS\n%s",
		s.on(), s.local("positions_area"), strings.ReplaceAll(sel, "{src}", s.local("positions"))))
	if s.cluster == "" {
		st = append(st, "INSERT INTO positions_area (day, cell, ts, mmsi, vessel, lat_e7, lon_e7, sog_c, cog_c, heading_c, nav_status)\n"+
			strings.ReplaceAll(sel, "{src}", "positions"))
	}
	return st
}

// positionsPartition is the partition key of positions: one partition per
// day. Since schema version 4 (set in version 1's CREATE, as a partition key
// is fixed when a table is created; a database created before keeps monthly
// partitions: see docs/storage.md). Within a day the rows stay sorted by
// (mmsi, vessel, ts), so a vessel's day is one range: a one-day track reads
// a range in each of two days, a time range (an export) reads its days and
// nothing else, and the area-time query reads the days of the range for
// the vessels found in positions_cells. With monthly partitions a sparse
// vessel's month is one range and every time-range query reads every
// vessel's month: on the standard dataset (2,000 reports per vessel a month)
// the area-time query took 211 / 618 ms p50 / p99 through the API against
// 28-40 / 52-270 ms, a 820k-row export 1.35 s against 0.54-0.57 s. (Sorting by
// (toDate(ts), mmsi, ...) in monthly partitions instead costs the same
// bytes but reads up to three more granules per query, where days meet
// inside a granule: tracks took twice as long.) The price is 0.4 bytes per
// position on that dataset (deltas restart at each vessel-day, every ~67
// reports there, thousands in a live feed) and a few hundred partitions a
// year; an INSERT may touch any number of days (max_partitions_per_insert_block
// is lifted for positions; a batch spanning many days writes a part per day).
const positionsPartition = "toDate(ts)"

// positionsOrder is the sorting key of positions (within each day): one
// vessel over time. (A schema 4 development version sorted by (toDate(ts),
// mmsi, ...) in monthly partitions; Reader.positionsByDay tells the layouts
// apart.)
const positionsOrder = "mmsi, vessel, ts, lat_e7, lon_e7"

// noAutoStats turns off the automatic column statistics of ClickHouse 25.x
// and later (auto_statistics_types, default "minmax, uniq" in 26.5): about
// 0.7 MB per part of positions whatever its size, 2.4 bytes per position on
// the standard dataset in daily partitions, for statistics the queries here
// do not need (they prune by key, partition and skip indexes). Rendered only
// when the engine knows the setting (older servers refuse unknown ones).
func (s schema) noAutoStats() string {
	if !s.autoStats {
		return ""
	}
	return ", auto_statistics_types = ''"
}

// positionsCodecs are the codecs of schema version 4 for the positions
// columns that carry most of the bytes. GCD divides each block by the
// greatest common divisor of its values (a no-op when it is 1): the
// broadcast time is a whole second for every AIS position (multiples of
// 1,000 ms), SOG and COG are tenths (multiples of 10 hundredths) and the
// heading whole degrees (multiples of 100), and coordinates imported from
// decimal-degree archives (6 decimals: multiples of 10 in 1e-7 degrees; the
// live 1/10,000-minute AIS resolution has no common divisor, so GCD does
// nothing there; GCD also gives up on blocks with negative values). T64
// after Delta crops the unused high bits of the deltas before ZSTD, and
// ZSTD(6) on the time and the first reception saves a further 0.3 bytes
// (on lat/lon 0.1: left at 3). Measured on the standard dataset (bytes per
// position, column alone, ordered by vessel): ts 2.32 -> 1.64, lat_e7 2.97
// -> 2.27, lon_e7 3.02 -> 2.68, cog_c 1.62 -> 1.34, sog_c 0.87 -> 0.74,
// heading_c 0.85 -> 0.75; ordered by day first, ts 1.94 -> 1.71 and rx 1.76
// -> 1.68 with ZSTD(6).
var positionsCodecs = [][2]string{
	{"ts", "DateTime64(3, 'UTC') CODEC(GCD, Delta, T64, ZSTD(6))"},
	{"rx", "SimpleAggregateFunction(min, Tuple(Int32, String)) CODEC(ZSTD(6))"},
	{"lat_e7", "Int32 CODEC(GCD, Delta, T64, ZSTD(3))"},
	{"lon_e7", "Int32 CODEC(GCD, Delta, T64, ZSTD(3))"},
	{"sog_c", "UInt16 CODEC(GCD, Delta, ZSTD(3))"},
	{"cog_c", "UInt16 CODEC(GCD, Delta, T64, ZSTD(3))"},
	{"heading_c", "UInt16 CODEC(GCD, Delta, ZSTD(3))"},
}

// positionsCells is schema version 4: it replaces positions_area (a full
// second copy of every position, ~13.4 bytes each) with a small index of
// where each vessel was on each day, positions_cells: one row per (day,
// 1-degree cell, mmsi, vessel) (ReplacingMergeTree on all its columns, so
// duplicates and replayed batches collapse and it needs no deduplication
// window). The area-time query takes the vessels of the cells and days in
// it, then reads those vessels' days of positions by its sorting key. (A
// first and last time per row, to drop the vessels that were in a cell at
// other hours of the day, cost 0.45 bytes per position at minute precision
// and saved little: a day-first positions reads a day's blocks anyway when
// vessels report sparsely.) The version also moves the positions columns
// to the codecs of positionsCodecs (new parts at once, existing parts as
// they merge) and drops positions_area and its view. On a single node it
// fills the index from the positions already stored (re-run after an
// interruption, it adds rows that merge away); with Cluster set, that copy
// is left to the operator (docs/scale-out.md), since INSERT has no ON
// CLUSTER.
func (s schema) positionsCells() []string {
	st := s.table("positions_cells", `
    day Date CODEC(Delta, ZSTD(3)),
    cell UInt16 CODEC(ZSTD(3)),
    mmsi UInt32 CODEC(ZSTD(3)),
    vessel LowCardinality(String)`,
		s.engine("ReplacingMergeTree", ""), `
PARTITION BY toYYYYMM(day)
ORDER BY (day, cell, mmsi, vessel)`+s.ttl("day"), "mmsi")
	sel := fmt.Sprintf(`SELECT DISTINCT toDate(ts) AS day, toUInt16(%s) AS cell, mmsi, vessel
FROM {src}
WHERE mmsi != 0 AND bitAnd(flags, %d) = 0`, cellExpr, badPos)
	st = append(st, fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS positions_cells_mv%s TO %s AS\n%s",
		s.on(), s.local("positions_cells"), strings.ReplaceAll(sel, "{src}", s.local("positions"))))
	if s.cluster == "" {
		st = append(st, "INSERT INTO positions_cells (day, cell, mmsi, vessel)\n"+
			strings.ReplaceAll(sel, "{src}", "positions"))
	}
	for _, c := range positionsCodecs {
		st = append(st, fmt.Sprintf("ALTER TABLE %s%s MODIFY COLUMN %s %s", s.local("positions"), s.on(), c[0], c[1]))
	}
	if s.autoStats {
		st = append(st, fmt.Sprintf("ALTER TABLE %s%s MODIFY SETTING auto_statistics_types = ''", s.local("positions"), s.on()))
	}
	st = append(st, fmt.Sprintf("DROP VIEW IF EXISTS positions_area_mv%s", s.on()))
	if s.cluster != "" {
		st = append(st, fmt.Sprintf("DROP TABLE IF EXISTS positions_area%s", s.on()))
	}
	return append(st, fmt.Sprintf("DROP TABLE IF EXISTS %s%s", s.local("positions_area"), s.on()))
}

// cellExpr is the 1-degree cell (0 to 64799) of lat_e7 and lon_e7: row
// floor(lat)+90, column floor(lon)+180, wrapping lon 180 to column 0 and
// clamping lat 90 into row 179. Cell (in Go) computes the same.
const cellExpr = "least(intDiv(lat_e7 + 900000000, 10000000), 179) * 360 + intDiv(lon_e7 + 1800000000, 10000000) % 360"

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// migrationsTable records applied schema versions.
func (s schema) migrationsTable() string {
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS keelson_migrations%s (
    version UInt32,
    name String,
    applied DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = %s
ORDER BY version`, s.on(), s.engine("ReplacingMergeTree", ""))
}

// SchemaVersion is the newest schema version Migrate applies.
func SchemaVersion() int {
	m := schema{}.migrations()
	return m[len(m)-1].version
}

// DDL returns every statement Migrate would run for opts, in order (for
// docs, review and tests; Migrate skips versions already applied, and adds
// an empty auto_statistics_types to positions where the engine knows it).
func DDL(opts Options) []string {
	s := schema{cluster: opts.Cluster, retention: opts.Retention}
	out := []string{s.migrationsTable()}
	for _, m := range s.migrations() {
		out = append(out, m.stmts...)
	}
	return out
}

// Migrate brings the schema to SchemaVersion: it applies each version not yet
// recorded in keelson_migrations, in order, and records it. Every statement
// is idempotent, so concurrent or interrupted runs are harmless. It returns
// the versions applied.
func (db *DB) Migrate(ctx context.Context) ([]int, error) {
	s := schema{cluster: db.opts.Cluster, retention: db.opts.Retention}
	var n uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM system.merge_tree_settings WHERE name = 'auto_statistics_types'", nil, &n); err != nil {
		return nil, fmt.Errorf("storage: migrate: %w", err)
	}
	s.autoStats = n > 0
	if err := db.Exec(ctx, s.migrationsTable(), nil, nil); err != nil {
		return nil, fmt.Errorf("storage: migrate: %w", err)
	}
	done := map[int]bool{}
	rows, err := db.Query(ctx, "SELECT DISTINCT version FROM keelson_migrations", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("storage: migrate: %w", err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("storage: migrate: %w", err)
		}
		done[int(v)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: migrate: %w", err)
	}
	rows.Close()
	var applied []int
	for _, m := range s.migrations() {
		if done[m.version] {
			continue
		}
		for _, st := range m.stmts {
			if err := db.Exec(ctx, st, nil, nil); err != nil {
				return applied, fmt.Errorf("storage: migration %d (%s): %w\n%s", m.version, m.name, err, st)
			}
		}
		b := &block{table: "keelson_migrations", cols: []column{
			&colU32{colBase{"version", "UInt32"}, []uint32{uint32(m.version)}},
			&colStr{colBase{"name", "String"}, []string{m.name}},
		}}
		if err := db.eng.insert(ctx, "keelson_migrations", b, nil); err != nil {
			return applied, fmt.Errorf("storage: migration %d: recording: %w", m.version, err)
		}
		db.log.Info("schema migrated", "version", m.version, "name", m.name)
		applied = append(applied, m.version)
	}
	return applied, nil
}
