package ais

import (
	"math"
	"time"

	"github.com/keelson/keelson"
	"github.com/paulmach/orb"
)

func fill(e *keelson.Event, m Message) {
	var pos *keelson.Position
	var st *keelson.Static
	var obs *keelson.Observation
	newPos := func() *keelson.Position {
		p := e.Position
		if p == nil {
			p = new(keelson.Position)
		}
		*p = keelson.Position{SOG: keelson.NA, COG: keelson.NA, Heading: keelson.NA, ROT: keelson.NA, Altitude: keelson.NA, HDOP: keelson.NA, NavStatus: 15, Second: 60}
		return p
	}
	newStatic := func() *keelson.Static {
		s := e.Static
		if s == nil {
			s = new(keelson.Static)
		}
		*s = keelson.Static{Draught: keelson.NA}
		return s
	}
	switch m := m.(type) {
	case *PositionReport:
		pos = newPos()
		pos.Class = keelson.ClassA
		e.Flags |= setPoint(&pos.Point, m.Lon(), m.Lat())
		pos.SOG, pos.COG, pos.Heading, pos.ROT = m.SOG(), m.COG(), m.Heading(), m.ROT()
		pos.NavStatus, pos.Accuracy, pos.RAIM, pos.Second = m.Status, m.Accuracy, m.RAIM, m.Second
	case *BaseStationReport:
		pos = newPos()
		pos.Class = keelson.ClassBase
		e.Flags |= setPoint(&pos.Point, m.Lon(), m.Lat())
		pos.Accuracy, pos.RAIM, pos.Second = m.Accuracy, m.RAIM, m.Second
	case *SARPosition:
		pos = newPos()
		pos.Class = keelson.ClassSAR
		e.Flags |= setPoint(&pos.Point, m.Lon(), m.Lat())
		pos.SOG, pos.COG, pos.Altitude = m.SOG(), m.COG(), m.Altitude()
		pos.Accuracy, pos.RAIM, pos.Second = m.Accuracy, m.RAIM, m.Second
	case *ClassBPosition:
		pos = newPos()
		pos.Class = keelson.ClassB
		e.Flags |= setPoint(&pos.Point, m.Lon(), m.Lat())
		pos.SOG, pos.COG, pos.Heading = m.SOG(), m.COG(), m.Heading()
		pos.Accuracy, pos.RAIM, pos.Second = m.Accuracy, m.RAIM, m.Second
	case *ClassBExtended:
		pos = newPos()
		pos.Class = keelson.ClassB
		e.Flags |= setPoint(&pos.Point, m.Lon(), m.Lat())
		pos.SOG, pos.COG, pos.Heading = m.SOG(), m.COG(), m.Heading()
		pos.Accuracy, pos.RAIM, pos.Second = m.Accuracy, m.RAIM, m.Second
		st = newStatic()
		st.Name, st.ShipType, st.EPFD = m.ShipName, m.ShipType, m.EPFD
		st.ToBow, st.ToStern, st.ToPort, st.ToStarboard = m.ToBow, m.ToStern, m.ToPort, m.ToStarboard
	case *AidToNavigation:
		pos = newPos()
		pos.Class = keelson.ClassAtoN
		e.Flags |= setPoint(&pos.Point, m.Lon(), m.Lat())
		pos.Accuracy, pos.RAIM, pos.Second = m.Accuracy, m.RAIM, m.Second
		st = newStatic()
		st.Name, st.ShipType, st.EPFD = m.Name, m.AidType, m.EPFD
		st.ToBow, st.ToStern, st.ToPort, st.ToStarboard = m.ToBow, m.ToStern, m.ToPort, m.ToStarboard
		st.Virtual, st.OffPosition, st.Point = m.Virtual, m.OffPosition, pos.Point
	case *LongRangePosition:
		pos = newPos()
		pos.Class = keelson.ClassB
		e.Flags |= setPoint(&pos.Point, m.Lon(), m.Lat())
		pos.SOG, pos.COG = m.SOG(), m.COG()
		pos.NavStatus, pos.Accuracy, pos.RAIM = m.Status, m.Accuracy, m.RAIM
	case *StaticVoyageData:
		st = newStatic()
		st.IMO, st.CallSign, st.Name, st.ShipType, st.EPFD = m.IMO, m.CallSign, m.ShipName, m.ShipType, m.EPFD
		st.ToBow, st.ToStern, st.ToPort, st.ToStarboard = m.ToBow, m.ToStern, m.ToPort, m.ToStarboard
		st.Draught, st.Destination = m.Draught(), m.Destination
		st.ETA = eta(m.Month, m.Day, m.Hour, m.Minute)
	case *StaticDataReport:
		st = newStatic()
		if m.PartNo == 0 {
			st.Part, st.Name = "A", m.ShipName
		} else {
			st.Part, st.ShipType, st.VendorID, st.CallSign = "B", m.ShipType, m.VendorID, m.CallSign
			st.ToBow, st.ToStern, st.ToPort, st.ToStarboard = m.ToBow, m.ToStern, m.ToPort, m.ToStarboard
			st.MothershipMMSI = m.Mothership
		}
	case *BinaryBroadcast:
		obs = observation(e, m.App, m.DAC, m.FI)
	case *BinaryAddressed:
		obs = observation(e, m.App, m.DAC, m.FI)
	}
	e.Position, e.Static, e.Observation = pos, st, obs
	switch {
	case pos != nil:
		e.Kind = keelson.KindPosition
	case st != nil:
		e.Kind = keelson.KindStatic
	case obs != nil:
		e.Kind = keelson.KindObservation
	}
}

// setPoint sets p from lon and lat and returns the quality flags: a
// position that is not available stays (0, 0) with FlagPositionNA.
func setPoint(p *orb.Point, lon, lat keelson.Float) keelson.Flags {
	if !lon.Valid() || !lat.Valid() {
		*p = orb.Point{}
		return keelson.FlagPositionNA
	}
	*p = orb.Point{float64(lon), float64(lat)}
	if math.Abs(float64(lat)) > 90 || math.Abs(float64(lon)) > 180 {
		return keelson.FlagPositionInvalid
	}
	return 0
}

// eta formats a type 5 ETA as broadcast, "MM-DDTHH:MMZ", or "" when its
// date is not available (month or day 0).
func eta(month, day, hour, minute uint8) string {
	if month == 0 || day == 0 {
		return ""
	}
	var b [12]byte
	s := appendUint2(b[:0], uint64(month))
	s = append(s, '-')
	s = appendUint2(s, uint64(day))
	s = append(s, 'T')
	s = appendUint2(s, uint64(hour))
	s = append(s, ':')
	s = appendUint2(s, uint64(minute))
	s = append(s, 'Z')
	return string(s)
}

// observation maps the met/hydro application messages; nil for the others.
func observation(e *keelson.Event, app Application, dac uint16, fi uint8) *keelson.Observation {
	var o *keelson.Observation
	switch a := app.(type) {
	case *MetHydro11:
		if a.Truncated {
			return nil
		}
		o = newObservation(e, dac, fi)
		e.Flags |= setPoint(&o.Point, a.Lon(), a.Lat())
		o.Time = obsTime(e.Received, a.Day, a.Hour, a.Minute)
		o.WindSpeed, o.WindGust, o.WindDirection, o.GustDirection = a.WindSpeed(), a.WindGust(), a.WindDir(), a.GustDir()
		o.AirTemp, o.Humidity, o.DewPoint, o.Pressure = a.AirTemp(), a.Humidity(), a.DewPoint(), a.Pressure()
		o.PressureTrend, o.Visibility, o.WaterLevel, o.WaterLevelTrend = a.PressureTrend, a.Visibility(), a.WaterLevel(), a.LevelTrend
		o.CurrentSpeed, o.CurrentDirection = a.CurrentSpeed(), a.CurrentDir()
		o.Current2Speed, o.Current2Direction, o.Current2Depth = a.Current2Speed(), a.Current2Dir(), a.Current2Depth()
		o.Current3Speed, o.Current3Direction, o.Current3Depth = a.Current3Speed(), a.Current3Dir(), a.Current3Depth()
		o.WaveHeight, o.WavePeriod, o.WaveDirection = a.WaveHeight(), a.WavePeriod(), a.WaveDir()
		o.SwellHeight, o.SwellPeriod, o.SwellDirection = a.SwellHeight(), a.SwellPeriod(), a.SwellDir()
		o.SeaState, o.WaterTemp, o.Precipitation, o.Salinity, o.Ice = a.SeaState, a.WaterTemp(), a.Precipitation, a.Salinity(), a.Ice
	case *MetHydro31:
		if a.Truncated {
			return nil
		}
		o = newObservation(e, dac, fi)
		e.Flags |= setPoint(&o.Point, a.Lon(), a.Lat())
		o.Time = obsTime(e.Received, a.Day, a.Hour, a.Minute)
		o.WindSpeed, o.WindGust, o.WindDirection, o.GustDirection = a.WindSpeed(), a.WindGust(), a.WindDir(), a.GustDir()
		o.AirTemp, o.Humidity, o.DewPoint, o.Pressure = a.AirTemp(), a.Humidity(), a.DewPoint(), a.Pressure()
		o.PressureTrend, o.Visibility, o.WaterLevel, o.WaterLevelTrend = a.PressureTrend, a.Visibility(), a.WaterLevel(), a.LevelTrend
		o.CurrentSpeed, o.CurrentDirection = a.CurrentSpeed(), a.CurrentDir()
		o.Current2Speed, o.Current2Direction, o.Current2Depth = a.Current2Speed(), a.Current2Dir(), a.Current2Depth()
		o.Current3Speed, o.Current3Direction, o.Current3Depth = a.Current3Speed(), a.Current3Dir(), a.Current3Depth()
		o.WaveHeight, o.WavePeriod, o.WaveDirection = a.WaveHeight(), a.WavePeriod(), a.WaveDir()
		o.SwellHeight, o.SwellPeriod, o.SwellDirection = a.SwellHeight(), a.SwellPeriod(), a.SwellDir()
		o.SeaState, o.WaterTemp, o.Precipitation, o.Salinity, o.Ice = a.SeaState, a.WaterTemp(), a.Precipitation, a.Salinity(), a.Ice
	}
	return o
}

func newObservation(e *keelson.Event, dac uint16, fi uint8) *keelson.Observation {
	o := e.Observation
	if o == nil {
		o = new(keelson.Observation)
	}
	na := keelson.NA
	*o = keelson.Observation{
		DAC: dac, FI: fi,
		WindSpeed: na, WindGust: na, WindDirection: na, GustDirection: na,
		AirTemp: na, Humidity: na, DewPoint: na, Pressure: na, PressureTrend: 3,
		Visibility: na, WaterLevel: na, WaterLevelTrend: 3,
		CurrentSpeed: na, CurrentDirection: na, Current2Speed: na, Current2Direction: na, Current2Depth: na,
		Current3Speed: na, Current3Direction: na, Current3Depth: na,
		WaveHeight: na, WavePeriod: na, WaveDirection: na, SwellHeight: na, SwellPeriod: na, SwellDirection: na,
		SeaState: 15, WaterTemp: na, Precipitation: 7, Salinity: na, Ice: 3,
	}
	return o
}

// obsTime builds the observation time from its day, hour and minute and the
// year and month of the reception time (the month before when the day is
// later than the reception's). It is zero when the time is not available
// (day 0, hour 24, minute 60) or the reception time is unknown.
func obsTime(recv time.Time, day, hour, minute uint8) time.Time {
	if recv.IsZero() || day == 0 || day > 31 || hour > 23 || minute > 59 {
		return time.Time{}
	}
	recv = recv.UTC()
	y, mo := recv.Year(), recv.Month()
	if int(day) > recv.Day() {
		mo--
	}
	t := time.Date(y, mo, int(day), int(hour), int(minute), 0, 0, time.UTC)
	if t.Day() != int(day) { // day 31 of a 30-day month
		return time.Time{}
	}
	return t
}
