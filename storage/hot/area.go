package hot

import (
	"cmp"
	"container/heap"
	"context"
	"math"
	"slices"

	"github.com/keelson/keelson/storage"
)

// The cell index: which series have a point in which 1-degree cell on
// which UTC day, as positions_cells records it for the table (cells as
// storage.Cell numbers them). An area-time query reads the series of its
// box's cells on its days only. It only ever names too many series (a
// merge adds, a slide drops whole days), never too few: every point held
// was indexed when it was merged.

const dayMs = int64(day / 1e6)

// dayCell is an index key: the day number (Unix ms / dayMs) above, the
// cell below.
func dayCell(d int64, cell uint16) uint64 { return uint64(d)<<16 | uint64(cell) }

// cellOf is the cell of a point, as storage.Cell computes it from
// degrees: row floor(lat)+90 clamped to 0-179, column floor(lon)+180
// modulo 360.
func cellOf(lat, lon int32) uint16 {
	return uint16(cellRow(int64(lat))*360 + int(((floorDiv(int64(lon)+1_800_000_000, 1e7)%360)+360)%360))
}

func cellRow(e7 int64) int { return int(min(max(floorDiv(e7+900_000_000, 1e7), 0), 179)) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// indexCells returns the sorted distinct (day, cell) keys of sorted points.
func indexCells(pts []point) []uint64 {
	var out []uint64
	last := ^uint64(0)
	for i := range pts {
		dc := dayCell(floorDiv(pts[i].ms, dayMs), cellOf(pts[i].lat, pts[i].lon))
		if dc != last {
			out = append(out, dc)
			last = dc
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// seriesID returns the id of a series, giving it one if new; the poller
// is the only caller. New keys are published by addIndex under t.mu.
func (t *Tracks) seriesID(k key, fresh *[]key) uint32 {
	if id, ok := t.ids[k]; ok {
		return id
	}
	id := uint32(len(t.ids))
	t.ids[k] = id
	*fresh = append(*fresh, k)
	return id
}

// addIndex records that series id has points in the cells; t.mu is held.
func (t *Tracks) addIndex(id uint32, cells []uint64) {
	for _, dc := range cells {
		ids := t.cells[dc]
		i, found := slices.BinarySearch(ids, id)
		if !found {
			t.cells[dc] = slices.Insert(ids, i, id)
		}
	}
}

// compactIndex drops the days before the window start and the series no
// longer held, and numbers the series again from 0; t.mu is held.
func (t *Tracks) compactIndex() {
	first := floorDiv(t.start, dayMs)
	ids := make(map[key]uint32, len(t.ids))
	keys := make([]key, 0, len(t.keys))
	renum := make([]uint32, len(t.keys))
	for old, k := range t.keys {
		renum[old] = math.MaxUint32
		if len(t.series[k.mmsi][k.vessel]) == 0 {
			continue
		}
		renum[old] = uint32(len(keys))
		ids[k] = uint32(len(keys))
		keys = append(keys, k)
	}
	for dc, list := range t.cells {
		if int64(dc>>16) < first {
			delete(t.cells, dc)
			continue
		}
		out := list[:0]
		for _, id := range list {
			if n := renum[id]; n != math.MaxUint32 {
				out = append(out, n)
			}
		}
		if len(out) == 0 {
			delete(t.cells, dc)
			continue
		}
		slices.Sort(out)
		t.cells[dc] = slices.Clip(out)
	}
	t.ids, t.keys = ids, keys
}

// IndexBytes estimates the memory of the cell index: its entries, the
// map buckets and the series ids.
func (t *Tracks) IndexBytes() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := 0
	for _, list := range t.cells {
		n += 8 + 24 + 8 + 4*cap(list) // key, slice header, map overhead, ids
	}
	for _, k := range t.keys {
		n += 2 * (24 + len(k.vessel)) // keys and ids entries
		n += 4 + 8
	}
	return n
}

// Positions streams the positions of an area and time range ordered by
// (time, MMSI, lat, lon), as storage.Reader.Positions does: from memory
// when memory can answer exactly (see answerable), else from Fallback.
func (t *Tracks) Positions(ctx context.Context, q storage.PositionQuery, fn func(*storage.PositionRow) error) error {
	if its, ok := t.areaSeries(q); ok {
		t.m.positions.WithLabelValues("memory").Inc()
		return emitArea(ctx, its, q.Limit, fn)
	}
	t.m.positions.WithLabelValues("storage").Inc()
	return t.cfg.Fallback.Positions(ctx, q, fn)
}

// answerable tells whether memory computes what the query's SQL
// computes: not with ship types (vessels' statics) or polygons
// (pointInPolygon's edges), not an export of everything in a time range
// (neither an area nor an MMSI list), not an empty MMSI list.
func answerable(q *storage.PositionQuery) bool {
	switch {
	case q.ShipTypes != nil, len(q.Area.Polygons) > 0:
		return false
	case q.MMSIs != nil:
		return len(q.MMSIs) > 0
	default:
		return q.Area.Set
	}
}

// areaIter walks one series' points of a query in time order.
type areaIter struct {
	pts  []point // pts[0] is the next point, inside the box
	mmsi uint32
	box  bool
	s, n int64 // lat bounds, 1e-7 degrees, inclusive
	w, e int64 // lon bounds
}

// skip drops the points outside the box from the front; false when none
// is left.
func (it *areaIter) skip() bool {
	if it.box {
		i := 0
		for i < len(it.pts) && outside(&it.pts[i], it.s, it.n, it.w, it.e) {
			i++
		}
		it.pts = it.pts[i:]
	}
	return len(it.pts) > 0
}

func outside(p *point, s, n, w, e int64) bool {
	lat, lon := int64(p.lat), int64(p.lon)
	return lat < s || lat > n || lon < w || lon > e
}

func (it *areaIter) less(o *areaIter) bool {
	p, r := &it.pts[0], &o.pts[0]
	return cmp.Or(cmp.Compare(p.ms, r.ms), cmp.Compare(it.mmsi, o.mmsi), cmp.Compare(p.lat, r.lat), cmp.Compare(p.lon, r.lon)) < 0
}

type iterHeap []*areaIter

func (h iterHeap) Len() int           { return len(h) }
func (h iterHeap) Less(i, j int) bool { return h[i].less(h[j]) }
func (h iterHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *iterHeap) Push(x any)        { *h = append(*h, x.(*areaIter)) }
func (h *iterHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// e7param is a bound as the query passes it (storage's e7param): an
// Int64 compared with the Int32 column.
func e7param(deg float64) int64 { return int64(math.Round(deg * 1e7)) }

// areaSeries returns the iterators over the series' points of the query
// (each at its first point), or false when memory may not answer it.
func (t *Tracks) areaSeries(q storage.PositionQuery) ([]*areaIter, bool) {
	if !answerable(&q) {
		return nil, false
	}
	// Bounds as the DateTime64(3) parameters have them: the millisecond below.
	lo, hi := q.From.UnixMilli(), q.To.UnixMilli()
	var cts int64
	var cmmsi uint32
	if q.After != nil {
		cts, cmmsi = q.After.Time.UnixMilli(), uint32(q.After.MMSI)
	}
	var s, n, w, e int64
	if q.Area.Set {
		b := q.Area.Bound
		s, n, w, e = e7param(b.Min[1]), e7param(b.Max[1]), e7param(b.Min[0]), e7param(b.Max[0])
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if !t.ready || lo < t.start || t.lagging() {
		return nil, false
	}
	var series []key
	empty := hi <= lo || (q.Area.Set && (s > n || w > e))
	switch {
	case empty:
	case q.MMSIs != nil:
		mm := make([]uint32, 0, len(q.MMSIs))
		for _, m := range q.MMSIs {
			if m != 0 {
				mm = append(mm, uint32(m))
			}
		}
		slices.Sort(mm)
		for _, m := range slices.Compact(mm) {
			for v := range t.series[m] {
				series = append(series, key{m, v})
			}
		}
	default:
		series = t.inCells(max(lo, cts), hi, s, n, w, e)
	}
	its := make([]*areaIter, 0, len(series))
	for _, k := range series {
		if k.mmsi == 0 {
			continue
		}
		pts := t.series[k.mmsi][k.vessel]
		first := lo
		if q.After != nil {
			// (ts, mmsi) > (cts, cmmsi), or with the cursor's place
			// (ts, mmsi, lat, lon) > (cts, cmmsi, clat, clon)
			if k.mmsi > cmmsi || k.mmsi == cmmsi && q.After.Point {
				first = max(first, cts)
			} else {
				first = max(first, cts+1)
			}
		}
		if first >= hi {
			continue
		}
		pts = pts[firstAtOrAfter(pts, first):firstAtOrAfter(pts, hi)]
		if q.After != nil && q.After.Point && k.mmsi == cmmsi {
			c := point{ms: cts, lat: q.After.LatE7, lon: q.After.LonE7}
			for len(pts) > 0 && pts[0].compare(&c) <= 0 {
				pts = pts[1:]
			}
		}
		it := &areaIter{pts: pts, mmsi: k.mmsi, box: q.Area.Set, s: s, n: n, w: w, e: e}
		if it.skip() {
			its = append(its, it)
		}
	}
	return its, true
}

// inCells returns the series with a point in the cells of the box (e7
// bounds) on the days of [lo, hi); t.mu is held.
func (t *Tracks) inCells(lo, hi, s, n, w, e int64) []key {
	if hi <= lo {
		return nil
	}
	r0, r1 := cellRow(s), cellRow(n)
	// Unwrapped columns: lon 180 is column 360, stored as 0.
	c0, c1 := max(floorDiv(w+1_800_000_000, 1e7), 0), min(floorDiv(e+1_800_000_000, 1e7), 360)
	if c0 > c1 {
		return nil
	}
	inBox := func(cell uint16) bool {
		r, c := int(cell)/360, int64(cell)%360
		return r >= r0 && r <= r1 && (c >= c0 && c <= c1 || c+360 >= c0 && c+360 <= c1)
	}
	var ids []uint32
	d0, d1 := floorDiv(lo, dayMs), floorDiv(hi-1, dayMs)
	boxCells := int64(r1-r0+1) * (c1 - c0 + 1) * (d1 - d0 + 1)
	if boxCells > int64(len(t.cells)) {
		for dc, list := range t.cells {
			if d := int64(dc >> 16); d >= d0 && d <= d1 && inBox(uint16(dc)) {
				ids = append(ids, list...)
			}
		}
	} else {
		for d := d0; d <= d1; d++ {
			for r := r0; r <= r1; r++ {
				for c := c0; c <= c1; c++ {
					ids = append(ids, t.cells[dayCell(d, uint16(r*360+int(c%360)))]...)
				}
			}
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make([]key, len(ids))
	for i, id := range ids {
		out[i] = t.keys[id]
	}
	return out
}

// emitArea merges the iterators by (time, MMSI, lat, lon) and calls fn
// for at most limit rows (0: all).
func emitArea(ctx context.Context, its []*areaIter, limit int, fn func(*storage.PositionRow) error) error {
	h := iterHeap(its)
	heap.Init(&h)
	var sp storage.StoredPosition
	var row storage.PositionRow
	for n := 0; len(h) > 0 && (limit <= 0 || n < limit); n++ {
		if n&4095 == 4095 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		it := h[0]
		p := &it.pts[0]
		sp = storage.StoredPosition{MMSI: it.mmsi, Millis: p.ms, LatE7: p.lat, LonE7: p.lon,
			SOGc: p.sog, COGc: p.cog, Headingc: p.heading, NavStatus: p.nav}
		sp.Row(&row)
		it.pts = it.pts[1:]
		if it.skip() {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
		if err := fn(&row); err != nil {
			return err
		}
	}
	return nil
}
