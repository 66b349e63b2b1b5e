package decode

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/keelson/keelson"
)

// TestFillReuse: filling one Event over and over (payload structs reused
// and recycled through the Decoder's spares) writes, for every line of
// testdata/ais, the same JSON as fresh events from Decode; and an event
// that Decode returns afterwards does not share a payload with it.
func TestFillReuse(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "ais", "*"))
	if len(files) == 0 {
		t.Fatal("no testdata/ais")
	}
	recv := time.Date(2026, 11, 27, 15, 0, 0, 123456789, time.UTC)
	reuse, fresh := NewDecoder(Config{}), NewDecoder(Config{})
	var ev keelson.Event
	var got, want []byte
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := sc.Bytes()
			got = got[:0]
			reuse.Scan(line, recv, func(m *Message) {
				reuse.Fill(&ev, m, recv)
				got = ev.AppendJSON(got)
				got = append(got, '\n')
			})
			evs, _ := fresh.Decode(nil, line, recv)
			want = want[:0]
			for i := range evs {
				want = evs[i].AppendJSON(want)
				want = append(want, '\n')
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: %s\nreused: %s\nfresh:  %s", filepath.Base(f), line, got, want)
			}
			n += len(evs)
		}
	}
	if n < 5000 {
		t.Fatalf("only %d events", n)
	}
	// A Decode on the reusing Decoder after the Fill loop: fresh events own
	// their payloads (a spare handed out is no longer anyone else's).
	evs, err := reuse.Decode(nil, []byte("!AIVDM,1,1,,B,15Pm=kOP1kGW?0nBao`SS?wB06bd,0*58"), recv)
	if err != nil || len(evs) != 1 || evs[0].Position == nil {
		t.Fatalf("Decode: %v %v", evs, err)
	}
	if evs[0].Position == ev.Position {
		t.Fatal("Decode's event shares the reused event's Position")
	}
}

// TestFillAlternatingAllocs: one Event filled with a position, a static
// and a position again, over and over, does not allocate.
func TestFillAlternatingAllocs(t *testing.T) {
	lines := [][]byte{
		[]byte("!AIVDM,1,1,,B,15Pm=kOP1kGW?0nBao`SS?wB06bd,0*58"),
		[]byte("!AIVDM,1,1,,B,H52PwgQDplU=@4d48hF08D5EAT0,2*62"),
	}
	d := NewDecoder(Config{})
	var ev keelson.Event
	buf := make([]byte, 0, 4096)
	recv := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
	fn := func(m *Message) {
		d.Fill(&ev, m, recv)
		buf = ev.AppendJSON(buf[:0])
	}
	i := 0
	if a := testing.AllocsPerRun(1000, func() {
		d.Scan(lines[i&1], recv, fn)
		i++
	}); a != 0 {
		t.Fatalf("%v allocs per message", a)
	}
	if ev.Kind == "" {
		t.Fatal("no event")
	}
}

// OmitPositionAIS leaves the full message out of position events only.
func TestFillOmitPositionAIS(t *testing.T) {
	d := NewDecoder(Config{OmitPositionAIS: true})
	recv := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	lines := []string{
		"!AIVDM,1,1,,B,15Pm=kOP1kGW?0nBao`SS?wB06bd,0*58", // type 1
		"!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C",
		"!AIVDM,2,2,1,A,88888888880,2*25", // type 5
	}
	var kinds []keelson.Kind
	for _, l := range lines {
		evs, err := d.Decode(nil, []byte(l), recv)
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		for _, e := range evs {
			kinds = append(kinds, e.Kind)
			switch e.Kind {
			case keelson.KindPosition:
				if len(e.AIS) != 0 || e.Position == nil {
					t.Errorf("position event: ais %q, position %v", e.AIS, e.Position)
				}
			default:
				if len(e.AIS) == 0 {
					t.Errorf("%s event without its ais object", e.Kind)
				}
			}
		}
	}
	if len(kinds) != 2 || kinds[0] != keelson.KindPosition || kinds[1] != keelson.KindStatic {
		t.Fatalf("kinds = %v, want [position static]", kinds)
	}
}

// TestFillEveryField: Fill overwrites every field of keelson.Event (it
// assigns them one by one, so a field added to Event must be added there):
// an event with every field set fills to the same event as a zero one,
// for an AIS message and for an own-ship sentence.
func TestFillEveryField(t *testing.T) {
	recv := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
	for _, line := range []string{
		"!AIVDM,1,1,,B,15Pm=kOP1kGW?0nBao`SS?wB06bd,0*58",
		"$SDDPT,5.3,0.4,*79",
	} {
		var dirty keelson.Event
		v := reflect.ValueOf(&dirty).Elem()
		for i := range v.NumField() {
			f := v.Field(i)
			switch name := v.Type().Field(i).Name; {
			case name == "Position" || name == "Static" || name == "Observation":
				// Reused through: left nil here (TestFillReuse covers them).
			case f.Kind() == reflect.Pointer:
				f.Set(reflect.New(f.Type().Elem()))
			default:
				setNonZero(t, name, f)
			}
		}
		d := NewDecoder(Config{})
		var got, want keelson.Event
		d.Scan([]byte(line), recv, func(m *Message) {
			got = dirty
			d.Fill(&got, m, recv)
		})
		d = NewDecoder(Config{})
		d.Scan([]byte(line), recv, func(m *Message) { d.Fill(&want, m, recv) })
		if want.Kind == "" {
			t.Fatalf("%s: no event", line)
		}
		if len(got.AIS) == 0 && len(want.AIS) == 0 {
			got.AIS, want.AIS = nil, nil // an empty buffer kept for reuse is no difference
		}
		// Payloads (NaN for n/a, which DeepEqual never finds equal) by their JSON.
		gotJSON, wantJSON := got.AppendJSON(nil), want.AppendJSON(nil)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("%s: filled over a dirty event:\n%s\nwant\n%s", line, gotJSON, wantJSON)
		}
		got.Position, got.Static, got.Observation, got.Telemetry = nil, nil, nil, nil
		want.Position, want.Static, want.Observation, want.Telemetry = nil, nil, nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: filled over a dirty event:\n%+v\nwant\n%+v", line, got, want)
		}
	}
}

// setNonZero sets f (and, for a struct, each of its fields) to a value
// other than its zero value.
func setNonZero(t *testing.T, name string, f reflect.Value) {
	switch f.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f.SetUint(7)
	case reflect.String:
		f.SetString("junk")
	case reflect.Slice:
		f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		setNonZero(t, name, f.Index(0))
	case reflect.Struct:
		if f.Type() == reflect.TypeOf(time.Time{}) {
			f.Set(reflect.ValueOf(time.Unix(1e9, 1)))
			return
		}
		for i := range f.NumField() {
			setNonZero(t, name+"."+f.Type().Field(i).Name, f.Field(i))
		}
	default:
		t.Fatalf("field %s: kind %v not handled", name, f.Kind())
	}
}
