package keelson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

// randEvent makes an event with every field exercised: strings with
// escapes, HTML characters, invalid UTF-8 and line separators; NaN and
// extreme floats; zones.
func randEvent(r *rand.Rand) Event {
	str := func() string {
		alphabet := []string{"a", "Z", "0", " ", "\"", "\\", "<", ">", "&", "\n", "\r", "\t", "\b", "\f", "\x01", "\x1f", "é", "€", "\u2028", "\u2029", "\xff", "\xc3", "🚢", "/", "'"}
		n := r.IntN(6)
		var b []byte
		for range n {
			b = append(b, alphabet[r.IntN(len(alphabet))]...)
		}
		return string(b)
	}
	fl := func() Float {
		switch r.IntN(8) {
		case 0:
			return NA
		case 1:
			return 0
		case 2:
			return Float(r.NormFloat64() * 1e25)
		case 3:
			return Float(r.NormFloat64() * 1e-9)
		case 4:
			return Float(-r.Float64())
		default:
			return Float(math.Round(r.NormFloat64()*1e4) / 100)
		}
	}
	coord := func() float64 {
		switch r.IntN(5) {
		case 0:
			return 0
		case 1:
			return 1e-7 * r.NormFloat64()
		case 2:
			return 1e22
		default:
			return r.Float64()*360 - 180
		}
	}
	tm := func() time.Time {
		if r.IntN(4) == 0 {
			return time.Time{}
		}
		t := time.Unix(r.Int64N(4e9), r.Int64N(1e9))
		if r.IntN(2) == 0 {
			return t.UTC()
		}
		return t.In(time.FixedZone("", (r.IntN(48)-24)*1800))
	}
	e := Event{
		V:        SchemaVersion,
		ID:       EventID{Collector: str() + "c", Boot: r.Int64N(1 << 50), Seq: r.Uint64()},
		Kind:     Kind(str()),
		Received: tm(),
		TagTime:  tm(),
		Source:   Source{Collector: str(), Input: str(), Station: str(), Talker: str(), Channel: str()},
		MMSI:     MMSI(r.Uint32() % 1e9 * uint32(r.IntN(2))),
		Vessel:   str(),
		AISType:  uint8(r.IntN(28)),
		Flags:    Flags(r.IntN(128)),
	}
	if r.IntN(2) == 0 {
		e.Position = &Position{Point: orb.Point{coord(), coord()}, Class: Class(str()), SOG: fl(), COG: fl(),
			Heading: fl(), ROT: fl(), NavStatus: uint8(r.IntN(16)), Accuracy: r.IntN(2) == 0, RAIM: r.IntN(2) == 0,
			Second: uint8(r.IntN(64)), Altitude: fl(), FixQuality: uint8(r.IntN(3)), Satellites: uint8(r.IntN(3)), HDOP: fl()}
	}
	if r.IntN(2) == 0 {
		e.Static = &Static{Part: str(), IMO: uint32(r.IntN(2) * r.IntN(1e7)), CallSign: str(), Name: str(),
			ShipType: uint8(r.IntN(3)), ToBow: uint16(r.IntN(3)), ToStern: uint16(r.IntN(3)), ToPort: uint8(r.IntN(3)),
			ToStarboard: uint8(r.IntN(3)), EPFD: uint8(r.IntN(3)), ETA: str(), Draught: fl(), Destination: str(),
			VendorID: str(), MothershipMMSI: MMSI(r.IntN(2) * 123456789), Virtual: r.IntN(2) == 0,
			OffPosition: r.IntN(2) == 0}
		if r.IntN(2) == 0 {
			e.Static.Point = orb.Point{coord(), coord()}
		}
	}
	if r.IntN(3) == 0 {
		e.Observation = &Observation{DAC: uint16(r.IntN(1024)), FI: uint8(r.IntN(64)), Point: orb.Point{coord(), coord()},
			Time: tm(), WindSpeed: fl(), WindGust: fl(), WindDirection: fl(), GustDirection: fl(), AirTemp: fl(),
			Humidity: fl(), DewPoint: fl(), Pressure: fl(), PressureTrend: uint8(r.IntN(4)), Visibility: fl(),
			WaterLevel: fl(), WaterLevelTrend: uint8(r.IntN(4)), CurrentSpeed: fl(), CurrentDirection: fl(),
			Current2Speed: fl(), Current2Direction: fl(), Current2Depth: fl(), Current3Speed: fl(),
			Current3Direction: fl(), Current3Depth: fl(), WaveHeight: fl(), WavePeriod: fl(), WaveDirection: fl(),
			SwellHeight: fl(), SwellPeriod: fl(), SwellDirection: fl(), SeaState: uint8(r.IntN(14)), WaterTemp: fl(),
			Precipitation: uint8(r.IntN(8)), Salinity: fl(), Ice: uint8(r.IntN(4))}
	}
	if r.IntN(2) == 0 {
		t := &Telemetry{Sentence: str()}
		if r.IntN(4) > 0 {
			t.Readings = []Reading{}
			for range r.IntN(4) {
				t.Readings = append(t.Readings, Reading{Quantity: str(), Value: fl(), Unit: str(), Sensor: str()})
			}
		}
		e.Telemetry = t
	}
	if r.IntN(2) == 0 {
		e.AIS = RawJSON(`{"type":1,"mmsi":123,"name":"A B","x":[1,null]}`)
	}
	for range r.IntN(3) {
		e.Raw = append(e.Raw, str())
	}
	return e
}

// TestEventAppendJSON checks the property that AppendJSON writes exactly
// what encoding/json writes, and that it decodes back into an equal event.
func TestEventAppendJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		e := randEvent(r)
		want, err := json.Marshal(&e)
		if err != nil {
			// json.Marshal refuses non-finite coordinates; AppendJSON writes null.
			if !finitePoints(&e) {
				continue
			}
			t.Fatalf("event %d: json.Marshal: %v", i, err)
		}
		got := e.AppendJSON(nil)
		if !bytes.Equal(got, want) {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got, want)
		}
		var back Event
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("event %d: decode %s: %v", i, got, err)
		}
		// encoding/json leaves an omitted omitzero Float at 0, not NaN:
		// readers take an absent altitude, hdop or draught as not available.
		if back.Position != nil && !e.Position.Altitude.Valid() {
			back.Position.Altitude = NA
		}
		if back.Position != nil && !e.Position.HDOP.Valid() {
			back.Position.HDOP = NA
		}
		if back.Static != nil && !e.Static.Draught.Valid() {
			back.Static.Draught = NA
		}
		again := back.AppendJSON(nil)
		if !bytes.Equal(canonical(t, again), canonical(t, got)) {
			t.Fatalf("event %d: round trip changed it:\n got %s\nwant %s", i, again, got)
		}
	}
}

// canonical re-encodes a JSON event through a generic value, so that
// formatting differences (time zones written differently for the same
// instant are not one) do not matter.
func canonical(t *testing.T, b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	out, _ := json.Marshal(v)
	return out
}

func finitePoints(e *Event) bool {
	ok := func(p orb.Point) bool {
		return !math.IsNaN(p[0]) && !math.IsInf(p[0], 0) && !math.IsNaN(p[1]) && !math.IsInf(p[1], 0)
	}
	return (e.Position == nil || ok(e.Position.Point)) && (e.Static == nil || ok(e.Static.Point)) &&
		(e.Observation == nil || ok(e.Observation.Point))
}

func TestEventAppendJSONZeroID(t *testing.T) {
	e := Event{V: 1, Kind: KindTelemetry, Received: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC),
		Telemetry: &Telemetry{Sentence: "DPT", Readings: []Reading{{Quantity: "depth", Value: 3.5, Unit: "m"}, {Quantity: "depth_offset", Value: NA, Unit: "m"}}}}
	got := string(e.AppendJSON(nil))
	want := `{"v":1,"kind":"telemetry","received":"2026-01-02T03:04:05.0000006Z","source":{},"telemetry":{"sentence":"DPT","readings":[{"quantity":"depth","value":3.5,"unit":"m"},{"quantity":"depth_offset","value":null,"unit":"m"}]}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	var back Event
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatal(err)
	}
	if !back.ID.IsZero() || back.Telemetry.Readings[1].Value.Valid() || back.Telemetry.Readings[0].Value != 3.5 {
		t.Fatalf("decoded %+v", back)
	}
}

func FuzzEventAppendJSON(f *testing.F) {
	f.Add("AI", "A", 1.5, 52.1, uint32(244123456))
	f.Add("<&>\u2028\xff", "\x00", math.NaN(), 1e-7, uint32(0))
	f.Fuzz(func(t *testing.T, s1, s2 string, x, y float64, mmsi uint32) {
		e := Event{V: 1, ID: EventID{Collector: s1, Boot: 1, Seq: 2}, Kind: KindPosition, Vessel: s2,
			Source: Source{Talker: s1, Station: s2}, MMSI: MMSI(mmsi),
			Position: &Position{Point: orb.Point{x, y}, SOG: Float(x), COG: Float(y), Heading: NA, ROT: NA},
			Raw:      []string{s1, s2}}
		got := e.AppendJSON(nil)
		if !json.Valid(got) {
			t.Fatalf("invalid JSON %q", got)
		}
		want, err := json.Marshal(&e)
		if err != nil {
			return // non-finite numbers: json.Marshal refuses, AppendJSON writes null
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

func BenchmarkEventAppendJSON(b *testing.B) {
	e := Event{V: 1, ID: EventID{Collector: "ship1", Boot: 1764000000000, Seq: 12345}, Kind: KindPosition,
		Received: time.Now().UTC(), Source: Source{Collector: "ship1", Talker: "AI", Channel: "A"}, MMSI: 244123456, AISType: 1,
		Position: &Position{Point: orb.Point{4.123456, 52.654321}, Class: ClassA, SOG: 12.3, COG: 231.5, Heading: 230, ROT: NA, NavStatus: 0, Second: 34},
		AIS:      RawJSON(`{"type":1,"mmsi":244123456,"lat":52.654321,"lon":4.123456}`)}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkEventMarshalJSON(b *testing.B) {
	e := Event{V: 1, ID: EventID{Collector: "ship1", Boot: 1764000000000, Seq: 12345}, Kind: KindPosition,
		Received: time.Now().UTC(), Source: Source{Collector: "ship1", Talker: "AI", Channel: "A"}, MMSI: 244123456, AISType: 1,
		Position: &Position{Point: orb.Point{4.123456, 52.654321}, Class: ClassA, SOG: 12.3, COG: 231.5, Heading: 230, ROT: NA, NavStatus: 0, Second: 34},
		AIS:      RawJSON(`{"type":1,"mmsi":244123456,"lat":52.654321,"lon":4.123456}`)}
	b.ReportAllocs()
	for b.Loop() {
		json.Marshal(&e)
	}
}

func TestAppendFloatFastPath(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000000 {
		var v float64
		switch r.IntN(4) {
		case 0:
			v = float64(r.Int64N(2e15)-1e15) / 1e6
		case 1:
			v = float64(r.Int64N(2e6)-1e6) / math.Pow10(r.IntN(8))
		case 2:
			v = r.NormFloat64() * math.Pow10(r.IntN(20)-6)
		default:
			v = math.Nextafter(float64(r.Int64N(2e9)-1e9)/1e3, math.Inf(r.IntN(2)*2-1))
		}
		got, want := appendFloat(nil, Float(v)), strconv.AppendFloat(nil, v, 'f', -1, 64)
		if string(got) != string(want) {
			t.Fatalf("%v: got %s want %s", v, got, want)
		}
		jw, _ := json.Marshal(v)
		if got := appendJSONFloat(nil, v); string(got) != string(jw) {
			t.Fatalf("%v: got %s want %s", v, got, jw)
		}
	}
}

func TestShortestFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	check := func(v float64) {
		got, ok := shortestFloat(nil, v)
		want := strconv.AppendFloat(nil, v, 'f', -1, 64)
		if ok && string(got) != string(want) {
			t.Fatalf("%v (%x): got %s want %s", v, math.Float64bits(v), got, want)
		}
		if !ok && len(got) != 0 {
			t.Fatalf("%v: appended %q without ok", v, got)
		}
	}
	hits := 0
	for i := range 3000000 {
		var v float64
		switch i % 6 {
		case 0: // AIS coordinates: 1/10000 minute
			v = float64(r.Int64N(2*108000000)-108000000) / 600000
		case 1:
			v = float64(r.Int64N(2*54000000)-54000000) / 600000
		case 2: // any double in range
			v = math.Float64frombits(r.Uint64()>>2 | 0x3f50000000000000)
			if r.IntN(2) == 0 {
				v = -v
			}
		case 3:
			v = r.Float64() * math.Pow10(r.IntN(12)-3)
		case 4: // short decimals, and their neighbours
			v = math.Nextafter(float64(r.Int64N(1e9))/math.Pow10(r.IntN(9)), math.Inf(r.IntN(2)*2-1))
		default:
			v = float64(r.Int64N(1e15)) / math.Pow10(r.IntN(16))
		}
		if _, ok := shortestFloat(nil, v); ok {
			hits++
		}
		check(v)
	}
	for _, v := range []float64{1e-3, 0.001, 1e9, 999999999.9999999, 0.1, 0.2, 0.3, 1, 2, 4, 1024, 123.456, -5.277916666666667, 32.60059, math.Nextafter(1e-3, 0), math.Nextafter(1e9, 0)} {
		check(v)
	}
	if hits < 2000000 {
		t.Errorf("fast path taken %d times of 3000000", hits)
	}
}

func BenchmarkShortestFloat(b *testing.B) {
	buf := make([]byte, 0, 32)
	v := float64(-3166750) / 600000
	b.Run("keelson", func(b *testing.B) {
		for b.Loop() {
			buf, _ = shortestFloat(buf[:0], v)
		}
	})
	b.Run("strconv", func(b *testing.B) {
		for b.Loop() {
			buf = strconv.AppendFloat(buf[:0], v, 'f', -1, 64)
		}
	})
}

// FuzzFloatFormat: the fast float paths write what strconv and
// encoding/json write.
func FuzzFloatFormat(f *testing.F) {
	f.Add(-5.277916666666667)
	f.Add(math.Copysign(0, -1))
	f.Add(999999999.9999999)
	f.Add(1e-3)
	f.Add(0.1)
	f.Fuzz(func(t *testing.T, v float64) {
		got, want := Float(v).AppendJSON(nil), strconv.AppendFloat(nil, v, 'f', -1, 64)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			want = []byte("null")
		}
		if string(got) != string(want) {
			t.Fatalf("%v: got %s want %s", v, got, want)
		}
		if jw, err := json.Marshal(v); err == nil {
			if got := appendJSONFloat(nil, v); string(got) != string(jw) {
				t.Fatalf("%v: got %s want %s", v, got, jw)
			}
			if got := appendCoordinate(nil, v); string(got) != string(jw) {
				t.Fatalf("%v: appendCoordinate got %s want %s", v, got, jw)
			}
		}
	})
}

func TestAppendJSONTime(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 1000000 {
		var tm time.Time
		switch i % 3 {
		case 0:
			tm = time.Unix(r.Int64N(253402300800+62135596800)-62135596800, r.Int64N(1e9)).UTC() // years 1-9999
		case 1:
			tm = time.Unix(r.Int64N(4e9), 0).UTC()
		default:
			tm = time.Unix(r.Int64N(86400*3)-86400*2, r.Int64N(1e9)).UTC() // around 1970
		}
		want, err := json.Marshal(tm)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONTime(nil, tm); string(got) != string(want) {
			t.Fatalf("%v: got %s want %s", tm, got, want)
		}
	}
}

// TestCoordinateFloats: every AIS coordinate (raw 1/600000 degree, as
// decode/ais scales it) is written as strconv and encoding/json write it. A
// random sample of the 28-bit range by default; the whole range with
// KEELSON_EXHAUSTIVE=1 (about a minute of one core).
func TestCoordinateFloats(t *testing.T) {
	check := func(raw int64) {
		v := float64(raw) / 600000
		want := strconv.AppendFloat(nil, v, 'f', -1, 64)
		if got := appendJSONFloat(nil, v); string(got) != string(want) {
			t.Fatalf("raw %d (%v): got %s want %s", raw, v, got, want)
		}
		if got := appendCoordinate(nil, v); string(got) != string(want) {
			t.Fatalf("raw %d (%v): appendCoordinate got %s want %s", raw, v, got, want)
		}
	}
	if os.Getenv("KEELSON_EXHAUSTIVE") != "" {
		for raw := int64(-1 << 27); raw < 1<<27; raw++ {
			check(raw)
		}
		return
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 1000000 {
		check(r.Int64N(1<<28) - 1<<27)
	}
	for raw := int64(-100000); raw <= 100000; raw++ { // near zero: 0.000ddd
		check(raw)
	}
	for _, raw := range []int64{108600000, 54600000, -108000000, 108000000, -54000000, 54000000, 1<<27 - 1, -1 << 27} {
		check(raw)
	}
}

// TestTenthsFloats: speeds and courses (raw 1/10) and headings, and
// negative zero (a rate of turn of -0), which strconv writes as "-0".
func TestTenthsFloats(t *testing.T) {
	negZero := math.Copysign(0, -1)
	for _, v := range []float64{negZero, 0} {
		want := strconv.AppendFloat(nil, v, 'f', -1, 64)
		if got := appendFloat(nil, Float(v)); string(got) != string(want) {
			t.Fatalf("%v: got %s want %s", v, got, want)
		}
		if got := appendCoordinate(nil, v); string(got) != string(want) {
			t.Fatalf("%v: appendCoordinate got %s want %s", v, got, want)
		}
	}
	for raw := int64(-40000); raw <= 40000; raw++ {
		for _, v := range []float64{float64(raw) / 10, float64(raw) / 100, float64(raw)} {
			want := strconv.AppendFloat(nil, v, 'f', -1, 64)
			if got := appendFloat(nil, Float(v)); string(got) != string(want) {
				t.Fatalf("%v: got %s want %s", v, got, want)
			}
		}
	}
}

// TestAppendJSONTimeSequential: times in order (the memoized date is hit,
// and missed at each midnight), and going back and forth between days.
func TestAppendJSONTimeSequential(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	tm := time.Date(1969, 12, 25, 0, 0, 0, 0, time.UTC)
	check := func(tm time.Time) {
		want, _ := json.Marshal(tm)
		if got := appendJSONTime(nil, tm); string(got) != string(want) {
			t.Fatalf("%v: got %s want %s", tm, got, want)
		}
	}
	for range 200000 {
		tm = tm.Add(time.Duration(r.Int64N(int64(2 * time.Hour))))
		check(tm)
		if r.IntN(10) == 0 {
			check(tm.Add(-25 * time.Hour))
		}
	}
	for _, tm := range []time.Time{{}, time.Unix(0, 0).UTC(), time.Unix(-1, 0).UTC(), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(2024, 2, 29, 12, 0, 0, 1, time.UTC)} {
		check(tm)
		check(tm)
	}
}

// TestAppendJSONTimeMemo: times that share seconds (whole, millisecond,
// microsecond and nanosecond fractions, as tag blocks and receive clocks
// give them) hit and update the memo of formatted times, from several
// goroutines at once (run it with -race too).
func TestAppendJSONTimeMemo(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 11))
			base := int64(1_700_000_000 + g%2) // two goroutines per second: slots shared
			for range 100000 {
				sec := base + r.Int64N(40)
				var ns int64
				switch r.IntN(5) {
				case 0:
				case 1:
					ns = r.Int64N(1000) * 1e6
				case 2:
					ns = r.Int64N(1e6) * 1e3
				case 3:
					ns = r.Int64N(3) * 100e6 // the same few times again and again
				default:
					ns = r.Int64N(1e9)
				}
				tm := time.Unix(sec, ns).UTC()
				want, _ := json.Marshal(tm)
				if got := appendJSONTime([]byte("x"), tm); string(got[1:]) != string(want) || got[0] != 'x' {
					errs <- fmt.Sprintf("%v: got %s want %s", tm, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestEventSourceFastPath: the one-copy source of AIS events (two-byte
// talker, one-byte channel, nothing else) for every kind of byte in each
// place, and the cases next to it, against encoding/json.
func TestEventSourceFastPath(t *testing.T) {
	bytesToTry := []byte{'A', 'I', 'B', '1', '-', ' ', '"', '\\', '<', '>', '&', 0, '\n', 0x7f, 0x80, 0xc3, 0xff}
	check := func(src Source) {
		e := Event{V: 1, Kind: KindPosition, Received: time.Unix(1e9, 0).UTC(), Source: src, MMSI: 244123456}
		want, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("%+q:\n got %s\nwant %s", src, got, want)
		}
	}
	for _, a := range bytesToTry {
		for _, b := range bytesToTry {
			for _, c := range bytesToTry {
				check(Source{Talker: string([]byte{a, b}), Channel: string([]byte{c})})
			}
			check(Source{Talker: string([]byte{a, b})})
			check(Source{Talker: string([]byte{a, b}), Channel: "AB"})
			check(Source{Talker: string([]byte{a}), Channel: string([]byte{b})})
			check(Source{Talker: string([]byte{a, b}), Channel: "A", Station: "s"})
			check(Source{Talker: string([]byte{a, b}), Channel: "A", Collector: "c"})
			check(Source{Talker: string([]byte{a, b}), Channel: "A", Input: "i"})
		}
	}
}
