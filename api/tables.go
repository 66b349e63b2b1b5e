package api

import (
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
)

// The tables of the API: one column list per row type, for every format.

func posCols[T any](get func(*T) *storage.PositionRow) []column[T] {
	return []column[T]{
		intCol("mmsi", func(r *T) int64 { return int64(get(r).MMSI) }),
		timeCol("time", func(r *T) time.Time { return get(r).Time }),
		floatCol("lon", func(r *T) float64 { return get(r).Lon }),
		floatCol("lat", func(r *T) float64 { return get(r).Lat }),
		floatCol("sog", func(r *T) float64 { return float64(get(r).SOG) }),
		floatCol("cog", func(r *T) float64 { return float64(get(r).COG) }),
		floatCol("heading", func(r *T) float64 { return float64(get(r).Heading) }),
		intCol("nav_status", func(r *T) int64 { return int64(get(r).NavStatus) }),
	}
}

var positionTable = &table[storage.PositionRow]{
	name: "positions",
	cols: posCols(func(r *storage.PositionRow) *storage.PositionRow { return r }),
	point: func(r *storage.PositionRow) (float64, float64, bool) {
		return r.Lon, r.Lat, true
	},
}

func vesselCols[T any](get func(*T) *storage.VesselRow) []column[T] {
	cols := []column[T]{
		intCol("mmsi", func(r *T) int64 { return int64(get(r).MMSI) }),
		// An own ship stored without an MMSI: mmsi 0 and its vessel id
		// (empty for every other vessel).
		strCol("vessel", func(r *T) string { return get(r).Vessel }),
		strCol("name", func(r *T) string { return get(r).Name }),
		strCol("callsign", func(r *T) string { return get(r).CallSign }),
		intCol("imo", func(r *T) int64 { return int64(get(r).IMO) }),
		intCol("ship_type", func(r *T) int64 { return int64(get(r).ShipType) }),
		intCol("length", func(r *T) int64 { return int64(get(r).Length) }),
		intCol("beam", func(r *T) int64 { return int64(get(r).Beam) }),
		floatCol("draught", func(r *T) float64 { return float64(get(r).Draught) }),
		strCol("destination", func(r *T) string { return get(r).Destination }),
		strCol("eta", func(r *T) string { return get(r).ETA }),
		timeCol("static_time", func(r *T) time.Time { return get(r).StaticTime }),
	}
	pos := func(r *T) *storage.PositionRow {
		v := get(r)
		if !v.HasPosition {
			return &noPosition
		}
		return &v.Position
	}
	return append(cols,
		timeCol("time", func(r *T) time.Time { return pos(r).Time }),
		floatCol("lon", func(r *T) float64 { return pos(r).Lon }),
		floatCol("lat", func(r *T) float64 { return pos(r).Lat }),
		floatCol("sog", func(r *T) float64 { return float64(pos(r).SOG) }),
		floatCol("cog", func(r *T) float64 { return float64(pos(r).COG) }),
		floatCol("heading", func(r *T) float64 { return float64(pos(r).Heading) }),
		intCol("nav_status", func(r *T) int64 { return int64(pos(r).NavStatus) }),
	)
}

// ownRow is a position of an own-ship vessel stored without an MMSI.
type ownRow struct {
	Vessel string
	Pos    storage.PositionRow
}

// ownShipTable is the own-ship vessel (its latest position) and the rows
// of its track: the position columns with the vessel id instead of the MMSI.
var ownShipTable = &table[ownRow]{
	name: "ownship",
	cols: append([]column[ownRow]{strCol("vessel", func(r *ownRow) string { return r.Vessel })},
		posCols(func(r *ownRow) *storage.PositionRow { return &r.Pos })[1:]...),
	point: func(r *ownRow) (float64, float64, bool) { return r.Pos.Lon, r.Pos.Lat, true },
}

var noPosition = storage.PositionRow{
	Lon: float64(keelson.NA), Lat: float64(keelson.NA), SOG: keelson.NA, COG: keelson.NA, Heading: keelson.NA, NavStatus: 15,
}

var vesselTable = &table[storage.VesselRow]{
	name: "vessels",
	cols: vesselCols(func(r *storage.VesselRow) *storage.VesselRow { return r }),
	point: func(r *storage.VesselRow) (float64, float64, bool) {
		return r.Position.Lon, r.Position.Lat, r.HasPosition
	},
}

var nearTable = &table[Neighbour]{
	name: "near",
	cols: append(vesselCols(func(r *Neighbour) *storage.VesselRow { return &r.Vessel }),
		floatCol("distance_m", func(r *Neighbour) float64 { return r.Distance })),
	point: func(r *Neighbour) (float64, float64, bool) {
		return r.Vessel.Position.Lon, r.Vessel.Position.Lat, true
	},
}

func obsFloat(name string, f func(o *keelson.Observation) keelson.Float) column[storage.ObservationRow] {
	return floatCol(name, func(r *storage.ObservationRow) float64 { return float64(f(&r.Observation)) })
}

func obsInt(name string, f func(o *keelson.Observation) int64) column[storage.ObservationRow] {
	return intCol(name, func(r *storage.ObservationRow) int64 { return f(&r.Observation) })
}

type obsRow = storage.ObservationRow
type obs = keelson.Observation

var observationTable = &table[obsRow]{
	name: "observations",
	cols: []column[obsRow]{
		intCol("mmsi", func(r *obsRow) int64 { return int64(r.MMSI) }),
		timeCol("time", func(r *obsRow) time.Time { return r.Time }),
		timeCol("received", func(r *obsRow) time.Time { return r.Received }),
		floatCol("lon", func(r *obsRow) float64 { return r.Observation.Point[0] }),
		floatCol("lat", func(r *obsRow) float64 { return r.Observation.Point[1] }),
		obsInt("dac", func(o *obs) int64 { return int64(o.DAC) }),
		obsInt("fi", func(o *obs) int64 { return int64(o.FI) }),
		obsFloat("wind_speed", func(o *obs) keelson.Float { return o.WindSpeed }),
		obsFloat("wind_gust", func(o *obs) keelson.Float { return o.WindGust }),
		obsFloat("wind_direction", func(o *obs) keelson.Float { return o.WindDirection }),
		obsFloat("gust_direction", func(o *obs) keelson.Float { return o.GustDirection }),
		obsFloat("air_temp", func(o *obs) keelson.Float { return o.AirTemp }),
		obsFloat("humidity", func(o *obs) keelson.Float { return o.Humidity }),
		obsFloat("dew_point", func(o *obs) keelson.Float { return o.DewPoint }),
		obsFloat("pressure", func(o *obs) keelson.Float { return o.Pressure }),
		obsInt("pressure_trend", func(o *obs) int64 { return int64(o.PressureTrend) }),
		obsFloat("visibility", func(o *obs) keelson.Float { return o.Visibility }),
		obsFloat("water_level", func(o *obs) keelson.Float { return o.WaterLevel }),
		obsInt("water_level_trend", func(o *obs) int64 { return int64(o.WaterLevelTrend) }),
		obsFloat("current_speed", func(o *obs) keelson.Float { return o.CurrentSpeed }),
		obsFloat("current_direction", func(o *obs) keelson.Float { return o.CurrentDirection }),
		obsFloat("current2_speed", func(o *obs) keelson.Float { return o.Current2Speed }),
		obsFloat("current2_direction", func(o *obs) keelson.Float { return o.Current2Direction }),
		obsFloat("current2_depth", func(o *obs) keelson.Float { return o.Current2Depth }),
		obsFloat("current3_speed", func(o *obs) keelson.Float { return o.Current3Speed }),
		obsFloat("current3_direction", func(o *obs) keelson.Float { return o.Current3Direction }),
		obsFloat("current3_depth", func(o *obs) keelson.Float { return o.Current3Depth }),
		obsFloat("wave_height", func(o *obs) keelson.Float { return o.WaveHeight }),
		obsFloat("wave_period", func(o *obs) keelson.Float { return o.WavePeriod }),
		obsFloat("wave_direction", func(o *obs) keelson.Float { return o.WaveDirection }),
		obsFloat("swell_height", func(o *obs) keelson.Float { return o.SwellHeight }),
		obsFloat("swell_period", func(o *obs) keelson.Float { return o.SwellPeriod }),
		obsFloat("swell_direction", func(o *obs) keelson.Float { return o.SwellDirection }),
		obsInt("sea_state", func(o *obs) int64 { return int64(o.SeaState) }),
		obsFloat("water_temp", func(o *obs) keelson.Float { return o.WaterTemp }),
		obsInt("precipitation", func(o *obs) int64 { return int64(o.Precipitation) }),
		obsFloat("salinity", func(o *obs) keelson.Float { return o.Salinity }),
		obsInt("ice", func(o *obs) int64 { return int64(o.Ice) }),
	},
	point: func(r *obsRow) (float64, float64, bool) {
		return r.Observation.Point[0], r.Observation.Point[1], true
	},
}

type telRow = storage.TelemetryRow

var telemetryTable = &table[telRow]{
	name: "telemetry",
	cols: []column[telRow]{
		strCol("vessel", func(r *telRow) string { return r.Vessel }),
		timeCol("time", func(r *telRow) time.Time { return r.Time }),
		strCol("sentence", func(r *telRow) string { return r.Sentence }),
		strCol("quantity", func(r *telRow) string { return r.Quantity }),
		floatCol("value", func(r *telRow) float64 { return float64(r.Value) }),
		strCol("unit", func(r *telRow) string { return r.Unit }),
		strCol("sensor", func(r *telRow) string { return r.Sensor }),
	},
	point: func(*telRow) (float64, float64, bool) { return 0, 0, false },
}
