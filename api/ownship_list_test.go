package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
)

// rowID names a vessel row as /v1/vessels/{id} does: its MMSI, or for an
// own ship stored without an MMSI (mmsi 0) its vessel id.
func rowID(r row) string {
	if s, _ := r["vessel"].(string); s != "" {
		return s
	}
	return r.mmsi().String()
}

func ids(rows []row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = rowID(r)
	}
	return out
}

func findID(rows []row, id string) (row, bool) {
	for _, r := range rows {
		if rowID(r) == id {
			return r, true
		}
	}
	return nil, false
}

// zeusAt returns the last own-ship fix of zeus at or before cut (zero: the
// last one), with its time as stored (milliseconds).
func (e *testEnv) zeusAt(t testing.TB, cut time.Time) (keelson.Event, bool) {
	t.Helper()
	var last keelson.Event
	found := false
	for _, ev := range e.ownFixes("zeus") {
		if cut.IsZero() || !ev.Received.Truncate(time.Millisecond).After(cut) {
			last, found = ev, true
		}
	}
	return last, found
}

// sameFix reports whether a vessel row holds the fix ev.
func sameFix(r row, ev keelson.Event) bool {
	return e7(r.num("lon")) == e7(ev.Position.Point[0]) && e7(r.num("lat")) == e7(ev.Position.Point[1]) &&
		r.time("time").Equal(ev.Received.Truncate(time.Millisecond))
}

// getJSON does a GET on another server of the test and decodes the answer.
func getJSON(t testing.TB, base, path, key string, want int, into any) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d: %s", path, resp.StatusCode, want, b)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
}

// Own ships stored without an MMSI are vessels of /v1/vessels and
// /v1/vessels/near like any other: mmsi 0 and their id in vessel, in every
// format, in (mmsi, vessel) order, paged by cursors, filtered by
// ship_type and updated_since, the same from the index and from storage.
func TestOwnShipInVesselLists(t *testing.T) {
	e := env(t)
	k := e.key(t, Scope{Export: true})
	last, _ := e.zeusAt(t, time.Time{})
	p := last.Position.Point
	box := fmt.Sprintf("bbox=%f,%f,%f,%f", p[0]-0.5, p[1]-0.5, p[0]+0.5, p[1]+0.5)

	var card row
	e.call(t, "GET", "/v1/vessels/zeus", k, "", 200, &card)
	var pg page
	e.call(t, "GET", "/v1/vessels?"+box, k, "", 200, &pg)
	z, ok := findID(pg.Data, "zeus")
	if !ok || !sameFix(z, last) || z.num("mmsi") != 0 || z["vessel"] != "zeus" || z.num("ship_type") != 0 || z["name"] != "" {
		t.Fatalf("zeus in its box: %v, want the fix %v at %v", pg.Data, p, last.Received)
	}
	// The list row is the card, column for column.
	sameRows(t, "list row and card", []row{z}, []row{card})

	// The whole world: zeus first (mmsi 0), then the AIS vessels by MMSI;
	// every format carries the same rows (zeus's id in CSV and Parquet too).
	world := e.all(t, "/v1/vessels?limit=5000", k)
	if len(world) < 100 || rowID(world[0]) != "zeus" {
		t.Fatalf("world list: %d rows, first %v", len(world), world[0])
	}
	for i := 1; i < len(world); i++ {
		if world[i].mmsi() <= world[i-1].mmsi() || world[i]["vessel"] != "" {
			t.Fatalf("row %d: %v after %v", i, world[i], world[i-1])
		}
	}
	for _, f := range []string{"csv", "ndjson", "parquet", "geojson"} {
		got := e.rows(t, "/v1/vessels?limit=5000&format="+f, k, f)
		sameRows(t, "vessels "+f, got, world)
	}

	// Pages of 7, and a page of one: the cursor after an own ship names it.
	if paged := e.all(t, "/v1/vessels?limit=7", k); !slices.Equal(ids(paged), ids(world)) {
		t.Fatalf("pages of 7: %d rows, want %d in the same order", len(paged), len(world))
	}
	e.call(t, "GET", "/v1/vessels?limit=1", k, "", 200, &pg)
	if c, _ := base64.RawURLEncoding.DecodeString(pg.Next); len(pg.Data) != 1 || rowID(pg.Data[0]) != "zeus" || string(c) != "o1.zeus" {
		t.Fatalf("first page of one: %v, cursor %q", pg.Data, c)
	}
	cur := func(s string) string { return url.QueryEscape(base64.RawURLEncoding.EncodeToString([]byte(s))) }
	for _, c := range []struct {
		cursor string
		first  string
	}{
		{cur("o1.a"), "zeus"},                                         // an id before zeus
		{cur("o1.zeus"), rowID(world[1])},                             // zeus itself
		{cur("o1.zz"), rowID(world[1])},                               // an id after zeus
		{encodeCursor(storage.Cursor{Time: time.Unix(0, 0)}), "zeus"}, // MMSI 0, no id
		{encodeCursor(storage.Cursor{Time: time.Unix(0, 0), MMSI: world[1].mmsi()}), rowID(world[2])},
	} {
		e.call(t, "GET", "/v1/vessels?limit=1&cursor="+c.cursor, k, "", 200, &pg)
		if len(pg.Data) != 1 || rowID(pg.Data[0]) != c.first {
			t.Errorf("cursor %s: %v, want %s first", c.cursor, pg.Data, c.first)
		}
	}
	for _, bad := range []string{cur("o1."), cur("o1.ze'us"), cur("o1.-x"), cur("o2.zeus")} {
		e.call(t, "GET", "/v1/vessels?cursor="+bad, k, "", 400, nil)
	}

	// ship_type: own ships have none (0).
	for _, c := range []struct {
		q    string
		zeus bool
	}{{"ship_type=0", true}, {"ship_type=0,70", true}, {"ship_type=70", false}, {"ship_type=30,36,37", false}} {
		e.call(t, "GET", "/v1/vessels?"+box+"&"+c.q, k, "", 200, &pg)
		if _, ok := findID(pg.Data, "zeus"); ok != c.zeus {
			t.Errorf("%s: zeus listed %v, want %v", c.q, ok, c.zeus)
		}
		for _, r := range pg.Data {
			if c.q == "ship_type=70" && r.num("ship_type") != 70 {
				t.Errorf("%s: %v", c.q, r)
			}
		}
	}
	// updated_since: strictly after.
	at := last.Received.Truncate(time.Millisecond)
	for _, c := range []struct {
		since time.Time
		zeus  bool
	}{{at.Add(-time.Millisecond), true}, {at, false}} {
		e.call(t, "GET", "/v1/vessels?"+box+"&updated_since="+url.QueryEscape(c.since.Format(time.RFC3339Nano)), k, "", 200, &pg)
		if _, ok := findID(pg.Data, "zeus"); ok != c.zeus {
			t.Errorf("updated_since %v: zeus listed %v, want %v", c.since, ok, c.zeus)
		}
	}

	// Nearest: zeus at distance 0 from its own position, then the others
	// in order of distance, as computed from the world list.
	near := fmt.Sprintf("/v1/vessels/near?lat=%v&lon=%v&limit=5", p[1], p[0])
	e.call(t, "GET", near, k, "", 200, &pg)
	if len(pg.Data) != 5 || rowID(pg.Data[0]) != "zeus" || pg.Data[0].num("distance_m") > 1 || pg.Data[0].num("mmsi") != 0 {
		t.Fatalf("near zeus: %v", pg.Data)
	}
	dist := map[string]float64{}
	for _, r := range world {
		dist[rowID(r)] = geo.Distance(orb.Point{p[0], p[1]}, r.point())
	}
	for i, r := range pg.Data {
		if math.Abs(r.num("distance_m")-dist[rowID(r)]) > 1e-6 || i > 0 && r.num("distance_m") < pg.Data[i-1].num("distance_m") {
			t.Fatalf("neighbour %d: %v", i, r)
		}
	}
	for _, f := range []string{"csv", "ndjson", "parquet", "geojson"} {
		sameRows(t, "near "+f, e.rows(t, near+"&format="+f, k, f), pg.Data)
	}
	e.call(t, "GET", near+"&ship_type=70", k, "", 200, &pg)
	if _, ok := findID(pg.Data, "zeus"); ok {
		t.Errorf("near with ship_type=70 lists zeus")
	}

	// While the index loads, the same answers come from storage.
	srv, err := New(Config{Store: e.db.Reader(storage.QueryLimits{}), Keys: e.db, Now: func() time.Time { return e.now }, MaxPage: 500, DefaultPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Ready() {
		t.Fatal("a server that was not run is ready")
	}
	hs := httptestServer(t, srv)
	var sp page
	getJSON(t, hs, "/v1/vessels?limit=5000", k, 200, &sp)
	sameRows(t, "vessels from storage", sp.Data, world)
	var np page
	e.call(t, "GET", near, k, "", 200, &pg)
	getJSON(t, hs, near, k, 200, &np)
	sameRows(t, "near from storage", np.Data, pg.Data)
	getJSON(t, hs, "/v1/vessels?limit=1", k, 200, &sp)
	getJSON(t, hs, "/v1/vessels?limit=1&cursor="+url.QueryEscape(sp.Next), k, 200, &np)
	if rowID(sp.Data[0]) != "zeus" || rowID(np.Data[0]) != rowID(world[1]) {
		t.Fatalf("storage pages: %v then %v", sp.Data, np.Data)
	}
	var c2 row
	getJSON(t, hs, "/v1/vessels/zeus", k, 200, &c2)
	sameRows(t, "card from storage", []row{c2}, []row{card})
	// /v1/ownships: from the index and from storage, the list's row.
	var o1, o2 page
	e.call(t, "GET", "/v1/ownships", k, "", 200, &o1)
	getJSON(t, hs, "/v1/ownships", k, 200, &o2)
	sameRows(t, "ownships from storage", o2.Data, o1.Data)
	if len(o1.Data) != 1 || o1.Data[0]["vessel"] != "zeus" || !sameFix(o1.Data[0], last) {
		t.Fatalf("ownships: %v", o1.Data)
	}
}

// Every scope rule applies to own ships in the lists as it does to
// /v1/vessels/{id}: the allowlists (MMSI and own-ship), the region, the
// delay, aggregated keys; through JSON, GeoJSON, the exports and near,
// from the index and from storage (OWASP API1).
func TestOwnShipListScopes(t *testing.T) {
	e := env(t)
	last, _ := e.zeusAt(t, time.Time{})
	p := last.Position.Point
	m := e.busiest()
	// A server whose index is not loaded answers from storage.
	cold, err := New(Config{Store: e.db.Reader(storage.QueryLimits{}), Keys: e.db, Now: func() time.Time { return e.now }, MaxPage: 500, DefaultPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	coldURL := httptestServer(t, cold)
	nearZeus := fmt.Sprintf("/v1/vessels/near?lat=%f&lon=%f&limit=1000", p[1], p[0])
	// lists returns what key sees of the vessels, everywhere it can look.
	lists := func(t *testing.T, key string) map[string][]row {
		t.Helper()
		out := map[string][]row{}
		out["json"] = e.all(t, "/v1/vessels?limit=500", key)
		// A new page each time: decoding into one would reuse its rows.
		var p1, p2, p3, p4, p5 page
		e.call(t, "GET", nearZeus, key, "", 200, &p1)
		out["near"] = p1.Data
		getJSON(t, coldURL, "/v1/vessels?limit=500", key, 200, &p2)
		out["storage"] = p2.Data
		getJSON(t, coldURL, nearZeus, key, 200, &p3)
		out["storage near"] = p3.Data
		out["geojson"] = e.rows(t, "/v1/vessels?limit=500&format=geojson", key, "geojson")
		e.call(t, "GET", "/v1/ownships", key, "", 200, &p4)
		out["ownships"] = p4.Data
		getJSON(t, coldURL, "/v1/ownships", key, 200, &p5)
		out["storage ownships"] = p5.Data
		return out
	}
	exports := func(t *testing.T, key string, out map[string][]row) {
		t.Helper()
		for _, f := range []string{"csv", "parquet", "ndjson"} {
			out[f] = e.rows(t, "/v1/vessels?format="+f, key, f)
			out["near "+f] = e.rows(t, nearZeus+"&format="+f, key, f)
		}
	}
	// sees checks that every list holds zeus exactly when want says, and
	// that every row passes ok.
	sees := func(t *testing.T, got map[string][]row, want bool, ok func(r row) bool) {
		t.Helper()
		for what, rows := range got {
			if _, has := findID(rows, "zeus"); has != want {
				t.Errorf("%s: zeus listed %v, want %v (%d rows)", what, has, want, len(rows))
			}
			for _, r := range rows {
				if !ok(r) {
					t.Errorf("%s leaks %s at %v (%v)", what, rowID(r), r.point(), r["time"])
				}
			}
		}
	}

	t.Run("allowlists", func(t *testing.T) {
		own := e.key(t, Scope{Vessels: []string{"zeus"}, Export: true})
		got := lists(t, own)
		exports(t, own, got)
		sees(t, got, true, func(r row) bool { return rowID(r) == "zeus" })
		other := e.key(t, Scope{Vessels: []string{"other"}, Export: true})
		got = lists(t, other)
		exports(t, other, got)
		sees(t, got, false, func(r row) bool { return false })
		ais := e.key(t, Scope{MMSIs: []keelson.MMSI{m}, Export: true})
		got = lists(t, ais)
		exports(t, ais, got)
		sees(t, got, false, func(r row) bool { return r.mmsi() == m && r["vessel"] == "" })
		both := e.key(t, Scope{MMSIs: []keelson.MMSI{m}, Vessels: []string{"zeus"}})
		got = lists(t, both)
		sees(t, got, true, func(r row) bool { return r.mmsi() == m || rowID(r) == "zeus" })
		if rows := got["json"]; len(rows) != 2 || rowID(rows[0]) != "zeus" || rows[1].mmsi() != m {
			t.Fatalf("MMSI and own-ship allowlist: %v", ids(rows))
		}
		// A fleet allowlist is its MMSIs: no own ship in it.
		fleet := e.key(t, Scope{Fleet: "ferries", MMSIs: []keelson.MMSI{m}})
		sees(t, lists(t, fleet), false, func(r row) bool { return r.mmsi() == m })
	})

	t.Run("region", func(t *testing.T) {
		around := orb.Polygon{{{p[0] - 0.2, p[1] - 0.2}, {p[0] + 0.2, p[1] - 0.2}, {p[0] + 0.2, p[1] + 0.2}, {p[0] - 0.2, p[1] + 0.2}, {p[0] - 0.2, p[1] - 0.2}}}
		in := e.key(t, Scope{Region: orb.MultiPolygon{around}, Export: true})
		b := around.Bound()
		got := lists(t, in)
		exports(t, in, got)
		sees(t, got, true, func(r row) bool { return b.Contains(r.point()) })
		// The Sound: AIS vessels, but not zeus.
		sound := orb.Polygon{{{12.2, 55.3}, {13.2, 55.3}, {13.2, 56.3}, {12.2, 56.3}, {12.2, 55.3}}}
		out := e.key(t, Scope{Region: orb.MultiPolygon{sound}, Export: true})
		b2 := sound.Bound()
		got = lists(t, out)
		exports(t, out, got)
		sees(t, got, false, func(r row) bool { return b2.Contains(r.point()) })
		if len(got["json"]) == 0 {
			t.Fatal("no AIS vessel in the Sound")
		}
	})

	t.Run("delay", func(t *testing.T) {
		fixes := e.ownFixes("zeus")
		mid := fixes[len(fixes)/2].Received.Truncate(time.Millisecond)
		k := e.key(t, Scope{Delay: Duration(e.now.Sub(mid)), Export: true})
		want, _ := e.zeusAt(t, mid)
		got := lists(t, k)
		exports(t, k, got)
		sees(t, got, true, func(r row) bool { return !r.time("time").After(mid) })
		z, _ := findID(got["json"], "zeus")
		var card row
		e.call(t, "GET", "/v1/vessels/zeus", k, "", 200, &card)
		if !sameFix(z, want) || !sameFix(card, want) {
			t.Fatalf("delayed zeus: list %v, card %v, want the fix %v at %v", z, card, want.Position.Point, want.Received)
		}
		sameRows(t, "delayed list row and card", []row{z}, []row{card})
		// Before its first fix, zeus is nowhere.
		early := e.key(t, Scope{Delay: Duration(e.now.Sub(fixes[0].Received) + time.Minute), Export: true})
		sees(t, lists(t, early), false, func(r row) bool { return true })
		e.call(t, "GET", "/v1/vessels/zeus", early, "", 404, nil)
	})

	t.Run("aggregated", func(t *testing.T) {
		// Latest positions are aggregated data: zeus is listed, its track is not served.
		agg := e.key(t, Scope{Aggregated: true, Vessels: []string{"zeus"}})
		sees(t, lists(t, agg), true, func(r row) bool { return rowID(r) == "zeus" })
		e.call(t, "GET", "/v1/vessels/zeus/track", agg, "", 403, nil)
	})
}

// Own ships reach the index from the live feed (a real Kafka-protocol
// broker), keyed by vessel id: listed, found near, moved between cells,
// served as a card, under the key's allowlist.
func TestOwnShipFromFeed(t *testing.T) {
	e := env(t)
	srv, hs, publish := e.liveServer(t)
	k := e.key(t, Scope{})
	zk := e.key(t, Scope{Vessels: []string{"zeus"}})
	var seq uint64
	mk := func(vessel string, lon, lat float64) keelson.Event {
		seq++
		return keelson.Event{V: 1, ID: keelson.EventID{Collector: "feedtest", Boot: 1, Seq: seq}, Kind: keelson.KindPosition, Received: time.Now().UTC(),
			Vessel: vessel, Position: &keelson.Position{Point: orb.Point{lon, lat}, Class: keelson.ClassOwnShip, SOG: 4.5, COG: 90, Heading: keelson.NA, ROT: keelson.NA}}
	}
	// wait polls the list until the own ship is where want says.
	wait := func(bbox string, want bool) row {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			var pg page
			getJSON(t, hs, "/v1/vessels?bbox="+bbox, k, 200, &pg)
			r, ok := findID(pg.Data, "feedship-1")
			if ok == want {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("bbox %s: feedship-1 listed %v, want %v", bbox, ok, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	publish(mk("", -30, -30), mk("feedship-1", -30.5, -40.5)) // the first has no id: not indexed
	r := wait("-31,-41,-30,-40", true)
	if r.num("mmsi") != 0 || r.num("sog") != 4.5 || r.num("lon") != -30.5 {
		t.Fatalf("feedship-1: %v", r)
	}
	var pg page
	getJSON(t, hs, "/v1/vessels?bbox=-30.1,-30.1,-29.9,-29.9", k, 200, &pg)
	if len(pg.Data) != 0 {
		t.Fatalf("an own-ship position without a vessel id was indexed: %v", pg.Data)
	}
	getJSON(t, hs, "/v1/vessels/near?lat=-40&lon=-30&limit=1", k, 200, &pg)
	if len(pg.Data) != 1 || rowID(pg.Data[0]) != "feedship-1" {
		t.Fatalf("near: %v", pg.Data)
	}
	var card row
	getJSON(t, hs, "/v1/vessels/feedship-1", k, 200, &card) // only in the index: never stored
	if card["vessel"] != "feedship-1" || card.num("lat") != -40.5 {
		t.Fatalf("card: %v", card)
	}
	getJSON(t, hs, "/v1/vessels/feedship-1", zk, 403, nil)
	getJSON(t, hs, "/v1/vessels?bbox=-31,-41,-30,-40", zk, 200, &pg)
	if len(pg.Data) != 0 {
		t.Fatalf("zeus-only key sees %v", pg.Data)
	}
	// It moves to another cell: gone from the old one.
	publish(mk("feedship-1", -25.5, -35.5))
	wait("-26,-36,-25,-35", true)
	wait("-31,-41,-30,-40", false)
	if n := srv.Index().Len(); n != e.srv.Index().Len()+1 {
		t.Fatalf("index holds %d vessels, the loaded one %d (+1 expected)", n, e.srv.Index().Len())
	}
}

// The index keys own ships by vessel id and orders rows by (MMSI, id).
func TestIndexOwnShips(t *testing.T) {
	ix := NewIndex()
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	put := func(m keelson.MMSI, vessel string, lon, lat float64, at time.Duration) {
		ix.Put(&storage.VesselRow{MMSI: m, Vessel: vessel, Draught: keelson.NA, HasPosition: true,
			Position: storage.PositionRow{MMSI: m, Time: t0.Add(at), Lon: lon, Lat: lat}})
	}
	put(211000002, "", 10.1, 55.1, 0)
	put(0, "zulu", 10.2, 55.2, 0)
	put(0, "alpha", 10.3, 55.3, 0)
	put(211000001, "", 10.4, 55.4, 0)
	put(0, "", 10.5, 55.5, 0) // neither MMSI nor id: ignored
	if ix.Len() != 4 {
		t.Fatalf("Len %d, want 4", ix.Len())
	}
	if own := ix.OwnShips(nil); len(own) != 2 || own[0].Vessel != "alpha" || own[1].Vessel != "zulu" {
		t.Fatalf("OwnShips: %+v", own)
	}
	got := ix.InBound(nil, world, nil)
	var order []string
	for _, v := range got {
		order = append(order, fmt.Sprint(uint32(v.MMSI), v.Vessel))
	}
	if want := []string{"0alpha", "0zulu", "211000001", "211000002"}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	// An own ship's static report is no AIS identity; an older position is ignored.
	ix.Apply(&keelson.Event{Kind: keelson.KindStatic, Vessel: "zulu", Received: t0.Add(time.Hour), Static: &keelson.Static{Name: "X", ShipType: 70}})
	put(0, "zulu", 0, 0, -time.Minute)
	if v, ok := ix.GetOwnShip("zulu"); !ok || v.Name != "" || v.ShipType != 0 || v.Position.Lon != 10.2 {
		t.Fatalf("zulu: %+v", v)
	}
	// A live position moves it to another cell.
	ix.Apply(&keelson.Event{Kind: keelson.KindPosition, Vessel: "zulu", Received: t0.Add(time.Minute),
		Position: &keelson.Position{Point: orb.Point{-20, -20}, Class: keelson.ClassOwnShip, SOG: keelson.NA, COG: keelson.NA, Heading: keelson.NA}})
	if l := ix.InBound(nil, orb.Bound{Min: orb.Point{10, 55}, Max: orb.Point{11, 56}}, nil); len(l) != 3 {
		t.Fatalf("old cell: %d vessels", len(l))
	}
	n := ix.Nearest(orb.Point{-20, -20}, 1, maxRadius, nil)
	if len(n) != 1 || n[0].Vessel.Vessel != "zulu" || n[0].Distance != 0 || !n[0].Vessel.Position.Time.Equal(t0.Add(time.Minute)) {
		t.Fatalf("nearest: %+v", n)
	}
	if _, ok := ix.Get(0); ok {
		t.Fatal("Get(0) finds a vessel")
	}
	if _, ok := ix.GetOwnShip("nosuch"); ok {
		t.Fatal("GetOwnShip finds a vessel that is not there")
	}
	// keep sees own ships too (the scopes' allowsRow).
	s := Scope{Vessels: []string{"alpha"}, MMSIs: []keelson.MMSI{211000002}}
	order = order[:0]
	for _, v := range ix.InBound(nil, world, s.allowsRow) {
		order = append(order, fmt.Sprint(uint32(v.MMSI), v.Vessel))
	}
	if want := []string{"0alpha", "211000002"}; !slices.Equal(order, want) {
		t.Fatalf("allowlist: %v, want %v", order, want)
	}
}

func TestVesselCursorRoundTrip(t *testing.T) {
	for _, v := range []storage.VesselRow{{MMSI: 211000001}, {Vessel: "zeus"}, {Vessel: "a.b:c_d-e"}} {
		got, err := parseVesselCursor("cursor", vesselCursor(&v))
		if err != nil || got.MMSI != v.MMSI || got.Vessel != v.Vessel {
			t.Fatalf("%+v: %+v %v", v, got, err)
		}
	}
	for _, bad := range []string{"", "xyz", base64.RawURLEncoding.EncodeToString([]byte("o1.")), base64.RawURLEncoding.EncodeToString([]byte("o1.a b"))} {
		if _, err := parseVesselCursor("cursor", bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// FuzzVesselCursor: any string is a cursor of a vessel list or a named
// 400, never a panic; a cursor it accepts means what it says (encoding the
// key it names gives a cursor naming the same key).
func FuzzVesselCursor(f *testing.F) {
	for _, s := range []string{"", "o1.zeus", "o1.", "o1.a'b", "c1.0.211000001", "c1.x.1", "o1.zeus\x00"} {
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(s)))
	}
	f.Add("not base64!")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseVesselCursor("cursor", s)
		if err != nil {
			if !errors.Is(err, ErrInvalidParam) {
				t.Fatalf("%q: %v is not ErrInvalidParam", s, err)
			}
			return
		}
		if v.MMSI != 0 && v.Vessel != "" || v.Vessel != "" && !vesselName.MatchString(v.Vessel) {
			t.Fatalf("%q: key %+v", s, v)
		}
		back, err := parseVesselCursor("cursor", vesselCursor(&v))
		if v.MMSI == 0 && v.Vessel == "" { // a c1 cursor of MMSI 0: before every row
			return
		}
		if err != nil || back.MMSI != v.MMSI || back.Vessel != v.Vessel {
			t.Fatalf("%q: %+v -> %+v %v", s, v, back, err)
		}
	})
}

// The answers with own ships in them match the OpenAPI document (the
// Vessel and NearVessel rows with mmsi 0 and a vessel id; the cursor after
// an own ship).
func TestOwnShipAnswersMatchOpenAPI(t *testing.T) {
	e := env(t)
	router := e.openAPIRouter(t)
	last, _ := e.zeusAt(t, time.Time{})
	p := last.Position.Point
	k := e.key(t, Scope{Vessels: []string{"zeus"}, MMSIs: []keelson.MMSI{e.busiest()}})
	for _, path := range []string{
		"/v1/vessels?limit=1", // zeus, and the cursor after it
		"/v1/vessels?limit=5&format=geojson",
		fmt.Sprintf("/v1/vessels/near?lat=%v&lon=%v&limit=5", p[1], p[0]),
		"/v1/vessels/zeus?format=geojson",
	} {
		req, _ := http.NewRequest("GET", e.http.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+k)
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s: request: %v", path, err)
		}
		resp, err := e.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"vessel":"zeus"`)) {
			t.Fatalf("%s: %d %.300s", path, resp.StatusCode, b)
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out.SetBodyBytes(b)
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s: answer does not match the document: %v\n%.300s", path, err, b)
		}
	}
}
