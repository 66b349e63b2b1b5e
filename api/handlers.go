package api

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/planar"
)

var world = orb.Bound{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}

// indexFor returns the in-memory index that serves the key's latest
// positions: the live index, or for a key with a delay the snapshot of
// its view (see delayed.go). It is nil while the live index is loading.
func (s *Server) indexFor(r *http.Request, k *Key) (*Index, error) {
	if k.Scope.Delay > 0 {
		return s.delayedIndex(r.Context(), time.Duration(k.Scope.Delay))
	}
	if s.ready.Load() {
		return s.index, nil
	}
	return nil, nil
}

// pageLimit resolves the limit parameter for a list.
func (s *Server) pageLimit(q query, k *Key, f Format) (int, error) {
	most := s.cfg.MaxPage
	if k.Scope.Export {
		most = s.cfg.ExportMaxRows
	}
	if !q.has("limit") {
		if f != FormatJSON && k.Scope.Export {
			return most, nil
		}
		return min(s.cfg.DefaultPage, most), nil
	}
	n, err := parseInt("limit", q.get("limit"), 1, s.cfg.ExportMaxRows)
	if err != nil {
		return 0, err
	}
	if n > most {
		return 0, errorf(ErrOutOfScope, "limit %d exceeds this key's largest page (%d rows); bulk exports need a key with export rights", n, most)
	}
	return n, nil
}

// writeList streams rows produced by produce as one page in format f.
// produce calls emit for each row in cursor order; cursorOf makes the
// cursor that resumes after a row.
func writeList[T any](s *Server, w http.ResponseWriter, route string, t *table[T], f Format, limit int,
	produce func(emit func(*T) error) error, cursorOf func(*T) string) error {
	rw := newRespWriter(w, func(h http.Header) {
		h.Set("Content-Type", contentType(f))
		if f == FormatCSV || f == FormatParquet || f == FormatNDJSON {
			ext := map[Format]string{FormatCSV: "csv", FormatParquet: "parquet", FormatNDJSON: "ndjson"}[f]
			h.Set("Content-Disposition", `attachment; filename="`+t.name+"."+ext+`"`)
		}
		if cursorOf != nil {
			h.Set("Trailer", "X-Next-Cursor")
		}
	})
	defer rw.release()
	enc := newEncoder(t, f, rw)
	defer enc.release()
	var last T
	n, next := 0, ""
	err := produce(func(r *T) error {
		if limit > 0 && n == limit {
			if cursorOf != nil {
				next = cursorOf(&last)
			}
			return storage.ErrStop
		}
		n++
		last = *r
		return enc.row(r)
	})
	s.m.rows.WithLabelValues(route).Add(float64(n))
	if err != nil && !errors.Is(err, storage.ErrStop) {
		if rw.committed {
			return fmt.Errorf("%w: %w", errCommitted, err)
		}
		return err
	}
	if err := enc.finish(next, nil); err != nil {
		return fmt.Errorf("%w: %w", errCommitted, err)
	}
	return nil
}

// The vessel lists are ordered by (MMSI, vessel id) (compareRows), and
// their cursors name the last row sent: an MMSI's is the c1 cursor of
// that MMSI; an own ship's (MMSI 0) is base64url of "o1.<vessel id>".

func vesselCursor(v *storage.VesselRow) string {
	if v.MMSI == 0 {
		return base64.RawURLEncoding.EncodeToString([]byte("o1." + v.Vessel))
	}
	return encodeCursor(storage.Cursor{Time: time.Unix(0, 0), MMSI: v.MMSI})
}

// parseVesselCursor returns the key (MMSI, Vessel) of the row a cursor of
// vesselCursor names.
func parseVesselCursor(name, s string) (storage.VesselRow, error) {
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		if id, ok := strings.CutPrefix(string(b), "o1."); ok {
			if !vesselName.MatchString(id) {
				return storage.VesselRow{}, badParam(name, "not a cursor returned by this API")
			}
			return storage.VesselRow{Vessel: id}, nil
		}
	}
	c, err := parseCursor(name, s)
	if err != nil {
		return storage.VesselRow{}, err
	}
	return storage.VesselRow{MMSI: c.MMSI}, nil
}

// latestFromStore reads the live latest positions from storage (while the
// index loads), filtered by keep, ordered by (MMSI, vessel id). It reads
// only the key's MMSIs when it may see no own ship.
func (s *Server) latestFromStore(r *http.Request, k *Key, q storage.LatestQuery, keep func(*storage.VesselRow) bool) ([]storage.VesselRow, error) {
	if len(k.Scope.Vessels) == 0 {
		mm, ok := k.Scope.filterMMSIs(nil)
		if !ok {
			return nil, nil
		}
		q.MMSIs = mm
	}
	var out []storage.VesselRow
	err := s.store.Latest(r.Context(), q, func(v *storage.VesselRow) error {
		if keep(v) {
			out = append(out, *v)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b storage.VesselRow) int { return compareRows(&a, &b) })
	return out, err
}

// GET /v1/vessels/{id}
func (s *Server) handleVessel(w http.ResponseWriter, r *http.Request, k *Key) error {
	q, err := newQuery(r.URL.RawQuery, "format")
	if err != nil {
		return err
	}
	m, own, err := parseVesselID("id", r.PathValue("id"))
	if err != nil {
		return err
	}
	f, err := parseFormat("format", q.get("format"), []string{"json", "geojson"})
	if err != nil {
		return err
	}
	if own != "" {
		return s.ownShip(w, r, k, own, f)
	}
	if !k.Scope.allowsMMSI(m) {
		return errorf(ErrOutOfScope, "vessel %s is not in this key's scope", m)
	}
	var v storage.VesselRow
	var ok bool
	ix, err := s.indexFor(r, k)
	if err != nil {
		return err
	}
	if ix != nil {
		v, ok = ix.Get(m)
	}
	if !ok { // not in the index (loading, or a station without a vessel's latest position)
		v, err = s.store.Vessel(r.Context(), m, k.Scope.cutoff(s.now()))
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		ok = err == nil
	}
	// A key with a region gets the same answer for a vessel outside it
	// and for one that does not exist (no existence leak).
	if len(k.Scope.Region) > 0 && (!ok || !v.HasPosition || !k.Scope.allowsPoint(v.Position.Point())) {
		return errorf(ErrOutOfScope, "vessel %s is not in this key's region", m)
	}
	if !ok {
		return errorf(ErrNotFound, "no vessel %s", m)
	}
	return writeVessel(w, &v, f)
}

// writeVessel writes one vessel row as a JSON object or a GeoJSON Feature.
func writeVessel(w http.ResponseWriter, v *storage.VesselRow, f Format) error {
	var b []byte
	if f == FormatGeoJSON {
		b = vesselTable.appendFeature(nil, v, nil)
	} else {
		b = vesselTable.appendJSON(nil, v, nil)
	}
	w.Header().Set("Content-Type", contentType(f))
	_, err := w.Write(append(b, '\n'))
	return err
}

// ownShip serves an own ship stored without an MMSI: a vessel row (MMSI
// 0, its vessel id, no AIS identity) with its latest position as of the
// key's cutoff.
func (s *Server) ownShip(w http.ResponseWriter, r *http.Request, k *Key, vessel string, f Format) error {
	if !k.Scope.allowsVessel(vessel) {
		return errorf(ErrOutOfScope, "vessel %q is not in this key's scope", vessel)
	}
	ix, err := s.indexFor(r, k)
	if err != nil {
		return err
	}
	var v storage.VesselRow
	found := false
	if ix != nil {
		v, found = ix.GetOwnShip(vessel)
	}
	if !found { // not in the index (loading, or not seen by it)
		pos, err := s.store.OwnShipLatest(r.Context(), vessel, k.Scope.cutoff(s.now()))
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		found = err == nil
		v = storage.VesselRow{Vessel: vessel, Draught: keelson.NA, HasPosition: found, Position: pos}
	}
	if len(k.Scope.Region) > 0 && (!found || !k.Scope.allowsPoint(v.Position.Point())) {
		return errorf(ErrOutOfScope, "vessel %q is not in this key's region", vessel)
	}
	if !found {
		return errorf(ErrNotFound, "no vessel %q", vessel)
	}
	return writeVessel(w, &v, f)
}

// GET /v1/ownships: every own-ship vessel stored without an MMSI that the
// key may see, with its latest position as of the key's cutoff.
func (s *Server) handleOwnShips(w http.ResponseWriter, r *http.Request, k *Key) error {
	q, err := newQuery(r.URL.RawQuery, "bbox", "format")
	if err != nil {
		return err
	}
	b := world
	if q.has("bbox") {
		if b, err = parseBBox("bbox", q.get("bbox")); err != nil {
			return err
		}
	}
	f, err := parseFormat("format", q.get("format"), listFormats)
	if err != nil {
		return err
	}
	// From the index that serves the key's /v1/vessels (so that both say
	// the same), or from storage while it loads.
	ix, err := s.indexFor(r, k)
	if err != nil {
		return err
	}
	var before time.Time // live: the latest table
	if k.Scope.Delay > 0 {
		before = k.Scope.cutoff(s.now())
	}
	return writeList(s, w, "ownships", ownShipTable, f, 0, func(emit func(*ownRow) error) error {
		var row ownRow
		if ix != nil {
			for _, v := range ix.OwnShips(nil) {
				p := v.Position.Point()
				if !k.Scope.allowsVessel(v.Vessel) || !b.Contains(p) || !k.Scope.allowsPoint(p) {
					continue
				}
				row = ownRow{Vessel: v.Vessel, Pos: v.Position}
				if err := emit(&row); err != nil {
					return err
				}
			}
			return nil
		}
		return s.store.OwnShips(r.Context(), before, func(o *storage.OwnShipRow) error {
			p := o.Position.Point()
			if !k.Scope.allowsVessel(o.Vessel) || !b.Contains(p) || !k.Scope.allowsPoint(p) {
				return nil
			}
			row = ownRow{Vessel: o.Vessel, Pos: o.Position}
			return emit(&row)
		})
	}, nil)
}

// GET /v1/vessels
func (s *Server) handleVessels(w http.ResponseWriter, r *http.Request, k *Key) error {
	q, err := newQuery(r.URL.RawQuery, "bbox", "ship_type", "updated_since", "limit", "cursor", "format")
	if err != nil {
		return err
	}
	b := world
	if q.has("bbox") {
		if b, err = parseBBox("bbox", q.get("bbox")); err != nil {
			return err
		}
	}
	var types []uint8
	if q.has("ship_type") {
		if types, err = parseShipTypes("ship_type", q.get("ship_type")); err != nil {
			return err
		}
	}
	var since time.Time
	if q.has("updated_since") {
		if since, err = parseTime("updated_since", q.get("updated_since")); err != nil {
			return err
		}
	}
	var after storage.VesselRow // (0, ""): before every row
	if q.has("cursor") {
		if after, err = parseVesselCursor("cursor", q.get("cursor")); err != nil {
			return err
		}
	}
	f, err := parseFormat("format", q.get("format"), listFormats)
	if err != nil {
		return err
	}
	limit, err := s.pageLimit(q, k, f)
	if err != nil {
		return err
	}
	// Own ships without an MMSI have ship type 0 (none): a ship_type
	// filter without 0 leaves them out.
	keep := func(v *storage.VesselRow) bool {
		return compareRows(v, &after) > 0 && v.HasPosition && k.Scope.allowsRow(v) &&
			(len(types) == 0 || slices.Contains(types, v.ShipType)) &&
			v.Position.Time.After(since) && k.Scope.allowsPoint(v.Position.Point())
	}
	var rows []storage.VesselRow
	ix, err := s.indexFor(r, k)
	if err != nil {
		return err
	}
	if ix != nil {
		rows = ix.InBound(nil, b, keep)
	} else {
		rows, err = s.latestFromStore(r, k, storage.LatestQuery{Since: since, Area: storage.Area{Set: true, Bound: b}, ShipTypes: types}, keep)
		if err != nil {
			return err
		}
	}
	return writeList(s, w, "vessels", vesselTable, f, limit, func(emit func(*storage.VesselRow) error) error {
		for i := range rows {
			if err := emit(&rows[i]); err != nil {
				return err
			}
		}
		return nil
	}, vesselCursor)
}

// GET /v1/vessels/near
func (s *Server) handleNear(w http.ResponseWriter, r *http.Request, k *Key) error {
	q, err := newQuery(r.URL.RawQuery, "lat", "lon", "radius_m", "limit", "ship_type", "format")
	if err != nil {
		return err
	}
	if !q.has("lat") || !q.has("lon") {
		return badParam("lat", "lat and lon are required")
	}
	lat, err := parseFloat("lat", q.get("lat"), -90, 90)
	if err != nil {
		return err
	}
	lon, err := parseFloat("lon", q.get("lon"), -180, 180)
	if err != nil {
		return err
	}
	radius := float64(maxRadius)
	if q.has("radius_m") {
		if radius, err = parseFloat("radius_m", q.get("radius_m"), 0, maxRadius); err != nil {
			return err
		}
	}
	limit := 10
	if q.has("limit") {
		if limit, err = parseInt("limit", q.get("limit"), 1, 1000); err != nil {
			return err
		}
	}
	var types []uint8
	if q.has("ship_type") {
		if types, err = parseShipTypes("ship_type", q.get("ship_type")); err != nil {
			return err
		}
	}
	f, err := parseFormat("format", q.get("format"), listFormats)
	if err != nil {
		return err
	}
	p := orb.Point{lon, lat}
	keep := func(v *storage.VesselRow) bool {
		return v.HasPosition && k.Scope.allowsRow(v) && (len(types) == 0 || slices.Contains(types, v.ShipType)) &&
			k.Scope.allowsPoint(v.Position.Point())
	}
	var near []Neighbour
	ix, err := s.indexFor(r, k)
	if err != nil {
		return err
	}
	if ix != nil {
		near = ix.Nearest(p, limit, radius, keep)
	} else {
		lq := storage.LatestQuery{ShipTypes: types}
		if radius < 1_000_000 {
			lq.Area = storage.Area{Set: true, Bound: geo.NewBoundAroundPoint(p, radius)}
		}
		rows, err := s.latestFromStore(r, k, lq, keep)
		if err != nil {
			return err
		}
		for _, v := range rows {
			if d := geo.Distance(p, v.Position.Point()); d <= radius {
				near = append(near, Neighbour{Vessel: v, Distance: d})
			}
		}
		slices.SortFunc(near, func(a, b Neighbour) int { return cmp.Compare(a.Distance, b.Distance) })
		near = near[:min(len(near), limit)]
	}
	return writeList(s, w, "near", nearTable, f, 0, func(emit func(*Neighbour) error) error {
		for i := range near {
			if err := emit(&near[i]); err != nil {
				return err
			}
		}
		return nil
	}, nil)
}

// GET /v1/vessels/{id}/track
func (s *Server) handleTrack(w http.ResponseWriter, r *http.Request, k *Key) error {
	q, err := newQuery(r.URL.RawQuery, "from", "to", "simplify", "resample", "max_gap", "format")
	if err != nil {
		return err
	}
	m, own, err := parseVesselID("id", r.PathValue("id"))
	if err != nil {
		return err
	}
	var tol float64
	if q.has("simplify") {
		if tol, err = parseFloat("simplify", q.get("simplify"), 0, 1_000_000); err != nil {
			return err
		}
	}
	var every, maxGap time.Duration
	if q.has("resample") {
		if every, err = parseDuration("resample", q.get("resample"), time.Second, 24*time.Hour); err != nil {
			return err
		}
	}
	if q.has("max_gap") {
		if maxGap, err = parseDuration("max_gap", q.get("max_gap"), time.Second, 31*24*time.Hour); err != nil {
			return err
		}
		if every == 0 {
			return badParam("max_gap", "applies to resample only")
		}
	}
	f, err := parseFormat("format", q.get("format"), listFormats)
	if err != nil {
		return err
	}
	if !q.has("format") {
		f = FormatGeoJSON
	}
	if k.Scope.Aggregated {
		return errorf(ErrOutOfScope, "this key may read aggregated data only, not tracks")
	}
	if own != "" && !k.Scope.allowsVessel(own) {
		return errorf(ErrOutOfScope, "vessel %q is not in this key's scope", own)
	}
	if own == "" && !k.Scope.allowsMMSI(m) {
		return errorf(ErrOutOfScope, "vessel %s is not in this key's scope", m)
	}
	tr, err := s.resolveRange(q, k, 24*time.Hour)
	if err != nil {
		return err
	}
	var pts []storage.PositionRow
	if !tr.empty {
		keep := func(p *storage.PositionRow) error {
			if k.Scope.allowsPoint(p.Point()) {
				pts = append(pts, *p)
			}
			return nil
		}
		if own != "" {
			err = s.store.OwnShipTrack(r.Context(), storage.OwnShipTrackQuery{Vessel: own, From: tr.from, To: tr.to, Limit: s.cfg.MaxTrack + 1}, keep)
		} else {
			err = s.store.Track(r.Context(), storage.TrackQuery{MMSI: m, From: tr.from, To: tr.to, Limit: s.cfg.MaxTrack + 1}, keep)
		}
		if err != nil {
			return err
		}
	}
	if len(pts) > s.cfg.MaxTrack {
		return badParam("from", "the track has more than %d points in this range; narrow from/to", s.cfg.MaxTrack)
	}
	pts = Simplify(pts, tol)
	if every > 0 {
		pts = Resample(pts, every, maxGap)
	}
	if !k.Scope.Export && len(pts) > s.cfg.MaxPage {
		return errorf(ErrOutOfScope, "the track has %d points, more than this key's largest page (%d); narrow from/to, simplify or resample, or use a key with export rights", len(pts), s.cfg.MaxPage)
	}
	s.m.rows.WithLabelValues("track").Add(float64(len(pts)))
	if f == FormatGeoJSON {
		w.Header().Set("Content-Type", contentType(f))
		_, err := w.Write(appendTrackFeature(nil, m, own, pts))
		return err
	}
	if own != "" {
		return writeList(s, w, "track", ownShipTable, f, 0, func(emit func(*ownRow) error) error {
			var row ownRow
			row.Vessel = own
			for i := range pts {
				row.Pos = pts[i]
				if err := emit(&row); err != nil {
					return err
				}
			}
			return nil
		}, nil)
	}
	return writeList(s, w, "track", positionTable, f, 0, func(emit func(*storage.PositionRow) error) error {
		for i := range pts {
			if err := emit(&pts[i]); err != nil {
				return err
			}
		}
		return nil
	}, nil)
}

// appendTrackFeature writes a track as a GeoJSON Feature with a LineString
// geometry (null with fewer than two points) and per-point properties; the
// vessel is named by its MMSI, or by own, its own-ship vessel id.
func appendTrackFeature(b []byte, m keelson.MMSI, own string, pts []storage.PositionRow) []byte {
	b = append(b, `{"type":"Feature","geometry":`...)
	if len(pts) < 2 {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"type":"LineString","coordinates":[`...)
		for i := range pts {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = strconv.AppendFloat(b, pts[i].Lon, 'f', -1, 64)
			b = append(b, ',')
			b = strconv.AppendFloat(b, pts[i].Lat, 'f', -1, 64)
			b = append(b, ']')
		}
		b = append(b, "]}"...)
	}
	if own != "" {
		b = append(b, `,"properties":{"vessel":`...)
		b = appendJSONString(b, own)
	} else {
		b = append(b, `,"properties":{"mmsi":`...)
		b = strconv.AppendUint(b, uint64(m), 10)
	}
	b = append(b, `,"points":`...)
	b = strconv.AppendInt(b, int64(len(pts)), 10)
	list := func(name string, f func(p *storage.PositionRow) []byte) {
		b = append(b, `,"`...)
		b = append(b, name...)
		b = append(b, `":[`...)
		for i := range pts {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, f(&pts[i])...)
		}
		b = append(b, ']')
	}
	var tmp []byte
	list("times", func(p *storage.PositionRow) []byte {
		tmp = append(append(tmp[:0], '"'), p.Time.UTC().Format(timeLayout)...)
		return append(tmp, '"')
	})
	list("sog", func(p *storage.PositionRow) []byte { return p.SOG.AppendJSON(tmp[:0]) })
	list("cog", func(p *storage.PositionRow) []byte { return p.COG.AppendJSON(tmp[:0]) })
	list("heading", func(p *storage.PositionRow) []byte { return p.Heading.AppendJSON(tmp[:0]) })
	list("nav_status", func(p *storage.PositionRow) []byte { return strconv.AppendUint(tmp[:0], uint64(p.NavStatus), 10) })
	return append(b, "}}\n"...)
}

// areaFilter is the area of a request: the SQL bounding box and the exact
// polygons (request and key region) applied to each row.
type areaFilter struct {
	area  storage.Area
	polys []orb.MultiPolygon
	empty bool
}

func (a *areaFilter) contains(p orb.Point) bool {
	if a.area.Set && !a.area.Bound.Contains(p) {
		return false
	}
	for _, mp := range a.polys {
		if !planar.MultiPolygonContains(mp, p) {
			return false
		}
	}
	return true
}

// intersect narrows the filter to bound b.
func (a *areaFilter) intersect(b orb.Bound) {
	if !a.area.Set {
		a.area = storage.Area{Set: true, Bound: b}
		return
	}
	o := a.area.Bound
	n := orb.Bound{Min: orb.Point{max(o.Min[0], b.Min[0]), max(o.Min[1], b.Min[1])}, Max: orb.Point{min(o.Max[0], b.Max[0]), min(o.Max[1], b.Max[1])}}
	if n.Min[0] > n.Max[0] || n.Min[1] > n.Max[1] {
		a.empty = true
		return
	}
	a.area.Bound = n
}

func (a *areaFilter) addPolygon(mp orb.MultiPolygon) {
	a.polys = append(a.polys, mp)
	a.intersect(mp.Bound())
	a.area.Polygons = a.polys
}

// area builds the area filter of a request from bbox, an optional polygon
// and the key's region.
func (s *Server) area(q query, k *Key, poly orb.MultiPolygon) (areaFilter, error) {
	var a areaFilter
	if q.has("bbox") {
		b, err := parseBBox("bbox", q.get("bbox"))
		if err != nil {
			return a, err
		}
		a.intersect(b)
	}
	if poly != nil {
		a.addPolygon(poly)
	}
	if len(k.Scope.Region) > 0 {
		a.addPolygon(k.Scope.Region)
	}
	return a, nil
}

const maxBody = 1 << 20

// readPolygon reads a GeoJSON Polygon or MultiPolygon (bare or in a Feature).
func readPolygon(r *http.Request) (orb.MultiPolygon, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, badParam("body", "cannot read the request body")
	}
	if len(body) > maxBody {
		return nil, badParam("body", "larger than %d bytes", maxBody)
	}
	var g struct {
		geometry
		Geometry *geometry `json:"geometry"`
	}
	if err := json.Unmarshal(body, &g); err != nil {
		return nil, badParam("body", "not a GeoJSON Polygon, MultiPolygon or Feature: %v", jsonErrText(err))
	}
	geom := &g.geometry
	if g.Type == "Feature" {
		if g.Geometry == nil {
			return nil, badParam("body", "Feature without geometry")
		}
		geom = g.Geometry
	}
	mp, err := geom.multiPolygon()
	if err != nil {
		return nil, badParam("body", "%s", errors.Unwrap(err) /* sentinel */)
	}
	n := 0
	for _, p := range mp {
		if len(p) == 0 {
			return nil, badParam("body", "empty polygon")
		}
		for _, ring := range p {
			if len(ring) < 4 || ring[0] != ring[len(ring)-1] {
				return nil, badParam("body", "every ring needs at least 4 positions and must be closed")
			}
			for _, pt := range ring {
				if !validLonLat(pt) {
					return nil, badParam("body", "position %v out of range (lon, lat order)", pt)
				}
			}
			n += len(ring)
		}
	}
	if n > 10000 {
		return nil, badParam("body", "more than 10000 positions")
	}
	return mp, nil
}

// jsonErrText keeps JSON syntax errors short and free of internals.
func jsonErrText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("wrong type for %q", te.Field)
	}
	return "invalid JSON"
}

// GET|POST /v1/positions
func (s *Server) handlePositions(w http.ResponseWriter, r *http.Request, k *Key) error {
	q, err := newQuery(r.URL.RawQuery, "bbox", "from", "to", "mmsi", "ship_type", "limit", "cursor", "format")
	if err != nil {
		return err
	}
	var poly orb.MultiPolygon
	if r.Method == http.MethodPost {
		if poly, err = readPolygon(r); err != nil {
			return err
		}
	}
	a, err := s.area(q, k, poly)
	if err != nil {
		return err
	}
	var mm []keelson.MMSI
	if q.has("mmsi") {
		if mm, err = parseMMSIs("mmsi", q.get("mmsi")); err != nil {
			return err
		}
	}
	var types []uint8
	if q.has("ship_type") {
		if types, err = parseShipTypes("ship_type", q.get("ship_type")); err != nil {
			return err
		}
	}
	var after *storage.Cursor
	if q.has("cursor") {
		if after, err = parseCursor("cursor", q.get("cursor")); err != nil {
			return err
		}
	}
	f, err := parseFormat("format", q.get("format"), listFormats)
	if err != nil {
		return err
	}
	limit, err := s.pageLimit(q, k, f)
	if err != nil {
		return err
	}
	if k.Scope.Aggregated {
		return errorf(ErrOutOfScope, "this key may read aggregated data only, not raw positions")
	}
	tr, err := s.resolveRange(q, k, time.Hour)
	if err != nil {
		return err
	}
	mm, any := k.Scope.filterMMSIs(mm)
	none := tr.empty || a.empty || !any
	// The polygons are applied in SQL and again here (the same test as the
	// index's), so a page never holds a point outside them.
	pq := storage.PositionQuery{From: tr.from, To: tr.to, Area: a.area, MMSIs: mm, ShipTypes: types, After: after, Limit: limit + 1}
	return writeList(s, w, "positions", positionTable, f, limit, func(emit func(*storage.PositionRow) error) error {
		if none {
			return nil
		}
		return s.store.Positions(r.Context(), pq, func(p *storage.PositionRow) error {
			if !a.contains(p.Point()) {
				return nil
			}
			return emit(p)
		})
	}, positionCursor)
}

var vesselName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)

// GET /v1/observations
func (s *Server) handleObservations(w http.ResponseWriter, r *http.Request, k *Key) error {
	q, err := newQuery(r.URL.RawQuery, "bbox", "from", "to", "mmsi", "vessel", "quantity", "limit", "cursor", "format")
	if err != nil {
		return err
	}
	f, err := parseFormat("format", q.get("format"), listFormats)
	if err != nil {
		return err
	}
	limit, err := s.pageLimit(q, k, f)
	if err != nil {
		return err
	}
	var after *storage.Cursor
	if q.has("cursor") {
		if after, err = parseCursor("cursor", q.get("cursor")); err != nil {
			return err
		}
	}
	if q.has("vessel") {
		return s.telemetry(w, r, k, q, f, limit, after)
	}
	if q.has("quantity") {
		return badParam("quantity", "applies to own-ship telemetry (with vessel=) only")
	}
	a, err := s.area(q, k, nil)
	if err != nil {
		return err
	}
	var mm []keelson.MMSI
	if q.has("mmsi") {
		if mm, err = parseMMSIs("mmsi", q.get("mmsi")); err != nil {
			return err
		}
	}
	if k.Scope.Aggregated {
		return errorf(ErrOutOfScope, "this key may read aggregated data only, not observations")
	}
	tr, err := s.resolveRange(q, k, 24*time.Hour)
	if err != nil {
		return err
	}
	mm, any := k.Scope.filterMMSIs(mm)
	none := tr.empty || a.empty || !any
	oq := storage.ObservationQuery{From: tr.from, To: tr.to, Area: a.area, MMSIs: mm, After: after, Limit: limit + 1}
	if k.Scope.Delay > 0 {
		oq.ReceivedBefore = k.Scope.cutoff(s.now()) // an observation may be received long after its time
	}
	return writeList(s, w, "observations", observationTable, f, limit, func(emit func(*obsRow) error) error {
		if none {
			return nil
		}
		return s.store.Observations(r.Context(), oq, func(o *obsRow) error {
			if !a.contains(o.Observation.Point) {
				return nil
			}
			return emit(o)
		})
	}, func(o *obsRow) string { return encodeCursor(storage.Cursor{Time: o.Time, MMSI: o.MMSI}) })
}

// telemetry serves an own-ship vessel's sensor series.
func (s *Server) telemetry(w http.ResponseWriter, r *http.Request, k *Key, q query, f Format, limit int, after *storage.Cursor) error {
	v := q.get("vessel")
	if !vesselName.MatchString(v) {
		return badParam("vessel", "want 1-64 letters, digits or _ . : - (starting with a letter or digit)")
	}
	if q.has("bbox") || q.has("mmsi") {
		return badParam("vessel", "cannot be combined with bbox or mmsi")
	}
	var quantities []string
	if q.has("quantity") {
		for _, s := range splitList(q.get("quantity")) {
			if !vesselName.MatchString(s) {
				return badParam("quantity", "%q is not a quantity name", s)
			}
			quantities = append(quantities, s)
		}
	}
	if k.Scope.Aggregated {
		return errorf(ErrOutOfScope, "this key may read aggregated data only, not telemetry")
	}
	if !k.Scope.allowsVessel(v) {
		return errorf(ErrOutOfScope, "vessel %q is not in this key's scope", v)
	}
	if len(k.Scope.Region) > 0 {
		return errorf(ErrOutOfScope, "own-ship telemetry carries no position; keys limited to a region cannot read it")
	}
	tr, err := s.resolveRange(q, k, 24*time.Hour)
	if err != nil {
		return err
	}
	tq := storage.TelemetryQuery{Vessel: v, From: tr.from, To: tr.to, Quantities: quantities, Limit: 0}
	// The cursor is (time, rows already returned at that time).
	skip := 0
	if after != nil {
		t := after.Time
		tq.After = &t
		skip = int(after.MMSI)
	}
	var lastT time.Time
	sameT := 0
	return writeList(s, w, "telemetry", telemetryTable, f, limit, func(emit func(*telRow) error) error {
		if tr.empty {
			return nil
		}
		return s.store.Telemetry(r.Context(), tq, func(t *telRow) error {
			if after != nil && t.Time.Equal(after.Time) && skip > 0 {
				skip--
				return nil
			}
			err := emit(t)
			if err == nil {
				if t.Time.Equal(lastT) {
					sameT++
				} else {
					lastT, sameT = t.Time, 1
				}
			}
			return err
		})
	}, func(t *telRow) string {
		n := sameT
		if after != nil && t.Time.Equal(after.Time) {
			n += int(after.MMSI)
		}
		return encodeCursor(storage.Cursor{Time: t.Time, MMSI: keelson.MMSI(n)})
	})
}
