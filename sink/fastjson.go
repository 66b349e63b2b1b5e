package sink

import (
	"math"
	"strconv"
	"time"
	"unsafe"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/keelson/keelson"
	"github.com/paulmach/orb"
)

// fastDecode parses the event JSON that keelson.Event.AppendJSON writes,
// without reflection: the top level, the id, the source and the position
// directly; the other payloads through json v2. It returns false on
// anything it does not handle plainly (escaped strings, duplicate keys,
// numbers out of range, malformed JSON), and the caller then decodes the
// message with json v2, which either agrees or reports the error. The fuzz
// test FuzzFastDecode checks that both paths agree.
func fastDecode(ev *keelson.Event, b []byte) bool {
	s := scanner{b: b}
	ok := s.object(func(key []byte) bool {
		switch string(key) {
		case "v":
			v, ok := s.int(math.MinInt32, math.MaxInt32)
			ev.V = int(v)
			return ok
		case "id":
			str, ok := s.str()
			if !ok {
				return false
			}
			id, err := keelson.ParseEventID(str)
			ev.ID = id
			return err == nil
		case "kind":
			str, ok := s.str()
			ev.Kind = keelson.Kind(str)
			return ok
		case "received":
			return s.time(&ev.Received)
		case "tag_time":
			return s.time(&ev.TagTime)
		case "source":
			return s.object(func(k []byte) bool {
				var dst *string
				switch string(k) {
				case "collector":
					dst = &ev.Source.Collector
				case "input":
					dst = &ev.Source.Input
				case "station":
					dst = &ev.Source.Station
				case "talker":
					dst = &ev.Source.Talker
				case "channel":
					dst = &ev.Source.Channel
				default:
					return false
				}
				str, ok := s.str()
				*dst = str
				return ok
			})
		case "mmsi":
			v, ok := s.uint(math.MaxUint32)
			ev.MMSI = keelson.MMSI(v)
			return ok
		case "vessel":
			str, ok := s.str()
			ev.Vessel = str
			return ok
		case "ais_type":
			v, ok := s.uint(math.MaxUint8)
			ev.AISType = uint8(v)
			return ok
		case "flags":
			v, ok := s.uint(math.MaxUint16)
			ev.Flags = keelson.Flags(v)
			return ok
		case "position":
			if s.null() {
				return true
			}
			ev.Position = &keelson.Position{Altitude: keelson.NA, HDOP: keelson.NA, SOG: keelson.NA, COG: keelson.NA, Heading: keelson.NA, ROT: keelson.NA}
			return s.position(ev.Position)
		case "static":
			ev.Static = new(keelson.Static)
			return s.v2(ev.Static)
		case "observation":
			ev.Observation = new(keelson.Observation)
			return s.v2(ev.Observation)
		case "telemetry":
			ev.Telemetry = new(keelson.Telemetry)
			return s.v2(ev.Telemetry)
		case "ais":
			start := s.i
			if !s.skip() || !jsontext.Value(s.b[start:s.i]).IsValid() {
				return false
			}
			ev.AIS = append(keelson.RawJSON(nil), s.b[start:s.i]...)
			return true
		case "raw":
			return s.v2(&ev.Raw)
		}
		return false // unknown keys: let json v2 decide
	})
	if !ok {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) null() bool {
	if s.peek() == 'n' && len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// object walks an object, calling f after each key with the scanner at the
// value, which f must consume. Duplicate keys fail (as in json v2).
func (s *scanner) object(f func(key []byte) bool) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	var seen [24]string
	n := 0
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		key, ok := s.rawStr()
		if !ok || s.peek() != ':' {
			return false
		}
		s.i++
		for _, k := range seen[:n] {
			if k == string(key) {
				return false
			}
		}
		if n == len(seen) {
			return false
		}
		seen[n] = unsafe.String(unsafe.SliceData(key), len(key))
		n++
		if !f(key) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// rawStr returns the bytes of a string without escapes (aliasing b).
func (s *scanner) rawStr() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		if c == '"' {
			s.i = j + 1
			return s.b[start:j], true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return nil, false // escapes and non-ASCII: json v2 validates them
		}
	}
	return nil, false
}

func (s *scanner) str() (string, bool) {
	b, ok := s.rawStr()
	return string(b), ok
}

func (s *scanner) number() ([]byte, bool) {
	s.ws()
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	return s.b[start:s.i], s.i > start
}

func (s *scanner) uint(max uint64) (uint64, bool) {
	b, ok := s.number()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(unsafe.String(unsafe.SliceData(b), len(b)), 10, 64)
	return v, err == nil && v <= max && (len(b) == 1 || b[0] != '0')
}

func (s *scanner) int(min, max int64) (int64, bool) {
	b, ok := s.number()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(b), len(b)), 10, 64)
	return v, err == nil && v >= min && v <= max && b[0] != '+' && (len(b) == 1 || b[0] != '0') && !(len(b) > 1 && b[0] == '-' && b[1] == '0')
}

// float parses a number or null (NaN), as keelson.Float does.
func (s *scanner) float(f *keelson.Float) bool {
	if s.null() {
		*f = keelson.NA
		return true
	}
	b, ok := s.number()
	if !ok || b[0] == '+' || b[len(b)-1] == '.' {
		return false
	}
	// JSON's grammar after an optional minus: a digit, and no leading
	// zero ("-.5" and "-01" are ParseFloat's but not JSON's).
	d := b
	if d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || d[0] < '0' || d[0] > '9' || len(d) > 1 && d[0] == '0' && d[1] >= '0' && d[1] <= '9' {
		return false
	}
	if v, ok := exactDecimal(b); ok {
		*f = keelson.Float(v)
		return true
	}
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	*f = keelson.Float(v)
	return err == nil
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// exactDecimal parses -?digits[.digits] with at most 15 digits in all:
// the mantissa and the power of ten are exact float64s, so one division
// is correctly rounded (what ParseFloat's own fast path does). Anything
// else (exponents, longer numbers) is ParseFloat's.
func exactDecimal(b []byte) (float64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	var m int64
	digits, frac, dot := 0, 0, false
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + int64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot && i > 0 && i < len(b)-1:
			dot = true
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 {
		return 0, false
	}
	v := float64(m) / pow10[frac]
	if neg {
		v = -v
	}
	return v, true
}

func (s *scanner) bool() (bool, bool) {
	switch s.peek() {
	case 't':
		if len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "true" {
			s.i += 4
			return true, true
		}
	case 'f':
		if len(s.b)-s.i >= 5 && string(s.b[s.i:s.i+5]) == "false" {
			s.i += 5
			return false, true
		}
	}
	return false, false
}

func (s *scanner) time(t *time.Time) bool {
	b, ok := s.rawStr()
	if !ok {
		return false
	}
	if !strictRFC3339(b) {
		return false
	}
	if b[len(b)-1] == 'Z' {
		// What AppendJSON writes: UTC, without time.Parse's general
		// layout machinery (a fifth of the decoding).
		v, ok := parseUTC(b)
		*t = v
		return ok
	}
	v, err := time.Parse(time.RFC3339Nano, unsafe.String(unsafe.SliceData(b), len(b)))
	*t = v
	return err == nil
}

// parseUTC parses YYYY-MM-DDTHH:MM:SS[.frac]Z (checked by strictRFC3339),
// rejecting out-of-range fields as time.Parse does.
func parseUTC(b []byte) (time.Time, bool) {
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(b[0:4]), num(b[5:7]), num(b[8:10])
	hour, minute, sec := num(b[11:13]), num(b[14:16]), num(b[17:19])
	ns := 0
	if b[19] == '.' {
		frac := b[20 : len(b)-1]
		ns = num(frac)
		for range 9 - len(frac) {
			ns *= 10
		}
	}
	if month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, ns, time.UTC)
	if t.Day() != day { // Feb 30th and the like
		return time.Time{}, false
	}
	return t, true
}

// strictRFC3339 accepts only YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM);
// time.Parse alone is more lenient than json's time decoding.
func strictRFC3339(b []byte) bool {
	digits := func(b []byte) bool {
		for _, c := range b {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	if len(b) < 20 || !digits(b[0:4]) || b[4] != '-' || !digits(b[5:7]) || b[7] != '-' || !digits(b[8:10]) ||
		b[10] != 'T' || !digits(b[11:13]) || b[13] != ':' || !digits(b[14:16]) || b[16] != ':' || !digits(b[17:19]) {
		return false
	}
	r := b[19:]
	if r[0] == '.' {
		n := 1
		for n < len(r) && r[n] >= '0' && r[n] <= '9' {
			n++
		}
		if n == 1 || n > 10 {
			return false
		}
		r = r[n:]
	}
	switch {
	case len(r) == 1 && r[0] == 'Z':
		return true
	case len(r) == 6 && (r[0] == '+' || r[0] == '-') && digits(r[1:3]) && r[3] == ':' && digits(r[4:6]):
		return true
	}
	return false
}

func (s *scanner) position(p *keelson.Position) bool {
	return s.object(func(key []byte) bool {
		switch string(key) {
		case "point":
			if s.null() {
				p.Point = orb.Point{}
				return true
			}
			if s.peek() != '[' {
				return false
			}
			s.i++
			var lon, lat keelson.Float
			if !s.float(&lon) || s.peek() != ',' {
				return false
			}
			s.i++
			if !s.float(&lat) || s.peek() != ']' {
				return false
			}
			s.i++
			if !lon.Valid() || !lat.Valid() {
				return false // null inside an array of float64: json v2's call
			}
			p.Point = orb.Point{float64(lon), float64(lat)}
			return true
		case "class":
			str, ok := s.str()
			p.Class = keelson.Class(str)
			return ok
		case "sog":
			return s.float(&p.SOG)
		case "cog":
			return s.float(&p.COG)
		case "heading":
			return s.float(&p.Heading)
		case "rot":
			return s.float(&p.ROT)
		case "altitude":
			return s.float(&p.Altitude)
		case "hdop":
			return s.float(&p.HDOP)
		case "nav_status", "second", "fix_quality", "satellites":
			v, ok := s.uint(math.MaxUint8)
			switch string(key) {
			case "nav_status":
				p.NavStatus = uint8(v)
			case "second":
				p.Second = uint8(v)
			case "fix_quality":
				p.FixQuality = uint8(v)
			default:
				p.Satellites = uint8(v)
			}
			return ok
		case "accuracy":
			v, ok := s.bool()
			p.Accuracy = v
			return ok
		case "raim":
			v, ok := s.bool()
			p.RAIM = v
			return ok
		}
		return false
	})
}

// skip consumes any JSON value.
func (s *scanner) skip() bool {
	switch c := s.peek(); {
	case c == '{' || c == '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return true
				}
			case '"':
				if !s.skipStr() {
					return false
				}
				continue
			}
			s.i++
		}
		return false
	case c == '"':
		return s.skipStr()
	default:
		return false
	}
}

func (s *scanner) skipStr() bool {
	for j := s.i + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			j++
		case '"':
			s.i = j + 1
			return true
		}
	}
	return false
}

// v2 decodes the value at the scanner with json v2.
func (s *scanner) v2(dst any) bool {
	start := s.i
	if s.null() {
		return false
	}
	if !s.skip() {
		return false
	}
	return jsonv2.Unmarshal(s.b[start:s.i], dst, unmarshalOpts) == nil
}
