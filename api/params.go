package api

import (
	"encoding/base64"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/paulmach/orb"
)

// Request parameter parsing. Every function returns an *Error of kind
// ErrInvalidParam naming the parameter; no value is ever formatted into SQL.

const (
	maxListItems = 1000       // MMSIs or ship types in one request
	maxRadius    = 20_037_509 // half the Earth's circumference, metres
	maxParamLen  = 4096
)

// query wraps URL query values, refusing unknown and repeated parameters.
type query struct {
	v url.Values
}

func newQuery(raw string, allowed ...string) (query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return query{}, badParam("query", "malformed query string (escape ';', '%%' and '&' inside values)")
	}
	for k, vals := range v {
		if !slices.Contains(allowed, k) {
			return query{}, badParam(k, "unknown parameter (allowed: %s)", strings.Join(allowed, ", "))
		}
		if len(vals) > 1 {
			return query{}, badParam(k, "given %d times", len(vals))
		}
		if len(vals[0]) > maxParamLen {
			return query{}, badParam(k, "longer than %d bytes", maxParamLen)
		}
	}
	return query{v}, nil
}

func (q query) get(name string) string { return q.v.Get(name) }

func (q query) has(name string) bool { return q.v.Has(name) && q.v.Get(name) != "" }

// parseBBox parses "W,S,E,N" in degrees.
func parseBBox(name, s string) (orb.Bound, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return orb.Bound{}, badParam(name, "want W,S,E,N (4 numbers), got %q", s)
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return orb.Bound{}, badParam(name, "%q is not a number", p)
		}
		v[i] = f
	}
	w, s2, e, n := v[0], v[1], v[2], v[3]
	if w < -180 || w > 180 || e < -180 || e > 180 {
		return orb.Bound{}, badParam(name, "longitudes must be within [-180, 180]")
	}
	if s2 < -90 || s2 > 90 || n < -90 || n > 90 {
		return orb.Bound{}, badParam(name, "latitudes must be within [-90, 90]")
	}
	if w > e {
		return orb.Bound{}, badParam(name, "west %g is east of east %g (split a box across the antimeridian into two)", w, e)
	}
	if s2 > n {
		return orb.Bound{}, badParam(name, "south %g is north of north %g", s2, n)
	}
	return orb.Bound{Min: orb.Point{w, s2}, Max: orb.Point{e, n}}, nil
}

func validLonLat(p orb.Point) bool {
	return p[0] >= -180 && p[0] <= 180 && p[1] >= -90 && p[1] <= 90
}

// parseTime parses an RFC 3339 time (a numeric offset or Z; no zone names).
func parseTime(name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badParam(name, "want an RFC 3339 time such as 2026-10-01T12:00:00Z, got %q", s)
	}
	if t.Year() < 1970 || t.Year() > 2200 {
		return time.Time{}, badParam(name, "year %d out of range", t.Year())
	}
	return t.UTC(), nil
}

// parseInt parses an integer within [lo, hi].
func parseInt(name, s string, lo, hi int) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, badParam(name, "%q is not an integer", s)
	}
	if v < lo || v > hi {
		return 0, badParam(name, "%d is out of range [%d, %d]", v, lo, hi)
	}
	return v, nil
}

// parseFloat parses a finite number within [lo, hi].
func parseFloat(name, s string, lo, hi float64) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, badParam(name, "%q is not a number", s)
	}
	if v < lo || v > hi {
		return 0, badParam(name, "%g is out of range [%g, %g]", v, lo, hi)
	}
	return v, nil
}

// parseDuration parses a Go duration ("90s", "5m", "1h30m") within [lo, hi].
func parseDuration(name, s string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, badParam(name, "want a duration such as 30s, 5m or 2h, got %q", s)
	}
	if d < lo || d > hi {
		return 0, badParam(name, "%s is out of range [%s, %s]", d, lo, hi)
	}
	return d, nil
}

// parseMMSIs parses a comma-separated MMSI list.
func parseMMSIs(name, s string) ([]keelson.MMSI, error) {
	parts := strings.Split(s, ",")
	if len(parts) > maxListItems {
		return nil, badParam(name, "more than %d items", maxListItems)
	}
	out := make([]keelson.MMSI, 0, len(parts))
	for _, p := range parts {
		m, err := parseMMSI(name, strings.TrimSpace(p))
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// allDigits reports whether s is a non-empty run of ASCII digits.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parseVesselID parses the {id} of /v1/vessels/{id}: digits only are an
// MMSI; anything else is an own-ship vessel id (1-64 letters, digits or
// _ . : -, starting with a letter or digit), the id under which a
// collector without an MMSI stores its own ship's positions.
func parseVesselID(name, s string) (keelson.MMSI, string, error) {
	if allDigits(s) {
		m, err := parseMMSI(name, s)
		return m, "", err
	}
	if !vesselName.MatchString(s) {
		return 0, "", badParam(name, "%q is neither an MMSI (1-9 digits) nor an own-ship vessel id (1-64 letters, digits or _ . : -, starting with a letter or digit)", s)
	}
	return 0, s, nil
}

func parseMMSI(name, s string) (keelson.MMSI, error) {
	m, err := keelson.ParseMMSI(s)
	if err != nil || m == 0 {
		return 0, badParam(name, "%q is not an MMSI (1-9 digits)", s)
	}
	return m, nil
}

// parseShipTypes parses a comma-separated list of ITU ship types 0-99.
func parseShipTypes(name, s string) ([]uint8, error) {
	parts := strings.Split(s, ",")
	if len(parts) > 100 {
		return nil, badParam(name, "more than 100 items")
	}
	out := make([]uint8, 0, len(parts))
	for _, p := range parts {
		v, err := parseInt(name, strings.TrimSpace(p), 0, 99)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, uint8(v)) {
			out = append(out, uint8(v))
		}
	}
	return out, nil
}

// Format is an output format.
type Format string

// The output formats. JSON is the default; the others also serve bulk exports.
const (
	FormatJSON    Format = "json"
	FormatGeoJSON Format = "geojson"
	FormatCSV     Format = "csv"
	FormatNDJSON  Format = "ndjson"
	FormatParquet Format = "parquet"
)

var listFormats = []string{"json", "geojson", "csv", "ndjson", "parquet"}

func parseFormat(name, s string, allowed []string) (Format, error) {
	if s == "" {
		return FormatJSON, nil
	}
	if !slices.Contains(allowed, s) {
		return "", badParam(name, "unknown format %q (want one of %s)", s, strings.Join(allowed, ", "))
	}
	return Format(s), nil
}

// Cursors are opaque to callers: base64url of "c1.<unix nanos>.<mmsi>".

func encodeCursor(c storage.Cursor) string {
	s := "c1." + strconv.FormatInt(c.Time.UnixNano(), 10) + "." + strconv.FormatUint(uint64(c.MMSI), 10)
	if c.Point {
		s = "c2" + s[2:] + "." + strconv.FormatInt(int64(c.LatE7), 10) + "." + strconv.FormatInt(int64(c.LonE7), 10)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// positionCursor is the cursor after a position row: its time, MMSI and
// place (rows of one vessel at one millisecond are ordered by place).
func positionCursor(p *storage.PositionRow) string {
	return encodeCursor(storage.Cursor{Time: p.Time, MMSI: p.MMSI, Point: true,
		LatE7: int32(math.Round(p.Lat * 1e7)), LonE7: int32(math.Round(p.Lon * 1e7))})
}

// parseCursor reads a cursor of encodeCursor: c1.<ns>.<mmsi>, or
// c2.<ns>.<mmsi>.<lat_e7>.<lon_e7> (positions).
func parseCursor(name, s string) (*storage.Cursor, error) {
	bad := badParam(name, "not a cursor returned by this API")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	parts := strings.Split(string(b), ".")
	if !(len(parts) == 3 && parts[0] == "c1" || len(parts) == 5 && parts[0] == "c2") {
		return nil, bad
	}
	ns, err1 := strconv.ParseInt(parts[1], 10, 64)
	m, err2 := strconv.ParseUint(parts[2], 10, 32)
	if err1 != nil || err2 != nil {
		return nil, bad
	}
	c := &storage.Cursor{Time: time.Unix(0, ns).UTC(), MMSI: keelson.MMSI(m)}
	if parts[0] == "c2" {
		lat, err1 := strconv.ParseInt(parts[3], 10, 32)
		lon, err2 := strconv.ParseInt(parts[4], 10, 32)
		if err1 != nil || err2 != nil || lat < -90e7 || lat > 90e7 || lon < -180e7 || lon > 180e7 {
			return nil, bad
		}
		c.Point, c.LatE7, c.LonE7 = true, int32(lat), int32(lon)
	}
	return c, nil
}

// timeRange resolves from/to against the key's scope and the server limits.
// empty is true when the key's delay leaves nothing to see.
type timeRange struct {
	from, to time.Time
	empty    bool
}

func (s *Server) resolveRange(q query, key *Key, defSpan time.Duration) (timeRange, error) {
	now := s.now()
	var tr timeRange
	var err error
	if q.has("to") {
		if tr.to, err = parseTime("to", q.get("to")); err != nil {
			return tr, err
		}
	} else {
		tr.to = now
	}
	if q.has("from") {
		if tr.from, err = parseTime("from", q.get("from")); err != nil {
			return tr, err
		}
	} else {
		tr.from = tr.to.Add(-defSpan)
	}
	if !tr.from.Before(tr.to) {
		return tr, badParam("from", "%s is not before to %s", tr.from.Format(time.RFC3339), tr.to.Format(time.RFC3339))
	}
	span := tr.to.Sub(tr.from)
	if span > s.cfg.MaxRange {
		return tr, badParam("to", "time range %s exceeds the server's maximum %s", span, s.cfg.MaxRange)
	}
	if key.Scope.MaxRange > 0 && span > time.Duration(key.Scope.MaxRange) {
		return tr, errorf(ErrOutOfScope, "time range %s exceeds this key's maximum %s", span, time.Duration(key.Scope.MaxRange))
	}
	if cut := key.Scope.cutoff(now); tr.to.After(cut) {
		tr.to = cut
		if !tr.from.Before(tr.to) {
			tr.empty = true
		}
	}
	return tr, nil
}
