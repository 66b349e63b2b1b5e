package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keelson/keelson"
)

// Reader runs the API's read queries, each capped by QueryLimits. Every
// request value reaches ClickHouse as a {name:Type} parameter.
type Reader struct {
	db       *DB
	settings Settings
	byDay    atomic.Int32 // positions sorted by day first: 0 not known yet, 1 no, 2 yes
}

// Reader returns a Reader whose queries are capped by l.
func (db *DB) Reader(l QueryLimits) *Reader {
	if l.MaxExecutionTime == 0 {
		l.MaxExecutionTime = 10 * time.Second
	}
	if l.MaxRowsToRead == 0 {
		l.MaxRowsToRead = 200_000_000
	}
	if l.MaxResultRows == 0 {
		l.MaxResultRows = 20_000_000
	}
	if l.MaxMemoryUsage == 0 {
		l.MaxMemoryUsage = 2 << 30
	}
	return &Reader{db: db, settings: Settings{
		"max_execution_time":   l.MaxExecutionTime.Seconds(),
		"max_rows_to_read":     l.MaxRowsToRead,
		"max_result_rows":      l.MaxResultRows,
		"result_overflow_mode": "throw",
		"max_memory_usage":     l.MaxMemoryUsage,
	}}
}

// badPos are the flags of positions that are not usable.
const badPos = int(keelson.FlagPositionNA | keelson.FlagPositionInvalid)

// Ping checks that ClickHouse answers.
func (r *Reader) Ping(ctx context.Context) error {
	var one uint8
	return r.db.QueryRow(ctx, "SELECT toUInt8(1)", nil, &one)
}

// each runs a query and calls scan for every row; scan returning an error
// (such as ErrStop) ends the query with that error.
func (r *Reader) each(ctx context.Context, sql string, p Params, scan func(rows Rows) error) error {
	return r.eachWith(ctx, sql, p, r.settings, false, scan)
}

// eachWith is each with the given settings instead of the Reader's; whole
// reads a bounded result in one call (DB.queryWhole).
func (r *Reader) eachWith(ctx context.Context, sql string, p Params, settings Settings, whole bool, scan func(rows Rows) error) error {
	query := r.db.Query
	if whole {
		query = r.db.queryWhole
	}
	rows, err := query(ctx, sql, p, settings)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			if errors.Is(err, ErrStop) {
				// Read the few rows a LIMIT leaves to the end of the
				// stream rather than cancel the query (cancelling an
				// embedded query mid-stream can stall the engine).
				for n := 0; n < 100_000 && rows.Next(); n++ {
				}
			}
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// where collects SQL conditions and their parameters.
type where struct {
	conds []string
	p     Params
}

func (w *where) add(cond string, kv ...any) {
	w.conds = append(w.conds, cond)
	for i := 0; i+1 < len(kv); i += 2 {
		w.p[kv[i].(string)] = kv[i+1]
	}
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// widen32 widens a stored Float32 to its shortest decimal of at most six
// places that reads back as the same Float32 (9.2, not 9.199999809265137;
// 134.6, not 134.600006); beyond six places, rounded to six. NaN stays NaN.
func widen32(v float32) keelson.Float {
	f := float64(v)
	for _, scale := range [...]float64{1e1, 1e2, 1e3, 1e4, 1e5} {
		if r := math.Round(f*scale) / scale; float32(r) == v {
			return keelson.Float(r)
		}
	}
	return keelson.Float(math.Round(f*1e6) / 1e6)
}

func e7param(deg float64) int64 { return int64(math.Round(deg * 1e7)) }

// area adds a bounding box condition on the 1e-7 degree columns lat and lon.
func (w *where) area(a Area, lat, lon string) {
	if !a.Set {
		return
	}
	w.add(lat+" BETWEEN {s:Int64} AND {n:Int64} AND "+lon+" BETWEEN {w:Int64} AND {e:Int64}",
		"s", e7param(a.Bound.Min[1]), "n", e7param(a.Bound.Max[1]), "w", e7param(a.Bound.Min[0]), "e", e7param(a.Bound.Max[0]))
	// Each polygon ring is a parameter; only the number of rings shapes the SQL.
	for i, mp := range a.Polygons {
		var ors []string
		for j, poly := range mp {
			args := []string{"(" + lon + " / 1e7, " + lat + " / 1e7)"}
			for r, ring := range poly {
				name := fmt.Sprintf("poly%d_%d_%d", i, j, r)
				pts := make([][2]float64, len(ring))
				for k, p := range ring {
					pts[k] = p
				}
				w.p[name] = pts
				args = append(args, "arrayMap(x -> (x[1], x[2]), {"+name+":Array(Array(Float64))})")
			}
			ors = append(ors, "pointInPolygon("+strings.Join(args, ", ")+")")
		}
		if len(ors) > 0 {
			w.add("(" + strings.Join(ors, " OR ") + ")")
		}
	}
}

// ints widens ship types: a []uint8 would be bound as a string.
func ints(v []uint8) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func u32s(mm []keelson.MMSI) []uint32 {
	out := make([]uint32, len(mm))
	for i, m := range mm {
		out[i] = uint32(m)
	}
	return out
}

const queryPosCols = "mmsi, ts, lon_e7, lat_e7, sog, cog, heading, nav_status"

func scanPos(rows Rows, p *PositionRow) error {
	var mmsi uint32
	var lon, lat int32
	var sog, cog, hdg float32
	if err := rows.Scan(&mmsi, &p.Time, &lon, &lat, &sog, &cog, &hdg, &p.NavStatus); err != nil {
		return err
	}
	p.MMSI = keelson.MMSI(mmsi)
	p.Lon, p.Lat = float64(lon)/1e7, float64(lat)/1e7
	p.SOG, p.COG, p.Heading = widen32(sog), widen32(cog), widen32(hdg)
	return nil
}

// trackCols are the columns Track reads: the stored speed, course and
// heading in hundredths (the sog, cog and heading ALIAS columns are
// computed here, in scanTrack, rather than in ClickHouse).
const trackCols = "mmsi, ts, lon_e7, lat_e7, sog_c, cog_c, heading_c, nav_status"

// scanTrack scans a row of trackCols. A speed, course or heading is the
// value of its ALIAS column (if(x_c = 65535, nan, x_c / 100) as Float32).
func scanTrack(rows Rows, p *PositionRow) error {
	var mmsi uint32
	var lon, lat int32
	var sog, cog, hdg uint16
	if err := rows.Scan(&mmsi, &p.Time, &lon, &lat, &sog, &cog, &hdg, &p.NavStatus); err != nil {
		return err
	}
	p.MMSI = keelson.MMSI(mmsi)
	p.Lon, p.Lat = float64(lon)/1e7, float64(lat)/1e7
	p.SOG, p.COG, p.Heading = centi(sog), centi(cog), centi(hdg)
	return nil
}

// centi is a stored hundredths value as its ALIAS column reads it.
func centi(c uint16) keelson.Float {
	if c == 65535 {
		return keelson.NA
	}
	return widen32(float32(float64(c) / 100))
}

// trackSettings are the embedded engine's settings for Track, on top of
// the Reader's limits. Measured on the 10M-row benchmark table (one
// vessel-day, 300 random runs, BenchmarkQueryBare): the old query
// interpreter plans this one-table point read ~1 ms faster than the
// analyzer (the analyzer resolves every column of the 30-column table),
// and JIT lookups of the filter cost ~0.2 ms for nothing on ~70 rows.
// (Without the minmax skip indexes it is 0.15 ms faster where the primary
// key finds the vessel-day's one or two granules, (mmsi, vessel, ts, ...),
// but 2.5 times slower where it cannot, (toDate(ts), mmsi, ...): 59
// granules read instead of 5.) Formatting ~70 rows on
// a pool of threads (the engine's default) adds nothing to the median but
// doubles the tail on a busy machine (p99 24 -> 12 ms at load average 6).
// The block cache (Options.BlockCache) keeps the decompressed blocks.
var trackSettings = Settings{"enable_analyzer": 0, "compile_expressions": 0,
	"output_format_parallel_formatting": 0, "use_uncompressed_cache": 1}

// trackSettings are the Reader's settings plus, on the embedded engine,
// trackSettings. Track, OwnShipTrack, Vessel's latest position and the
// area-time Positions read with them (the block cache is what the last
// gains most from; see Positions).
func (r *Reader) trackSettings() Settings {
	if r.db.Engine() != "chdb" {
		return r.settings
	}
	s := make(Settings, len(r.settings)+len(trackSettings))
	for k, v := range r.settings {
		s[k] = v
	}
	for k, v := range trackSettings {
		s[k] = v
	}
	return s
}

// trackDays are the UTC days of [from, to) when they are few (at most a
// week), else nil. Where positions are sorted by day first (schema 4 for
// new databases: (toDate(ts), mmsi, ...)), a time range alone is one key
// range from the vessel in the first day to the vessel in the last, about
// a day of every vessel's rows; naming the days lets the key find the
// vessel in each day (a vessel-day reads 2 granules instead of 59 of 1,221
// on the 10M-row benchmark table: 10.6 -> 6.5 ms of CPU). Sorted by vessel
// first, the key needs no help and the condition costs 0.4 ms, so it is
// added on the day-first layout only (positionsByDay).
func trackDays(from, to time.Time) []string {
	if !from.Before(to) || to.Sub(from) > 7*24*time.Hour {
		return nil
	}
	var days []string
	for d := from.UTC().Truncate(24 * time.Hour); d.Before(to); d = d.Add(24 * time.Hour) {
		days = append(days, d.Format(time.DateOnly))
	}
	return days
}

// positionsByDay tells whether the positions table is sorted by day first,
// from its sorting key (fixed when the table was created); false while it
// cannot be told (no table yet, an error), and asked again then.
func (r *Reader) positionsByDay(ctx context.Context) bool {
	switch r.byDay.Load() {
	case 1:
		return false
	case 2:
		return true
	}
	var key string
	err := r.db.QueryRow(ctx, "SELECT sorting_key FROM system.tables WHERE database = currentDatabase()"+
		" AND name IN ('positions', 'positions_local') AND sorting_key != '' LIMIT 1", nil, &key)
	if err != nil {
		return false
	}
	if strings.HasPrefix(key, "toDate(ts)") {
		r.byDay.Store(2)
		return true
	}
	r.byDay.Store(1)
	return false
}

// Track streams one vessel's positions in [From, To) ordered by time.
func (r *Reader) Track(ctx context.Context, q TrackQuery, fn func(*PositionRow) error) error {
	w := where{p: Params{}}
	w.add("mmsi = {mmsi:UInt32}", "mmsi", uint32(q.MMSI))
	return r.track(ctx, w, q.From, q.To, q.Limit, fn)
}

// track streams the positions of the one vessel that w selects in
// [from, to) ordered by time, at most limit (0: all): Track and
// OwnShipTrack.
func (r *Reader) track(ctx context.Context, w where, from, to time.Time, limit int, fn func(*PositionRow) error) error {
	w.add("ts >= {from:DateTime64(3)} AND ts < {to:DateTime64(3)}", "from", from, "to", to)
	if days := trackDays(from, to); days != nil && r.positionsByDay(ctx) {
		w.add("toDate(ts) IN {days:Array(Date)}", "days", days)
	}
	w.add(fmt.Sprintf("bitAnd(flags, %d) = 0", badPos))
	// FINAL merges the rows of one broadcast heard by several receivers
	// (cheaper than LIMIT 1 BY: measured 350 vs 520 ms per 1M rows).
	sql := "SELECT " + trackCols + " FROM positions FINAL" + w.sql() + " ORDER BY ts"
	if limit > 0 {
		sql += " LIMIT {limit:UInt64}"
		w.p["limit"] = limit
	}
	var p PositionRow
	// A track with a limit is read whole (the API always gives one).
	return r.eachWith(ctx, sql, w.p, r.trackSettings(), limit > 0, func(rows Rows) error {
		if err := scanTrack(rows, &p); err != nil {
			return err
		}
		return fn(&p)
	})
}

// staticsNow is the current identity of every vessel (one row per MMSI).
const staticsNow = `SELECT mmsi,
    argMaxMerge(name) AS name, argMaxMerge(callsign) AS callsign, argMaxMerge(imo) AS imo,
    argMaxMerge(ship_type) AS ship_type,
    toUInt16(argMaxMerge(to_bow) + argMaxMerge(to_stern)) AS length,
    toUInt16(argMaxMerge(to_port) + argMaxMerge(to_starboard)) AS beam,
    argMaxMerge(draught) AS draught, argMaxMerge(destination) AS destination, argMaxMerge(eta) AS eta,
    max(last_seen) AS seen
FROM vessels %s GROUP BY mmsi`

// staticsBefore is each vessel's identity as known at {before}.
const staticsBefore = `SELECT mmsi,
    argMaxIf(name, last_seen, name != '') AS name, argMaxIf(callsign, last_seen, callsign != '') AS callsign,
    argMaxIf(imo, last_seen, imo != 0) AS imo, argMaxIf(ship_type, last_seen, ship_type != 0) AS ship_type,
    toUInt16(argMaxIf(to_bow + to_stern, last_seen, to_bow + to_stern != 0)) AS length,
    toUInt16(argMaxIf(to_port + to_starboard, last_seen, to_port + to_starboard != 0)) AS beam,
    argMaxIf(draught, last_seen, draught > 0) AS draught, argMaxIf(destination, last_seen, destination != '') AS destination,
    argMaxIf(eta, last_seen, eta != '') AS eta,
    least(max(last_seen), {before:DateTime64(3)}) AS seen
FROM statics WHERE first_seen <= {before:DateTime64(3)} AND ais_type != 21 %s GROUP BY mmsi`

const staticCols = "v.name, v.callsign, v.imo, v.ship_type, v.length, v.beam, v.draught, v.destination, v.eta, v.seen"

func scanVessel(rows Rows, v *VesselRow, withPos bool) error {
	var mmsi, imo uint32
	var lon, lat int32
	var sog, cog, hdg, draught float32
	var seen time.Time
	*v = VesselRow{}
	dest := []any{&mmsi}
	if withPos {
		dest = append(dest, &v.Position.Time, &lon, &lat, &sog, &cog, &hdg, &v.Position.NavStatus)
	}
	dest = append(dest, &v.Name, &v.CallSign, &imo, &v.ShipType, &v.Length, &v.Beam, &draught, &v.Destination, &v.ETA, &seen)
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	v.MMSI, v.IMO = keelson.MMSI(mmsi), imo
	v.Draught = widen32(draught)
	if draught <= 0 {
		v.Draught = keelson.NA
	}
	if seen.Unix() > 0 {
		v.StaticTime = seen.UTC()
	}
	if withPos {
		v.HasPosition = true
		p := &v.Position
		p.MMSI = v.MMSI
		p.Lon, p.Lat = float64(lon)/1e7, float64(lat)/1e7
		p.SOG, p.COG, p.Heading = widen32(sog), widen32(cog), widen32(hdg)
	}
	return nil
}

// Latest streams the latest position of each vessel (with its identity):
// from the latest table, or, with q.Before set, from the positions as they
// were at that time. Own ships stored without an MMSI come first (MMSI 0,
// Vessel set; see latestOwnShips).
func (r *Reader) Latest(ctx context.Context, q LatestQuery, fn func(*VesselRow) error) error {
	if err := r.latestOwnShips(ctx, q, fn); err != nil { // own ships without an MMSI first (query_ownship.go)
		return err
	}
	in := where{p: Params{}} // on the positions
	in.add("mmsi != 0 AND class NOT IN ('base', 'aton')")
	if !q.Since.IsZero() {
		in.add("ts > {since:DateTime64(3)}", "since", q.Since)
	}
	if q.MMSIs != nil {
		in.add("mmsi IN {mm:Array(UInt32)}", "mm", u32s(q.MMSIs))
	}
	src, statics := "latest", fmt.Sprintf(staticsNow, "")
	if !q.Before.IsZero() {
		in.add("ts <= {before:DateTime64(3)}", "before", q.Before)
		in.add(fmt.Sprintf("bitAnd(flags, %d) = 0", badPos))
		src, statics = "positions", fmt.Sprintf(staticsBefore, "")
	}
	out := where{p: in.p} // on the latest row
	out.area(q.Area, "p.lat", "p.lon")
	if q.ShipTypes != nil {
		out.add("has({types:Array(UInt8)}, v.ship_type)", "types", ints(q.ShipTypes))
	}
	sql := `SELECT p.mmsi, p.t, p.lon, p.lat, p.sog_, p.cog_, p.heading_, p.nav_status_, ` + staticCols + `
FROM (SELECT mmsi, max(ts) AS t, argMax(lon_e7, ts) AS lon, argMax(lat_e7, ts) AS lat,
        argMax(sog, ts) AS sog_, argMax(cog, ts) AS cog_, argMax(heading, ts) AS heading_, argMax(nav_status, ts) AS nav_status_
      FROM ` + src + in.sql() + ` GROUP BY mmsi) AS p
LEFT JOIN (` + statics + `) AS v ON v.mmsi = p.mmsi` + out.sql() + `
ORDER BY p.mmsi`
	var v VesselRow
	return r.each(ctx, sql, in.p, func(rows Rows) error {
		if err := scanVessel(rows, &v, true); err != nil {
			return err
		}
		return fn(&v)
	})
}

// Vessel returns one vessel's identity and latest position at or before
// before (zero: now).
func (r *Reader) Vessel(ctx context.Context, m keelson.MMSI, before time.Time) (VesselRow, error) {
	p := Params{"mmsi": uint32(m)}
	statics := fmt.Sprintf(staticsNow, "WHERE mmsi = {mmsi:UInt32}")
	posWhere := "mmsi = {mmsi:UInt32}"
	if !before.IsZero() {
		p["before"] = before
		statics = fmt.Sprintf(staticsBefore, "AND mmsi = {mmsi:UInt32}")
		posWhere += " AND ts <= {before:DateTime64(3)}"
	}
	var v VesselRow
	found := false
	err := r.each(ctx, "SELECT v.mmsi, "+staticCols+" FROM ("+statics+") AS v", p, func(rows Rows) error {
		found = true
		return scanVessel(rows, &v, false)
	})
	if err != nil {
		return v, err
	}
	v.MMSI = m
	// The latest position is a point read like Track's, bounded below so
	// that it reads one day rather than every stored day (positions are in
	// daily partitions): by the vessel's newest time in the latest table
	// when there is no cutoff (latest_mv keeps the newest usable position
	// of every insert; a vessel missing there gets 0, an unbounded read),
	// else by the day before the cutoff, and only if that finds nothing
	// without the bound. 10M rows, bare engine, the whole Vessel: 17.1-18.1
	// -> 10.8-12.1 ms p50 (300 random vessels, alternated).
	var pos PositionRow
	read := func(lower string) error {
		return r.eachWith(ctx, "SELECT "+trackCols+" FROM positions WHERE "+posWhere+lower+
			fmt.Sprintf(" AND bitAnd(flags, %d) = 0 ORDER BY ts DESC LIMIT 1", badPos), p, r.trackSettings(), true, func(rows Rows) error {
			if err := scanTrack(rows, &pos); err != nil {
				return err
			}
			v.Position, v.HasPosition = pos, true
			return nil
		})
	}
	if before.IsZero() {
		err = read(" AND ts >= (SELECT max(ts) FROM latest WHERE mmsi = {mmsi:UInt32})")
	} else {
		p["dayBefore"] = before.Add(-24 * time.Hour)
		if err = read(" AND ts >= {dayBefore:DateTime64(3)}"); err == nil && !v.HasPosition {
			err = read("")
		}
	}
	if err != nil {
		return v, err
	}
	if !found && !v.HasPosition {
		return v, fmt.Errorf("%w: vessel %s", ErrNotFound, m)
	}
	if !found {
		v.Draught = keelson.NA
	}
	return v, nil
}

var queryObsFloatCols = []string{"wind_speed", "wind_gust", "wind_direction", "gust_direction", "air_temp", "humidity", "dew_point",
	"pressure", "visibility", "water_level", "current_speed", "current_direction", "current2_speed", "current2_direction",
	"current2_depth", "current3_speed", "current3_direction", "current3_depth", "wave_height", "wave_period", "wave_direction",
	"swell_height", "swell_period", "swell_direction", "water_temp", "salinity"}

func queryObsFloatPtrs(o *keelson.Observation) []*keelson.Float {
	return []*keelson.Float{&o.WindSpeed, &o.WindGust, &o.WindDirection, &o.GustDirection, &o.AirTemp, &o.Humidity, &o.DewPoint,
		&o.Pressure, &o.Visibility, &o.WaterLevel, &o.CurrentSpeed, &o.CurrentDirection, &o.Current2Speed, &o.Current2Direction,
		&o.Current2Depth, &o.Current3Speed, &o.Current3Direction, &o.Current3Depth, &o.WaveHeight, &o.WavePeriod, &o.WaveDirection,
		&o.SwellHeight, &o.SwellPeriod, &o.SwellDirection, &o.WaterTemp, &o.Salinity}
}

// Observations streams observations ordered by (time, MMSI).
func (r *Reader) Observations(ctx context.Context, q ObservationQuery, fn func(*ObservationRow) error) error {
	w := where{p: Params{}}
	w.add("ts >= {from:DateTime64(3)} AND ts < {to:DateTime64(3)}", "from", q.From, "to", q.To)
	w.area(q.Area, "lat_e7", "lon_e7")
	if q.MMSIs != nil {
		w.add("mmsi IN {mm:Array(UInt32)}", "mm", u32s(q.MMSIs))
	}
	if q.After != nil {
		w.add("(ts, mmsi) > ({cts:DateTime64(3)}, {cmmsi:UInt32})", "cts", q.After.Time, "cmmsi", uint32(q.After.MMSI))
	}
	if !q.ReceivedBefore.IsZero() {
		w.add("received <= {rxb:DateTime64(3)}", "rxb", q.ReceivedBefore)
	}
	sql := "SELECT mmsi, ts, received, dac, fi, lon_e7, lat_e7, pressure_trend, water_level_trend, sea_state, precipitation, ice, " +
		strings.Join(queryObsFloatCols, ", ") + " FROM observations" + w.sql() +
		" ORDER BY ts, mmsi LIMIT 1 BY ts, mmsi, fi, lat_e7, lon_e7"
	if q.Limit > 0 {
		sql += " LIMIT {limit:UInt64}"
		w.p["limit"] = q.Limit
	}
	var o ObservationRow
	fl := make([]float32, len(queryObsFloatCols))
	return r.each(ctx, sql, w.p, func(rows Rows) error {
		var mmsi uint32
		var lon, lat int32
		ob := &o.Observation
		dest := []any{&mmsi, &o.Time, &o.Received, &ob.DAC, &ob.FI, &lon, &lat, &ob.PressureTrend, &ob.WaterLevelTrend, &ob.SeaState, &ob.Precipitation, &ob.Ice}
		for i := range fl {
			dest = append(dest, &fl[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		o.MMSI = keelson.MMSI(mmsi)
		ob.Point = [2]float64{float64(lon) / 1e7, float64(lat) / 1e7}
		ob.Time = o.Time
		for i, p := range queryObsFloatPtrs(ob) {
			*p = widen32(fl[i])
		}
		return fn(&o)
	})
}

// Telemetry streams one own-ship vessel's readings ordered by (time,
// quantity, sensor); with After set, from that time inclusive.
func (r *Reader) Telemetry(ctx context.Context, q TelemetryQuery, fn func(*TelemetryRow) error) error {
	w := where{p: Params{}}
	w.add("vessel = {vessel:String}", "vessel", q.Vessel)
	w.add("ts >= {from:DateTime64(3)} AND ts < {to:DateTime64(3)}", "from", q.From, "to", q.To)
	if q.Quantities != nil {
		w.add("quantity IN {qs:Array(String)}", "qs", q.Quantities)
	}
	if q.After != nil {
		w.add("ts >= {after:DateTime64(3)}", "after", *q.After)
	}
	sql := "SELECT vessel, ts, sentence, quantity, value, unit, sensor FROM telemetry" + w.sql() +
		" ORDER BY ts, quantity, sensor LIMIT 1 BY ts, quantity, sensor"
	if q.Limit > 0 {
		sql += " LIMIT {limit:UInt64}"
		w.p["limit"] = q.Limit
	}
	var t TelemetryRow
	return r.each(ctx, sql, w.p, func(rows Rows) error {
		var v float64
		if err := rows.Scan(&t.Vessel, &t.Time, &t.Sentence, &t.Quantity, &v, &t.Unit, &t.Sensor); err != nil {
			return err
		}
		t.Value = keelson.Float(v)
		return fn(&t)
	})
}

// IsLimitError reports whether err is ClickHouse refusing a query for
// exceeding a QueryLimits cap (rows, result, memory or time).
func IsLimitError(err error) bool {
	var qe *QueryError
	if !errors.As(err, &qe) {
		return false
	}
	switch qe.Code {
	case 158, 159, 241, 307, 396: // TOO_MANY_ROWS, TIMEOUT_EXCEEDED, MEMORY_LIMIT_EXCEEDED, TOO_MANY_BYTES, TOO_MANY_ROWS_OR_BYTES
		return true
	}
	return strings.Contains(qe.Msg, "TOO_MANY_ROWS") || strings.Contains(qe.Msg, "TIMEOUT_EXCEEDED") || strings.Contains(qe.Msg, "MEMORY_LIMIT_EXCEEDED")
}
