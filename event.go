package keelson

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
)

// SchemaVersion is the version of the event schema carried in every event's
// "v" field. It changes only when a field changes meaning or disappears;
// new fields may appear at any time and readers ignore what they don't know.
const SchemaVersion = 1

// Kind says which payload an Event carries.
type Kind string

// The event kinds.
const (
	KindPosition    Kind = "position"    // AIS 1,2,3,4,9,11,18,19,21,27 and own-ship GNSS fixes
	KindStatic      Kind = "static"      // AIS 5, 19, 21, 24A/B: vessel and aid-to-navigation identity and voyage
	KindObservation Kind = "observation" // AIS binary met/hydro data (DAC 1 FI 11, FI 31)
	KindTelemetry   Kind = "telemetry"   // own-ship sensors: depth, wind, water temperature, heading, log...
	KindAIS         Kind = "ais"         // any other AIS message, kept whole in Event.AIS
)

// ErrInvalidEventID is returned by ParseEventID.
var ErrInvalidEventID = errors.New("keelson: invalid event id")

// EventID identifies an event uniquely and stably: the collector that made it,
// the collector's boot epoch (Unix milliseconds of the spool's creation) and
// a sequence number that the collector never reuses within that epoch.
// The sink deduplicates on it.
type EventID struct {
	Collector string
	Boot      int64
	Seq       uint64
}

// String returns "collector/boot/seq".
func (id EventID) String() string {
	return id.Collector + "/" + strconv.FormatInt(id.Boot, 10) + "/" + strconv.FormatUint(id.Seq, 10)
}

// IsZero reports whether id is unset.
func (id EventID) IsZero() bool { return id == EventID{} }

// MarshalText implements encoding.TextMarshaler; the zero id is empty.
func (id EventID) MarshalText() ([]byte, error) {
	if id.IsZero() {
		return nil, nil
	}
	return []byte(id.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; empty is the zero id.
func (id *EventID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*id = EventID{}
		return nil
	}
	v, err := ParseEventID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseEventID parses the String form of an EventID.
func ParseEventID(s string) (EventID, error) {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 {
		return EventID{}, fmt.Errorf("%w: %q", ErrInvalidEventID, s)
	}
	j := strings.LastIndexByte(s[:i], '/')
	if j <= 0 {
		return EventID{}, fmt.Errorf("%w: %q", ErrInvalidEventID, s)
	}
	boot, err1 := strconv.ParseInt(s[j+1:i], 10, 64)
	seq, err2 := strconv.ParseUint(s[i+1:], 10, 64)
	if err1 != nil || err2 != nil {
		return EventID{}, fmt.Errorf("%w: %q", ErrInvalidEventID, s)
	}
	return EventID{Collector: s[:j], Boot: boot, Seq: seq}, nil
}

// Source says where an event was heard. Times are kept apart by source:
// Event.Received is the collector's clock, Event.TagTime the tag block's
// (NMEA 4.10 "c:"), and Position.Second the AIS UTC second of the sender.
type Source struct {
	Collector string `json:"collector,omitempty"` // collector identity (configured)
	Input     string `json:"input,omitempty"`     // name of the collector's input
	Station   string `json:"station,omitempty"`   // tag block "s:" (receiver or station id)
	Talker    string `json:"talker,omitempty"`    // NMEA talker: "AI", "AB", "BS", "GP", ...
	Channel   string `json:"channel,omitempty"`   // AIS radio channel "A"/"B" (or "1"/"2")
}

// Event is one decoded message, the unit that travels on Kafka (as JSON, one
// event per Kafka message) and that the sink lands in ClickHouse. Exactly one
// of the payload pointers is set, matching Kind.
type Event struct {
	V        int       `json:"v"`
	ID       EventID   `json:"id,omitzero"`
	Kind     Kind      `json:"kind"`
	Received time.Time `json:"received"`          // collector clock at reception, UTC
	TagTime  time.Time `json:"tag_time,omitzero"` // tag block "c:" time, when present
	Source   Source    `json:"source"`
	MMSI     MMSI      `json:"mmsi,omitempty"`     // sender (AIS) or own ship (when configured)
	Vessel   string    `json:"vessel,omitempty"`   // own-ship identity for own-ship events
	AISType  uint8     `json:"ais_type,omitempty"` // AIS message type 1-27, 0 for NMEA sentences
	Flags    Flags     `json:"flags,omitempty"`    // quality flags

	Position    *Position    `json:"position,omitempty"`
	Static      *Static      `json:"static,omitempty"`
	Observation *Observation `json:"observation,omitempty"`
	Telemetry   *Telemetry   `json:"telemetry,omitempty"`
	// AIS holds the complete decoded AIS message (every field of its type,
	// in Keelson's documented JSON) for every AIS event, whatever the Kind.
	AIS RawJSON `json:"ais,omitempty"`
	// Raw holds the sentences the event was decoded from, when asked for.
	Raw []string `json:"raw,omitempty"`
}

// Key returns the Kafka message key: the MMSI for AIS, the vessel for own-ship
// events, so that each vessel's events keep their order within a partition.
func (e *Event) Key() []byte {
	if e.MMSI != 0 {
		return e.MMSI.AppendText(nil)
	}
	if e.Vessel != "" {
		return []byte(e.Vessel)
	}
	return []byte(e.Source.Collector)
}

// Flags are quality flags on an event.
type Flags uint16

// The quality flags.
const (
	FlagChecksumBad     Flags = 1 << iota // accepted in lenient mode despite a bad checksum
	FlagTagChecksumBad                    // tag block checksum bad (lenient mode)
	FlagFragmentGap                       // reassembled with a tolerance (duplicate fragment seen)
	FlagPositionNA                        // position not available (91/181 or zero)
	FlagPositionInvalid                   // position out of range
	FlagTimeFromTag                       // Received was replaced by the tag block time on replay
	FlagOwnShip                           // event is about the collector's own vessel
)

// RawJSON is a pre-encoded JSON value.
type RawJSON []byte

// MarshalJSON returns r, or null when empty.
func (r RawJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

// UnmarshalJSON copies b.
func (r *RawJSON) UnmarshalJSON(b []byte) error {
	*r = append((*r)[:0], b...)
	return nil
}

// Class is the kind of station that reported a position.
type Class string

// Station classes.
const (
	ClassA       Class = "A"       // AIS class A (types 1, 2, 3)
	ClassB       Class = "B"       // AIS class B (18, 19) and long-range 27
	ClassBase    Class = "base"    // AIS base station (4, 11)
	ClassSAR     Class = "sar"     // SAR aircraft (9)
	ClassAtoN    Class = "aton"    // aid to navigation (21)
	ClassOwnShip Class = "ownship" // own-ship GNSS (RMC, GGA, GLL)
)

// Position is a reported position with its motion.
type Position struct {
	Point     orb.Point `json:"point"` // lon, lat in degrees (WGS 84)
	Class     Class     `json:"class"`
	SOG       Float     `json:"sog"`        // speed over ground, knots; NaN n/a
	COG       Float     `json:"cog"`        // course over ground, degrees true; NaN n/a
	Heading   Float     `json:"heading"`    // true heading, degrees; NaN n/a (511)
	ROT       Float     `json:"rot"`        // rate of turn, degrees/min (signed); NaN n/a
	NavStatus uint8     `json:"nav_status"` // 0-15, 15 = not defined (default)
	Accuracy  bool      `json:"accuracy"`   // position accuracy flag (true = high, < 10 m)
	RAIM      bool      `json:"raim"`
	Second    uint8     `json:"second"`            // AIS UTC second 0-59; 60 n/a, 61-63 as ITU
	Altitude  Float     `json:"altitude,omitzero"` // SAR (type 9) or GNSS altitude, metres
	// GNSS quality for own-ship fixes (GGA): fix quality, satellites, HDOP.
	FixQuality uint8 `json:"fix_quality,omitempty"`
	Satellites uint8 `json:"satellites,omitempty"`
	HDOP       Float `json:"hdop,omitzero"`
}

// Static is identity and voyage data (AIS 5, 19, 21, 24A/B). Empty strings
// and zeros mean not available, as in the AIS encoding.
type Static struct {
	Part           string    `json:"part,omitempty"` // "A" or "B" for type 24
	IMO            uint32    `json:"imo,omitempty"`
	CallSign       string    `json:"callsign,omitempty"`
	Name           string    `json:"name,omitempty"`
	ShipType       uint8     `json:"ship_type,omitempty"`    // ITU ship and cargo type 0-99 (AtoN type for 21)
	ToBow          uint16    `json:"to_bow,omitempty"`       // metres from reference point (A)
	ToStern        uint16    `json:"to_stern,omitempty"`     // (B)
	ToPort         uint8     `json:"to_port,omitempty"`      // (C)
	ToStarboard    uint8     `json:"to_starboard,omitempty"` // (D)
	EPFD           uint8     `json:"epfd,omitempty"`
	ETA            string    `json:"eta,omitempty"`    // "MM-DDTHH:MMZ" as broadcast (no year); empty n/a
	Draught        Float     `json:"draught,omitzero"` // metres
	Destination    string    `json:"destination,omitempty"`
	VendorID       string    `json:"vendor_id,omitempty"`
	MothershipMMSI MMSI      `json:"mothership_mmsi,omitempty"`
	Virtual        bool      `json:"virtual,omitempty"` // virtual AtoN
	OffPosition    bool      `json:"off_position,omitempty"`
	Point          orb.Point `json:"point,omitzero"` // AtoN position (21)
}

// Length returns the overall length in metres, or 0 when not available.
func (s *Static) Length() int { return int(s.ToBow) + int(s.ToStern) }

// Beam returns the beam in metres, or 0 when not available.
func (s *Static) Beam() int { return int(s.ToPort) + int(s.ToStarboard) }

// Observation is ocean and weather data from AIS binary messages (DAC 1,
// FI 11 and FI 31) or any station that reports it. NaN is not available.
type Observation struct {
	DAC   uint16    `json:"dac"`
	FI    uint8     `json:"fi"`
	Point orb.Point `json:"point"`
	Time  time.Time `json:"time,omitzero"` // observation time (day, hour, minute; year and month from reception)

	WindSpeed       Float `json:"wind_speed"`     // knots, 10-min average
	WindGust        Float `json:"wind_gust"`      // knots
	WindDirection   Float `json:"wind_direction"` // degrees true
	GustDirection   Float `json:"gust_direction"`
	AirTemp         Float `json:"air_temp"`          // °C
	Humidity        Float `json:"humidity"`          // %
	DewPoint        Float `json:"dew_point"`         // °C
	Pressure        Float `json:"pressure"`          // hPa
	PressureTrend   uint8 `json:"pressure_trend"`    // 0 steady, 1 decreasing, 2 increasing, 3 n/a
	Visibility      Float `json:"visibility"`        // nautical miles
	WaterLevel      Float `json:"water_level"`       // metres (deviation from datum)
	WaterLevelTrend uint8 `json:"water_level_trend"` // 0 steady, 1 decreasing, 2 increasing, 3 n/a

	CurrentSpeed      Float `json:"current_speed"`     // knots, surface
	CurrentDirection  Float `json:"current_direction"` // degrees
	Current2Speed     Float `json:"current2_speed"`
	Current2Direction Float `json:"current2_direction"`
	Current2Depth     Float `json:"current2_depth"` // metres
	Current3Speed     Float `json:"current3_speed"`
	Current3Direction Float `json:"current3_direction"`
	Current3Depth     Float `json:"current3_depth"`

	WaveHeight     Float `json:"wave_height"`    // metres, significant
	WavePeriod     Float `json:"wave_period"`    // seconds
	WaveDirection  Float `json:"wave_direction"` // degrees
	SwellHeight    Float `json:"swell_height"`
	SwellPeriod    Float `json:"swell_period"`
	SwellDirection Float `json:"swell_direction"`
	SeaState       uint8 `json:"sea_state"`     // Beaufort 0-12, 13+ n/a
	WaterTemp      Float `json:"water_temp"`    // °C
	Precipitation  uint8 `json:"precipitation"` // WMO code, 7 n/a
	Salinity       Float `json:"salinity"`      // ‰
	Ice            uint8 `json:"ice"`           // 0 no, 1 yes, 3 n/a
}

// Telemetry is one own-ship sentence's readings, in long form: each reading
// names its quantity, so the set of sensors can grow without a schema change.
type Telemetry struct {
	Sentence string    `json:"sentence"` // NMEA sentence type: "DPT", "MWV", "MTW", ...
	Readings []Reading `json:"readings"`
}

// Reading is one measured quantity.
type Reading struct {
	Quantity string `json:"quantity"` // e.g. "depth", "wind_speed_true", "water_temp", "heading_true", "stw"
	Value    Float  `json:"value"`
	Unit     string `json:"unit"`             // "m", "kn", "degC", "deg", "nmi", "hPa", ...
	Sensor   string `json:"sensor,omitempty"` // transducer name (XDR) when given
}

// UnmarshalJSON decodes a Position; optional quantities that are absent
// (omitted when not available) decode as NA, not zero.
func (p *Position) UnmarshalJSON(b []byte) error {
	type plain Position
	v := plain{Altitude: NA, HDOP: NA, SOG: NA, COG: NA, Heading: NA, ROT: NA}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = Position(v)
	return nil
}

// UnmarshalJSON decodes a Static; an absent draught decodes as NA.
func (s *Static) UnmarshalJSON(b []byte) error {
	type plain Static
	v := plain{Draught: NA}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Static(v)
	return nil
}
