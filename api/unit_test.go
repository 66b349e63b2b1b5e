package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
)

func TestParseBBox(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"10,54,12,56", true},
		{"-180,-90,180,90", true},
		{" 10 , 54 , 12 , 56 ", true},
		{"10,54,12", false},
		{"10,54,12,56,1", false},
		{"12,54,10,56", false},  // west east of east
		{"10,56,12,54", false},  // south north of north
		{"10,54,190,56", false}, // lon out of range
		{"10,-91,12,56", false},
		{"NaN,54,12,56", false},
		{"10,54,Inf,56", false},
		{"10;54;12;56", false},
		{"10,54,12,56'--", false},
		{"", false},
	} {
		_, err := parseBBox("bbox", tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("parseBBox(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidParam) {
			t.Errorf("parseBBox(%q): %v is not ErrInvalidParam", tc.in, err)
		}
	}
}

func TestParseTime(t *testing.T) {
	good := []string{"2026-10-01T00:00:00Z", "2026-10-01T02:00:00+02:00", "2026-10-01T00:00:00.123Z"}
	for _, s := range good {
		if v, err := parseTime("from", s); err != nil || !v.Equal(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(strings.Count(s, ".123"))*123*time.Millisecond)) {
			t.Errorf("parseTime(%q) = %v, %v", s, v, err)
		}
	}
	bad := []string{"2026-10-01", "2026-10-01T00:00:00 Europe/Oslo", "2026-10-01T00:00:00 CET", "yesterday", "1700000000",
		"2026-10-01T00:00:00Z' OR 1=1 --", "0001-01-01T00:00:00Z", "2026-13-01T00:00:00Z"}
	for _, s := range bad {
		if _, err := parseTime("from", s); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("parseTime(%q) err = %v, want ErrInvalidParam", s, err)
		}
	}
}

func TestParseLists(t *testing.T) {
	if mm, err := parseMMSIs("mmsi", "211000001, 211000002,211000001"); err != nil || !slices.Equal(mm, []keelson.MMSI{211000001, 211000002}) {
		t.Errorf("parseMMSIs = %v, %v", mm, err)
	}
	for _, s := range []string{"", "0", "1234567890", "21100000a", "211000001;DROP TABLE positions", `211000001\`, "-1"} {
		if _, err := parseMMSIs("mmsi", s); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("parseMMSIs(%q) err = %v", s, err)
		}
	}
	if _, err := parseMMSIs("mmsi", strings.Repeat("1,", 1000)+"1"); !errors.Is(err, ErrInvalidParam) {
		t.Errorf("1001 MMSIs accepted")
	}
	if ts, err := parseShipTypes("ship_type", "70,80"); err != nil || !slices.Equal(ts, []uint8{70, 80}) {
		t.Errorf("parseShipTypes = %v %v", ts, err)
	}
	for _, s := range []string{"100", "-1", "7O", "70 OR 1"} {
		if _, err := parseShipTypes("ship_type", s); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("parseShipTypes(%q) err = %v", s, err)
		}
	}
}

func TestQueryUnknownAndRepeated(t *testing.T) {
	if _, err := newQuery("bboxx=1", "bbox"); !errors.Is(err, ErrInvalidParam) {
		t.Errorf("unknown parameter accepted: %v", err)
	}
	if _, err := newQuery("bbox=1&bbox=2", "bbox"); !errors.Is(err, ErrInvalidParam) {
		t.Errorf("repeated parameter accepted: %v", err)
	}
	if _, err := newQuery("bbox=1;2", "bbox"); !errors.Is(err, ErrInvalidParam) {
		t.Errorf("semicolon accepted: %v", err)
	}
	if _, err := parseFormat("format", "xlsx", listFormats); !errors.Is(err, ErrInvalidParam) {
		t.Errorf("unknown format accepted: %v", err)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := storage.Cursor{Time: time.Date(2026, 10, 1, 1, 2, 3, 456e6, time.UTC), MMSI: 211000001}
	got, err := parseCursor("cursor", encodeCursor(c))
	if err != nil || !got.Time.Equal(c.Time) || got.MMSI != c.MMSI {
		t.Fatalf("cursor round trip: %v %v", got, err)
	}
	for _, s := range []string{"", "abc", "'; DROP TABLE x --", "YzIuMS4y", "YzEuMS4yLjM"} {
		if _, err := parseCursor("cursor", s); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("parseCursor(%q) err = %v", s, err)
		}
	}
}

func TestKeys(t *testing.T) {
	secret, k, err := NewKey("partner", Scope{Export: true}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	id, err := ParseKeyID(secret)
	if err != nil || id != k.ID {
		t.Fatalf("ParseKeyID(%q) = %q, %v; want %q", secret, id, err, k.ID)
	}
	if HashKey(secret) != k.Hash {
		t.Fatal("hash mismatch")
	}
	secret2, k2, _ := NewKey("other", Scope{}, time.Now())
	if secret2 == secret || k2.ID == k.ID {
		t.Fatal("keys repeat")
	}
	for _, s := range []string{"", "kls_", secret + "x", strings.ToUpper(secret), "Bearer " + secret, secret[:20]} {
		if _, err := ParseKeyID(s); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ParseKeyID(%q) err = %v", s, err)
		}
	}
}

func TestScopeJSON(t *testing.T) {
	in := `{"mmsis":[211000001],"region":{"type":"Polygon","coordinates":[[[10,54],[12,54],[12,56],[10,56],[10,54]]]},"max_range":"24h0m0s","delay":"1h0m0s","export":true,"aggregated":true,"rate":5,"burst":7}`
	var s Scope
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Region) != 1 || !s.allowsPoint(orb.Point{11, 55}) || s.allowsPoint(orb.Point{13, 55}) {
		t.Fatalf("region: %v", s.Region)
	}
	if time.Duration(s.Delay) != time.Hour || time.Duration(s.MaxRange) != 24*time.Hour || !s.Export || !s.Aggregated || s.Rate != 5 || s.Burst != 7 {
		t.Fatalf("scope: %+v", s)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var s2 Scope
	if err := json.Unmarshal(b, &s2); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if !s2.allowsPoint(orb.Point{11, 55}) || s2.allowsPoint(orb.Point{13, 55}) || s2.Delay != s.Delay {
		t.Fatalf("round trip: %s", b)
	}
	for _, bad := range []string{`{"region":{"type":"Point","coordinates":[1,2]}}`, `{"delay":"-1h"}`, `{"delay":"soon"}`,
		`{"region":{"type":"Polygon","coordinates":[[[10,54],[12,54],[10,54]]]}}`, `{"rate":-1}`} {
		if err := json.Unmarshal([]byte(bad), &s); !errors.Is(err, ErrInvalidScope) {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
}

func TestFilterMMSIs(t *testing.T) {
	s := Scope{MMSIs: []keelson.MMSI{1, 2}}
	if got, ok := s.filterMMSIs(nil); !ok || !slices.Equal(got, []keelson.MMSI{1, 2}) {
		t.Errorf("all: %v %v", got, ok)
	}
	if got, ok := s.filterMMSIs([]keelson.MMSI{2, 3}); !ok || !slices.Equal(got, []keelson.MMSI{2}) {
		t.Errorf("intersect: %v %v", got, ok)
	}
	if _, ok := s.filterMMSIs([]keelson.MMSI{3}); ok {
		t.Errorf("disjoint allowed")
	}
	open := Scope{}
	if got, ok := open.filterMMSIs(nil); !ok || got != nil {
		t.Errorf("open: %v %v", got, ok)
	}
	// A key with only an own-ship allowlist sees no AIS vessel.
	own := Scope{Vessels: []string{"zeus"}}
	if _, ok := own.filterMMSIs(nil); ok || own.allowsMMSI(1) {
		t.Errorf("own-ship-only key sees AIS vessels")
	}
}

func track(n int, step time.Duration) []storage.PositionRow {
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var pts []storage.PositionRow
	for i := range n {
		// A vessel steaming east along 55N at about 10 knots with a wiggle.
		pts = append(pts, storage.PositionRow{MMSI: 1, Time: t0.Add(time.Duration(i) * step),
			Lon: 10 + float64(i)*0.0029*step.Minutes(), Lat: 55 + 0.0001*math.Sin(float64(i)),
			SOG: 10, COG: 90, Heading: keelson.NA})
	}
	return pts
}

func TestResample(t *testing.T) {
	pts := track(10, time.Minute)
	// A gap of an hour between the 5th and 6th report.
	for i := 5; i < len(pts); i++ {
		pts[i].Time = pts[i].Time.Add(time.Hour)
	}
	out := Resample(pts, 30*time.Second, 10*time.Minute)
	// 0..4 min every 30 s = 9 points, 65..69 min = 9 points, none in the gap.
	if len(out) != 18 {
		t.Fatalf("got %d points, want 18", len(out))
	}
	for i, p := range out {
		if p.Time.Sub(pts[0].Time)%(30*time.Second) != 0 {
			t.Errorf("point %d at %v is off the grid", i, p.Time)
		}
		if p.Time.After(pts[4].Time) && p.Time.Before(pts[5].Time) {
			t.Errorf("point %d at %v interpolated across the gap", i, p.Time)
		}
	}
	// The midpoint between two reports lies on the great circle between them.
	mid := out[1]
	want := geo.Midpoint(pts[0].Point(), pts[1].Point())
	if d := geo.Distance(mid.Point(), want); d > 0.5 {
		t.Errorf("midpoint %v is %.2f m from the great-circle midpoint %v", mid.Point(), d, want)
	}
	if !same(out[0], pts[0]) || !same(out[len(out)-1], pts[len(pts)-1]) {
		t.Errorf("reports on the grid must pass unchanged")
	}
	// Without max_gap the gap is filled.
	if n := len(Resample(pts, 30*time.Second, 0)); n != 2*69+1 {
		t.Errorf("no max_gap: %d points, want %d", n, 2*69+1)
	}
	if lerpAngle(350, 10, 0.5) != 0 && lerpAngle(350, 10, 0.5) != 360 {
		t.Errorf("lerpAngle(350, 10) = %v", lerpAngle(350, 10, 0.5))
	}
}

func TestSimplify(t *testing.T) {
	pts := track(200, time.Minute)
	// Wiggles of ~11 m: a 50 m tolerance keeps the ends only; 1 m keeps more.
	coarse := Simplify(pts, 50)
	if len(coarse) != 2 || !same(coarse[0], pts[0]) || !same(coarse[1], pts[len(pts)-1]) {
		t.Fatalf("50 m: %d points", len(coarse))
	}
	fine := Simplify(pts, 1)
	if len(fine) <= 2 || len(fine) > len(pts) {
		t.Fatalf("1 m: %d points", len(fine))
	}
	// Every dropped point is within the tolerance of the simplified line.
	for _, p := range pts {
		best := math.Inf(1)
		for i := 0; i+1 < len(coarse); i++ {
			best = min(best, segDist(p.Point(), coarse[i].Point(), coarse[i+1].Point()))
		}
		if best > 50 {
			t.Fatalf("point %v is %.1f m from the simplified track", p.Point(), best)
		}
	}
}

// segDist is the distance in metres from p to segment ab (small extents).
func segDist(p, a, b orb.Point) float64 {
	k := math.Cos(a[1] * math.Pi / 180)
	ax, ay, bx, by, px, py := a[0]*k, a[1], b[0]*k, b[1], p[0]*k, p[1]
	dx, dy := bx-ax, by-ay
	f := max(0, min(1, ((px-ax)*dx+(py-ay)*dy)/(dx*dx+dy*dy)))
	x, y := ax+f*dx, ay+f*dy
	return math.Hypot(px-x, py-y) * 111_194.9
}

func TestIndexNearestMatchesBruteForce(t *testing.T) {
	ix := NewIndex()
	rng := rand.New(rand.NewPCG(1, 2))
	var all []storage.VesselRow
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3000 {
		v := storage.VesselRow{MMSI: keelson.MMSI(200000000 + i), HasPosition: true}
		v.Position = storage.PositionRow{MMSI: v.MMSI, Time: t0, Lon: rng.Float64()*360 - 180, Lat: rng.Float64()*170 - 85}
		if i%3 == 0 { // a cluster
			v.Position.Lon, v.Position.Lat = 10+rng.Float64(), 55+rng.Float64()
		}
		ix.Put(&v)
		all = append(all, v)
	}
	// Moving vessels keeps one entry each.
	for i := range 500 {
		v := all[i]
		v.Position.Time = t0.Add(time.Minute)
		v.Position.Lon = rng.Float64()*360 - 180
		ix.Put(&v)
		all[i] = v
	}
	if ix.Len() != len(all) {
		t.Fatalf("index has %d vessels, want %d", ix.Len(), len(all))
	}
	for q := range 200 {
		p := orb.Point{rng.Float64()*360 - 180, rng.Float64()*178 - 89}
		if q%4 == 0 {
			p = orb.Point{10.5, 55.5}
		}
		radius := []float64{maxRadius, 50_000, 500_000, 2_000_000}[q%4]
		k := 1 + q%25
		got := ix.Nearest(p, k, radius, nil)
		var want []float64
		for _, v := range all {
			if d := geo.Distance(p, v.Position.Point()); d <= radius {
				want = append(want, d)
			}
		}
		slices.Sort(want)
		want = want[:min(k, len(want))]
		if len(got) != len(want) {
			t.Fatalf("query %d at %v r=%v: %d results, want %d", q, p, radius, len(got), len(want))
		}
		for i := range got {
			if math.Abs(got[i].Distance-want[i]) > 1e-6 {
				t.Fatalf("query %d: result %d at %.1f m, want %.1f m", q, i, got[i].Distance, want[i])
			}
		}
	}
	// Bounding boxes agree with a scan.
	for range 100 {
		w, s := rng.Float64()*350-180, rng.Float64()*160-80
		b := orb.Bound{Min: orb.Point{w, s}, Max: orb.Point{w + rng.Float64()*20, s + rng.Float64()*10}}
		got := ix.InBound(nil, b, nil)
		n := 0
		for _, v := range all {
			if b.Contains(v.Position.Point()) {
				n++
			}
		}
		if len(got) != n || !slices.IsSortedFunc(got, func(a, b storage.VesselRow) int { return int(a.MMSI) - int(b.MMSI) }) {
			t.Fatalf("bbox %v: %d vessels, want %d (sorted)", b, len(got), n)
		}
	}
}

func TestFormatsEscape(t *testing.T) {
	v := storage.VesselRow{MMSI: 1, Name: "A \"B\", C\\D\n\x01é\xff", Draught: keelson.NA}
	b := vesselTable.appendJSON(nil, &v, nil)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if m["name"] != "A \"B\", C\\D\n\x01é\ufffd" || m["draught"] != nil || m["lon"] != nil {
		t.Fatalf("decoded %v", m)
	}
	c := vesselTable.appendCSV(nil, &v, nil)
	if !bytes.Contains(c, []byte(`"A ""B"", C\D`)) {
		t.Fatalf("csv %q", c)
	}
	// CSV (and Parquet) carry invalid UTF-8 as JSON does: one U+FFFD a byte.
	v.Name = "ab\xff\xfe" + "c"
	if c := vesselTable.appendCSV(nil, &v, nil); !bytes.Contains(c, []byte(",ab\ufffd\ufffdc,")) || !utf8.Valid(c) {
		t.Fatalf("csv of invalid UTF-8: %q", c)
	}
	if got := validUTF8("x\xe2\x82y\u2028é"); got != "x\ufffd\ufffdy\u2028é" {
		t.Fatalf("validUTF8: %q", got)
	}
}

func TestErrorShape(t *testing.T) {
	s := &Server{}
	s.log = discardLogger()
	for _, tc := range []struct {
		err  error
		code int
		msg  string
	}{
		{badParam("bbox", "nope"), 400, "bbox: nope"},
		{errorf(ErrOutOfScope, "no"), 403, "no"},
		{errors.New("clickhouse: secret table xyz exploded"), 500, "internal error"},
		{storage.ErrNotFound, 404, "not found"},
	} {
		w := httptest.NewRecorder()
		s.fail(w, httptest.NewRequest("GET", "/v1/x", nil), tc.err)
		var body struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != tc.code || body.Error.Message != tc.msg || body.Error.Code == "" {
			t.Errorf("%v: %d %s", tc.err, w.Code, w.Body)
		}
	}
}

func same(a, b storage.PositionRow) bool {
	return a.Time.Equal(b.Time) && a.Point() == b.Point() && a.MMSI == b.MMSI
}

func TestAppendFloatRoundTrips(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(v float64) {
		b := appendFloat(nil, v, "null")
		got, err := strconv.ParseFloat(string(b), 64)
		if err != nil || got != v {
			t.Fatalf("appendFloat(%v) = %s (parses as %v, %v)", v, b, got, err)
		}
	}
	for range 200000 {
		check(float64(rng.Int64N(3600000000)-1800000000) / 1e7) // stored positions
		check(math.Round(float64(float32(rng.Float64()*720-360))*1e6) / 1e6)
		check(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(30)-15)))
	}
	for _, v := range []float64{0, -0.5, 1e9, -1e9, 1e21, 5e-324, 0.1, 179.9999999, -179.9999999} {
		check(v)
	}
	if string(appendFloat(nil, math.NaN(), "null")) != "null" {
		t.Fatal("NaN")
	}
}

func TestTimeCache(t *testing.T) {
	var c timeCache
	t0 := time.Date(2026, 10, 1, 23, 59, 58, 7e6, time.UTC)
	for i := range 5000 {
		ts := t0.Add(time.Duration(i) * 337 * time.Millisecond)
		if got, want := string(c.append(nil, ts)), ts.Format(timeLayout); got != want {
			t.Fatalf("%s, want %s", got, want)
		}
	}
}
