package decode

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/adrianmo/go-nmea"
	"github.com/paulmach/orb"

	"github.com/keelson/keelson"
)

// ownShipTypes are the '$' sentences decoded into own-ship events. Any
// other valid sentence is skipped (counted in Stats.BySkipped).
var ownShipTypes = map[string]bool{
	"RMC": true, "GGA": true, "GLL": true, // KindPosition
	"VTG": true, "HDT": true, "HDG": true, "HDM": true, "ROT": true, "ZDA": true,
	"DPT": true, "DBT": true, "MTW": true, "MWV": true, "MWD": true, "VHW": true,
	"VLW": true, "XDR": true, "GSA": true, // KindTelemetry
}

// ownShip handles a '$' sentence through go-nmea.
func (d *Decoder) ownShip(s *Sentence, fn func(*Message)) error {
	if !ownShipTypes[string(s.Formatter)] {
		d.skip(s.Formatter)
		return nil
	}
	sen, err := d.nmea.Parse(string(s.Raw))
	if err != nil {
		return &SentenceError{Formatter: d.intern(s.Formatter), Err: fmt.Errorf("%w: %w", ErrNMEA, err)}
	}
	m := &d.msg
	*m = Message{
		NMEA:      sen,
		Formatter: d.intern(s.Formatter),
		Talker:    d.intern(s.Talker),
		TagTime:   s.Tag.Time,
		Flags:     s.Flags | keelson.FlagOwnShip,
		Sentences: 1,
	}
	if m.TagTime.IsZero() {
		m.TagTime = d.lineTime
	}
	if len(s.Tag.Station) > 0 {
		m.Station = d.intern(s.Tag.Station)
	}
	if d.cfg.KeepRaw {
		d.raw1[0] = s.Raw
		m.Raw = d.raw1[:]
	}
	d.stats.messages++
	d.stats.nmeaTypes[m.Formatter]++
	fn(m)
	return nil
}

// fnum returns field i of s as a Float, NaN when empty or absent. go-nmea
// turns empty fields into 0, which would confuse "not available" with zero.
func fnum(s nmea.BaseSentence, i int) keelson.Float {
	if i >= len(s.Fields) || s.Fields[i] == "" {
		return keelson.NA
	}
	v, err := strconv.ParseFloat(s.Fields[i], 64)
	if err != nil {
		return keelson.NA
	}
	return keelson.Float(v)
}

func field(s nmea.BaseSentence, i int) string {
	if i >= len(s.Fields) {
		return ""
	}
	return s.Fields[i]
}

// fillNMEA maps an own-ship sentence to e: RMC, GGA and GLL to a
// KindPosition event of class ownship, the rest to KindTelemetry readings
// (see docs/events.md for the quantities and units).
func fillNMEA(e *keelson.Event, sen nmea.Sentence) {
	switch v := sen.(type) {
	case nmea.RMC:
		p := ownPosition(e, v.BaseSentence, v.Latitude, v.Longitude, 2, 4)
		p.SOG = fnum(v.BaseSentence, 6)
		p.COG = fnum(v.BaseSentence, 7)
		p.Second = second(v.Time)
		if v.Validity != nmea.ValidRMC {
			e.Flags |= keelson.FlagPositionInvalid
		}
	case nmea.GGA:
		p := ownPosition(e, v.BaseSentence, v.Latitude, v.Longitude, 1, 3)
		p.Second = second(v.Time)
		if q, err := strconv.Atoi(v.FixQuality); err == nil && q >= 0 && q < 256 {
			p.FixQuality = uint8(q)
		}
		if v.NumSatellites > 0 && v.NumSatellites < 256 {
			p.Satellites = uint8(v.NumSatellites)
		}
		p.HDOP = fnum(v.BaseSentence, 7)
		p.Altitude = fnum(v.BaseSentence, 8)
		if v.FixQuality == "" || v.FixQuality == nmea.Invalid {
			e.Flags |= keelson.FlagPositionInvalid
		}
	case nmea.GLL:
		p := ownPosition(e, v.BaseSentence, v.Latitude, v.Longitude, 0, 2)
		p.Second = second(v.Time)
		if v.Validity != nmea.ValidGLL {
			e.Flags |= keelson.FlagPositionInvalid
		}
	default:
		fillTelemetry(e, sen)
	}
}

func second(t nmea.Time) uint8 {
	if !t.Valid || t.Second < 0 || t.Second > 59 {
		return 60
	}
	return uint8(t.Second)
}

func ownPosition(e *keelson.Event, b nmea.BaseSentence, lat, lon float64, latField, lonField int) *keelson.Position {
	p := &keelson.Position{
		Class:     keelson.ClassOwnShip,
		SOG:       keelson.NA,
		COG:       keelson.NA,
		Heading:   keelson.NA,
		ROT:       keelson.NA,
		NavStatus: 15,
		Second:    60,
		Altitude:  keelson.NA,
		HDOP:      keelson.NA,
	}
	e.Kind = keelson.KindPosition
	e.Position = p
	switch {
	case field(b, latField) == "" || field(b, lonField) == "":
		e.Flags |= keelson.FlagPositionNA
	case math.IsNaN(lat) || math.IsNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180:
		e.Flags |= keelson.FlagPositionInvalid
	default:
		p.Point = orb.Point{lon, lat}
	}
	return p
}

// Speed conversions to knots.
const (
	kmhToKn = 1 / 1.852
	msToKn  = 3600 / 1852.0
)

type readings struct{ r []keelson.Reading }

func (r *readings) add(q string, v keelson.Float, unit string) {
	r.r = append(r.r, keelson.Reading{Quantity: q, Value: v, Unit: unit})
}

// addIf adds the reading when its value is available.
func (r *readings) addIf(q string, v keelson.Float, unit string) {
	if v.Valid() {
		r.add(q, v, unit)
	}
}

// signed applies an E/W direction: east positive.
func signed(v keelson.Float, dir string) keelson.Float {
	if dir == "W" {
		return -v
	}
	return v
}

func fillTelemetry(e *keelson.Event, sen nmea.Sentence) {
	b := nmea.BaseSentence{}
	var r readings
	switch v := sen.(type) {
	case nmea.VTG:
		b = v.BaseSentence
		r.add("cog_true", fnum(b, 0), "deg")
		r.addIf("cog_magnetic", fnum(b, 2), "deg")
		sog := fnum(b, 4)
		if !sog.Valid() {
			sog = fnum(b, 6) * kmhToKn
		}
		r.add("sog", sog, "kn")
	case nmea.HDT:
		b = v.BaseSentence
		r.add("heading_true", fnum(b, 0), "deg")
	case nmea.HDM:
		b = v.BaseSentence
		r.add("heading_magnetic", fnum(b, 0), "deg")
	case nmea.HDG:
		b = v.BaseSentence
		r.add("heading_magnetic", fnum(b, 0), "deg")
		r.addIf("magnetic_deviation", signed(fnum(b, 1), v.DeviationDirection), "deg")
		r.addIf("magnetic_variation", signed(fnum(b, 3), v.VariationDirection), "deg")
	case nmea.ROT:
		b = v.BaseSentence
		rot := fnum(b, 0)
		if !v.Valid {
			rot = keelson.NA
		}
		r.add("rot", rot, "deg/min")
	case nmea.ZDA:
		b = v.BaseSentence
		t := keelson.NA
		if v.Time.Valid && v.Year > 0 && v.Month >= 1 && v.Month <= 12 && v.Day >= 1 && v.Day <= 31 {
			t = keelson.Float(time.Date(int(v.Year), time.Month(v.Month), int(v.Day),
				v.Time.Hour, v.Time.Minute, v.Time.Second, v.Time.Millisecond*1e6, time.UTC).UnixMilli()) / 1000
		}
		r.add("utc_time", t, "s")
		if off := fnum(b, 4); off.Valid() {
			m := fnum(b, 5)
			if !m.Valid() {
				m = 0
			}
			if off < 0 {
				m = -m
			}
			r.add("tz_offset", off*60+m, "min")
		}
	case nmea.DPT:
		b = v.BaseSentence
		r.add("depth", fnum(b, 0), "m")
		r.addIf("depth_offset", fnum(b, 1), "m")
		r.addIf("depth_range", fnum(b, 2), "m")
	case nmea.DBT:
		b = v.BaseSentence
		d := fnum(b, 2)
		if !d.Valid() {
			d = fnum(b, 0) * 0.3048
		}
		if !d.Valid() {
			d = fnum(b, 4) * 1.8288
		}
		r.add("depth", d, "m")
	case nmea.MTW:
		b = v.BaseSentence
		t := fnum(b, 0)
		if field(b, 1) == "F" {
			t = (t - 32) * 5 / 9
		}
		r.add("water_temp", t, "degC")
	case nmea.MWV:
		b = v.BaseSentence
		ref := "apparent"
		if v.Reference == nmea.TheoreticalMWV {
			ref = "true"
		}
		angle, speed := fnum(b, 0), fnum(b, 2)
		switch v.WindSpeedUnit {
		case nmea.UnitKMHMWV:
			speed *= kmhToKn
		case nmea.UnitMSMWV:
			speed *= msToKn
		case nmea.UnitSMilesHMWV:
			speed *= 1609.344 / 1852
		}
		if !v.StatusValid {
			angle, speed = keelson.NA, keelson.NA
		}
		r.add("wind_angle_"+ref, angle, "deg")
		r.add("wind_speed_"+ref, speed, "kn")
	case nmea.MWD:
		b = v.BaseSentence
		r.addIf("wind_direction_true", fnum(b, 0), "deg")
		r.addIf("wind_direction_magnetic", fnum(b, 2), "deg")
		sp := fnum(b, 4)
		if !sp.Valid() {
			sp = fnum(b, 6) * msToKn
		}
		r.add("wind_speed_true", sp, "kn")
	case nmea.VHW:
		b = v.BaseSentence
		r.addIf("heading_true", fnum(b, 0), "deg")
		r.addIf("heading_magnetic", fnum(b, 2), "deg")
		stw := fnum(b, 4)
		if !stw.Valid() {
			stw = fnum(b, 6) * kmhToKn
		}
		r.add("stw", stw, "kn")
	case nmea.VLW:
		b = v.BaseSentence
		r.addIf("log_total", fnum(b, 0), "nmi")
		r.addIf("log_trip", fnum(b, 2), "nmi")
		r.addIf("log_ground_total", fnum(b, 4), "nmi")
		r.addIf("log_ground_trip", fnum(b, 6), "nmi")
	case nmea.XDR:
		b = v.BaseSentence
		for i := 0; i+3 < len(b.Fields)+1 && i+1 < len(b.Fields); i += 4 {
			q, unit, scale := xdrQuantity(field(b, i), field(b, i+2))
			r.r = append(r.r, keelson.Reading{
				Quantity: q,
				Value:    fnum(b, i+1) * keelson.Float(scale),
				Unit:     unit,
				Sensor:   field(b, i+3),
			})
		}
	case nmea.GSA:
		b = v.BaseSentence
		if ft, err := strconv.Atoi(v.FixType); err == nil {
			r.add("fix_type", keelson.Float(ft), "")
		}
		r.add("satellites_used", keelson.Float(countNonEmpty(v.SV)), "")
		r.addIf("pdop", keelson.Float(v.PDOP), "")
		r.addIf("hdop", keelson.Float(v.HDOP), "")
		r.addIf("vdop", keelson.Float(v.VDOP), "")
	}
	e.Kind = keelson.KindTelemetry
	e.Telemetry = &keelson.Telemetry{Sentence: b.Type, Readings: r.r}
	if e.Telemetry.Readings == nil {
		e.Telemetry.Readings = []keelson.Reading{}
	}
}

func countNonEmpty(l []string) int {
	n := 0
	for _, s := range l {
		if s != "" {
			n++
		}
	}
	return n
}

// xdrQuantity maps an XDR transducer type and unit to a quantity name, a
// unit and a scale factor to that unit.
func xdrQuantity(typ, unit string) (string, string, float64) {
	switch typ {
	case "C":
		if unit == "F" {
			return "temperature", "degF", 1
		}
		return "temperature", "degC", 1
	case "A":
		return "angle", "deg", 1
	case "P":
		switch unit {
		case "B":
			return "pressure", "hPa", 1000
		case "P":
			return "pressure", "hPa", 0.01
		}
		return "pressure", strings.ToLower(unit), 1
	case "H":
		return "humidity", "%", 1
	case "D":
		return "distance", "m", 1
	case "U":
		return "voltage", "V", 1
	case "I":
		return "current", "A", 1
	case "F":
		return "frequency", "Hz", 1
	case "N":
		return "force", "N", 1
	case "T":
		return "rpm", "rpm", 1
	case "R":
		return "flow_rate", "l/s", 1
	case "V":
		return "volume", "m3", 1
	case "S":
		return "switch", "", 1
	case "G":
		return "generic", unit, 1
	}
	return "xdr_" + strings.ToLower(typ), unit, 1
}
