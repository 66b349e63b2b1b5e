package keelson

import (
	"encoding/binary"
	"math"
	mathbits "math/bits"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/paulmach/orb"

	"github.com/keelson/keelson/internal/jsonnum"
)

// AppendJSON appends the JSON object of e to b: the same object, field for
// field, that encoding/json makes of e (and that encoding/json decodes back
// into e), written by hand and about ten times faster, without allocating
// when b has room. It is the Kafka wire format (see docs/events.md).
//
// Differences from json.Marshal: a zero ID is omitted (json.Marshal writes
// "/0/0", which does not parse back), an empty AIS object and Raw list are
// omitted as in json.Marshal, and e.AIS is copied verbatim (it is compact
// JSON made by package decode/ais). A NaN or infinite coordinate, which
// json.Marshal refuses, is written as null.
func (e *Event) AppendJSON(b []byte) []byte {
	if e.V == SchemaVersion && SchemaVersion < 10 {
		b = append(b, `{"v":`+string(rune('0'+SchemaVersion))...)
	} else {
		b = append(b, `{"v":`...)
		b = strconv.AppendInt(b, int64(e.V), 10)
	}
	if !e.ID.IsZero() {
		b = append(b, `,"id":`...)
		b = appendJSONString(b, e.ID.Collector, true)
		b = b[:len(b)-1] // reopen the string to add "/boot/seq"
		b = append(b, '/')
		b = strconv.AppendInt(b, e.ID.Boot, 10)
		b = append(b, '/')
		b = jsonnum.AppendUint(b, e.ID.Seq)
		b = append(b, '"')
	}
	switch e.Kind { // the common kinds as constants
	case KindPosition:
		b = append(b, `,"kind":"position"`...)
	case KindStatic:
		b = append(b, `,"kind":"static"`...)
	default:
		b = append(b, `,"kind":`...)
		b = appendJSONString(b, string(e.Kind), true)
	}
	b = append(b, `,"received":`...)
	b = appendJSONTime(b, e.Received)
	if !e.TagTime.IsZero() {
		b = append(b, `,"tag_time":`...)
		b = appendJSONTime(b, e.TagTime)
	}
	if src := &e.Source; src.Collector == "" && src.Input == "" && src.Station == "" &&
		len(src.Talker) == 2 && safeByte(src.Talker[0]) && safeByte(src.Talker[1]) &&
		len(src.Channel) == 1 && safeByte(src.Channel[0]) {
		// The source of most AIS events, in one copy and three bytes.
		// `,"source":{"talker":"..","channel":"."` in pieces of at most 16
		// bytes (copied inline; a longer constant is a call to memmove).
		l := len(b)
		b = append(b, `,"source":{"talk`...)
		b = append(b, `er":"..","channe`...)
		b = append(b, `l":"."`...)
		o := b[l : l+38]
		o[21], o[22], o[36] = src.Talker[0], src.Talker[1], src.Channel[0]
	} else {
		b = append(b, `,"source":{`...)
		n := len(b)
		b = appendStringField(b, n, `"collector":`, e.Source.Collector)
		b = appendStringField(b, n, `"input":`, e.Source.Input)
		b = appendStringField(b, n, `"station":`, e.Source.Station)
		b = appendStringField(b, n, `"talker":`, e.Source.Talker)
		b = appendStringField(b, n, `"channel":`, e.Source.Channel)
	}
	if e.MMSI != 0 {
		b = append(b, `},"mmsi":`...)
		b = jsonnum.AppendUint(b, uint64(e.MMSI))
	} else {
		b = append(b, '}')
	}
	if e.Vessel != "" {
		b = append(b, `,"vessel":`...)
		b = appendJSONString(b, e.Vessel, true)
	}
	if e.AISType != 0 {
		b = append(b, `,"ais_type":`...)
		b = jsonnum.AppendUint(b, uint64(e.AISType))
	}
	if e.Flags != 0 {
		b = append(b, `,"flags":`...)
		b = jsonnum.AppendUint(b, uint64(e.Flags))
	}
	if e.Position != nil {
		b = e.Position.appendJSON(b) // with its key
	}
	if e.Static != nil {
		b = append(b, `,"static":`...)
		b = e.Static.appendJSON(b)
	}
	if e.Observation != nil {
		b = append(b, `,"observation":`...)
		b = e.Observation.appendJSON(b)
	}
	if e.Telemetry != nil {
		b = append(b, `,"telemetry":`...)
		b = e.Telemetry.appendJSON(b)
	}
	if len(e.AIS) > 0 {
		b = append(b, `,"ais":`...)
		b = append(b, e.AIS...)
	}
	if len(e.Raw) > 0 {
		b = append(b, `,"raw":[`...)
		for i, s := range e.Raw {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s, true)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSON appends `,"position":` and the object of p.
func (p *Position) appendJSON(b []byte) []byte {
	// Constant keys merged with the constants between them (brackets, the
	// class) up to 16 bytes, which the compiler copies inline (longer ones
	// call memmove).
	b = append(b, `,"position":`...)
	b = append(b, `{"point":[`...)
	b = appendCoordinate(b, p.Point[0])
	b = append(b, ',')
	b = appendCoordinate(b, p.Point[1])
	switch p.Class {
	case ClassA:
		b = append(b, `],"class":"A"`...)
	case ClassB:
		b = append(b, `],"class":"B"`...)
	default:
		b = append(b, `],"class":`...)
		b = appendJSONString(b, string(p.Class), true)
	}
	b = append(b, `,"sog":`...)
	b = appendFloat(b, p.SOG)
	b = append(b, `,"cog":`...)
	b = appendFloat(b, p.COG)
	b = append(b, `,"heading":`...)
	b = appendFloat(b, p.Heading)
	b = append(b, `,"rot":`...)
	b = appendFloat(b, p.ROT)
	b = append(b, `,"nav_status":`...)
	b = jsonnum.AppendUint(b, uint64(p.NavStatus))
	b = append(b, `,"accuracy":`...)
	b = strconv.AppendBool(b, p.Accuracy)
	b = append(b, `,"raim":`...)
	b = strconv.AppendBool(b, p.RAIM)
	b = append(b, `,"second":`...)
	b = jsonnum.AppendUint(b, uint64(p.Second))
	b = appendFloatOmit(b, `,"altitude":`, p.Altitude)
	b = appendUintOmit(b, `,"fix_quality":`, uint64(p.FixQuality))
	b = appendUintOmit(b, `,"satellites":`, uint64(p.Satellites))
	b = appendFloatOmit(b, `,"hdop":`, p.HDOP)
	return append(b, '}')
}

func (s *Static) appendJSON(b []byte) []byte {
	b = append(b, '{')
	n := len(b)
	b = appendStringField(b, n, `"part":`, s.Part)
	b = appendUintField(b, n, `"imo":`, uint64(s.IMO))
	b = appendStringField(b, n, `"callsign":`, s.CallSign)
	b = appendStringField(b, n, `"name":`, s.Name)
	b = appendUintField(b, n, `"ship_type":`, uint64(s.ShipType))
	b = appendUintField(b, n, `"to_bow":`, uint64(s.ToBow))
	b = appendUintField(b, n, `"to_stern":`, uint64(s.ToStern))
	b = appendUintField(b, n, `"to_port":`, uint64(s.ToPort))
	b = appendUintField(b, n, `"to_starboard":`, uint64(s.ToStarboard))
	b = appendUintField(b, n, `"epfd":`, uint64(s.EPFD))
	b = appendStringField(b, n, `"eta":`, s.ETA)
	if s.Draught.Valid() {
		b = appendKey(b, n, `"draught":`)
		b = appendFloat(b, s.Draught)
	}
	b = appendStringField(b, n, `"destination":`, s.Destination)
	b = appendStringField(b, n, `"vendor_id":`, s.VendorID)
	b = appendUintField(b, n, `"mothership_mmsi":`, uint64(s.MothershipMMSI))
	if s.Virtual {
		b = appendKey(b, n, `"virtual":`)
		b = append(b, "true"...)
	}
	if s.OffPosition {
		b = appendKey(b, n, `"off_position":`)
		b = append(b, "true"...)
	}
	if s.Point != (orb.Point{}) {
		b = appendKey(b, n, `"point":`)
		b = appendPoint(b, s.Point)
	}
	return append(b, '}')
}

func (o *Observation) appendJSON(b []byte) []byte {
	b = append(b, `{"dac":`...)
	b = jsonnum.AppendUint(b, uint64(o.DAC))
	b = append(b, `,"fi":`...)
	b = jsonnum.AppendUint(b, uint64(o.FI))
	b = append(b, `,"point":`...)
	b = appendPoint(b, o.Point)
	if !o.Time.IsZero() {
		b = append(b, `,"time":`...)
		b = appendJSONTime(b, o.Time)
	}
	for _, f := range [...]struct {
		key string
		v   Float
		u   *uint8
	}{
		{`,"wind_speed":`, o.WindSpeed, nil},
		{`,"wind_gust":`, o.WindGust, nil},
		{`,"wind_direction":`, o.WindDirection, nil},
		{`,"gust_direction":`, o.GustDirection, nil},
		{`,"air_temp":`, o.AirTemp, nil},
		{`,"humidity":`, o.Humidity, nil},
		{`,"dew_point":`, o.DewPoint, nil},
		{`,"pressure":`, o.Pressure, nil},
		{`,"pressure_trend":`, 0, &o.PressureTrend},
		{`,"visibility":`, o.Visibility, nil},
		{`,"water_level":`, o.WaterLevel, nil},
		{`,"water_level_trend":`, 0, &o.WaterLevelTrend},
		{`,"current_speed":`, o.CurrentSpeed, nil},
		{`,"current_direction":`, o.CurrentDirection, nil},
		{`,"current2_speed":`, o.Current2Speed, nil},
		{`,"current2_direction":`, o.Current2Direction, nil},
		{`,"current2_depth":`, o.Current2Depth, nil},
		{`,"current3_speed":`, o.Current3Speed, nil},
		{`,"current3_direction":`, o.Current3Direction, nil},
		{`,"current3_depth":`, o.Current3Depth, nil},
		{`,"wave_height":`, o.WaveHeight, nil},
		{`,"wave_period":`, o.WavePeriod, nil},
		{`,"wave_direction":`, o.WaveDirection, nil},
		{`,"swell_height":`, o.SwellHeight, nil},
		{`,"swell_period":`, o.SwellPeriod, nil},
		{`,"swell_direction":`, o.SwellDirection, nil},
		{`,"sea_state":`, 0, &o.SeaState},
		{`,"water_temp":`, o.WaterTemp, nil},
		{`,"precipitation":`, 0, &o.Precipitation},
		{`,"salinity":`, o.Salinity, nil},
		{`,"ice":`, 0, &o.Ice},
	} {
		b = append(b, f.key...)
		if f.u != nil {
			b = jsonnum.AppendUint(b, uint64(*f.u))
		} else {
			b = appendFloat(b, f.v)
		}
	}
	return append(b, '}')
}

func (t *Telemetry) appendJSON(b []byte) []byte {
	b = append(b, `{"sentence":`...)
	b = appendJSONString(b, t.Sentence, true)
	b = append(b, `,"readings":`...)
	if t.Readings == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range t.Readings {
			r := &t.Readings[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"quantity":`...)
			b = appendJSONString(b, r.Quantity, true)
			b = append(b, `,"value":`...)
			b = appendFloat(b, r.Value)
			b = append(b, `,"unit":`...)
			b = appendJSONString(b, r.Unit, true)
			if r.Sensor != "" {
				b = append(b, `,"sensor":`...)
				b = appendJSONString(b, r.Sensor, true)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendKey appends key (`"name":`), preceded by a comma unless it is the
// first field of the object opened at n.
func appendKey(b []byte, n int, key string) []byte {
	if len(b) > n {
		b = append(b, ',')
	}
	return append(b, key...)
}

// appendStringField appends an omitempty string field (key is `"name":`).
func appendStringField(b []byte, n int, key, v string) []byte {
	if v == "" {
		return b
	}
	b = appendKey(b, n, key)
	return appendJSONString(b, v, true)
}

// appendUintField appends an omitempty integer field (key is `"name":`).
func appendUintField(b []byte, n int, key string, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = appendKey(b, n, key)
	return jsonnum.AppendUint(b, v)
}

// appendUintOmit appends an omitempty integer field after other fields
// (key is `,"name":`).
func appendUintOmit(b []byte, key string, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = append(b, key...)
	return jsonnum.AppendUint(b, v)
}

// appendFloatOmit appends an omitzero Float field (omitted when NaN) after
// other fields (key is `,"name":`).
func appendFloatOmit(b []byte, key string, v Float) []byte {
	if !v.Valid() {
		return b
	}
	b = append(b, key...)
	return appendFloat(b, v)
}

// appendJSONTime appends t as encoding/json does (RFC 3339 with
// nanoseconds, quoted).
func appendJSONTime(b []byte, t time.Time) []byte {
	if t.Location() != time.UTC {
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
	// Fast path for UTC, the times of events: the same bytes as
	// AppendFormat(RFC3339Nano), written in place, through timeMemo.
	unix, ns := t.Unix(), uint64(t.Nanosecond())
	l := len(b)
	b = jsonnum.Extend(b, timeMax) // room for the longest; cut to size below
	o := (*[timeMax]byte)(b[l:])
	slot := &timeMemo[uint64(unix)%uint64(len(timeMemo))]
	q := slot.seq.Load()
	if q&1 == 0 && slot.sec.Load() == unix {
		w0, w1, w2, w3 := slot.w[0].Load(), slot.w[1].Load(), slot.w[2].Load(), slot.w[3].Load()
		key := slot.key.Load()
		if slot.seq.Load() == q { // a consistent snapshot
			binary.LittleEndian.PutUint64(o[0:], w0)
			binary.LittleEndian.PutUint64(o[8:], w1)
			binary.LittleEndian.PutUint64(o[16:], w2)
			if key>>8 == ns { // the same time again
				binary.LittleEndian.PutUint64(o[24:], w3)
				return b[:l+int(key&0xff)]
			}
			// The same second: keep `"YYYY-MM-DDTHH:MM:SS`, write the fraction.
			n := putTimeFraction(o, ns)
			slot.store(q, unix, ns, n, o)
			return b[:l+n]
		}
	}
	days := unix / 86400
	rem := unix - days*86400
	if rem < 0 {
		rem += 86400
		days--
	}
	year, month, day := civilDate(days)
	if year < 0 || year > 9999 {
		b = b[:l]
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
	hour, min, sec := uint64(rem/3600), uint64(rem%3600/60), uint64(rem%60)
	y := uint64(year)
	yh, yl, mo, dd := jsonnum.Pairs[y/100%100], jsonnum.Pairs[y%100], jsonnum.Pairs[month%100], jsonnum.Pairs[day%100]
	hh, mi, ss := jsonnum.Pairs[hour%100], jsonnum.Pairs[min%100], jsonnum.Pairs[sec%100]
	o[0], o[1], o[2], o[3], o[4], o[5] = '"', yh[0], yh[1], yl[0], yl[1], '-'
	o[6], o[7], o[8], o[9], o[10], o[11] = mo[0], mo[1], '-', dd[0], dd[1], 'T'
	o[12], o[13], o[14], o[15], o[16], o[17] = hh[0], hh[1], ':', mi[0], mi[1], ':'
	o[18], o[19] = ss[0], ss[1]
	n := putTimeFraction(o, ns)
	slot.store(q, unix, ns, n, o)
	return b[:l+n]
}

// timeMax is the length of the longest time appendJSONTime writes through
// timeMemo: `"YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"`.
const timeMax = 32

// putTimeFraction writes the fraction of a second ns (trailing zeros
// trimmed, none when 0) and `Z"` after the 20 bytes `"YYYY-MM-DDTHH:MM:SS`
// of o, and returns the length of the whole.
func putTimeFraction(o *[timeMax]byte, ns uint64) int {
	if ns == 0 {
		o[20], o[21] = 'Z', '"'
		return 22
	}
	f := 9 // fraction digits, trailing zeros trimmed
	switch {
	case ns%1e6 == 0: // milliseconds, as tag blocks and $PGHP headers give
		ms := ns / 1e6
		q := ms / 10
		p := jsonnum.Pairs[q%100]
		o[20], o[21], o[22], o[23] = '.', p[0], p[1], byte('0'+ms-q*10)
		n := 24
		switch {
		case ms%100 == 0:
			n = 22
		case ms%10 == 0:
			n = 23
		}
		o[n], o[n+1] = 'Z', '"'
		return n + 2
	case ns%1e3 == 0:
		ns /= 1e3
		f = 6
	}
	for ns%10 == 0 {
		ns /= 10
		f--
	}
	o[20] = '.'
	jsonnum.PutDigits(o[21:21+f], ns)
	o[21+f], o[22+f] = 'Z', '"'
	return 23 + f
}

// timeMemo remembers the times appendJSONTime wrote last, one per slot,
// the slot chosen by the UNIX second: events come in batches received in
// the same second (often at the same instant), and their tag times
// (receivers stamp the second or millisecond) repeat too. A hit copies
// the 32 bytes of the last time, or the 20 bytes up to the second when
// only the fraction differs. Each slot is a sequence lock of atomic words
// (seq odd while a writer fills it; a reader that sees seq change retries
// nothing and formats the time itself), correct under concurrent use.
var timeMemo [16]timeSlot

type timeSlot struct {
	seq atomic.Uint64 // even: stable; odd: being written
	sec atomic.Int64  // the UNIX second of w
	key atomic.Uint64 // nanoseconds<<8 | length of w
	w   [4]atomic.Uint64
}

// store makes the time of o (n bytes, second unix, fraction ns) the
// slot's, if nobody wrote the slot since seq q was read.
func (s *timeSlot) store(q uint64, unix int64, ns uint64, n int, o *[timeMax]byte) {
	if q&1 != 0 || !s.seq.CompareAndSwap(q, q+1) {
		return
	}
	s.sec.Store(unix)
	s.key.Store(ns<<8 | uint64(n))
	s.w[0].Store(binary.LittleEndian.Uint64(o[0:]))
	s.w[1].Store(binary.LittleEndian.Uint64(o[8:]))
	s.w[2].Store(binary.LittleEndian.Uint64(o[16:]))
	s.w[3].Store(binary.LittleEndian.Uint64(o[24:]))
	s.seq.Store(q + 2)
}

// dateMemo remembers the calendar dates civilDate computed, in 8 slots
// chosen by the low bits of the day number: the day number plus 1<<31 in
// the high 32 bits (0: none yet), year<<9 | month<<5 | day in the low ones.
// Events come in time order (a reception time, maybe a tag block time of
// another day), so the split of days into a date is done about once a day;
// each slot is one atomic word, correct under concurrent use.
var dateMemo [8]atomic.Uint64

// civilDate returns the UTC calendar date of the day number days (days
// since 1970-01-01), through dateMemo.
func civilDate(days int64) (year int, month, day uint64) {
	if days < -1<<30 || days >= 1<<30 {
		return civil(days)
	}
	key := uint64(days+1<<31) << 32
	slot := &dateMemo[days&7]
	if memo := slot.Load(); memo&^(1<<32-1) == key {
		return int(memo >> 9 & (1<<23 - 1)), memo >> 5 & 15, memo & 31
	}
	year, month, day = civil(days)
	if year >= 0 && year <= 9999 {
		slot.Store(key | uint64(year)<<9 | month<<5 | day)
	}
	return year, month, day
}

// civil splits a day number (days since 1970-01-01) into the UTC calendar
// date (H. Hinnant's days-to-civil algorithm; cheaper than time.Time's
// Date, which also redoes the split of the clock).
func civil(days int64) (year int, month, day uint64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = uint64(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		month = uint64(mp + 3)
	} else {
		month = uint64(mp - 9)
	}
	if month <= 2 {
		y++
	}
	return int(y), month, day
}

// appendFloatFast appends v as strconv.AppendFloat(b, v, 'f', -1, 64)
// does, faster for the values of events (Float.AppendJSON uses it).
func appendFloatFast(b []byte, v float64) []byte {
	if v == 0 && !math.Signbit(v) {
		return append(b, '0')
	}
	// Tenths (AIS speeds and courses) and integers (headings): v*10 is a
	// whole number n, and v is the double nearest n/10 (as parsing "n/10"
	// gives), so n/10 with at most 8 significant digits is the shortest.
	// Anything else fails the first test, without a division.
	if x := math.Abs(v) * 10; x < 1e8 {
		if n := uint64(x); float64(n) == x && float64(n)/10 == math.Abs(v) {
			if math.Signbit(v) { // -0 too, as strconv writes it
				b = append(b, '-')
			}
			b = jsonnum.AppendUint(b, n/10)
			if d := n % 10; d != 0 {
				b = append(b, '.', byte('0'+d))
			}
			return b
		}
	}
	if n, ok := decimal6(v); ok {
		return appendDecimal6(b, n)
	}
	if b2, ok := shortestFloat(b, v); ok {
		return b2
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// appendFloat appends f as Float.AppendJSON does (shortest 'f' form, null
// for NaN); both take the decimal6 fast path for values of at most six
// decimals.
func appendFloat(b []byte, f Float) []byte { return f.AppendJSON(b) }

// decimal6 returns n with v == n/1e6 exactly (as parsing the decimal would
// give), when |v| < 1e9 and v is not zero. Such a decimal has at most 15
// significant digits, so with its trailing zeros trimmed it is the
// shortest decimal that parses back to v: what strconv writes.
func decimal6(v float64) (int64, bool) {
	if !(v > -1e9 && v < 1e9) || v == 0 {
		return 0, false
	}
	// Round half away from zero; any error in rounding only fails the
	// exactness check below (the caller then takes the exact path).
	x := v * 1e6
	if x < 0 {
		x -= 0.5
	} else {
		x += 0.5
	}
	n := int64(x)
	return n, float64(n)/1e6 == v
}

func appendDecimal6(b []byte, n int64) []byte {
	neg := n < 0
	if neg {
		n = -n
	}
	u := uint64(n)
	return jsonnum.AppendFrac(b, neg, u/1e6, u%1e6, 6)
}

// appendPoint appends an orb.Point as encoding/json does: [lon,lat].
func appendPoint(b []byte, p orb.Point) []byte {
	b = append(b, '[')
	b = appendCoordinate(b, p[0])
	b = append(b, ',')
	b = appendCoordinate(b, p[1])
	return append(b, ']')
}

// appendCoordinate appends f as appendJSONFloat does, trying the exact
// shortest-digits path first: most coordinates need 16 or 17 digits, and
// the cheaper checks for short decimals would only fail on them.
func appendCoordinate(b []byte, f float64) []byte {
	if b2, ok := shortestFloat(b, f); ok {
		return b2
	}
	return appendJSONFloat(b, f)
}

// appendJSONFloat appends f as encoding/json encodes a float64 (null for
// NaN and infinities, which encoding/json refuses).
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1e21 {
		return appendFloatFast(b, f) // encoding/json uses 'f' in this range
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// jsonSafe marks the ASCII bytes that encoding/json writes as they are
// (with HTML escaping: not <, > and &).
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// safeByte reports whether encoding/json writes c as it is.
func safeByte(c byte) bool { return c < utf8.RuneSelf && jsonSafe[c] }

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted and escaped exactly as encoding/json
// does (with escapeHTML).
func appendJSONString(b []byte, s string, escapeHTML bool) []byte {
	if len(s) <= 8 {
		// Short (talkers, channels, stations, classes): checked and copied
		// in one loop, without a call to copy.
		l := len(b)
		b = jsonnum.Extend(b, len(s)+2)
		o := b[l:]
		o[0] = '"'
		i := 0
		for ; i < len(s); i++ {
			c := s[i]
			if c >= utf8.RuneSelf || !jsonSafe[c] {
				break
			}
			o[i+1] = c
		}
		if i == len(s) {
			o[len(o)-1] = '"'
			return b
		}
		b = b[:l] // something to escape: the general path
	}
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf && jsonSafe[s[i]] {
		i++
	}
	if i == len(s) { // nothing to escape: the common case
		l := len(b)
		b = jsonnum.Extend(b, len(s)+2)
		o := b[l:]
		o[0] = '"'
		copy(o[1:], s)
		o[len(o)-1] = '"'
		return b
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] || (!escapeHTML && (c == '<' || c == '>' || c == '&')) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// shortestFloat appends the shortest decimal ('f' form) that parses back to
// v, the same bytes as strconv.AppendFloat(b, v, 'f', -1, 64), for
// 1e-3 <= |v| < 1e9 and not more than 17 significant digits: the range of
// coordinates, speeds and courses. It reports false (and appends nothing)
// outside that range or when it cannot be sure, and the caller falls back
// to strconv. The digits are found with exact 128-bit integer arithmetic
// from one product P = m * 10^k (v = m * 2^-s): the nearest 17-digit
// decimal D17 = round(P / 2^s), and from it the nearest 15- and 16-digit
// ones, each checked against v's rounding interval; the first that lies in
// it is the shortest (17 digits always do).
func shortestFloat(b []byte, v float64) ([]byte, bool) {
	neg := v < 0
	if neg {
		v = -v
	}
	if !(v >= 1e-3 && v < 1e9) {
		return b, false
	}
	bits := math.Float64bits(v)
	m := bits&(1<<52-1) | 1<<52
	e := int(bits>>52&0x7ff) - 1075 // v = m * 2^e, -62 <= e <= -23
	if e > -23 || e < -62 || m == 1<<52 {
		return b, false // (powers of two have a lopsided rounding interval: rare, left to strconv)
	}
	shift := uint(-e)
	// e10: the decimal exponent of v's leading digit (v in [10^e10, 10^(e10+1))).
	x2 := int(bits>>52&0x7ff) - 1023 // floor(log2 v), -10..29
	e10 := (x2 * 1233) >> 12         // floor(log10 2^x2)
	if e10+4 < len(pow10) && v >= pow10[e10+4] {
		e10++
	}
	for try := 0; try < 2; try++ {
		k := 16 - e10 // D17 = round(v * 10^k), 7 <= k <= 19
		if k < 0 || k > 19 {
			return b, false
		}
		p10 := jsonnum.Pow10[k]
		phi, plo := mul64(m, p10) // P = m * 10^k < 2^53 * 10^19 < 2^117
		if phi>>shift != 0 {
			return b, false
		}
		x := phi<<(64-shift) | plo>>shift // floor(P / 2^s)
		rem := plo & (1<<shift - 1)
		half := uint64(1) << (shift - 1)
		d17 := x
		switch {
		case rem > half:
			d17++
		case rem == half:
			return b, false // an exact tie: left to strconv
		}
		if d17 >= jsonnum.Pow10[17] {
			e10++
			continue
		}
		if d17 < jsonnum.Pow10[16] {
			e10--
			continue
		}
		// The nearest 15- and 16-digit decimals, round(P / 2^s / 100) and
		// round(P / 2^s / 10), are floor((x + 50) / 100) and
		// floor((x + 5) / 10); exact ties (x ends in 50 or 5 and rem is 0)
		// are left to strconv. A candidate d*100 or d*10 round-trips iff it
		// is within half a unit of v at the scale of D17.
		// (Written out for the two lengths: with the unit a constant, the
		// divisions are multiplications; a 64-bit DIV costs 40-90 cycles.)
		if rem == 0 && x%100 == 50 {
			return b, false
		}
		d15 := (x + 50) / 100
		ok, sure := roundTrips(d15*100, shift, phi, plo, p10)
		if !sure || ok && d15 >= jsonnum.Pow10[15] {
			return b, false
		}
		if ok {
			return appendDigits(b, neg, d15, 15, e10), true
		}
		if rem == 0 && x%10 == 5 {
			return b, false
		}
		d16 := (x + 5) / 10
		ok, sure = roundTrips(d16*10, shift, phi, plo, p10)
		if !sure || ok && d16 >= jsonnum.Pow10[16] {
			return b, false
		}
		if ok {
			return appendDigits(b, neg, d16, 16, e10), true
		}
		// D17 always round-trips, strictly inside the interval: it is
		// within half a unit u = 10^(e10-16) of v, and u <= v*1e-16 <
		// 2^(e+53)*1e-16 < 0.91*2^e, so u/2 is less than half an ulp
		// (2^(e-1)); no check needed.
		return appendDigits(b, neg, d17, 17, e10), true
	}
	return b, false
}

var pow10 = [...]float64{1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

func mul64(a, b uint64) (hi, lo uint64) { return mathbits.Mul64(a, b) }

// roundShift returns (hi,lo) / 2^s rounded to nearest, s in [23, 62], and
// whether it was an exact tie (or too large: the caller falls back).
func roundShift(hi, lo uint64, s uint) (uint64, bool) {
	// s is in [23, 62].
	if hi>>s != 0 {
		return 0, true // too large: let strconv do it
	}
	q := hi<<(64-s) | lo>>s
	rem := lo & (1<<s - 1)
	half := uint64(1) << (s - 1)
	switch {
	case rem > half:
		q++
	case rem == half:
		return q, true
	}
	return q, false
}

// roundTrips reports whether d * 10^-k parses back to v = m * 2^-s, with
// P = m * 10^k = (phi, plo): 2*|d*2^s - P| must be below 10^k (half a unit
// in the last place of v, scaled). Exactly half is a tie that parsing breaks
// to even: not sure, left to strconv.
func roundTrips(d uint64, s uint, phi, plo, p10 uint64) (ok, sure bool) {
	ahi, alo := d>>(64-s), d<<s // A = d * 2^s, s < 64
	var dhi, dlo, borrow uint64
	if ahi < phi || ahi == phi && alo < plo {
		dlo, borrow = mathbits.Sub64(plo, alo, 0)
		dhi, _ = mathbits.Sub64(phi, ahi, borrow)
	} else {
		dlo, borrow = mathbits.Sub64(alo, plo, 0)
		dhi, _ = mathbits.Sub64(ahi, phi, borrow)
	}
	if dhi != 0 {
		return false, true
	}
	half := p10 / 2 // p10 = 10^k, k >= 1: even
	if dlo == half {
		return false, false
	}
	return dlo < half, true
}

// appendDigits writes the L-digit integer d scaled so that its leading
// digit has decimal exponent e10, in 'f' form without trailing zeros.
func appendDigits(b []byte, neg bool, d uint64, L, e10 int) []byte {
	n := L // significant digits, trailing zeros trimmed
	for n > 1 && d%10 == 0 {
		d /= 10
		n--
	}
	if e10 < 0 { // 0.000ddd
		return jsonnum.AppendFixed(b, neg, d, 1, n-e10-1)
	}
	intDigits := e10 + 1
	if n <= intDigits { // ddd000
		return jsonnum.AppendFixed(b, neg, d*jsonnum.Pow10[intDigits-n], intDigits, 0)
	}
	return jsonnum.AppendFixed(b, neg, d, intDigits, n-intDigits)
}
