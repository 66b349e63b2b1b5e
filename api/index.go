package api

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
)

// Index holds every vessel's identity and latest position in memory, in a
// grid of cellDeg-degree cells, so that the latest-position, bounding-box
// and nearest-vessel queries need no storage round trip. It is loaded from
// storage at start and kept current from the live stream or by polling.
// Safe for concurrent use.
type Index struct {
	mu      sync.RWMutex
	vessels map[keelson.MMSI]*storage.VesselRow
	cells   map[cellKey][]keelson.MMSI // vessels with a position, by cell
	newest  time.Time                  // newest position time seen
}

const (
	cellDeg = 1.0
	nx      = int(360 / cellDeg)
	ny      = int(180 / cellDeg)
)

type cellKey struct{ x, y int16 }

func cellOf(p orb.Point) cellKey {
	x := int(math.Floor((p[0] + 180) / cellDeg))
	y := int(math.Floor((p[1] + 90) / cellDeg))
	return cellKey{int16(min(max(x, 0), nx-1)), int16(min(max(y, 0), ny-1))}
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{vessels: map[keelson.MMSI]*storage.VesselRow{}, cells: map[cellKey][]keelson.MMSI{}}
}

// Len returns the number of vessels.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.vessels)
}

// Newest returns the newest position time in the index.
func (ix *Index) Newest() time.Time {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.newest
}

// Put stores a vessel row (identity and latest position) unless the index
// already holds a newer position for it.
func (ix *Index) Put(v *storage.VesselRow) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	cur := ix.vessels[v.MMSI]
	if cur == nil {
		cur = &storage.VesselRow{MMSI: v.MMSI, Draught: keelson.NA}
		ix.vessels[v.MMSI] = cur
	}
	if !v.StaticTime.IsZero() && !v.StaticTime.Before(cur.StaticTime) {
		pos, has := cur.Position, cur.HasPosition
		*cur = *v
		cur.Position, cur.HasPosition = pos, has
	}
	if v.HasPosition {
		ix.movePosition(cur, v.Position)
	}
}

// movePosition sets cur's latest position to p if p is newer. Locked.
func (ix *Index) movePosition(cur *storage.VesselRow, p storage.PositionRow) {
	if cur.HasPosition && !p.Time.After(cur.Position.Time) {
		return
	}
	if !validLonLat(p.Point()) {
		return
	}
	nc := cellOf(p.Point())
	if cur.HasPosition {
		if oc := cellOf(cur.Position.Point()); oc != nc {
			l := ix.cells[oc]
			if i := slices.Index(l, cur.MMSI); i >= 0 {
				l[i] = l[len(l)-1]
				l = l[:len(l)-1]
			}
			if len(l) == 0 {
				delete(ix.cells, oc)
			} else {
				ix.cells[oc] = l
			}
			ix.cells[nc] = append(ix.cells[nc], cur.MMSI)
		}
	} else {
		ix.cells[nc] = append(ix.cells[nc], cur.MMSI)
	}
	cur.Position, cur.HasPosition = p, true
	if p.Time.After(ix.newest) {
		ix.newest = p.Time
	}
}

// Apply updates the index from a live event (positions and static reports).
func (ix *Index) Apply(ev *keelson.Event) {
	if ev.MMSI == 0 {
		return
	}
	switch {
	case ev.Position != nil:
		if ev.Flags&(keelson.FlagPositionNA|keelson.FlagPositionInvalid) != 0 {
			return
		}
		if ev.Position.Class == keelson.ClassBase || ev.Position.Class == keelson.ClassAtoN {
			return
		}
		p := storage.PositionRow{
			MMSI: ev.MMSI, Time: ev.Received.UTC(), Lon: ev.Position.Point[0], Lat: ev.Position.Point[1],
			SOG: ev.Position.SOG, COG: ev.Position.COG, Heading: ev.Position.Heading, NavStatus: ev.Position.NavStatus,
		}
		ix.mu.Lock()
		cur := ix.vessels[ev.MMSI]
		if cur == nil {
			cur = &storage.VesselRow{MMSI: ev.MMSI, Draught: keelson.NA}
			ix.vessels[ev.MMSI] = cur
		}
		ix.movePosition(cur, p)
		ix.mu.Unlock()
	case ev.Static != nil:
		st := ev.Static
		ix.mu.Lock()
		defer ix.mu.Unlock()
		cur := ix.vessels[ev.MMSI]
		if cur == nil {
			cur = &storage.VesselRow{MMSI: ev.MMSI, Draught: keelson.NA}
			ix.vessels[ev.MMSI] = cur
		}
		if ev.Received.Before(cur.StaticTime) {
			return
		}
		cur.StaticTime = ev.Received.UTC()
		// Type 24 part A carries only the name; keep what the other part said.
		if st.Name != "" {
			cur.Name = st.Name
		}
		if st.CallSign != "" {
			cur.CallSign = st.CallSign
		}
		if st.IMO != 0 {
			cur.IMO = st.IMO
		}
		if st.ShipType != 0 {
			cur.ShipType = st.ShipType
		}
		if l := st.Length(); l != 0 {
			cur.Length, cur.Beam = uint16(l), uint16(st.Beam())
		}
		if st.Draught.Valid() {
			cur.Draught = st.Draught
		}
		if st.Destination != "" {
			cur.Destination = st.Destination
		}
		if st.ETA != "" {
			cur.ETA = st.ETA
		}
	}
}

// Get returns a copy of one vessel's row.
func (ix *Index) Get(m keelson.MMSI) (storage.VesselRow, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	v := ix.vessels[m]
	if v == nil {
		return storage.VesselRow{}, false
	}
	return *v, true
}

// InBound appends the vessels whose latest position lies in b and for which
// keep returns true, ordered by MMSI.
func (ix *Index) InBound(dst []storage.VesselRow, b orb.Bound, keep func(*storage.VesselRow) bool) []storage.VesselRow {
	lo, hi := cellOf(b.Min), cellOf(b.Max)
	var hits []*storage.VesselRow
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if int(hi.x-lo.x+1)*int(hi.y-lo.y+1) > len(ix.cells) {
		// A huge box: walking the occupied cells is cheaper.
		for c, l := range ix.cells {
			if c.x >= lo.x && c.x <= hi.x && c.y >= lo.y && c.y <= hi.y {
				hits = ix.appendCell(hits, l, b, keep)
			}
		}
	} else {
		for y := lo.y; y <= hi.y; y++ {
			for x := lo.x; x <= hi.x; x++ {
				if l, ok := ix.cells[cellKey{x, y}]; ok {
					hits = ix.appendCell(hits, l, b, keep)
				}
			}
		}
	}
	// Sort pointers, then copy each row once.
	slices.SortFunc(hits, func(a, b *storage.VesselRow) int { return cmp.Compare(a.MMSI, b.MMSI) })
	for _, v := range hits {
		dst = append(dst, *v)
	}
	return dst
}

func (ix *Index) appendCell(dst []*storage.VesselRow, l []keelson.MMSI, b orb.Bound, keep func(*storage.VesselRow) bool) []*storage.VesselRow {
	for _, m := range l {
		v := ix.vessels[m]
		if b.Contains(v.Position.Point()) && (keep == nil || keep(v)) {
			dst = append(dst, v)
		}
	}
	return dst
}

// Neighbour is a vessel with its distance from a point.
type Neighbour struct {
	Vessel   storage.VesselRow
	Distance float64 // metres, great circle
}

// Nearest returns up to k vessels within radius metres of p, nearest
// first, among those for which keep returns true.
func (ix *Index) Nearest(p orb.Point, k int, radius float64, keep func(*storage.VesselRow) bool) []Neighbour {
	if k <= 0 {
		return nil
	}
	c := cellOf(p)
	var best []Neighbour // sorted, at most k
	worst := func() float64 {
		if len(best) < k {
			return radius
		}
		return best[len(best)-1].Distance
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if len(ix.cells) == 0 {
		return nil
	}
	visit := func(x, y int) {
		if y < 0 || y >= ny {
			return
		}
		x = ((x % nx) + nx) % nx
		for _, m := range ix.cells[cellKey{int16(x), int16(y)}] {
			v := ix.vessels[m]
			d := geo.Distance(p, v.Position.Point())
			if d > worst() || (keep != nil && !keep(v)) {
				continue
			}
			i, _ := slices.BinarySearchFunc(best, d, func(n Neighbour, d float64) int { return cmp.Compare(n.Distance, d) })
			best = slices.Insert(best, i, Neighbour{Vessel: *v, Distance: d})
			if len(best) > k {
				best = best[:k]
			}
		}
	}
	cx, cy := int(c.x), int(c.y)
	for r := 0; r <= max(nx/2, ny); r++ {
		if r == 0 {
			visit(cx, cy)
		} else {
			lo, hi := cx-r, cx+r
			if 2*r+1 > nx { // the ring's rows wrap the whole globe
				lo, hi = cx-nx/2, cx-nx/2+nx-1
			}
			for x := lo; x <= hi; x++ {
				visit(x, cy-r)
				visit(x, cy+r)
			}
			if r <= nx/2 {
				for y := cy - r + 1; y <= cy+r-1; y++ {
					visit(cx-r, y)
					if 2*r != nx { // else cx-r and cx+r are one column
						visit(cx+r, y)
					}
				}
			}
		}
		// Every vessel not yet visited is at least this far away.
		if ringBound(p, r) > worst() {
			break
		}
	}
	return best
}

// ringBound is a lower bound of the distance from p to any point outside
// the (2r+1)x(2r+1) cells around p's cell.
func ringBound(p orb.Point, r int) float64 {
	const mPerDeg = 111_194.9 // great-circle metres per degree
	dLat := float64(r) * cellDeg * mPerDeg
	lat := math.Min(89.999, math.Abs(p[1])+float64(r+1)*cellDeg)
	dLon := float64(r) * cellDeg * mPerDeg * math.Cos(lat*math.Pi/180)
	return math.Min(dLat, dLon)
}
