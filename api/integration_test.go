package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/planar"
)

// row is one row of any list endpoint, decoded generically.
type row map[string]any

func (r row) num(k string) float64 {
	switch v := r[k].(type) {
	case float64:
		return v
	case nil:
		return math.NaN()
	}
	panic(fmt.Sprintf("%s is %T", k, r[k]))
}

func (r row) mmsi() keelson.MMSI { return keelson.MMSI(r.num("mmsi")) }

func (r row) time(k string) time.Time {
	s, _ := r[k].(string)
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func (r row) point() orb.Point { return orb.Point{r.num("lon"), r.num("lat")} }

type page struct {
	Data []row  `json:"data"`
	Next string `json:"next_cursor"`
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// call does a request and decodes a JSON body; it fails on a status other than want.
func (e *testEnv) call(t testing.TB, method, path, key, body string, want int, into any) *http.Response {
	t.Helper()
	resp := e.do(t, method, path, key, body)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("%s %s: %v: %.300s", method, path, err, b)
		}
	}
	if want >= 400 {
		var eb struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
			t.Fatalf("%s %s: error body %s is not the error shape", method, path, b)
		}
		resp.Header.Set("X-Test-Error-Code", eb.Error.Code)
	}
	return resp
}

// all follows cursors and returns every row.
func (e *testEnv) all(t testing.TB, path, key string) []row {
	t.Helper()
	var out []row
	cursor := ""
	for range 1000 {
		p := path
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		var pg page
		e.call(t, "GET", p, key, "", 200, &pg)
		out = append(out, pg.Data...)
		if pg.Next == "" {
			return out
		}
		cursor = pg.Next
	}
	t.Fatal("too many pages")
	return nil
}

// positionEvents returns the usable AIS positions of the loaded events.
func (e *testEnv) positionEvents() []keelson.Event {
	var out []keelson.Event
	for _, ev := range e.events {
		if ev.Kind == keelson.KindPosition && ev.Position != nil && ev.MMSI != 0 &&
			ev.Flags&(keelson.FlagPositionNA|keelson.FlagPositionInvalid) == 0 {
			out = append(out, ev)
		}
	}
	return out
}

// busiest returns the MMSI with the most positions.
func (e *testEnv) busiest() keelson.MMSI {
	n := map[keelson.MMSI]int{}
	for _, ev := range e.positionEvents() {
		if ev.Position.Class == keelson.ClassA {
			n[ev.MMSI]++
		}
	}
	var best keelson.MMSI
	for m, c := range n {
		if c > n[best] || c == n[best] && m < best {
			best = m
		}
	}
	return best
}

func e7(v float64) int64 { return int64(math.Round(v * 1e7)) }

func TestOpenEndpointsAndAuth(t *testing.T) {
	e := env(t)
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json"} {
		e.call(t, "GET", p, "", "", 200, nil)
	}
	for _, p := range []string{"/v1/vessels", "/v1/vessels/211000001", "/v1/vessels/near?lat=1&lon=1", "/v1/vessels/211000001/track",
		"/v1/vessels/zeus", "/v1/vessels/zeus/track", "/v1/ownships", "/v1/positions", "/v1/observations", "/v1/stream"} {
		r := e.call(t, "GET", p, "", "", 401, nil)
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", p)
		}
		e.call(t, "GET", p, "kls_nothing", "", 401, nil)
		fake, _, _ := NewKey("never stored", Scope{}, e.now)
		e.call(t, "GET", p, fake, "", 401, nil)
	}
	e.call(t, "POST", "/v1/positions", "", `{"type":"Polygon","coordinates":[]}`, 401, nil)
	// A key whose id exists but whose secret differs is refused.
	good := e.key(t, Scope{})
	id, _ := ParseKeyID(good)
	forged := keyPrefix + id + "_" + strings.Repeat("A", 43)
	e.call(t, "GET", "/v1/vessels", forged, "", 401, nil)
	e.call(t, "GET", "/v1/vessels", good, "", 200, nil)
	// Revoked keys stop working (the cache TTL is 1 ms here).
	if err := e.db.RevokeAPIKey(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	e.call(t, "GET", "/v1/vessels", good, "", 401, nil)
	// Metrics count requests.
	r := e.do(t, "GET", "/metrics", "", "")
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !bytes.Contains(b, []byte(`keelson_api_requests_total{code="401",route="GET /v1/vessels"}`)) || !bytes.Contains(b, []byte("keelson_api_index_vessels")) {
		t.Errorf("metrics lack the API counters:\n%.2000s", b)
	}
	// Unknown paths and methods.
	e.call(t, "DELETE", "/v1/vessels", good, "", 405, nil)
}

func TestVessel(t *testing.T) {
	e := env(t)
	k := e.key(t, Scope{})
	// A vessel with static data and positions.
	var m keelson.MMSI
	var name string
	var lastRx time.Time
	hasPos := map[keelson.MMSI]bool{}
	for _, ev := range e.positionEvents() {
		hasPos[ev.MMSI] = true
	}
	for _, ev := range e.events {
		if ev.Static != nil && ev.Static.Name != "" && hasPos[ev.MMSI] && ev.AISType == 5 && (m == 0 || ev.MMSI == m) {
			m, name, lastRx = ev.MMSI, ev.Static.Name, ev.Received
		}
	}
	if m == 0 {
		t.Fatal("no vessel with a name and positions in the captures")
	}
	var v row
	e.call(t, "GET", "/v1/vessels/"+m.String(), k, "", 200, &v)
	if v.mmsi() != m || v["name"] != name {
		t.Errorf("vessel %s: %v, want name %q", m, v, name)
	}
	if !v.time("static_time").Equal(lastRx.Truncate(time.Millisecond)) {
		t.Errorf("static_time %v, want %v", v["static_time"], lastRx)
	}
	// The latest position is one of the vessel's reports, the latest one.
	var latest keelson.Event
	for _, ev := range e.positionEvents() {
		if ev.MMSI == m && !ev.Received.Before(latest.Received) {
			latest = ev
		}
	}
	if e7(v.num("lat")) != e7(latest.Position.Point[1]) || e7(v.num("lon")) != e7(latest.Position.Point[0]) {
		t.Errorf("latest position %v, want %v", v.point(), latest.Position.Point)
	}
	var f struct {
		Type     string
		Geometry struct {
			Type        string
			Coordinates []float64
		}
		Properties row
	}
	e.call(t, "GET", "/v1/vessels/"+m.String()+"?format=geojson", k, "", 200, &f)
	if f.Type != "Feature" || f.Geometry.Type != "Point" || f.Geometry.Coordinates[0] != v.num("lon") || f.Properties.mmsi() != m {
		t.Errorf("geojson %+v", f)
	}
	e.call(t, "GET", "/v1/vessels/999999998", k, "", 404, nil)
	// Digits are an MMSI; other ids name own-ship vessels (TestOwnShip).
	e.call(t, "GET", "/v1/vessels/abc", k, "", 404, nil)
	for _, bad := range []string{"0", "1234567890", "-5", "1e5%20", "_x", "%27"} {
		e.call(t, "GET", "/v1/vessels/"+bad, k, "", 400, nil)
	}
	e.call(t, "GET", "/v1/vessels/"+m.String()+"?format=csv", k, "", 400, nil)
	e.call(t, "GET", "/v1/vessels/"+m.String()+"?x=1", k, "", 400, nil)
}

func TestVesselsList(t *testing.T) {
	e := env(t)
	k := e.key(t, Scope{Export: true})
	const dk = "/v1/vessels?bbox=8,54,16,58&limit=500"
	rows := e.all(t, dk, k)
	if len(rows) < 50 {
		t.Fatalf("only %d vessels around Denmark", len(rows))
	}
	b := orb.Bound{Min: orb.Point{8, 54}, Max: orb.Point{16, 58}}
	seen := map[keelson.MMSI]bool{}
	for i, r := range rows {
		if !b.Contains(r.point()) || seen[r.mmsi()] || i > 0 && rows[i-1].mmsi() >= r.mmsi() {
			t.Fatalf("row %d: %v (outside, repeated or unordered)", i, r)
		}
		seen[r.mmsi()] = true
	}
	// Every vessel is reported at one of its real positions.
	pos := map[keelson.MMSI][]orb.Point{}
	for _, ev := range e.positionEvents() {
		pos[ev.MMSI] = append(pos[ev.MMSI], ev.Position.Point)
	}
	for _, r := range rows {
		if !slices.ContainsFunc(pos[r.mmsi()], func(p orb.Point) bool { return e7(p[0]) == e7(r.num("lon")) && e7(p[1]) == e7(r.num("lat")) }) {
			t.Errorf("vessel %d at %v: no such report", r.mmsi(), r.point())
		}
	}
	// The index and ClickHouse (a key with a tiny delay reads storage) agree.
	sk := e.key(t, Scope{Export: true, Delay: Duration(time.Nanosecond)})
	fromStore := e.all(t, dk, sk)
	if len(fromStore) != len(rows) {
		t.Fatalf("storage path: %d vessels, index: %d", len(fromStore), len(rows))
	}
	for i := range rows {
		if rows[i].mmsi() != fromStore[i].mmsi() || rows[i].point() != fromStore[i].point() || rows[i]["time"] != fromStore[i]["time"] {
			t.Fatalf("row %d: index %v, storage %v", i, rows[i], fromStore[i])
		}
	}
	// Pages of 17 add up to the whole.
	paged := e.all(t, "/v1/vessels?bbox=8,54,16,58&limit=17", k)
	if len(paged) != len(rows) {
		t.Fatalf("paged: %d rows, want %d", len(paged), len(rows))
	}
	for i := range paged {
		if paged[i].mmsi() != rows[i].mmsi() {
			t.Fatalf("paged row %d: %d, want %d", i, paged[i].mmsi(), rows[i].mmsi())
		}
	}
	// ship_type and updated_since filter.
	types := map[int]int{}
	for _, r := range rows {
		types[int(r.num("ship_type"))]++
	}
	delete(types, 0)
	for st, n := range types {
		got := e.all(t, dk+"&ship_type="+strconv.Itoa(st), k)
		if len(got) != n {
			t.Errorf("ship_type %d: %d vessels, want %d", st, len(got), n)
		}
	}
	since := rows[len(rows)/2].time("time")
	got := e.all(t, dk+"&updated_since="+url.QueryEscape(since.Format(time.RFC3339Nano)), k)
	want := 0
	for _, r := range rows {
		if r.time("time").After(since) {
			want++
		}
	}
	if len(got) != want || want == 0 {
		t.Errorf("updated_since: %d vessels, want %d", len(got), want)
	}
	// GeoJSON carries the same vessels.
	var fc struct {
		Type     string
		Features []struct {
			Geometry   struct{ Coordinates []float64 }
			Properties row
		}
	}
	e.call(t, "GET", "/v1/vessels?bbox=8,54,16,58&limit=5000&format=geojson", k, "", 200, &fc)
	if fc.Type != "FeatureCollection" || len(fc.Features) != len(rows) {
		t.Fatalf("geojson: %s with %d features, want %d", fc.Type, len(fc.Features), len(rows))
	}
	for i, f := range fc.Features {
		if f.Properties.mmsi() != rows[i].mmsi() || f.Geometry.Coordinates[0] != rows[i].num("lon") || f.Geometry.Coordinates[1] != rows[i].num("lat") {
			t.Fatalf("feature %d: %v", i, f)
		}
	}
	// Every format carries the same rows.
	for _, f := range []string{"csv", "ndjson", "parquet", "geojson"} {
		sameRows(t, "vessels "+f, e.rows(t, "/v1/vessels?bbox=8,54,16,58&limit=5000&format="+f, k, f), rows)
	}
	for _, bad := range []string{"bbox=16,54,8,58", "bbox=1,2,3", "bbox=a,b,c,d", "limit=0", "limit=-1", "limit=99999999999", "format=xml",
		"ship_type=100", "updated_since=yesterday", "cursor=xyz", "bbox=8,54,16,58&bbox=1,1,2,2"} {
		e.call(t, "GET", "/v1/vessels?"+bad, k, "", 400, nil)
	}
}

func TestNear(t *testing.T) {
	e := env(t)
	k := e.key(t, Scope{Export: true})
	everyone := e.all(t, "/v1/vessels?limit=5000", k)
	p := orb.Point{12.6, 55.7}
	type nd struct {
		m keelson.MMSI
		d float64
	}
	var ref []nd
	for _, r := range everyone {
		ref = append(ref, nd{r.mmsi(), geo.Distance(p, r.point())})
	}
	slices.SortFunc(ref, func(a, b nd) int { return int(math.Copysign(1, a.d-b.d)) })
	var pg page
	e.call(t, "GET", "/v1/vessels/near?lat=55.7&lon=12.6&limit=10", k, "", 200, &pg)
	if len(pg.Data) != 10 {
		t.Fatalf("%d vessels", len(pg.Data))
	}
	for i, r := range pg.Data {
		if math.Abs(r.num("distance_m")-ref[i].d) > 1e-6 {
			t.Errorf("neighbour %d: %v at %.1f m, want %d at %.1f m", i, r.mmsi(), r.num("distance_m"), ref[i].m, ref[i].d)
		}
	}
	for _, f := range []string{"csv", "ndjson", "parquet", "geojson"} {
		sameRows(t, "near "+f, e.rows(t, "/v1/vessels/near?lat=55.7&lon=12.6&limit=10&format="+f, k, f), pg.Data)
	}
	r5 := ref[4].d + 0.001
	e.call(t, "GET", fmt.Sprintf("/v1/vessels/near?lat=55.7&lon=12.6&limit=100&radius_m=%f", r5), k, "", 200, &pg)
	if len(pg.Data) != 5 {
		t.Errorf("radius %.1f m: %d vessels, want 5", r5, len(pg.Data))
	}
	for _, bad := range []string{"lat=55.7", "lon=1", "lat=91&lon=1", "lat=1&lon=181", "lat=x&lon=1", "lat=1&lon=1&limit=1001", "lat=1&lon=1&radius_m=-1", "lat=NaN&lon=1"} {
		e.call(t, "GET", "/v1/vessels/near?"+bad, k, "", 400, nil)
	}
}

func TestTrack(t *testing.T) {
	e := env(t)
	k := e.key(t, Scope{Export: true})
	m := e.busiest()
	from, to := rfc(e.base.Add(-time.Hour)), rfc(e.now)
	q := "?from=" + from + "&to=" + to
	var f struct {
		Type     string
		Geometry struct {
			Type        string
			Coordinates [][2]float64
		}
		Properties struct {
			MMSI   keelson.MMSI
			Points int
			Times  []time.Time
			SOG    []*float64
		}
	}
	e.call(t, "GET", "/v1/vessels/"+m.String()+"/track"+q, k, "", 200, &f)
	if f.Type != "Feature" || f.Geometry.Type != "LineString" || f.Properties.MMSI != m || len(f.Geometry.Coordinates) != f.Properties.Points || len(f.Properties.Times) != f.Properties.Points {
		t.Fatalf("track: %s %s mmsi %d, %d coordinates, %d points", f.Type, f.Geometry.Type, f.Properties.MMSI, len(f.Geometry.Coordinates), f.Properties.Points)
	}
	// The track holds every distinct reported position, and nothing else.
	want := map[[2]int64]bool{}
	for _, ev := range e.positionEvents() {
		if ev.MMSI == m {
			want[[2]int64{e7(ev.Position.Point[0]), e7(ev.Position.Point[1])}] = true
		}
	}
	got := map[[2]int64]bool{}
	for i, c := range f.Geometry.Coordinates {
		got[[2]int64{e7(c[0]), e7(c[1])}] = true
		if i > 0 && f.Properties.Times[i].Before(f.Properties.Times[i-1]) {
			t.Fatalf("track out of time order at %d", i)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("track of %d has %d distinct positions, the captures %d", m, len(got), len(want))
	}
	for p := range want {
		if !got[p] {
			t.Fatalf("position %v missing", p)
		}
	}
	// The same points as rows, in every format.
	var pg page
	e.call(t, "GET", "/v1/vessels/"+m.String()+"/track"+q+"&format=json", k, "", 200, &pg)
	if len(pg.Data) != f.Properties.Points {
		t.Fatalf("json: %d rows, want %d", len(pg.Data), f.Properties.Points)
	}
	for _, format := range []string{"csv", "ndjson", "parquet"} {
		rows := e.rows(t, "/v1/vessels/"+m.String()+"/track"+q+"&format="+format, k, format)
		sameRows(t, format, rows, pg.Data)
	}
	// Simplified: fewer points, same ends, each dropped point near the line.
	var s struct {
		Geometry struct{ Coordinates [][2]float64 }
	}
	e.call(t, "GET", "/v1/vessels/"+m.String()+"/track"+q+"&simplify=200", k, "", 200, &s)
	n := len(s.Geometry.Coordinates)
	if n >= len(f.Geometry.Coordinates) || n < 2 || s.Geometry.Coordinates[0] != f.Geometry.Coordinates[0] || s.Geometry.Coordinates[n-1] != f.Geometry.Coordinates[len(f.Geometry.Coordinates)-1] {
		t.Errorf("simplify=200: %d of %d points", n, len(f.Geometry.Coordinates))
	}
	// Resampled every 30 s, never across gaps over 2 minutes.
	var rs page
	e.call(t, "GET", "/v1/vessels/"+m.String()+"/track"+q+"&resample=30s&max_gap=2m&format=json", k, "", 200, &rs)
	if len(rs.Data) < 2 {
		t.Fatalf("resample: %d points", len(rs.Data))
	}
	times := f.Properties.Times
	for _, r := range rs.Data {
		ts := r.time("time")
		if ts.UnixMilli()%30000 != 0 {
			t.Fatalf("resampled point at %v is off the 30 s grid", ts)
		}
		i, _ := slices.BinarySearchFunc(times, ts, func(a, b time.Time) int { return a.Compare(b) })
		if i < len(times) && times[i].Equal(ts) {
			continue
		}
		if i == 0 || i == len(times) || times[i].Sub(times[i-1]) > 2*time.Minute {
			t.Fatalf("resampled point at %v lies in a gap (%v .. %v)", ts, times[max(i-1, 0)], times[min(i, len(times)-1)])
		}
	}
	for _, bad := range []string{"from=" + to + "&to=" + from, "from=2026-01-01", "simplify=-1", "resample=0s", "resample=10", "max_gap=1m",
		"resample=1m&max_gap=forever", "format=shp", "from=2026-10-01T00:00:00Z&to=2027-10-01T00:00:00Z"} {
		e.call(t, "GET", "/v1/vessels/"+m.String()+"/track?"+bad, k, "", 400, nil)
	}
}

// rows fetches a list in a format and decodes it into rows.
func (e *testEnv) rows(t testing.TB, path, key, format string) []row {
	t.Helper()
	resp := e.do(t, "GET", path, key, "")
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != contentType(Format(format)) {
		t.Errorf("%s: Content-Type %q", path, ct)
	}
	return decodeRows(t, b, format)
}

func decodeRows(t testing.TB, b []byte, format string) []row {
	t.Helper()
	var out []row
	switch format {
	case "json":
		var pg page
		if err := json.Unmarshal(b, &pg); err != nil {
			t.Fatal(err)
		}
		return pg.Data
	case "ndjson":
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var r row
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatalf("ndjson %q: %v", line, err)
			}
			out = append(out, r)
		}
	case "geojson":
		var fc struct {
			Type     string
			Features []struct {
				Geometry   struct{ Coordinates []float64 }
				Properties row
			}
		}
		if err := json.Unmarshal(b, &fc); err != nil || fc.Type != "FeatureCollection" {
			t.Fatalf("geojson: %v %s", err, fc.Type)
		}
		for _, f := range fc.Features {
			if f.Geometry.Coordinates[0] != f.Properties.num("lon") || f.Geometry.Coordinates[1] != f.Properties.num("lat") {
				t.Fatalf("geometry %v vs properties %v", f.Geometry.Coordinates, f.Properties)
			}
			out = append(out, f.Properties)
		}
	case "csv":
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatalf("csv: %v", err)
		}
		for _, rec := range recs[1:] {
			r := row{}
			for i, h := range recs[0] {
				switch v := rec[i]; {
				case h == "vessel" || h == "quantity" || h == "unit" || h == "sentence" || h == "sensor" || h == "name" || h == "callsign" || h == "destination" || h == "eta":
					r[h] = v // strings are never null; empty is ""
				case v == "":
					r[h] = nil
				case h == "time" || h == "received" || h == "static_time":
					r[h] = v
				default:
					f, err := strconv.ParseFloat(v, 64)
					if err != nil {
						t.Fatalf("csv %s=%q", h, v)
					}
					r[h] = f
				}
			}
			out = append(out, r)
		}
	case "parquet":
		f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("parquet: %v", err)
		}
		fields := f.Schema().Fields()
		rd := parquet.NewReader(f)
		buf := make([]parquet.Row, 100)
		for {
			n, err := rd.ReadRows(buf)
			for _, pr := range buf[:n] {
				r := row{}
				for _, v := range pr {
					fld := fields[v.Column()]
					name := fld.Name()
					switch {
					case v.IsNull():
						r[name] = nil
					case isTimestamp(fld):
						r[name] = time.UnixMilli(v.Int64()).UTC().Format(timeLayout)
					case v.Kind() == parquet.Double:
						r[name] = v.Double()
					case v.Kind() == parquet.Int64:
						r[name] = float64(v.Int64())
					default:
						r[name] = string(v.ByteArray())
					}
				}
				out = append(out, r)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("parquet: %v", err)
			}
		}
	default:
		t.Fatalf("format %s", format)
	}
	return out
}

// sameRows compares decoded rows with the JSON rows, column by column.
func sameRows(t testing.TB, what string, got, want []row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range want {
		for k, wv := range want[i] {
			gv := got[i][k]
			if ws, ok := wv.(string); ok && strings.HasSuffix(ws, "Z") {
				if gt, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(gv)); !gt.Equal(want[i].time(k)) {
					t.Fatalf("%s row %d %s: %v, want %v", what, i, k, gv, wv)
				}
				continue
			}
			if fmt.Sprint(gv) != fmt.Sprint(wv) {
				t.Fatalf("%s row %d %s: %v (%T), want %v (%T)", what, i, k, gv, gv, wv, wv)
			}
		}
		if len(got[i]) != len(want[i]) {
			t.Fatalf("%s row %d: columns %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestPositions(t *testing.T) {
	e := env(t)
	k := e.key(t, Scope{Export: true})
	base := "/v1/positions?bbox=10,54,14,57&from=" + rfc(e.base.Add(-time.Hour)) + "&to=" + rfc(e.now)
	rows := e.all(t, base+"&limit=10000", k)
	if len(rows) < 500 {
		t.Fatalf("only %d positions", len(rows))
	}
	for i, r := range rows {
		if i > 0 {
			a, b := rows[i-1], r
			if a.time("time").After(b.time("time")) || a.time("time").Equal(b.time("time")) && a.mmsi() > b.mmsi() {
				t.Fatalf("rows %d, %d out of (time, mmsi) order", i-1, i)
			}
		}
	}
	// Against the captures: every AIS position in the box is there.
	b := orb.Bound{Min: orb.Point{10, 54}, Max: orb.Point{14, 57}}
	want := map[[3]int64]bool{}
	for _, ev := range e.positionEvents() {
		if b.Contains(ev.Position.Point) {
			want[[3]int64{int64(ev.MMSI), e7(ev.Position.Point[0]), e7(ev.Position.Point[1])}] = true
		}
	}
	got := map[[3]int64]bool{}
	for _, r := range rows {
		got[[3]int64{int64(r.mmsi()), e7(r.num("lon")), e7(r.num("lat"))}] = true
	}
	if len(got) != len(want) {
		t.Fatalf("%d distinct (vessel, position) in the answer, %d in the captures", len(got), len(want))
	}
	// Pages of 97 add up to the same rows.
	sameRows(t, "pages", e.all(t, base+"&limit=97", k), rows)
	// Every format carries the same rows.
	for _, f := range []string{"json", "ndjson", "csv", "geojson", "parquet"} {
		sameRows(t, f, e.rows(t, base+"&limit=10000&format="+f, k, f), rows)
	}
	// MMSI list and ship type.
	m := rows[0].mmsi()
	var n int
	for _, r := range rows {
		if r.mmsi() == m {
			n++
		}
	}
	if got := e.all(t, base+"&mmsi="+m.String()+",999999998", k); len(got) != n {
		t.Errorf("mmsi filter: %d rows, want %d", len(got), n)
	}
	var v row
	e.call(t, "GET", "/v1/vessels/"+m.String(), k, "", 200, &v)
	st := int(v.num("ship_type"))
	checked := map[keelson.MMSI]bool{}
	for _, r := range e.all(t, base+"&limit=10000&ship_type="+strconv.Itoa(st), k) {
		if checked[r.mmsi()] || len(checked) > 20 {
			continue
		}
		checked[r.mmsi()] = true
		var rv row
		e.call(t, "GET", "/v1/vessels/"+r.mmsi().String(), k, "", 200, &rv)
		if int(rv.num("ship_type")) != st {
			t.Fatalf("ship_type %d filter returned vessel %d of type %v", st, r.mmsi(), rv["ship_type"])
		}
	}
	if len(checked) == 0 {
		t.Errorf("ship_type %d: no rows", st)
	}
	// A polygon in the body: exactly the rows inside it.
	tri := orb.Polygon{{{10, 54}, {14, 54}, {12, 57}, {10, 54}}}
	body, _ := json.Marshal(map[string]any{"type": "Feature", "geometry": map[string]any{"type": "Polygon", "coordinates": tri}})
	var pg page
	e.call(t, "POST", base+"&limit=10000", k, string(body), 200, &pg)
	var inside []row
	for _, r := range rows {
		if planar.PolygonContains(tri, r.point()) {
			inside = append(inside, r)
		}
	}
	if len(inside) == 0 || len(inside) == len(rows) {
		t.Fatalf("triangle holds %d of %d rows", len(inside), len(rows))
	}
	sameRows(t, "polygon", pg.Data, inside)
	// The polygon also pages.
	var all []row
	cursor := ""
	for {
		p := base + "&limit=50"
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		pg = page{}
		e.call(t, "POST", p, k, string(body), 200, &pg)
		all = append(all, pg.Data...)
		if cursor = pg.Next; cursor == "" {
			break
		}
	}
	sameRows(t, "polygon pages", all, inside)
	for _, bad := range []string{"", "{", `{"type":"Point","coordinates":[1,2]}`, `{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}`,
		`{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}`, `{"type":"Polygon","coordinates":[[[0,0],[200,0],[1,1],[0,0]]]}`, `{"type":"Feature"}`} {
		e.call(t, "POST", base, k, bad, 400, nil)
	}
	for _, bad := range []string{"from=2026-10-02T00:00:00Z&to=2026-10-01T00:00:00Z", "mmsi=abc", "mmsi=1,,2", "ship_type=x", "format=xlsx", "limit=100000000", "to=now"} {
		e.call(t, "GET", "/v1/positions?"+bad, k, "", 400, nil)
	}
}

func TestObservations(t *testing.T) {
	e := env(t)
	k := e.key(t, Scope{Export: true})
	from, to := e.now.Add(-30*24*time.Hour), e.now
	// Against the captures: distinct observations in the range.
	want := map[string]bool{}
	for _, ev := range e.events {
		if o := ev.Observation; o != nil {
			ts := o.Time
			if ts.IsZero() {
				ts = ev.Received
			}
			if !ts.Before(from) && ts.Before(to) {
				want[fmt.Sprint(ts.Truncate(time.Millisecond).UnixMilli(), ev.MMSI, o.FI, e7(o.Point[0]), e7(o.Point[1]))] = true
			}
		}
	}
	rows := e.all(t, "/v1/observations?limit=500&from="+rfc(from)+"&to="+rfc(to), k)
	if len(rows) != len(want) || len(want) == 0 {
		t.Fatalf("%d observations, the captures have %d in range", len(rows), len(want))
	}
	for _, f := range []string{"csv", "ndjson", "parquet", "geojson"} {
		sameRows(t, f, e.rows(t, "/v1/observations?limit=500&format="+f+"&from="+rfc(from)+"&to="+rfc(to), k, f), rows)
	}
	// Own-ship telemetry, paged by 7 (several readings share a time).
	var tel int
	for _, ev := range e.events {
		if ev.Telemetry != nil && ev.Vessel == "zeus" {
			tel += len(ev.Telemetry.Readings)
		}
	}
	tq := "/v1/observations?vessel=zeus&from=" + rfc(e.base.Add(-time.Hour)) + "&to=" + rfc(e.now)
	trows := e.all(t, tq+"&limit=5000", k)
	if len(trows) == 0 || len(trows) > tel {
		t.Fatalf("telemetry: %d rows, %d readings in the log", len(trows), tel)
	}
	sameRows(t, "telemetry pages", e.all(t, tq+"&limit=23", k), trows)
	for _, f := range []string{"csv", "ndjson", "parquet"} {
		sameRows(t, "telemetry "+f, e.rows(t, tq+"&limit=100000&format="+f, k, f), trows)
	}
	depth := e.all(t, tq+"&limit=5000&quantity=depth", k)
	for _, r := range depth {
		if r["quantity"] != "depth" {
			t.Fatalf("quantity filter: %v", r)
		}
	}
	if len(depth) == 0 {
		t.Error("no depth readings")
	}
	for _, bad := range []string{"vessel=zeus&bbox=1,1,2,2", "vessel=ze'us", "vessel=" + url.QueryEscape("zeus' OR 1=1 --"), "quantity=depth", "vessel=zeus&quantity=de;pth"} {
		e.call(t, "GET", "/v1/observations?"+bad, k, "", 400, nil)
	}
}

func TestQueryLimitsAnswer413(t *testing.T) {
	e := env(t)
	srv, err := New(Config{Store: e.db.Reader(storage.QueryLimits{MaxRowsToRead: 10}), Keys: e.db, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptestServer(t, srv)
	k := e.key(t, Scope{})
	req, _ := http.NewRequest("GET", hs+"/v1/positions?from="+rfc(e.base)+"&to="+rfc(e.now), nil)
	req.Header.Set("Authorization", "Bearer "+k)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !bytes.Contains(b, []byte(`"too_large"`)) || bytes.Contains(b, []byte("max_rows_to_read")) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

func isTimestamp(f parquet.Field) bool {
	lt := f.Type().LogicalType()
	if lt == nil {
		return false
	}
	_, ok := lt.Value.(*format.TimestampType)
	return ok
}

// Before any key exists there is no api_keys table: keys are refused (401),
// not a 500. (The test drops the table and makes it again; tests make
// their keys when they start and do not run in parallel.)
func TestNoKeysTable(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	if err := e.db.Exec(ctx, "DROP TABLE api_keys", nil, nil); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.db.EnsureAPIKeys(ctx); err != nil {
			t.Fatal(err)
		}
	}()
	secret, _, _ := NewKey("x", Scope{}, e.now)
	e.call(t, "GET", "/v1/vessels", secret, "", 401, nil)
}
