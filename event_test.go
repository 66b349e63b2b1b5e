package keelson

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

func TestEventJSONRoundTripKeepsNA(t *testing.T) {
	in := Event{
		V: SchemaVersion, Kind: KindPosition, Received: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
		MMSI: 219000001,
		Position: &Position{Point: orb.Point{10.5, 55.25}, Class: ClassA, SOG: 0, COG: NA, Heading: NA, ROT: NA,
			NavStatus: 15, Second: 60, Altitude: NA, HDOP: NA},
	}
	b, err := json.Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out Event
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	p := out.Position
	if p.SOG != 0 || !p.SOG.Valid() {
		t.Errorf("SOG 0 must stay a valid zero, got %v", p.SOG)
	}
	for name, f := range map[string]Float{"cog": p.COG, "heading": p.Heading, "rot": p.ROT, "altitude": p.Altitude, "hdop": p.HDOP} {
		if f.Valid() {
			t.Errorf("%s: not available became %v after a round trip of %s", name, f, b)
		}
	}
	if !out.ID.IsZero() {
		t.Errorf("zero id decoded as %v", out.ID)
	}
	s := Static{Name: "DUEODDE", Draught: NA}
	b, _ = json.Marshal(&s)
	var s2 Static
	if err := json.Unmarshal(b, &s2); err != nil || s2.Draught.Valid() {
		t.Errorf("static draught n/a round trip: %s -> %+v, %v", b, s2, err)
	}
}

func TestParseEventID(t *testing.T) {
	id := EventID{Collector: "ship/a", Boot: 1764244800000, Seq: 42}
	got, err := ParseEventID(id.String())
	if err != nil || got != id {
		t.Fatalf("ParseEventID(%q) = %v, %v", id.String(), got, err)
	}
	for _, bad := range []string{"", "x", "a/b/c", "a/1/", "/1/2", "a/1/-2"} {
		if _, err := ParseEventID(bad); !errors.Is(err, ErrInvalidEventID) {
			t.Errorf("ParseEventID(%q): err %v, want ErrInvalidEventID", bad, err)
		}
	}
}

func TestMMSI(t *testing.T) {
	if s := MMSI(2190001).String(); s != "002190001" {
		t.Errorf("String = %q", s)
	}
	for _, bad := range []string{"", "1234567890", "12a", "-1"} {
		if _, err := ParseMMSI(bad); !errors.Is(err, ErrInvalidMMSI) {
			t.Errorf("ParseMMSI(%q): %v", bad, err)
		}
	}
}
