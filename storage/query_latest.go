package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/keelson/keelson"
)

// LatestBeforeQuery selects each vessel's latest position at or before a
// cutoff in the past (what a key with a delay may see).
type LatestBeforeQuery struct {
	Before time.Time // the cutoff; required
	// Window is how far before Before the positions of vessels that moved
	// since the cutoff are read; a vessel silent for longer than Window
	// before the cutoff is then looked up by its MMSI. Default 24h.
	Window time.Duration
	MMSIs  []keelson.MMSI // only these vessels (no own ship); nil: all, own ships too
	// After, when set, asks for an update instead: only the vessels with
	// a position in (After, Before], each with its latest one there (what
	// moves a view at After forward to Before).
	After time.Time
}

// latestPosCols are the columns that each source of LatestBefore yields.
const latestPosCols = "mmsi, ts, lon_e7, lat_e7, sog, cog, heading, nav_status"

// latestBeforeOuter picks each vessel's newest row of the sources and
// joins its identity as known at the cutoff.
const latestBeforeOuter = `SELECT p.mmsi, p.t, p.lon, p.lat, p.sog_, p.cog_, p.heading_, p.nav_status_, ` + staticCols + `
FROM (SELECT mmsi, max(ts) AS t, argMax(lon_e7, ts) AS lon, argMax(lat_e7, ts) AS lat,
        argMax(sog, ts) AS sog_, argMax(cog, ts) AS cog_, argMax(heading, ts) AS heading_, argMax(nav_status, ts) AS nav_status_
      FROM (%s) GROUP BY mmsi) AS p
LEFT JOIN (%s) AS v ON v.mmsi = p.mmsi
ORDER BY p.mmsi`

// LatestBefore streams the latest position of each vessel at or before
// q.Before, with the vessel's identity as known then, ordered by MMSI
// (except the few vessels found by the fallback below, which come last).
// Own ships stored without an MMSI come first (MMSI 0, Vessel set), read
// the same way from their rows of latest and positions (ownShipVessels),
// unless q.MMSIs is set.
//
// It reads less than an argMax over every stored position would: a vessel
// whose row in the latest table is at or before the cutoff has not moved
// since, and that row is the answer; for the others, only their positions
// in (Before-Window, Before] are read (positions sorted by day first, as
// since schema version 4, prune to the window's days by the primary key;
// in older databases, the ts minmax indexes prune what they can). A vessel that moved since the cutoff but
// has no position in the window (silent for longer than Window before it)
// is then looked up by MMSI in positions, whose primary key starts with it.
// With After set, only the positions in (After, Before] are read (see
// LatestBeforeQuery.After).
func (r *Reader) LatestBefore(ctx context.Context, q LatestBeforeQuery, fn func(*VesselRow) error) error {
	if q.Before.IsZero() {
		return fmt.Errorf("storage: LatestBefore needs a cutoff")
	}
	win := q.Window
	if win <= 0 {
		win = 24 * time.Hour
	}
	from := q.Before.Add(-win)
	if q.MMSIs == nil { // own ships stored without an MMSI first (query_ownship.go)
		if err := r.ownShipVessels(ctx, q.Before, q.After, time.Time{}, win, Area{}, fn); err != nil {
			return err
		}
	}
	p := Params{
		"before": q.Before,
		"wfrom":  from,
	}
	vessels := "mmsi != 0 AND class NOT IN ('base', 'aton')"
	if q.MMSIs != nil {
		vessels += " AND mmsi IN {mm:Array(UInt32)}"
		p["mm"] = u32s(q.MMSIs)
	}
	usable := fmt.Sprintf(" AND bitAnd(flags, %d) = 0", badPos)
	if !q.After.IsZero() {
		p["after"] = q.After
		// PREWHERE reads the ts column first, the others only where it
		// matches; positions sorted by day first prune to the window's days.
		src := "SELECT " + latestPosCols + " FROM positions PREWHERE ts > {after:DateTime64(3)} AND ts <= {before:DateTime64(3)} WHERE " + vessels + usable
		var v VesselRow
		return r.each(ctx, fmt.Sprintf(latestBeforeOuter, src, fmt.Sprintf(staticsBefore, "")), p, func(rows Rows) error {
			if err := scanVessel(rows, &v, true); err != nil {
				return err
			}
			return fn(&v)
		})
	}
	moved := "SELECT mmsi FROM latest FINAL WHERE " + vessels + " AND ts > {before:DateTime64(3)}"
	src := "SELECT " + latestPosCols + " FROM latest FINAL WHERE " + vessels + " AND ts <= {before:DateTime64(3)}" +
		"\nUNION ALL SELECT " + latestPosCols + " FROM positions WHERE mmsi IN (" + moved + ")" +
		" AND ts > {wfrom:DateTime64(3)} AND ts <= {before:DateTime64(3)}" + usable +
		// A marker row at time 0 for every vessel that moved: any real row
		// wins over it, so a vessel whose newest row is the marker had no
		// position in the window.
		"\nUNION ALL SELECT mmsi, toDateTime64(0, 3, 'UTC'), toInt32(0), toInt32(0), toFloat32(nan), toFloat32(nan), toFloat32(nan), toUInt8(15) FROM (" + moved + ")"
	var missing []uint32
	var v VesselRow
	err := r.each(ctx, fmt.Sprintf(latestBeforeOuter, src, fmt.Sprintf(staticsBefore, "")), p, func(rows Rows) error {
		if err := scanVessel(rows, &v, true); err != nil {
			return err
		}
		if v.Position.Time.Unix() == 0 {
			missing = append(missing, uint32(v.MMSI))
			return nil
		}
		return fn(&v)
	})
	if err != nil || len(missing) == 0 {
		return err
	}
	fp := Params{"before": q.Before, "miss": missing}
	src = "SELECT " + latestPosCols + " FROM positions WHERE mmsi IN {miss:Array(UInt32)} AND class NOT IN ('base', 'aton')" +
		usable + " AND ts <= {before:DateTime64(3)}"
	return r.each(ctx, fmt.Sprintf(latestBeforeOuter, src, fmt.Sprintf(staticsBefore, "AND mmsi IN {miss:Array(UInt32)}")), fp, func(rows Rows) error {
		if err := scanVessel(rows, &v, true); err != nil {
			return err
		}
		return fn(&v)
	})
}
