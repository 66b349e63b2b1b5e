package ais

import "strconv"

// gpsd's output for the application messages of types 6 and 8 that only
// gpsd decoded before (DAC 1 and DAC 200): composite dates, legends, and
// the fields gpsd reads from other bits than the standard's.

var positionTypeLegends = []string{
	"Not available",
	"Port-side to",
	"Starboard-side to",
	"Mediterranean (end-on) mooring",
	"Mooring buoy",
	"Anchorage",
	"Reserved for future use",
	"Reserved for future use",
}

func positionTypeText(v int) string { return legend(positionTypeLegends, v, "") }

var routeTypeLegends = func() []string {
	t := make([]string, 32)
	copy(t, []string{"Undefined (default)", "Mandatory", "Recommended", "Alternative", "Recommended route through ice", "Ship route plan"})
	for i := 6; i < 31; i++ {
		t[i] = "Reserved for future use."
	}
	t[31] = "Cancel route identified by message linkage"
	return t
}()

func routeTypeText(v int) string { return legend(routeTypeLegends, v, "") }

var idTypeLegends = []string{"mmsi", "imo", "callsign", "other"}

func idTypeText(v int) string { return legend(idTypeLegends, v, "") }

var signalLegends = []string{
	"N/A",
	"Serious emergency - stop or divert according to instructions.",
	"Vessels shall not proceed.",
	"Vessels may proceed. One way traffic.",
	"Vessels may proceed. Two way traffic.",
	"Vessels shall proceed on specific orders only.",
	"Vessels in main channel shall not proceed.",
	"Vessels in main channel shall proceed on specific orders only.",
	"Vessels in main channel shall proceed on specific orders only.",
	"I = \"in-bound\" only acceptable.",
	"O = \"out-bound\" only acceptable.",
	"F = both \"in- and out-bound\" acceptable.",
	"XI = Code will shift to \"I\" in due time.",
	"XO = Code will shift to \"O\" in due time.",
	"X = Vessels shall proceed only on direction.",
}

func signalText(v int) string { return legend(signalLegends, v, "INVALID SIGNAL TYPE") }

var rtaStatusLegends = []string{"Operational", "Limited operation", "Out of order", "N/A"}

func rtaStatusText(v int) string { return legend(rtaStatusLegends, v, "") }

var emmaTypeLegends = []string{"Not Available", "Wind", "Rain", "Snow and ice", "Thunderstorm", "Fog", "Low temperature", "High temperature", "Flood", "Forest Fire"}

func emmaTypeText(v int) string { return legend(emmaTypeLegends, v, "INVALID EMMA TYPE") }

var emmaClassLegends = []string{"Slight", "Medium", "Strong"}

// emmaClassText: gpsd's invalid text for the class is the type's.
func emmaClassText(v int) string { return legend(emmaClassLegends, v, "INVALID EMMA TYPE") }

var emmaWindLegends = []string{"N/A", "North", "North East", "East", "South East", "South", "South West", "West", "North West"}

func emmaWindText(v int) string { return legend(emmaWindLegends, v, "INVALID EMMA WIND DIRECTION") }

var directionLegends = []string{"Unknown", "Upstream", "Downstream", "To left bank", "To right bank"}

func directionText(v int) string { return legend(directionLegends, v, "INVALID DIRECTION") }

var signalStatusLegends = []string{"Unknown", "No light", "White", "Yellow", "Green", "Red", "White flashing", "Yellow flashing."}

func signalStatusText(v int) string { return legend(signalStatusLegends, v, "INVALID STATUS") }

// appendMDHM appends `key"MM-DDTHH:MM[Z]"` with two-digit fields (pad) or
// plain numbers.
func appendMDHM(b []byte, key string, mo, d, h, mi uint64, pad, z bool) []byte {
	num := strconv.AppendUint
	if pad {
		num = func(b []byte, v uint64, _ int) []byte { return appendUint2(b, v) }
	}
	b = append(b, key...)
	b = append(b, '"')
	b = num(b, mo, 10)
	b = append(b, '-')
	b = num(b, d, 10)
	b = append(b, 'T')
	b = num(b, h, 10)
	b = append(b, ':')
	b = num(b, mi, 10)
	if z {
		b = append(b, 'Z')
	}
	return append(b, '"')
}

func u64(v uint8) uint64 { return uint64(v) }

func gpsdDeparture12(b []byte, _ string, _ int64, mm any) []byte {
	m := mm.(*DangerousCargo12)
	return appendMDHM(b, `,"departure":`, u64(m.LMonth), u64(m.LDay), u64(m.LHour), u64(m.LMinute), true, true)
}

func gpsdETA12(b []byte, _ string, _ int64, mm any) []byte {
	m := mm.(*DangerousCargo12)
	return appendMDHM(b, `,"eta":`, u64(m.NMonth), u64(m.NDay), u64(m.NHour), u64(m.NMinute), true, true)
}

func gpsdArrival18(b []byte, _ string, _ int64, mm any) []byte {
	m := mm.(*ClearanceTime18)
	return appendMDHM(b, `,"arrival":`, u64(m.Month), u64(m.Day), u64(m.Hour), u64(m.Minute), true, true)
}

func gpsdArrival20(b []byte, _ string, _ int64, mm any) []byte {
	m := mm.(*Berthing20)
	return appendMDHM(b, `,"arrival":`, u64(m.Month), u64(m.Day), u64(m.Hour), u64(m.Minute), false, false)
}

func gpsdRouteStart(b []byte, _ string, _ int64, mm any) []byte {
	var mo, d, h, mi uint8
	switch m := mm.(type) {
	case *Route27:
		mo, d, h, mi = m.Month, m.Day, m.Hour, m.Minute
	case *Route28:
		mo, d, h, mi = m.Month, m.Day, m.Hour, m.Minute
	}
	return appendMDHM(b, `,"start":`, u64(mo), u64(d), u64(h), u64(mi), true, true)
}

func gpsdFrom13(b []byte, _ string, _ int64, mm any) []byte {
	m := mm.(*FairwayClosed13)
	return appendMDHM(b, `,"from":`, u64(m.FromMonth), u64(m.FromDay), u64(m.FromHour), u64(m.FromMinute), true, false)
}

func gpsdTo13(b []byte, _ string, _ int64, mm any) []byte {
	m := mm.(*FairwayClosed13)
	return appendMDHM(b, `,"to":`, u64(m.ToMonth), u64(m.ToDay), u64(m.ToHour), u64(m.ToMinute), true, false)
}

func gpsdInlandETA(b []byte, _ string, _ int64, mm any) []byte {
	var mo, d, h, mi uint8
	switch m := mm.(type) {
	case *LockETA21:
		mo, d, h, mi = m.Month, m.Day, m.Hour, m.Minute
	case *LockRTA22:
		mo, d, h, mi = m.Month, m.Day, m.Hour, m.Minute
	}
	return appendMDHM(b, `,"eta":`, u64(mo), u64(d), u64(h), u64(mi), false, false)
}

// gpsdEMMATimes prints the EMMA start and end; gpsd prints the start's
// fields in the order year, month, hour, minute, day.
func gpsdEMMATimes(b []byte, _ string, _ int64, mm any) []byte {
	m := mm.(*EMMAWarning23)
	b = append(b, `,"start":"`...)
	b = strconv.AppendUint(b, uint64(m.StartYear)+2000, 10)
	b = append(b, '-')
	b = appendUint2(b, u64(m.StartMonth))
	b = append(b, '-')
	b = appendUint2(b, u64(m.StartHour))
	b = append(b, 'T')
	b = appendUint2(b, u64(m.StartMinute))
	b = append(b, ':')
	b = appendUint2(b, u64(m.StartDay))
	b = append(b, `","end":"`...)
	b = strconv.AppendUint(b, uint64(m.EndYear)+2000, 10)
	b = append(b, '-')
	b = appendUint2(b, u64(m.EndMonth))
	b = append(b, '-')
	b = appendUint2(b, u64(m.EndDay))
	b = append(b, 'T')
	b = appendUint2(b, u64(m.EndHour))
	b = append(b, ':')
	b = appendUint2(b, u64(m.EndMinute))
	return append(b, '"')
}

// gpsdTargetID prints a FI 17 target's identity under the name of its
// type, as a string; gpsd keeps only the low 32 of the 42 bits of a number.
func gpsdTargetID(b []byte, _ string, _ int64, ee any) []byte {
	e := ee.(*Targets17Targets)
	b = append(b, `,"`...)
	b = append(b, idTypeText(int(e.IDType))...)
	b = append(b, `":`...)
	if e.IDType < 2 {
		b = append(b, '"')
		b = strconv.AppendUint(b, uint64(uint32(e.ID)), 10)
		return append(b, '"')
	}
	return appendJSONString(b, e.Name)
}

// rawAt reads n bits at pos of the message buffer whatever the message's
// length (zeros past the buffer), as gpsd's fixed offsets do.
func (r *Reader) rawAt(pos, n int) uint64 {
	if pos < 0 || pos>>3+8 > len(r.buf) {
		return 0
	}
	return uint64At(r.buf, pos, n)
}

// decodeAirDraught15 reads the air draught; gpsd reads bits 56-66 of the
// message (the data's first bits in type 8, inside the header in type 6).
func decodeAirDraught15(m *AirDraught15, r *Reader, _ *messages) {
	m.gpsdAir = uint16(r.rawAt(56, 11))
	m.AirDraught = uint16(r.optUint(11))
}

func gpsdAirDraught15(b []byte, key string, _ int64, mm any) []byte {
	b = append(b, key...)
	return strconv.AppendUint(b, uint64(mm.(*AirDraught15).gpsdAir), 10)
}

// decodePersons16 reads the number of persons; gpsd reads bits 88-100 of
// the message when the data has 136 bits, else bits 55-67, and prints 0 for
// type 8 (it prints the type 6 field of its union).
func decodePersons16(m *Persons16, r *Reader, _ *messages) {
	if r.Pos() == 56 { // type 8
		m.gpsdPersons = 0
	} else if r.Len()-r.Pos() == 136 {
		m.gpsdPersons = uint16(r.rawAt(88, 13))
	} else {
		m.gpsdPersons = uint16(r.rawAt(55, 13))
	}
	m.Persons = uint16(r.optUint(13))
}

func gpsdPersons16(b []byte, key string, _ int64, mm any) []byte {
	b = append(b, key...)
	return strconv.AppendUint(b, uint64(mm.(*Persons16).gpsdPersons), 10)
}
