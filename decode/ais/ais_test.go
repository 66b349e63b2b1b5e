package ais

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson"
)

// refBits is a reference unarmoring, one bit per byte.
func refBits(payload string, fill int) []byte {
	var out []byte
	for i := 0; i < len(payload); i++ {
		v := int(payload[i]) - 48
		if v > 40 {
			v -= 8
		}
		for k := 5; k >= 0; k-- {
			out = append(out, byte(v>>k)&1)
		}
	}
	return out[:len(out)-fill]
}

func refUint(bits []byte, off, n int) uint64 {
	var v uint64
	for i := 0; i < n; i++ {
		v = v<<1 | uint64(bits[off+i])
	}
	return v
}

func TestUnarmorMatchesReference(t *testing.T) {
	var dst []byte
	for _, s := range allSamples(t) {
		if s.Payload == "" {
			continue
		}
		b, err := Unarmor(dst, []byte(s.Payload), s.Fill)
		if err != nil {
			t.Fatalf("%s:%d: %v", s.File, s.Line, err)
		}
		dst = b.buf
		ref := refBits(s.Payload, s.Fill)
		if b.Len() != len(ref) {
			t.Fatalf("%s:%d: %d bits, want %d", s.File, s.Line, b.Len(), len(ref))
		}
		r := b.Reader()
		for i := 0; i < len(ref); i++ {
			if got := r.Uint(1); got != uint64(ref[i]) {
				t.Fatalf("%s:%d: bit %d = %d", s.File, s.Line, i, got)
			}
		}
		if r.Err() != nil || r.Uint(1) != 0 || !errors.Is(r.Err(), ErrShort) {
			t.Fatalf("%s:%d: reading past the end: %v", s.File, s.Line, r.Err())
		}
	}
}

func TestUnarmorErrors(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		fill    int
		wantErr error
	}{
		{"empty", "", 0, ErrEmpty},
		{"bad char X", "15N1u<PP1FJuvSXHOE6QIwwh0HQ6", 0, ErrBadPayloadChar},
		{"bad char space", "15N1u<PP1FJuvS HOE6QIwwh0HQ6", 0, ErrBadPayloadChar},
		{"bad char x", "x", 0, ErrBadPayloadChar},
		{"bad char high", "15N1\xff", 0, ErrBadPayloadChar},
		{"fill 6", "15N1u<PP1FJuvSRHOE6QIwwh0HQ6", 6, ErrBadFill},
		{"fill -1", "15N1u<PP1FJuvSRHOE6QIwwh0HQ6", -1, ErrBadFill},
		{"ok fill 5", "w", 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Unarmor(nil, []byte(tt.payload), tt.fill)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestReader(t *testing.T) {
	// "w" is 63 = 111111; "0" is 0.
	b, err := Unarmor(nil, []byte("w0w0"), 0)
	if err != nil {
		t.Fatal(err)
	}
	r := b.Reader()
	if v := r.Int(6); v != -1 {
		t.Errorf("Int(6) of 111111 = %d, want -1", v)
	}
	if v := r.Int(6); v != 0 {
		t.Errorf("Int(6) of 000000 = %d, want 0", v)
	}
	if v := r.Uint(3); v != 7 {
		t.Errorf("Uint(3) = %d, want 7", v)
	}
	if v := r.Int(4); v != -2 { // 1110
		t.Errorf("Int(4) of 1110 = %d, want -2", v)
	}
	if r.Remaining() != 5 || r.Err() != nil {
		t.Fatalf("remaining %d, err %v", r.Remaining(), r.Err())
	}
	if v := r.Uint(6); v != 0 || !errors.Is(r.Err(), ErrShort) {
		t.Fatalf("read past end: %d, %v", v, r.Err())
	}
	if v := r.Uint(1); v != 0 || !errors.Is(r.Err(), ErrShort) {
		t.Fatal("error is not sticky")
	}
	// 64-bit fields.
	b, _ = Unarmor(nil, []byte("wwwwwwwwwww"), 0)
	r = b.Reader()
	if v := r.Uint(64); v != math.MaxUint64 {
		t.Errorf("Uint(64) = %x", v)
	}
}

func TestText(t *testing.T) {
	// Six-bit text: "AB@C " stops at '@'; "AB  " trims the spaces.
	enc := func(s string) []byte {
		var p []byte
		for _, c := range []byte(s) {
			v := strings.IndexByte(sixbit, c)
			if v < 40 {
				p = append(p, byte(v+48))
			} else {
				p = append(p, byte(v+56))
			}
		}
		return p
	}
	for _, tt := range []struct{ in, want string }{
		{"AB@C ", "AB"},
		{"AB  ", "AB"},
		{"A B ", "A B"},
		{"@@@@", ""},
		{"HELLO, WORLD", "HELLO, WORLD"},
	} {
		b, err := Unarmor(nil, enc(tt.in), 0)
		if err != nil {
			t.Fatal(err)
		}
		r := b.Reader()
		if got := r.Text(len(tt.in)); got != tt.want {
			t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
		}
		// A text cut short keeps its whole characters.
		r = b.Reader()
		if got := r.Text(len(tt.in) + 3); got != tt.want || r.Err() != nil {
			t.Errorf("short Text(%q) = %q, %v", tt.in, got, r.Err())
		}
	}
}

func near(a keelson.Float, b float64) bool { return math.Abs(float64(a)-b) < 1e-6 }

// near4 compares with gpsd's 4-decimal output.
func near4(a keelson.Float, b float64) bool { return math.Abs(float64(a)-b) < 0.6e-4 }

// TestDecodeTable checks decoded values of real messages (sources in the
// names) against gpsd's decodes of the same messages.
func TestDecodeTable(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		fill    int
		want    func(t *testing.T, m Message)
		wantErr error
	}{
		{
			name: "type 1, libais_typeexamples.nmea:2",
			raw:  "15N1u<PP1FJuvSRHOE6QIwwh0HQ6",
			want: func(t *testing.T, mm Message) {
				m := mm.(*PositionReport)
				if m.MMSI() != 367033650 || m.Type() != 1 || m.Status != 0 {
					t.Errorf("header %+v", m.Header)
				}
				if !near(m.SOG(), 8.6) || !near(m.Lon(), -70.346905) || !near(m.Lat(), 42.79855) || !near(m.COG(), 35.9) {
					t.Errorf("sog %v lon %v lat %v cog %v", m.SOG(), m.Lon(), m.Lat(), m.COG())
				}
				if m.Heading().Valid() || m.ROT().Valid() || m.HeadingRaw != 511 || m.ROTRaw != -128 {
					t.Errorf("heading %v rot %v should be n/a", m.Heading(), m.ROT())
				}
				if m.Second != 56 || m.Radio != 100422 {
					t.Errorf("second %d radio %d", m.Second, m.Radio)
				}
			},
		},
		{
			name: "type 5, libais_typeexamples.nmea:3",
			raw:  benchType5, fill: 2,
			want: func(t *testing.T, mm Message) {
				m := mm.(*StaticVoyageData)
				if m.IMO != 9383663 || m.CallSign != "9HMQ9" || m.ShipName != "RUTH THERESA" || m.Destination != "BOSTON,USA" {
					t.Errorf("%+v", m)
				}
				if m.ShipType != 80 || m.ToBow != 78 || m.ToStern != 23 || m.ToPort != 1 || m.ToStarboard != 17 || !near(m.Draught(), 7.8) {
					t.Errorf("%+v", m)
				}
				if m.Month != 12 || m.Day != 30 || m.Hour != 16 || m.Minute != 30 {
					t.Errorf("eta %d-%d %d:%d", m.Month, m.Day, m.Hour, m.Minute)
				}
			},
		},
		{
			name: "type 8 DAC 1 FI 11, dma_decode_encode_messages.txt:5",
			raw:  "802R5Ph0Bk@Ch@Fln<ljQhs2HGwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwt", fill: 2,
			want: func(t *testing.T, mm Message) {
				m := mm.(*BinaryBroadcast)
				a, ok := m.App.(*MetHydro11)
				if m.DAC != 1 || m.FI != 11 || !ok {
					t.Fatalf("dac %d fi %d app %T", m.DAC, m.FI, m.App)
				}
				if !near4(a.Lat(), 56.8822) || !near4(a.Lon(), 12.4659) || a.Day != 19 || a.Hour != 9 || a.Minute != 37 {
					t.Errorf("%+v", a)
				}
				if !near(a.WindSpeed(), 7) || !near(a.WindDir(), 194) || a.Humidity().Valid() || a.AirTemp().Valid() || a.Pressure().Valid() {
					t.Errorf("wind %v dir %v humidity %v air %v pressure %v", a.WindSpeed(), a.WindDir(), a.Humidity(), a.AirTemp(), a.Pressure())
				}
			},
		},
		{
			name: "type 8 DAC 1 FI 31, dma_stream_example.txt:117",
			raw:  "802R5Ph0GhGQ=QUjHF1tgwvlFR06EuOwgqu07Pp;40Pd?4wwsAwwnS@Swvwt",
			want: func(t *testing.T, mm Message) {
				a := mm.(*BinaryBroadcast).App.(*MetHydro31)
				if !near4(a.Lat(), 55.5894) || !near4(a.Lon(), 12.8445) || !a.Accuracy {
					t.Errorf("%+v", a)
				}
				if !near(a.CurrentSpeed(), 1.5) || !near(a.CurrentDir(), 14) || !near(a.Current2Depth(), 2) || !near(a.WaterTemp(), 3.5) || !near(a.WaterLevel(), 0) {
					t.Errorf("current %v %v depth2 %v water %v level %v", a.CurrentSpeed(), a.CurrentDir(), a.Current2Depth(), a.WaterTemp(), a.WaterLevel())
				}
				if a.AirTemp().Valid() || a.WindDir().Valid() || a.Salinity().Valid() {
					t.Errorf("n/a fields: air %v wdir %v salinity %v", a.AirTemp(), a.WindDir(), a.Salinity())
				}
			},
		},
		{
			name: "type 21 with name extension, dma_stream_example.txt:3964",
			raw:  "E>jHC:RQWa9RcPV6@64ST:47baRwl<>l?g=E`10888c00000000000000000",
			want: func(t *testing.T, mm Message) {
				m := mm.(*AidToNavigation)
				if m.Name != "CORSEWALL LIGHTHOUSE" || m.AidType != 5 || !near(m.Lon(), -5.15938) || !near(m.Lat(), 55.007008) {
					t.Errorf("%q %+v", m.Name, m)
				}
			},
		},
		{name: "type 0", raw: "0000000000000000", wantErr: ErrUnknownType},
		{name: "type 28", raw: "L000000000000000", wantErr: ErrUnknownType},
		{name: "type 1 cut short", raw: "15N1u<PP1FJuvSRHOE6QI", wantErr: ErrShort},
		{name: "type 5 cut short", raw: "53eaFL02?;fwTPm7V219E@R1@PE8E<6222222", wantErr: ErrShort},
		{name: "one character", raw: "1", wantErr: ErrShort},
		{name: "empty", raw: "", wantErr: ErrEmpty},
		{name: "bad character", raw: "15N1u<PP1FJuvSRHOE6QIwwh0HQ!", wantErr: ErrBadPayloadChar},
	}
	var d Decoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := d.Decode([]byte(tt.raw), tt.fill)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || m != nil {
					t.Fatalf("got %v, %v; want error %v", m, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want(t, m)
		})
	}
}

// TestJSONValid checks that both JSON forms of every real message are valid
// JSON objects, that Keelson's has the header, and that Clone survives the
// next decodes.
func TestJSONValid(t *testing.T) {
	var d Decoder
	type kept struct {
		m    Message
		json []byte
	}
	var keep []kept
	for i, s := range append(allSamples(t), synthSamples(8)...) {
		m, err := d.Decode([]byte(s.Payload), s.Fill)
		if err != nil {
			continue
		}
		j := m.AppendJSON(nil)
		var obj map[string]any
		if err := json.Unmarshal(j, &obj); err != nil {
			t.Fatalf("%s:%d: invalid Keelson JSON %v: %s", s.File, s.Line, err, j)
		}
		if obj["type"] != float64(m.Type()) || obj["mmsi"] != float64(m.MMSI()) {
			t.Fatalf("%s:%d: header: %s", s.File, s.Line, j)
		}
		if g := m.AppendGPSD(nil); len(g) > 0 && !json.Valid(g) {
			t.Fatalf("%s:%d: invalid gpsd JSON: %s", s.File, s.Line, g)
		}
		if i%7 == 0 {
			keep = append(keep, kept{m.Clone(), j})
		}
	}
	for _, k := range keep {
		if got := k.m.AppendJSON(nil); !bytes.Equal(got, k.json) {
			t.Fatalf("clone changed after later decodes:\n%s\n%s", got, k.json)
		}
	}
}

func TestKeelsonJSONNotAvailable(t *testing.T) {
	var d Decoder
	m, err := d.Decode([]byte("13A;Td0P?w<tSF0l4Q@>4?wv0p8v"), 0) // dma_stream_example.txt: position n/a
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(m.AppendJSON(nil), &obj); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"lon", "lat", "sog", "cog", "heading", "rot"} {
		if v, ok := obj[k]; !ok || v != nil {
			t.Errorf("%s = %v, want null", k, v)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	var d Decoder
	for _, p := range []string{benchType1, benchType18, benchType5} {
		fill := 0
		if p == benchType5 {
			fill = benchType5Fill
		}
		payload := []byte(p)
		d.Decode(payload, fill)
		if n := testing.AllocsPerRun(100, func() { d.Decode(payload, fill) }); n != 0 {
			t.Errorf("Decode(%s) allocates %v times", p, n)
		}
	}
}

func TestFill(t *testing.T) {
	var d Decoder
	recv := time.Date(2010, 6, 20, 12, 0, 0, 0, time.UTC)
	decode := func(p string, fill int) *keelson.Event {
		t.Helper()
		m, err := d.Decode([]byte(p), fill)
		if err != nil {
			t.Fatal(err)
		}
		e := &keelson.Event{Received: recv}
		Fill(e, m)
		if !json.Valid(e.AIS) {
			t.Fatalf("e.AIS not JSON: %s", e.AIS)
		}
		if _, err := json.Marshal(e); err != nil {
			t.Fatalf("event does not marshal: %v", err)
		}
		return e
	}

	e := decode(benchType1, 0)
	if e.Kind != keelson.KindPosition || e.MMSI != 367033650 || e.AISType != 1 || e.Position == nil || e.Static != nil {
		t.Fatalf("%+v", e)
	}
	p := e.Position
	if p.Class != keelson.ClassA || !near(p.SOG, 8.6) || !near(keelson.Float(p.Point[0]), -70.346905) || p.Heading.Valid() || p.ROT.Valid() {
		t.Errorf("%+v", p)
	}

	e = decode("13A;Td0P?w<tSF0l4Q@>4?wv0p8v", 0)
	if e.Flags&keelson.FlagPositionNA == 0 || e.Position.SOG.Valid() || e.Position.COG.Valid() {
		t.Errorf("n/a position: flags %v %+v", e.Flags, e.Position)
	}

	e = decode(benchType5, benchType5Fill)
	if e.Kind != keelson.KindStatic || e.Static.Name != "RUTH THERESA" || e.Static.ETA != "12-30T16:30Z" || !near(e.Static.Draught, 7.8) || e.Static.IMO != 9383663 {
		t.Errorf("%+v", e.Static)
	}

	e = decode("802R5Ph0Bk@Ch@Fln<ljQhs2HGwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwt", 2)
	o := e.Observation
	if e.Kind != keelson.KindObservation || o == nil || o.DAC != 1 || o.FI != 11 {
		t.Fatalf("%+v", e)
	}
	if !near(o.WindSpeed, 7) || o.AirTemp.Valid() || o.Humidity.Valid() || !o.Time.Equal(time.Date(2010, 6, 19, 9, 37, 0, 0, time.UTC)) {
		t.Errorf("%+v", o)
	}

	e = decode("802R5Ph0GhGQ=QUjHF1tgwvlFR06EuOwgqu07Pp;40Pd?4wwsAwwnS@Swvwt", 0) // FI 31
	o = e.Observation
	if e.Kind != keelson.KindObservation || o.FI != 31 || !near(o.CurrentSpeed, 1.5) || !near(o.WaterTemp, 3.5) || !near(o.WaterLevel, 0) ||
		o.AirTemp.Valid() || o.Salinity.Valid() || o.WindDirection.Valid() || o.SeaState != 13 || !o.Time.Equal(time.Date(2010, 6, 16, 7, 50, 0, 0, time.UTC)) {
		t.Errorf("FI 31: %+v", o)
	}

	e = decode("E>jHC:RQWa9RcPV6@64ST:47baRwl<>l?g=E`10888c00000000000000000", 0)
	if e.Kind != keelson.KindPosition || e.Position.Class != keelson.ClassAtoN || e.Static == nil || e.Static.Name != "CORSEWALL LIGHTHOUSE" {
		t.Errorf("%+v %+v", e.Position, e.Static)
	}

	e = decode("H5NCMvTUG5CD=1BG45jiik1@9410", 0) // 24B
	if e.Kind != keelson.KindStatic || e.Static.Part != "B" || e.Static.CallSign != "WDE2113" || e.Static.ShipType != 37 {
		t.Errorf("%+v", e.Static)
	}

	e = decode("B5NIeAP00=qmw14cRKvQSwm5WP06", 0)
	if e.Kind != keelson.KindPosition || e.Position.Class != keelson.ClassB {
		t.Errorf("%+v", e.Position)
	}

	// Anything else is Kind "ais" with the message's JSON.
	e = decode("@01uEOPhqwEP<P00", 0) // type 16
	if e.Kind != keelson.KindAIS || e.Position != nil || len(e.AIS) == 0 {
		t.Errorf("%+v", e)
	}
}

// TestDecodeErrorText: the errors of payloads of unknown type, too short
// for their type and cut in a field read as fmt.Errorf would write them,
// and match their sentinels.
func TestDecodeErrorText(t *testing.T) {
	var d Decoder
	for _, c := range []struct {
		payload string
		fill    int
		want    string
		is      error
	}{
		{"0", 0, "ais: unknown message type: 0", ErrUnknownType},
		{"1", 0, "ais: message too short: type 1 has 6 bits, needs 149", ErrShort},
	} {
		_, err := d.Decode([]byte(c.payload), c.fill)
		if err == nil || err.Error() != c.want || !errors.Is(err, c.is) {
			t.Errorf("%q: %v, want %q", c.payload, err, c.want)
		}
	}
	e := &decodeError{err: ErrShort, form: formRead, t: 5, n: 300}
	if want := fmt.Errorf("%w: type %d (%d bits)", ErrShort, 5, 300).Error(); e.Error() != want || !errors.Is(e, ErrShort) {
		t.Errorf("%q, want %q", e.Error(), want)
	}
}

// TestRotTable: the table of rates of turn is the formula's, NaN for
// not available, for every raw value and a few out of range.
func TestRotTable(t *testing.T) {
	for v := int64(-300); v <= 300; v++ {
		got, want := rotValue(v), rotCompute(v)
		if got != want && !(math.IsNaN(float64(got)) && math.IsNaN(float64(want))) {
			t.Fatalf("rot %d: %v, want %v", v, got, want)
		}
	}
	if !math.IsNaN(float64(rotValue(-128))) || rotValue(0) != 0 || rotValue(126) != 708.7 {
		t.Fatalf("rot: %v %v %v", rotValue(-128), rotValue(0), rotValue(126))
	}
}
