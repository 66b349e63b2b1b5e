package api

import (
	"cmp"
	"math"
	"slices"
	"strings"
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
// Vessels are keyed by MMSI; own ships stored without an MMSI (MMSI 0) by
// their vessel id (VesselRow.Vessel). Safe for concurrent use.
type Index struct {
	mu      sync.RWMutex
	vessels map[keelson.MMSI]*storage.VesselRow
	own     map[string]*storage.VesselRow    // own ships without an MMSI, by vessel id
	cells   map[cellKey][]*storage.VesselRow // vessels with a position, by cell
	newest  time.Time                        // newest position time seen
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
	return &Index{vessels: map[keelson.MMSI]*storage.VesselRow{}, own: map[string]*storage.VesselRow{}, cells: map[cellKey][]*storage.VesselRow{}}
}

// Len returns the number of vessels (own ships included).
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.vessels) + len(ix.own)
}

// Newest returns the newest position time in the index.
func (ix *Index) Newest() time.Time {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.newest
}

// entry returns the row of the vessel m (or, when m is 0, of the own ship
// vessel), creating it; nil for MMSI 0 without a vessel id. Locked.
func (ix *Index) entry(m keelson.MMSI, vessel string) *storage.VesselRow {
	if m == 0 {
		if vessel == "" {
			return nil
		}
		cur := ix.own[vessel]
		if cur == nil {
			cur = &storage.VesselRow{Vessel: vessel, Draught: keelson.NA}
			ix.own[vessel] = cur
		}
		return cur
	}
	cur := ix.vessels[m]
	if cur == nil {
		cur = &storage.VesselRow{MMSI: m, Draught: keelson.NA}
		ix.vessels[m] = cur
	}
	return cur
}

// Put stores a vessel row (identity and latest position) unless the index
// already holds a newer position for it. A row with MMSI 0 is an own ship
// keyed by its Vessel (ignored without one).
func (ix *Index) Put(v *storage.VesselRow) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	cur := ix.entry(v.MMSI, v.Vessel)
	if cur == nil {
		return
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
			if i := slices.Index(l, cur); i >= 0 {
				l[i] = l[len(l)-1]
				l[len(l)-1] = nil
				l = l[:len(l)-1]
			}
			if len(l) == 0 {
				delete(ix.cells, oc)
			} else {
				ix.cells[oc] = l
			}
			ix.cells[nc] = append(ix.cells[nc], cur)
		}
	} else {
		ix.cells[nc] = append(ix.cells[nc], cur)
	}
	cur.Position, cur.HasPosition = p, true
	if p.Time.After(ix.newest) {
		ix.newest = p.Time
	}
}

// Apply updates the index from a live event (positions and static
// reports; an own ship without an MMSI by its positions, keyed by
// ev.Vessel).
func (ix *Index) Apply(ev *keelson.Event) {
	if ev.MMSI == 0 && (ev.Vessel == "" || ev.Position == nil) {
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
		ix.movePosition(ix.entry(ev.MMSI, ev.Vessel), p)
		ix.mu.Unlock()
	case ev.Static != nil:
		st := ev.Static
		ix.mu.Lock()
		defer ix.mu.Unlock()
		cur := ix.entry(ev.MMSI, "")
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

// GetOwnShip returns a copy of the row of the own ship stored without an
// MMSI under the vessel id.
func (ix *Index) GetOwnShip(vessel string) (storage.VesselRow, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	v := ix.own[vessel]
	if v == nil {
		return storage.VesselRow{}, false
	}
	return *v, true
}

// OwnShips appends the own ships stored without an MMSI that have a
// position, ordered by vessel id.
func (ix *Index) OwnShips(dst []storage.VesselRow) []storage.VesselRow {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := len(dst)
	for _, v := range ix.own {
		if v.HasPosition {
			dst = append(dst, *v)
		}
	}
	slices.SortFunc(dst[n:], func(a, b storage.VesselRow) int { return strings.Compare(a.Vessel, b.Vessel) })
	return dst
}

// compareRows orders vessels by (MMSI, vessel id): own ships without an
// MMSI (MMSI 0) first, by id, then the others by MMSI. Lists and their
// cursors follow this order.
func compareRows(a, b *storage.VesselRow) int {
	if c := cmp.Compare(a.MMSI, b.MMSI); c != 0 {
		return c
	}
	return strings.Compare(a.Vessel, b.Vessel)
}

// InBound appends the vessels whose latest position lies in b and for which
// keep returns true, ordered by (MMSI, vessel id) (see compareRows).
func (ix *Index) InBound(dst []storage.VesselRow, b orb.Bound, keep func(*storage.VesselRow) bool) []storage.VesselRow {
	lo, hi := cellOf(b.Min), cellOf(b.Max)
	var hits []*storage.VesselRow
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if int(hi.x-lo.x+1)*int(hi.y-lo.y+1) > len(ix.cells) {
		// A huge box: walking the occupied cells is cheaper.
		for c, l := range ix.cells {
			if c.x >= lo.x && c.x <= hi.x && c.y >= lo.y && c.y <= hi.y {
				hits = appendCell(hits, l, b, keep)
			}
		}
	} else {
		for y := lo.y; y <= hi.y; y++ {
			for x := lo.x; x <= hi.x; x++ {
				if l, ok := ix.cells[cellKey{x, y}]; ok {
					hits = appendCell(hits, l, b, keep)
				}
			}
		}
	}
	// Sort pointers, then copy each row once.
	slices.SortFunc(hits, compareRows)
	dst = slices.Grow(dst, len(hits))
	for _, v := range hits {
		dst = append(dst, *v)
	}
	return dst
}

func appendCell(dst []*storage.VesselRow, l []*storage.VesselRow, b orb.Bound, keep func(*storage.VesselRow) bool) []*storage.VesselRow {
	for _, v := range l {
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
		for _, v := range ix.cells[cellKey{int16(x), int16(y)}] {
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
