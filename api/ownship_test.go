package api

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/paulmach/orb"
)

// ownFixes returns the usable own-ship positions of vessel v (stored
// without an MMSI), in reception order.
func (e *testEnv) ownFixes(v string) []keelson.Event {
	var out []keelson.Event
	for _, ev := range e.events {
		if ev.Kind == keelson.KindPosition && ev.Position != nil && ev.MMSI == 0 && ev.Vessel == v &&
			ev.Flags&(keelson.FlagPositionNA|keelson.FlagPositionInvalid) == 0 {
			out = append(out, ev)
		}
	}
	return out
}

// Own-ship positions of a collector without an MMSI are served by vessel id
// at /v1/vessels/{id} and /v1/vessels/{id}/track, under every scope rule.
func TestOwnShip(t *testing.T) {
	e := env(t)
	fixes := e.ownFixes("zeus")
	if len(fixes) < 100 {
		t.Fatalf("%d own-ship fixes in the GNSS log", len(fixes))
	}
	last := fixes[len(fixes)-1]
	k := e.key(t, Scope{Export: true})
	win := "from=" + rfc(e.base.Add(-time.Hour)) + "&to=" + rfc(e.now)

	var v row
	e.call(t, "GET", "/v1/vessels/zeus", k, "", 200, &v)
	if v["vessel"] != "zeus" || e7(v.num("lat")) != e7(last.Position.Point[1]) || e7(v.num("lon")) != e7(last.Position.Point[0]) ||
		!v.time("time").Equal(last.Received.Truncate(time.Millisecond)) {
		t.Fatalf("own ship: %v, want the fix %v at %v", v, last.Position.Point, last.Received)
	}
	// The card is a vessel row: mmsi 0, the id in vessel, no AIS identity.
	if v.num("mmsi") != 0 || v["name"] != "" || v.num("ship_type") != 0 || v["static_time"] != nil {
		t.Errorf("own ship card: %v", v)
	}
	var f struct {
		Type     string
		Geometry struct {
			Type        string
			Coordinates []float64
		}
		Properties row
	}
	e.call(t, "GET", "/v1/vessels/zeus?format=geojson", k, "", 200, &f)
	if f.Type != "Feature" || f.Geometry.Type != "Point" || f.Geometry.Coordinates[0] != v.num("lon") || f.Properties["vessel"] != "zeus" {
		t.Errorf("geojson %+v", f)
	}
	// An own-ship id that does not exist, and ids that are neither.
	e.call(t, "GET", "/v1/vessels/nosuchship", k, "", 404, nil)
	e.call(t, "GET", "/v1/vessels/nosuchship/track", k, "", 200, nil) // an empty track, as for an MMSI
	for _, bad := range []string{"-zeus", "ze%20us", "ze'us", "0", "1234567890", "%C3%A9"} {
		e.call(t, "GET", "/v1/vessels/"+bad, k, "", 400, nil)
		e.call(t, "GET", "/v1/vessels/"+bad+"/track", k, "", 400, nil)
	}

	// The track: every distinct fix, in time order, in every format.
	var tr struct {
		Type     string
		Geometry struct {
			Type        string
			Coordinates [][2]float64
		}
		Properties struct {
			Vessel string
			MMSI   *int
			Points int
			Times  []time.Time
		}
	}
	e.call(t, "GET", "/v1/vessels/zeus/track?"+win, k, "", 200, &tr)
	want := map[[2]int64]bool{}
	for _, ev := range fixes {
		want[[2]int64{e7(ev.Position.Point[0]), e7(ev.Position.Point[1])}] = true
	}
	got := map[[2]int64]bool{}
	for i, c := range tr.Geometry.Coordinates {
		got[[2]int64{e7(c[0]), e7(c[1])}] = true
		if i > 0 && tr.Properties.Times[i].Before(tr.Properties.Times[i-1]) {
			t.Fatalf("track out of time order at %d", i)
		}
	}
	if tr.Geometry.Type != "LineString" || tr.Properties.Vessel != "zeus" || tr.Properties.MMSI != nil || len(got) != len(want) {
		t.Fatalf("track: %s vessel %q mmsi %v, %d distinct positions, the log has %d", tr.Geometry.Type, tr.Properties.Vessel, tr.Properties.MMSI, len(got), len(want))
	}
	var pg page
	e.call(t, "GET", "/v1/vessels/zeus/track?format=json&"+win, k, "", 200, &pg)
	if len(pg.Data) != tr.Properties.Points || pg.Data[0]["vessel"] != "zeus" {
		t.Fatalf("json track: %d rows (want %d), first %v", len(pg.Data), tr.Properties.Points, pg.Data[0])
	}
	for _, format := range []string{"csv", "ndjson", "parquet"} {
		sameRows(t, "own-ship track "+format, e.rows(t, "/v1/vessels/zeus/track?format="+format+"&"+win, k, format), pg.Data)
	}

	// The list of own ships: zeus at the same latest position, every format.
	var ol page
	e.call(t, "GET", "/v1/ownships", k, "", 200, &ol)
	if len(ol.Data) != 1 || ol.Data[0]["vessel"] != "zeus" || ol.Data[0].point() != v.point() || ol.Data[0]["time"] != v["time"] || ol.Next != "" {
		t.Fatalf("ownships: %+v, want %v", ol, v)
	}
	for _, format := range []string{"csv", "ndjson", "parquet", "geojson"} {
		sameRows(t, "ownships "+format, e.rows(t, "/v1/ownships?format="+format, k, format), ol.Data)
	}
	p := last.Position.Point
	e.call(t, "GET", fmt.Sprintf("/v1/ownships?bbox=%f,%f,%f,%f", p[0]+0.5, p[1], p[0]+1, p[1]+1), k, "", 200, &ol)
	if len(ol.Data) != 0 {
		t.Fatalf("ownships outside the bbox: %v", ol.Data)
	}
	for _, bad := range []string{"bbox=1,2,3", "format=xml", "limit=5", "vessel=zeus"} {
		e.call(t, "GET", "/v1/ownships?"+bad, k, "", 400, nil)
	}

	t.Run("allowlists", func(t *testing.T) {
		var ol page
		e.call(t, "GET", "/v1/ownships", e.key(t, Scope{Vessels: []string{"zeus"}}), "", 200, &ol)
		if len(ol.Data) != 1 {
			t.Fatalf("ownships for the zeus key: %v", ol.Data)
		}
		for _, s := range []Scope{{Vessels: []string{"other"}}, {MMSIs: []keelson.MMSI{e.busiest()}}} {
			e.call(t, "GET", "/v1/ownships", e.key(t, s), "", 200, &ol)
			if len(ol.Data) != 0 {
				t.Fatalf("ownships for %+v: %v", s, ol.Data)
			}
		}
		own := e.key(t, Scope{Vessels: []string{"zeus"}})
		e.call(t, "GET", "/v1/vessels/zeus", own, "", 200, nil)
		e.call(t, "GET", "/v1/vessels/zeus/track?resample=10m&"+win, own, "", 200, nil)
		e.call(t, "GET", "/v1/vessels/nosuchship", own, "", 403, nil) // no existence leak
		e.call(t, "GET", "/v1/vessels/"+e.busiest().String(), own, "", 403, nil)
		ais := e.key(t, Scope{MMSIs: []keelson.MMSI{e.busiest()}, Export: true})
		e.call(t, "GET", "/v1/vessels/zeus", ais, "", 403, nil)
		e.call(t, "GET", "/v1/vessels/zeus/track?"+win, ais, "", 403, nil)
		other := e.key(t, Scope{Vessels: []string{"other"}, Export: true})
		e.call(t, "GET", "/v1/vessels/zeus", other, "", 403, nil)
		e.call(t, "GET", "/v1/vessels/zeus/track?"+win, other, "", 403, nil)
	})

	t.Run("region", func(t *testing.T) {
		// A box around the last fix that leaves out the first.
		p, q := last.Position.Point, fixes[0].Position.Point
		h := max(math.Abs(p[0]-q[0]), math.Abs(p[1]-q[1])) / 2
		if h == 0 {
			t.Fatal("the own ship never moved")
		}
		around := orb.Polygon{{{p[0] - h, p[1] - h}, {p[0] + h, p[1] - h}, {p[0] + h, p[1] + h}, {p[0] - h, p[1] + h}, {p[0] - h, p[1] - h}}}
		in := e.key(t, Scope{Region: orb.MultiPolygon{around}, Export: true})
		e.call(t, "GET", "/v1/vessels/zeus", in, "", 200, nil)
		var pg page
		e.call(t, "GET", "/v1/ownships", in, "", 200, &pg)
		if len(pg.Data) != 1 {
			t.Fatalf("ownships in the region: %v", pg.Data)
		}
		e.call(t, "GET", "/v1/vessels/zeus/track?format=json&"+win, in, "", 200, &pg)
		b := around.Bound()
		if len(pg.Data) == 0 || len(pg.Data) >= tr.Properties.Points {
			t.Fatalf("region track: %d of %d points", len(pg.Data), tr.Properties.Points)
		}
		for _, r := range pg.Data {
			if !b.Contains(r.point()) {
				t.Fatalf("region track leaks %v", r.point())
			}
		}
		far := orb.Polygon{{{-10, -10}, {-9, -10}, {-9, -9}, {-10, -9}, {-10, -10}}}
		out := e.key(t, Scope{Region: orb.MultiPolygon{far}, Export: true})
		e.call(t, "GET", "/v1/vessels/zeus", out, "", 403, nil)
		if e.call(t, "GET", "/v1/ownships", out, "", 200, &pg); len(pg.Data) != 0 {
			t.Fatalf("ownships outside the region: %v", pg.Data)
		}
		e.call(t, "GET", "/v1/vessels/zeus/track?format=json&"+win, out, "", 200, &pg)
		if len(pg.Data) != 0 {
			t.Fatalf("track outside the region: %d points", len(pg.Data))
		}
	})

	t.Run("delay", func(t *testing.T) {
		mid := fixes[len(fixes)/2].Received
		d := e.now.Sub(mid)
		dk := e.key(t, Scope{Delay: Duration(d), Export: true})
		var v row
		e.call(t, "GET", "/v1/vessels/zeus", dk, "", 200, &v)
		if v.time("time").After(mid) || v.time("time").Before(mid.Add(-time.Minute)) {
			t.Fatalf("delayed own ship at %v, cutoff %v", v["time"], mid)
		}
		var ol page
		e.call(t, "GET", "/v1/ownships", dk, "", 200, &ol)
		if len(ol.Data) != 1 || ol.Data[0]["time"] != v["time"] || ol.Data[0].point() != v.point() {
			t.Fatalf("delayed ownships: %v, want %v", ol.Data, v)
		}
		var pg page
		e.call(t, "GET", "/v1/vessels/zeus/track?format=json&"+win, dk, "", 200, &pg)
		if len(pg.Data) == 0 || len(pg.Data) >= tr.Properties.Points {
			t.Fatalf("delayed track: %d of %d points", len(pg.Data), tr.Properties.Points)
		}
		for _, r := range pg.Data {
			if r.time("time").After(mid) {
				t.Fatalf("delayed track leaks %v", r["time"])
			}
		}
		// Before its first fix the own ship is not there yet.
		early := e.key(t, Scope{Delay: Duration(e.now.Sub(fixes[0].Received) + time.Minute)})
		e.call(t, "GET", "/v1/vessels/zeus", early, "", 404, nil)
		if e.call(t, "GET", "/v1/ownships", early, "", 200, &ol); len(ol.Data) != 0 {
			t.Fatalf("ownships before the first fix: %v", ol.Data)
		}
	})

	t.Run("aggregated and export", func(t *testing.T) {
		agg := e.key(t, Scope{Aggregated: true})
		e.call(t, "GET", "/v1/vessels/zeus", agg, "", 200, nil)
		e.call(t, "GET", "/v1/ownships", agg, "", 200, nil)
		e.call(t, "GET", "/v1/vessels/zeus/track", agg, "", 403, nil)
		// Without export rights a track is at most one page of points.
		srv, err := New(Config{Store: e.db.Reader(storage.QueryLimits{}), Keys: e.db, Now: func() time.Time { return e.now },
			MaxPage: tr.Properties.Points - 1, DefaultPage: 10})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptestServer(t, srv)
		plain, exp := e.key(t, Scope{}), e.key(t, Scope{Export: true})
		for _, c := range []struct {
			key, q string
			want   int
		}{
			{plain, win, 403}, {plain, "format=parquet&" + win, 403}, {plain, "resample=5m&" + win, 200}, {exp, win, 200},
			{plain, "from=" + rfc(e.base.Add(-time.Hour)) + "&to=" + rfc(fixes[len(fixes)/2].Received), 200},
		} {
			req, _ := http.NewRequest("GET", hs+"/v1/vessels/zeus/track?"+c.q, nil)
			req.Header.Set("Authorization", "Bearer "+c.key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("track?%s: %d, want %d", c.q, resp.StatusCode, c.want)
			}
		}
	})

	t.Run("injection", func(t *testing.T) {
		// Ids that pass validation reach ClickHouse as a parameter only.
		for _, id := range []string{"zeus--", "zeus.1:2_3-", "a--1", "x:String"} {
			e.call(t, "GET", "/v1/vessels/"+url.PathEscape(id), k, "", 404, nil)
		}
		e.call(t, "GET", "/v1/vessels/zeus", k, "", 200, nil)
	})
}
