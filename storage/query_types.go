package storage

import (
	"errors"
	"time"

	"github.com/keelson/keelson"
	"github.com/paulmach/orb"
)

// The read side of storage: the value types that the query methods in
// query_*.go return and that the API serves. All SQL stays in this package;
// every request value reaches ClickHouse as a server-side parameter.

// ErrNotFound is returned by single-row queries that match nothing.
var ErrNotFound = errors.New("storage: not found")

// ErrStop may be returned by a row callback to end a query early without error.
var ErrStop = errors.New("storage: stop")

// PositionRow is one stored position report.
type PositionRow struct {
	MMSI      keelson.MMSI
	Time      time.Time
	Lon, Lat  float64
	SOG       keelson.Float // knots
	COG       keelson.Float // degrees
	Heading   keelson.Float // degrees
	NavStatus uint8
}

// Point returns the row's position.
func (r *PositionRow) Point() orb.Point { return orb.Point{r.Lon, r.Lat} }

// VesselRow is a vessel's identity and voyage data and its latest position.
type VesselRow struct {
	MMSI        keelson.MMSI
	Vessel      string // own-ship vessel id when MMSI is 0 (stored without an MMSI); else ""
	Name        string
	CallSign    string
	IMO         uint32
	ShipType    uint8
	Length      uint16 // metres, 0 n/a
	Beam        uint16 // metres, 0 n/a
	Draught     keelson.Float
	Destination string
	ETA         string
	StaticTime  time.Time // time of the latest static report; zero if none

	HasPosition bool
	Position    PositionRow // latest position, when HasPosition
}

// Area restricts a query to a bounding box (lon/lat degrees), when Set,
// and to every one of Polygons (a point must lie in each multipolygon).
type Area struct {
	Set      bool
	Bound    orb.Bound
	Polygons []orb.MultiPolygon
}

// LatestQuery selects the latest position of each vessel.
type LatestQuery struct {
	Before    time.Time      // only reports at or before this time; zero: all
	Since     time.Time      // only vessels whose latest report is after this; zero: all
	Area      Area           // latest position inside the box
	MMSIs     []keelson.MMSI // only these vessels; nil: all
	ShipTypes []uint8        // only vessels of these ship types; nil: all
}

// Cursor is a position in a (time, MMSI) ordered result. Positions are
// ordered by (time, MMSI, lat_e7, lon_e7), and their cursors name the
// place too (Point), so that a page ending among one vessel's reports of
// the same millisecond loses none of them.
type Cursor struct {
	Time         time.Time
	MMSI         keelson.MMSI
	Point        bool
	LatE7, LonE7 int32
}

// PositionQuery selects positions by area, time, vessels and ship types,
// ordered by (time, MMSI).
type PositionQuery struct {
	From, To  time.Time // [From, To), both required
	Area      Area
	MMSIs     []keelson.MMSI
	ShipTypes []uint8
	After     *Cursor // only rows strictly after this key
	Limit     int     // at most this many rows; 0: no limit
}

// TrackQuery selects one vessel's positions in [From, To), ordered by time.
type TrackQuery struct {
	MMSI     keelson.MMSI
	From, To time.Time
	Limit    int // 0: no limit
}

// ObservationRow is one stored ocean/weather observation.
type ObservationRow struct {
	MMSI        keelson.MMSI // reporting station
	Time        time.Time    // observation time (reception time when not given)
	Received    time.Time
	Observation keelson.Observation
}

// ObservationQuery selects observations by area and time, ordered by (time, MMSI).
type ObservationQuery struct {
	From, To time.Time
	Area     Area
	MMSIs    []keelson.MMSI
	After    *Cursor // only rows strictly after this key
	Limit    int
	// ReceivedBefore, when set, leaves out what was received after it
	// (an observation's own time may be older than its reception).
	ReceivedBefore time.Time
}

// TelemetryRow is one own-ship sensor reading.
type TelemetryRow struct {
	Vessel   string
	Time     time.Time
	Sentence string
	Quantity string
	Value    keelson.Float
	Unit     string
	Sensor   string
}

// TelemetryQuery selects one own-ship vessel's readings, ordered by
// (time, quantity, sensor).
type TelemetryQuery struct {
	Vessel     string
	From, To   time.Time
	Quantities []string   // nil: all
	After      *time.Time // only rows at or after this time (the API skips those it sent)
	Limit      int
}

// QueryLimits cap the work of each read query (ClickHouse settings). Zero
// fields take the defaults documented on each.
type QueryLimits struct {
	MaxExecutionTime time.Duration // max_execution_time; default 10s
	MaxRowsToRead    uint64        // max_rows_to_read; default 200,000,000
	MaxResultRows    uint64        // max_result_rows; default 20,000,000
	MaxMemoryUsage   uint64        // max_memory_usage, bytes; default 2 GiB
}
