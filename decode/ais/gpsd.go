package ais

import (
	"strconv"
)

// This file holds what gpsd's `gpsdecode -j` (gpsd 3.22, Debian 12) prints
// that a field table cannot say: its legends and its composite or quirky
// fields. docs/ais.md lists the differences from Keelson's own JSON.

func legend(tbl []string, v int, invalid string) string {
	if v >= 0 && v < len(tbl) {
		return tbl[v]
	}
	return invalid
}

var navStatusLegends = []string{
	"Under way using engine",
	"At anchor",
	"Not under command",
	"Restricted manoeuverability",
	"Constrained by her draught",
	"Moored",
	"Aground",
	"Engaged in fishing",
	"Under way sailing",
	"Reserved for HSC",
	"Reserved for WIG",
	"Reserved",
	"Reserved",
	"Reserved",
	"Reserved",
	"Not defined",
}

func navStatusText(v int) string { return legend(navStatusLegends, v, "INVALID STATUS") }

var epfdLegends = []string{
	"Undefined",
	"GPS",
	"GLONASS",
	"Combined GPS/GLONASS",
	"Loran-C",
	"Chayka",
	"Integrated navigation system",
	"Surveyed",
	"Galileo",
}

func epfdText(v int) string { return legend(epfdLegends, v, "INVALID EPFD") }

var shipTypeLegends = func() []string {
	t := make([]string, 100)
	t[0] = "Not available"
	for i := 1; i < 20; i++ {
		t[i] = "Reserved for future use"
	}
	cat := func(base int, name string) {
		t[base] = name + " - all ships of this type"
		t[base+1] = name + " - Hazardous category A"
		t[base+2] = name + " - Hazardous category B"
		t[base+3] = name + " - Hazardous category C"
		t[base+4] = name + " - Hazardous category D"
		for i := 5; i < 9; i++ {
			t[base+i] = name + " - Reserved for future use"
		}
		t[base+9] = name + " - No additional information"
	}
	cat(20, "Wing in ground (WIG)")
	copy(t[30:40], []string{
		"Fishing",
		"Towing",
		"Towing: length exceeds 200m or breadth exceeds 25m",
		"Dredging or underwater ops",
		"Diving ops",
		"Military ops",
		"Sailing",
		"Pleasure Craft",
		"Reserved",
		"Reserved",
	})
	cat(40, "High speed craft (HSC)")
	copy(t[50:60], []string{
		"Pilot Vessel",
		"Search and Rescue vessel",
		"Tug",
		"Port Tender",
		"Anti-pollution equipment",
		"Law Enforcement",
		"Spare - Local Vessel",
		"Spare - Local Vessel",
		"Medical Transport",
		"Ship according to RR Resolution No. 18",
	})
	cat(60, "Passenger")
	cat(70, "Cargo")
	cat(80, "Tanker")
	cat(90, "Other Type")
	t[99] = "Other Type - no additional information"
	return t
}()

func shipTypeText(v int) string { return legend(shipTypeLegends, v, "INVALID SHIP TYPE") }

var stationTypeLegends = []string{
	"All types of mobiles",
	"Reserved for future use",
	"All types of Class B mobile stations",
	"SAR airborne mobile station",
	"Aid to Navigation station",
	"Class B shipborne mobile station",
	"Regional use and inland waterways",
	"Regional use and inland waterways",
	"Regional use and inland waterways",
	"Regional use and inland waterways",
	"Reserved for future use",
	"Reserved for future use",
	"Reserved for future use",
	"Reserved for future use",
	"Reserved for future use",
	"Reserved for future use",
}

func stationTypeText(v int) string { return legend(stationTypeLegends, v, "INVALID STATION TYPE") }

var aidTypeLegends = []string{
	"Unspecified",
	"Reference point",
	"RACON",
	"Fixed offshore structure",
	"Spare, Reserved for future use.",
	"Light, without sectors",
	"Light, with sectors",
	"Leading Light Front",
	"Leading Light Rear",
	"Beacon, Cardinal N",
	"Beacon, Cardinal E",
	"Beacon, Cardinal S",
	"Beacon, Cardinal W",
	"Beacon, Port hand",
	"Beacon, Starboard hand",
	"Beacon, Preferred Channel port hand",
	"Beacon, Preferred Channel starboard hand",
	"Beacon, Isolated danger",
	"Beacon, Safe water",
	"Beacon, Special mark",
	"Cardinal Mark N",
	"Cardinal Mark E",
	"Cardinal Mark S",
	"Cardinal Mark W",
	"Port hand Mark",
	"Starboard hand Mark",
	"Preferred Channel Port hand",
	"Preferred Channel Starboard hand",
	"Isolated danger",
	"Safe Water",
	"Special Mark",
	"Light Vessel / LANBY / Rigs",
}

func aidTypeText(v int) string { return legend(aidTypeLegends, v, "INVALID NAVAID TYPE") }

// gpsd swaps the ITU codes 1 (decreasing) and 2 (increasing).
var trendLegends = []string{"steady", "increasing", "decreasing", "N/A"}

func trendText(v int) string { return legend(trendLegends, v, "") }

var precipLegends = []string{"reserved", "rain", "thunderstorm", "freezing rain", "mixed/ice", "snow", "reserved", "N/A"}

func precipText(v int) string { return legend(precipLegends, v, "") }

var iceLegends = []string{"no", "yes", "reserved", "N/A"}

func iceText(v int) string { return legend(iceLegends, v, "") }

var raconLegends = []string{"No RACON installed", "RACON not monitored", "RACON operational", "RACON ERROR"}

func raconText(v int) string { return legend(raconLegends, v, "") }

var lightLegends = []string{"No light or no monitoring", "Light ON", "Light OFF", "Light ERROR"}

func lightText(v int) string { return legend(lightLegends, v, "") }

var hazardLegends = []string{
	"0 blue cones/lights",
	"1 blue cone/light",
	"2 blue cones/lights",
	"3 blue cones/lights",
	"4 B-Flag",
	"Unknown",
}

func hazardText(v int) string { return legend(hazardLegends, v, "INVALID HAZARD TYPE") }

var loadedLegends = []string{"N/A (default)", "Unloaded", "Loaded"}

func loadedText(v int) string { return legend(loadedLegends, v, "INVALID LOAD STATUS") }

// inlandShipTypes are the ERI ship types of Inland AIS with the ITU ship
// type gpsd also matches them by.
var inlandShipTypes = []struct {
	code, ais int
	legend    string
}{
	{8000, 99, "Vessel, type unknown"},
	{8010, 79, "Motor freighter"},
	{8020, 89, "Motor tanker"},
	{8021, 80, "Motor tanker, liquid cargo, type N"},
	{8022, 80, "Motor tanker, liquid cargo, type C"},
	{8023, 89, "Motor tanker, dry cargo as if liquid (e.g. cement)"},
	{8030, 79, "Container vessel"},
	{8040, 80, "Gas tanker"},
	{8050, 79, "Motor freighter, tug"},
	{8060, 89, "Motor tanker, tug"},
	{8070, 79, "Motor freighter with one or more ships alongside"},
	{8080, 89, "Motor freighter with tanker"},
	{8090, 79, "Motor freighter pushing one or more freighters"},
	{8100, 89, "Motor freighter pushing at least one tank-ship"},
	{8110, 79, "Tug, freighter"},
	{8120, 89, "Tug, tanker"},
	{8130, 31, "Tug freighter, coupled"},
	{8140, 31, "Tug, freighter/tanker, coupled"},
	{8150, 99, "Freightbarge"},
	{8160, 99, "Tankbarge"},
	{8161, 90, "Tankbarge, liquid cargo, type N"},
	{8162, 90, "Tankbarge, liquid cargo, type C"},
	{8163, 99, "Tankbarge, dry cargo as if liquid (e.g. cement)"},
	{8170, 99, "Freightbarge with containers"},
	{8180, 90, "Tankbarge, gas"},
	{8210, 79, "Pushtow, one cargo barge"},
	{8220, 79, "Pushtow, two cargo barges"},
	{8230, 79, "Pushtow, three cargo barges"},
	{8240, 79, "Pushtow, four cargo barges"},
	{8250, 79, "Pushtow, five cargo barges"},
	{8260, 79, "Pushtow, six cargo barges"},
	{8270, 79, "Pushtow, seven cargo barges"},
	{8280, 79, "Pushtow, eigth cargo barges"},
	{8290, 79, "Pushtow, nine or more barges"},
	{8310, 80, "Pushtow, one tank/gas barge"},
	{8320, 80, "Pushtow, two barges at least one tanker or gas barge"},
	{8330, 80, "Pushtow, three barges at least one tanker or gas barge"},
	{8340, 80, "Pushtow, four barges at least one tanker or gas barge"},
	{8350, 80, "Pushtow, five barges at least one tanker or gas barge"},
	{8360, 80, "Pushtow, six barges at least one tanker or gas barge"},
	{8370, 80, "Pushtow, seven barges at least one tanker or gas barg"},
}

func inlandShipTypeText(v int) string {
	for _, s := range inlandShipTypes {
		if s.code == v || s.ais == v {
			return s.legend
		}
	}
	return "Illegal ship type value."
}

func appendUint2(b []byte, v uint64) []byte {
	if v < 10 {
		b = append(b, '0')
	}
	return strconv.AppendUint(b, v, 10)
}

// gpsdTurn prints the rate of turn as gpsd 3.22 does: "nan", "fastleft",
// "fastright" or the unsigned square of code/4.733, rounded.
func gpsdTurn(b []byte, key string, v int64, _ any) []byte {
	b = append(b, key...)
	switch v {
	case -128:
		return append(b, `"nan"`...)
	case -127:
		return append(b, `"fastleft"`...)
	case 127:
		return append(b, `"fastright"`...)
	}
	r := float64(v) / 4.733
	return strconv.AppendFloat(b, r*r, 'f', 0, 64)
}

// gpsdSpeed prints a class A speed: "nan" for 1023, else knots with one decimal.
func gpsdSpeed(b []byte, key string, v int64, _ any) []byte {
	b = append(b, key...)
	if v == 1023 {
		return append(b, `"nan"`...)
	}
	return strconv.AppendFloat(b, float64(v)/10, 'f', 1, 64)
}

// gpsdTimestamp4 prints types 4 and 11 date and time as one timestamp.
func gpsdTimestamp4(b []byte, _ string, _ int64, mm any) []byte {
	m := mm.(*BaseStationReport)
	b = append(b, `,"timestamp":"`...)
	for d := uint16(1000); d > 1 && m.Year < d; d /= 10 {
		b = append(b, '0')
	}
	b = strconv.AppendUint(b, uint64(m.Year), 10)
	b = append(b, '-')
	b = appendUint2(b, uint64(m.Month))
	b = append(b, '-')
	b = appendUint2(b, uint64(m.Day))
	b = append(b, 'T')
	b = appendUint2(b, uint64(m.Hour))
	b = append(b, ':')
	b = appendUint2(b, uint64(m.Minute))
	b = append(b, ':')
	b = appendUint2(b, uint64(m.Second))
	return append(b, `Z"`...)
}

// gpsdETA5 prints the type 5 ETA as "MM-DDTHH:MMZ".
func gpsdETA5(b []byte, _ string, _ int64, mm any) []byte {
	m := mm.(*StaticVoyageData)
	b = append(b, `,"eta":"`...)
	b = appendUint2(b, uint64(m.Month))
	b = append(b, '-')
	b = appendUint2(b, uint64(m.Day))
	b = append(b, 'T')
	b = appendUint2(b, uint64(m.Hour))
	b = append(b, ':')
	b = appendUint2(b, uint64(m.Minute))
	return append(b, `Z"`...)
}

// gpsdRadio26 prints the type 26 radio status as gpsd does: gpsd never
// decodes it and always prints 0.
func gpsdRadio26(b []byte, key string, _ int64, _ any) []byte {
	b = append(b, key...)
	return append(b, '0')
}

type dayTimer interface{ dayTime() (uint8, uint8, uint8) }

func (m *MetHydro11) dayTime() (uint8, uint8, uint8) { return m.Day, m.Hour, m.Minute }
func (m *MetHydro31) dayTime() (uint8, uint8, uint8) { return m.Day, m.Hour, m.Minute }

// gpsdDayTime prints the observation time of FI 11 and 31 as "DDTHH:MMZ".
func gpsdDayTime(b []byte, _ string, _ int64, mm any) []byte {
	d, h, m := mm.(dayTimer).dayTime()
	b = append(b, `,"timestamp":"`...)
	b = appendUint2(b, uint64(d))
	b = append(b, 'T')
	b = appendUint2(b, uint64(h))
	b = append(b, ':')
	b = appendUint2(b, uint64(m))
	return append(b, `Z"`...)
}

// gpsdWaterLevel31 prints the FI 31 water level as gpsd does, with its
// unsigned arithmetic.
func gpsdWaterLevel31(b []byte, key string, v int64, _ any) []byte {
	b = append(b, key...)
	return strconv.AppendFloat(b, float64(uint32(v)-1000)/100, 'f', 1, 64)
}

// gpsdAna prints a GLA analogue value: volts with two decimals, or 0.
func gpsdAna(b []byte, key string, v int64, _ any) []byte {
	b = append(b, key...)
	if v == 0 {
		return append(b, '0')
	}
	return strconv.AppendFloat(b, float64(v)*0.05, 'f', 2, 64)
}

// gpsd24 prints a type 24 message the way gpsd does: nothing for part A
// (gpsd keeps its name) and part B merged with the name of a matching
// part A, or nothing when no part A matched.
func gpsd24(b []byte, m *StaticDataReport) []byte {
	b = append(b, `,"shipname":`...)
	b = appendJSONString(b, m.gpsdName)
	b = append(b, `,"shiptype":`...)
	b = strconv.AppendUint(b, uint64(m.ShipType), 10)
	b = append(b, `,"shiptype_text":`...)
	b = appendJSONString(b, shipTypeText(int(m.ShipType)))
	b = append(b, `,"vendorid":`...)
	b = appendJSONString(b, m.vendorID7)
	b = append(b, `,"model":`...)
	b = strconv.AppendUint(b, uint64(m.Model), 10)
	b = append(b, `,"serial":`...)
	b = strconv.AppendUint(b, uint64(m.Serial), 10)
	b = append(b, `,"callsign":`...)
	b = appendJSONString(b, m.CallSign)
	if auxiliary(m.Source) {
		b = append(b, `,"mothership_mmsi":`...)
		return strconv.AppendUint(b, uint64(m.Mothership), 10)
	}
	b = append(b, `,"to_bow":`...)
	b = strconv.AppendUint(b, uint64(m.ToBow), 10)
	b = append(b, `,"to_stern":`...)
	b = strconv.AppendUint(b, uint64(m.ToStern), 10)
	b = append(b, `,"to_port":`...)
	b = strconv.AppendUint(b, uint64(m.ToPort), 10)
	b = append(b, `,"to_starboard":`...)
	return strconv.AppendUint(b, uint64(m.ToStarboard), 10)
}

// type24Queue is gpsd's queue of the last part A names (8 entries).
type type24Queue struct {
	next int
	ship [8]struct {
		mmsi uint32
		n    int
		name [20]byte
	}
}

// after24 updates the queue with a type 24 message, as gpsd does.
func (q *type24Queue) after24(m *StaticDataReport, r *Reader) {
	switch m.PartNo {
	case 0:
		if m.NBits < 160 || m.NBits > 168 {
			return
		}
		s := &q.ship[q.next]
		s.mmsi = uint32(m.Source)
		s.n = copy(s.name[:], m.ShipName)
		q.next = (q.next + 1) % len(q.ship)
	case 1:
		save := r.Pos()
		r.Seek(48)
		var a [8]byte
		m.vendorID7 = string(r.AppendText(a[:0], 7))
		r.Seek(save)
		for i := range q.ship {
			s := &q.ship[i]
			if s.mmsi == uint32(m.Source) && s.mmsi != 0 {
				m.gpsdName = string(s.name[:s.n])
				m.gpsdMatch = true
				s.mmsi = 0
				return
			}
		}
	}
}
