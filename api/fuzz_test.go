package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
)

// Fuzz targets of every parser of request input; go test runs the seeds
// (f.Add and testdata/fuzz/*).

func FuzzParseBBox(f *testing.F) {
	for _, s := range []string{"10,54,12,56", "-180,-90,180,90", "1,2,3", "NaN,1,2,3", "1e400,0,0,0", " 1 ,2,3,4", "12,54,10,56"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := parseBBox("bbox", s)
		if err != nil {
			if !errors.Is(err, ErrInvalidParam) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if !validLonLat(b.Min) || !validLonLat(b.Max) || b.Min[0] > b.Max[0] || b.Min[1] > b.Max[1] {
			t.Fatalf("%q accepted as %v", s, b)
		}
	})
}

func FuzzParseCursor(f *testing.F) {
	f.Add("YzEuMS4y")
	f.Add("")
	f.Add("YzEuLTEuNDI5NDk2NzI5Ng")
	f.Add("YzIuMTc5MDgxMjgwMDEyMzAwMDAwMC4yMTkwMDAwMDEuNTU2NTQzMjEwLi0xMDEyMzQ1Njc") // c2: with the place
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCursor("cursor", s)
		if err != nil {
			if !errors.Is(err, ErrInvalidParam) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if c2, err := parseCursor("cursor", encodeCursor(*c)); err != nil || !c2.Time.Equal(c.Time) || c2.MMSI != c.MMSI ||
			c2.Point != c.Point || c2.LatE7 != c.LatE7 || c2.LonE7 != c.LonE7 {
			t.Fatalf("%q: round trip %v -> %v, %v", s, c, c2, err)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-10-01T00:00:00Z", "2026-10-01T00:00:00+02:00", "2026-10-01T00:00:00 Europe/Oslo", "9999-12-31T23:59:59Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseTime("from", s)
		if err != nil {
			if !errors.Is(err, ErrInvalidParam) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if v.Location().String() != "UTC" || v.Year() < 1970 || v.Year() > 2200 {
			t.Fatalf("%q accepted as %v", s, v)
		}
	})
}

func FuzzPolygonBody(f *testing.F) {
	f.Add([]byte(`{"type":"Polygon","coordinates":[[[10,54],[12,54],[12,56],[10,54]]]}`))
	f.Add([]byte(`{"type":"Feature","geometry":{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]]}}`))
	f.Add([]byte(`{"type":"Polygon","coordinates":[[]]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := httptest.NewRequest("POST", "/v1/positions", bytes.NewReader(b))
		mp, err := readPolygon(r)
		if err != nil {
			if !errors.Is(err, ErrInvalidParam) {
				t.Fatalf("%q: %v", b, err)
			}
			return
		}
		for _, p := range mp {
			for _, ring := range p {
				if len(ring) < 4 || ring[0] != ring[len(ring)-1] {
					t.Fatalf("%q: accepted ring %v", b, ring)
				}
			}
		}
	})
}

func FuzzScopeJSON(f *testing.F) {
	f.Add([]byte(`{"mmsis":[1],"region":{"type":"Polygon","coordinates":[[[10,54],[12,54],[12,56],[10,54]]]},"delay":"24h0m0s","export":true}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"region":{"type":"MultiPolygon","coordinates":[]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Scope
		if err := json.Unmarshal(b, &s); err != nil {
			return
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		var s2 Scope
		if err := json.Unmarshal(out, &s2); err != nil {
			t.Fatalf("%q -> %s: %v", b, out, err)
		}
	})
}

// The {id} of /v1/vessels/{id}: an MMSI (digits only) or an own-ship
// vessel id, never both, and nothing that could reach SQL as text other
// than letters, digits and _ . : - (it is a parameter anyway).
func FuzzParseVesselID(f *testing.F) {
	for _, s := range []string{"211000001", "000000001", "0", "1234567890", "zeus", "9V-ABC", "a.b:c_d-e", "-x", "ze'us", "é", "a b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, own, err := parseVesselID("id", s)
		if err != nil {
			if !errors.Is(err, ErrInvalidParam) || m != 0 || own != "" {
				t.Fatalf("%q: %v %v %q", s, err, m, own)
			}
			return
		}
		switch {
		case m != 0 && own != "", m == 0 && own == "":
			t.Fatalf("%q: mmsi %v and vessel %q", s, m, own)
		case m != 0 && (!allDigits(s) || m > 999999999):
			t.Fatalf("%q accepted as MMSI %v", s, m)
		case own != "" && (own != s || allDigits(s) || len(s) > 64 || !vesselName.MatchString(s)):
			t.Fatalf("%q accepted as vessel %q", s, own)
		}
	})
}
