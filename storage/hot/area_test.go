package hot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/paulmach/orb"
)

// Positions counts the area-time queries the fallback is asked for.
func (c *counting) Positions(ctx context.Context, q storage.PositionQuery, fn func(*storage.PositionRow) error) error {
	c.areas.Add(1)
	return c.Reader.Positions(ctx, q, fn)
}

// spread moves some of the events' positions near the antimeridian, onto
// whole degrees (cell edges) and onto the edges of the map.
func (e *env) spread(evs []keelson.Event) []keelson.Event {
	for i := range evs {
		p := evs[i].Position
		if p == nil || evs[i].Flags&keelson.FlagPositionNA != 0 {
			continue
		}
		switch i % 10 {
		case 1:
			p.Point = orb.Point{179 + e.rng.Float64(), -10 + e.rng.Float64()}
		case 2:
			p.Point = orb.Point{-180 + e.rng.Float64(), -10 + e.rng.Float64()}
		case 3:
			p.Point = orb.Point{float64(9 + e.rng.IntN(5)), float64(54 + e.rng.IntN(4))}
		case 4:
			p.Point = orb.Point{[]float64{180, -180}[e.rng.IntN(2)], -10 + float64(e.rng.IntN(2))}
		case 5:
			p.Point = orb.Point{-70 + e.rng.Float64(), []float64{-90, 90, -89.5, 89.9999999}[e.rng.IntN(4)]}
		}
	}
	return evs
}

// rowCompare orders rows by (time, MMSI, place), then by everything else,
// so that rows of one place and time under two vessel ids of one MMSI
// (whose order ClickHouse leaves undefined) compare as sets.
func rowCompare(a, b *storage.PositionRow) int {
	return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.MMSI, b.MMSI), cmp.Compare(a.Lat, b.Lat), cmp.Compare(a.Lon, b.Lon),
		cmp.Compare(fmt.Sprint(a.SOG, a.COG, a.Heading, a.NavStatus), fmt.Sprint(b.SOG, b.COG, b.Heading, b.NavStatus)))
}

// queryBoth runs q on memory and on storage, fails unless memory (or,
// with wantMemory false, storage) answered it, and returns both results,
// both checked to be in (time, MMSI, lat, lon) order, each sorted within
// its groups of equal (time, MMSI, lat, lon). With a limit reached the
// last such group is dropped from both (which of its rows come is
// undefined).
func (e *env) queryBoth(q storage.PositionQuery, wantMemory bool) (got, want []storage.PositionRow) {
	e.t.Helper()
	before := e.fb.areas.Load()
	if err := e.tracks.Positions(e.ctx, q, func(p *storage.PositionRow) error { got = append(got, *p); return nil }); err != nil {
		e.t.Fatal(err)
	}
	if fromMemory := e.fb.areas.Load() == before; fromMemory != wantMemory {
		e.t.Fatalf("%+v: served from memory %v, want %v", q, fromMemory, wantMemory)
	}
	if err := e.reader.Positions(e.ctx, q, func(p *storage.PositionRow) error { want = append(want, *p); return nil }); err != nil {
		e.t.Fatal(err)
	}
	key := func(a, b *storage.PositionRow) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.MMSI, b.MMSI), cmp.Compare(a.Lat, b.Lat), cmp.Compare(a.Lon, b.Lon))
	}
	for what, rows := range map[string][]storage.PositionRow{"memory": got, "storage": want} {
		for i := 1; i < len(rows); i++ {
			if key(&rows[i-1], &rows[i]) > 0 {
				e.t.Fatalf("%+v: %s rows %d and %d out of order", q, what, i-1, i)
			}
		}
	}
	trim := func(rows []storage.PositionRow) []storage.PositionRow {
		if q.Limit > 0 && len(rows) == q.Limit {
			last := rows[len(rows)-1]
			for len(rows) > 0 && key(&rows[len(rows)-1], &last) == 0 {
				rows = rows[:len(rows)-1]
			}
		}
		slices.SortStableFunc(rows, func(a, b storage.PositionRow) int { return rowCompare(&a, &b) })
		return rows
	}
	return trim(got), trim(want)
}

// sameArea fails unless memory answers q as storage does; it returns the rows.
func (e *env) sameArea(q storage.PositionQuery, wantMemory bool) int {
	e.t.Helper()
	got, want := e.queryBoth(q, wantMemory)
	if !slices.EqualFunc(got, want, func(a, b storage.PositionRow) bool { return rowCompare(&a, &b) == 0 }) {
		e.t.Fatalf("%+v: memory has %d rows, storage %d\nmemory %v\nstorage %v", q, len(got), len(want), head(got), head(want))
	}
	return len(got)
}

func box(w, s, e, n float64) storage.Area {
	return storage.Area{Set: true, Bound: orb.Bound{Min: orb.Point{w, s}, Max: orb.Point{e, n}}}
}

// randomAreas compares n random area-time queries starting inside
// [start, start+days); it returns the rows compared.
func (e *env) randomAreas(n int, start time.Time, days int, vessels []keelson.MMSI) int {
	e.t.Helper()
	rows := 0
	for i := 0; i < n; i++ {
		from := start.Add(time.Duration(e.rng.Int64N(int64(days) * int64(day))))
		if i%3 == 0 { // millisecond bounds, truncated as the parameters are
			from = from.Add(time.Duration(e.rng.Int64N(int64(time.Second))))
		}
		to := from.Add(time.Duration(e.rng.Int64N(int64(3 * day))))
		var a storage.Area
		switch i % 6 {
		case 0:
			a = box(-180, -90, 180, 90)
		case 1: // beside the antimeridian
			a = box(179+e.rng.Float64(), -10.5, 180, -9.2)
		case 2:
			a = box(-180, -10.5, -179.5+e.rng.Float64(), -9.2)
		case 3: // whole degrees: cell edges
			w, s := float64(9+e.rng.IntN(4)), float64(54+e.rng.IntN(3))
			a = box(w, s, w+float64(e.rng.IntN(2)), s+float64(e.rng.IntN(2)))
		default:
			w, s := 9+4*e.rng.Float64(), 54+3*e.rng.Float64()
			a = box(w, s, w+2*e.rng.Float64(), s+2*e.rng.Float64())
		}
		q := storage.PositionQuery{From: from, To: to, Area: a}
		if i%4 == 1 {
			q.Limit = 1 + e.rng.IntN(50)
		}
		if i%5 == 2 {
			q.MMSIs = []keelson.MMSI{vessels[e.rng.IntN(len(vessels))], vessels[e.rng.IntN(len(vessels))], 0}
			if i%2 == 0 {
				q.Area = storage.Area{}
			}
		}
		rows += e.sameArea(q, true)
	}
	return rows
}

// Area-time queries from memory are storage's answers: random boxes
// (empty, the whole world, beside the antimeridian, on whole degrees,
// on the exact e7 values of stored points), MMSI lists, limits, cursors
// paging through the whole answer; the queries memory may not answer
// exactly go to storage.
func TestAreasFromMemory(t *testing.T) {
	e := newEnv(t, Config{Days: 5})
	vessels := []keelson.MMSI{219000001, 219000002, 219000003, 257000004, 257000005}
	own := []string{"zeus"}
	e.insert(e.spread(e.events(6000, vessels, own, t0, 10*day)), "a")
	e.poll()
	start := t0.Add(5 * day)
	if rows := e.randomAreas(300, start, 5, vessels); rows < 5000 {
		t.Fatalf("only %d rows compared", rows)
	}

	// Boxes whose edges are stored points' exact coordinates.
	var all []storage.PositionRow
	if err := e.reader.Positions(e.ctx, storage.PositionQuery{From: start, To: start.Add(5 * day), Area: box(-180, -90, 180, 90)},
		func(p *storage.PositionRow) error { all = append(all, *p); return nil }); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		p, r := all[e.rng.IntN(len(all))], all[e.rng.IntN(len(all))]
		a := box(min(p.Lon, r.Lon), min(p.Lat, r.Lat), max(p.Lon, r.Lon), max(p.Lat, r.Lat))
		if i%2 == 0 { // one of them only: a box of no width
			a = box(p.Lon, p.Lat, p.Lon, p.Lat)
		}
		if n := e.sameArea(storage.PositionQuery{From: p.Time, To: p.Time.Add(day), Area: a}, true); n == 0 {
			t.Fatalf("box %v holds no point, not even its corner's", a.Bound)
		}
		// A bound half a unit off the point.
		a = box(p.Lon+0.5e-7, p.Lat-0.49e-7, p.Lon+1, p.Lat+1)
		e.sameArea(storage.PositionQuery{From: later(start, p.Time.Add(-time.Hour)), To: p.Time.Add(day), Area: a}, true)
	}
	// Empty answers: an inverted box, an inverted or empty time range,
	// a box with no positions, vessels never seen.
	for _, q := range []storage.PositionQuery{
		{From: start, To: start.Add(day), Area: box(12, 55, 11, 56)},
		{From: start.Add(day), To: start, Area: box(-180, -90, 180, 90)},
		{From: start, To: start, Area: box(-180, -90, 180, 90)},
		{From: start, To: start.Add(day), Area: box(100, 10, 102, 12)},
		{From: start, To: start.Add(day), MMSIs: []keelson.MMSI{1, 0}},
	} {
		if n := e.sameArea(q, true); n != 0 {
			t.Fatalf("%+v: %d rows", q, n)
		}
	}

	// Pages: a cursor after each page's last row, as the API pages,
	// reconstructs the whole answer (no vessel reports twice in a
	// millisecond here, so no tie group is cut).
	for _, q := range []storage.PositionQuery{
		{From: start, To: start.Add(2 * day), Area: box(9, 54, 13, 57)},
		{From: start.Add(time.Hour), To: start.Add(4 * day), Area: box(178, -11, 180, -8)},
		{From: start, To: start.Add(5 * day), MMSIs: vessels[1:3]},
	} {
		whole, _ := e.queryBoth(q, true)
		var paged []storage.PositionRow
		for page := 0; ; page++ {
			q.Limit = 37
			got, want := e.queryBoth(q, true)
			if !slices.EqualFunc(got, want, func(a, b storage.PositionRow) bool { return rowCompare(&a, &b) == 0 }) {
				t.Fatalf("page %d of %+v differs", page, q)
			}
			var rows []storage.PositionRow
			if err := e.tracks.Positions(e.ctx, q, func(p *storage.PositionRow) error { rows = append(rows, *p); return nil }); err != nil {
				t.Fatal(err)
			}
			paged = append(paged, rows...)
			if len(rows) < q.Limit {
				break
			}
			last := rows[len(rows)-1]
			q.After = &storage.Cursor{Time: last.Time, MMSI: last.MMSI}
		}
		if len(whole) < 100 || !slices.EqualFunc(paged, whole, func(a, b storage.PositionRow) bool { return rowCompare(&a, &b) == 0 }) {
			t.Fatalf("%+v: %d rows in pages, %d in one", q, len(paged), len(whole))
		}
	}
	// A cursor between the rows of one millisecond.
	p := all[len(all)/2]
	e.sameArea(storage.PositionQuery{From: start, To: start.Add(5 * day), Area: box(-180, -90, 180, 90),
		After: &storage.Cursor{Time: p.Time.Add(300 * time.Microsecond), MMSI: p.MMSI}}, true)
	e.sameArea(storage.PositionQuery{From: start, To: start.Add(5 * day), MMSIs: vessels,
		After: &storage.Cursor{Time: p.Time, MMSI: p.MMSI - 1}}, true)

	// What memory may not answer exactly goes to storage.
	poly := []orb.MultiPolygon{{{{{9, 54}, {13, 54}, {13, 57}, {9, 54}}}}}
	for _, q := range []storage.PositionQuery{
		{From: start.Add(-time.Millisecond), To: start.Add(day), Area: box(9, 54, 13, 57)}, // before the window
		{From: start, To: start.Add(day), Area: box(9, 54, 13, 57), ShipTypes: []uint8{70}},
		{From: start, To: start.Add(day), Area: storage.Area{Set: true, Bound: orb.Bound{Min: orb.Point{9, 54}, Max: orb.Point{13, 57}}, Polygons: poly}},
		{From: start, To: start.Add(day)},                                     // an export of everything
		{From: start, To: start.Add(day), MMSIs: []keelson.MMSI{}},            // an empty list
		{From: start, To: start.Add(day), Area: storage.Area{Polygons: poly}}, // a polygon alone
	} {
		e.sameArea(q, false)
	}
	if c := counter(t, e, "storage"); c != 6 {
		t.Fatalf("%v queries counted as served by storage, want 6", c)
	}
	if c := counter(t, e, "memory"); c < 300 {
		t.Fatalf("%v queries counted as served by memory", c)
	}

	// A limit and ErrStop end the query early as storage ends it.
	n := 0
	err := e.tracks.Positions(e.ctx, storage.PositionQuery{From: start, To: start.Add(day), Area: box(-180, -90, 180, 90)},
		func(*storage.PositionRow) error { n++; return storage.ErrStop })
	if !errors.Is(err, storage.ErrStop) || n != 1 {
		t.Fatalf("ErrStop: %v after %d rows", err, n)
	}
	// Lagging memory leaves the queries to storage.
	e.tracks.cfg.MaxLag = time.Nanosecond
	e.sameArea(storage.PositionQuery{From: start, To: start.Add(day), Area: box(9, 54, 13, 57)}, false)
}

func counter(t *testing.T, e *env, from string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "keelson_hot_position_queries_total" {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == from {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// The cell index names every series with a point in a cell on a day,
// through merges out of order, slides and reloads (checked against the
// points held), and numbers cells as storage.Cell does.
func (e *env) checkIndex() {
	e.t.Helper()
	tr := e.tracks
	tr.mu.RLock()
	defer tr.mu.RUnlock()
	first := floorDiv(tr.start, dayMs)
	for m, vs := range tr.series {
		for v, pts := range vs {
			id, ok := tr.ids[key{m, v}]
			if !ok || tr.keys[id] != (key{m, v}) {
				e.t.Fatalf("series %d %q has no id", m, v)
			}
			for _, dc := range indexCells(pts) {
				if _, found := slices.BinarySearch(tr.cells[dc], id); !found {
					e.t.Fatalf("series %d %q is not in cell %d of day %d", m, v, uint16(dc), dc>>16)
				}
			}
		}
	}
	for dc, ids := range tr.cells {
		if int64(dc>>16) < first {
			e.t.Fatalf("day %d before the window is indexed", dc>>16)
		}
		if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
			e.t.Fatalf("ids of cell %d not sorted and distinct", dc)
		}
	}
	if len(tr.keys) != len(tr.ids) {
		e.t.Fatalf("%d keys, %d ids", len(tr.keys), len(tr.ids))
	}
}

func TestCellOf(t *testing.T) {
	for _, p := range [][2]int32{{0, 0}, {-1, -1}, {900_000_000, 1_800_000_000}, {-900_000_000, -1_800_000_000}, {899_999_999, 1_799_999_999},
		{-899_999_999, -1_799_999_999}, {545_000_000, 95_000_000}, {-100_000_000, 1_799_999_999}, {10_000_000, -10_000_000}, {-10_000_001, 9_999_999}} {
		if got, want := cellOf(p[0], p[1]), storage.Cell(orb.Point{float64(p[1]) / 1e7, float64(p[0]) / 1e7}); got != want {
			t.Fatalf("cellOf(%v) = %d, storage.Cell %d", p, got, want)
		}
	}
	if math.MaxUint16 < 180*360 {
		t.Fatal("cells do not fit")
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
