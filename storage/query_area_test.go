package storage

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/paulmach/orb"
)

// The cells that Go computes for a query are the cells ClickHouse stores,
// on cell edges, the antimeridian and the poles.
func TestCellMatchesSQL(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	pts := []orb.Point{{0, 0}, {-0.0000001, -0.0000001}, {179.9999999, 89.9999999}, {180, 90}, {-180, -90},
		{10.5, 55.25}, {-75.9999999, 40}, {-76, 40.0000001}, {103.8, 1.2}, {-0.5, -0.5}}
	for _, p := range pts {
		var got uint16
		err := db.QueryRow(ctx, "SELECT toUInt16("+cellExpr+") FROM (SELECT toInt32({lat:Int64}) AS lat_e7, toInt32({lon:Int64}) AS lon_e7)",
			Params{"lat": e7param(p[1]), "lon": e7param(p[0])}, &got)
		if err != nil {
			t.Fatal(err)
		}
		if want := Cell(p); got != want {
			t.Errorf("%v: SQL cell %d, Go %d", p, got, want)
		}
		cells, ok := areaCells(Area{Set: true, Bound: orb.Bound{Min: p, Max: p}})
		if !ok || !slices.Contains(cells, got) {
			t.Errorf("%v: area cells %v lack %d", p, cells, got)
		}
	}
	if c, ok := areaCells(Area{}); ok || c != nil {
		t.Errorf("no area: %v %v", c, ok)
	}
	if c, ok := areaCells(Area{Set: true, Bound: orb.Bound{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}}); !ok || c != nil {
		t.Errorf("world: %d cells, want none (time pruning only)", len(c))
	}
	box := orb.Bound{Min: orb.Point{9.5, 54.5}, Max: orb.Point{11.5, 56.5}}
	if c, _ := areaCells(Area{Set: true, Bound: box}); len(c) != 9 {
		t.Errorf("2x2 box: %d cells, want 9", len(c))
	}
	// A polygon narrows the box.
	poly := orb.MultiPolygon{{{{10, 55}, {10.5, 55}, {10.5, 55.5}, {10, 55}}}}
	if c, _ := areaCells(Area{Set: true, Bound: box, Polygons: []orb.MultiPolygon{poly}}); len(c) != 1 || c[0] != Cell(orb.Point{10.2, 55.2}) {
		t.Errorf("polygon: cells %v", c)
	}
	if c, ok := areaCells(Area{Polygons: []orb.MultiPolygon{poly}}); !ok || len(c) != 1 {
		t.Errorf("polygon only: cells %v %v", c, ok)
	}
}

// Area-time queries find the vessels in positions_cells and return what
// the by-vessel path returns for the same query: duplicates (another
// receiver, a replayed batch) collapse, unusable positions are left out,
// and rows stored by schema version 3 (into positions_area, before the
// index existed) are found after migration 4 filled the index from them.
func TestPositionsAreaMatchesPositions(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	var evs []keelson.Event
	for i := 0; i < 3000; i++ {
		e := testEvent(uint64(i), "c1")
		e.MMSI = keelson.MMSI(219000000 + rng.IntN(40))
		e.Received = t0.Add(time.Duration(i) * 50 * time.Second) // unique times: a total order
		pos := *e.Position
		pos.Point = orb.Point{9 + 4*rng.Float64(), 54 + 3*rng.Float64()}
		pos.Second = uint8(e.Received.Second())
		if i%97 == 0 {
			pos.Point = orb.Point{181, 91} // not available
		}
		e.Position = &pos
		evs = append(evs, e)
	}
	insert := func(evs []keelson.Event, tok string) {
		b := NewBatch()
		for i := range evs {
			b.Add(&evs[i])
		}
		if err := db.InsertEvents(ctx, b, tok); err != nil {
			t.Fatal(err)
		}
	}
	// Back to schema version 3: no index, positions_area and its view.
	for _, st := range []string{"DROP VIEW positions_cells_mv", "DROP TABLE positions_cells", "ALTER TABLE keelson_migrations DELETE WHERE version = 4"} {
		if err := db.Exec(ctx, st, nil, Settings{"mutations_sync": 1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range (schema{}).positionsArea() {
		if err := db.Exec(ctx, st, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	insert(evs[:1000], "a")
	var areaRows uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM positions_area", nil, &areaRows); err != nil || areaRows < 900 {
		t.Fatalf("schema 3: positions_area has %d rows: %v", areaRows, err)
	}
	for i := 0; i < 2; i++ { // migrating again (after an interruption) changes nothing
		if i == 1 {
			if err := db.Exec(ctx, "ALTER TABLE keelson_migrations DELETE WHERE version = 4", nil, Settings{"mutations_sync": 1}); err != nil {
				t.Fatal(err)
			}
		}
		if v, err := db.Migrate(ctx); err != nil || !slices.Equal(v, []int{4}) {
			t.Fatalf("migrate 3 -> 4: %v %v", v, err)
		}
	}
	var left uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE 'positions_area%'", nil, &left); err != nil || left != 0 {
		t.Fatalf("positions_area and its view left after migration 4: %d %v", left, err)
	}
	var codec string
	if err := db.QueryRow(ctx, "SELECT compression_codec FROM system.columns WHERE database = currentDatabase() AND table = 'positions' AND name = 'ts'", nil, &codec); err != nil ||
		!strings.Contains(codec, "GCD") || !strings.Contains(codec, "T64") {
		t.Fatalf("positions.ts codec after migration 4: %q %v", codec, err)
	}
	insert(evs[1000:], "b")
	// The same broadcasts heard by a second collector, and a replay.
	again := slices.Clone(evs[:500])
	for i := range again {
		again[i].ID.Collector, again[i].Source.Collector = "c2", "c2"
	}
	insert(again, "c")
	insert(evs[2000:], "d")

	r := db.Reader(QueryLimits{})
	box := orb.Bound{Min: orb.Point{10, 55}, Max: orb.Point{12, 56.5}}
	q := PositionQuery{From: t0.Add(5 * time.Hour), To: t0.Add(29 * time.Hour), Area: Area{Set: true, Bound: box}}
	var viaArea, viaVessel []PositionRow
	if err := r.Positions(ctx, q, func(p *PositionRow) error { viaArea = append(viaArea, *p); return nil }); err != nil {
		t.Fatal(err)
	}
	// The by-vessel path: the same query with the MMSI list of every vessel.
	for m := 219000000; m < 219000040; m++ {
		q.MMSIs = append(q.MMSIs, keelson.MMSI(m))
	}
	if err := r.Positions(ctx, q, func(p *PositionRow) error { viaVessel = append(viaVessel, *p); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(viaArea) < 100 || !slices.EqualFunc(viaArea, viaVessel, func(a, b PositionRow) bool {
		return a.MMSI == b.MMSI && a.Time.Equal(b.Time) && a.Lat == b.Lat && a.Lon == b.Lon && a.SOG == b.SOG && a.NavStatus == b.NavStatus
	}) {
		t.Fatalf("area path %d rows, vessel path %d rows (or rows differ)", len(viaArea), len(viaVessel))
	}
	var want int
	for _, e := range evs {
		p := e.Position
		ts := time.UnixMilli(broadcastTime(&e, p)).UTC()
		if box.Contains(p.Point) && !ts.Before(q.From) && ts.Before(q.To) {
			want++
		}
	}
	if len(viaArea) != want {
		t.Fatalf("area path: %d rows, want %d", len(viaArea), want)
	}
	// A polygon that misses the box: no cells, no rows, no error.
	far := orb.MultiPolygon{{{{-70, 40}, {-69, 40}, {-69, 41}, {-70, 40}}}}
	n := 0
	if err := r.Positions(ctx, PositionQuery{From: q.From, To: q.To, Area: Area{Set: true, Bound: box, Polygons: []orb.MultiPolygon{far}}},
		func(*PositionRow) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("disjoint polygon: %d rows, %v", n, err)
	}
	// Cursor pages through the area path.
	q.MMSIs, q.Limit = nil, 50
	var paged int
	for {
		var last *PositionRow
		if err := r.Positions(ctx, q, func(p *PositionRow) error { c := *p; last = &c; paged++; return nil }); err != nil {
			t.Fatal(err)
		}
		if last == nil {
			break
		}
		q.After = &Cursor{Time: last.Time, MMSI: last.MMSI}
	}
	if paged != want {
		t.Fatalf("paged: %d rows, want %d", paged, want)
	}
}
