package storage

import (
	"context"
	"fmt"
	"time"
)

// Own-ship positions from a collector that was given no MMSI are stored
// with mmsi 0 and the vessel id (the collector's -vessel) in the vessel
// column; the primary key of positions, (mmsi, vessel, ts), finds one such
// vessel's positions directly. (An own ship with an MMSI is stored under
// its MMSI like any AIS vessel.)

// OwnShipTrackQuery selects one own-ship vessel's positions in [From, To),
// ordered by time.
type OwnShipTrackQuery struct {
	Vessel   string
	From, To time.Time
	Limit    int // 0: no limit
}

const ownShipWhere = "mmsi = 0 AND vessel = {vessel:String}"

// OwnShipLatest returns the latest usable position of the own-ship vessel
// at or before before (zero: now), or an error wrapping ErrNotFound.
func (r *Reader) OwnShipLatest(ctx context.Context, vessel string, before time.Time) (PositionRow, error) {
	p := Params{"vessel": vessel}
	sql := "SELECT " + queryPosCols + " FROM positions WHERE " + ownShipWhere + fmt.Sprintf(" AND bitAnd(flags, %d) = 0", badPos)
	if !before.IsZero() {
		sql += " AND ts <= {before:DateTime64(3)}"
		p["before"] = before
	}
	sql += " ORDER BY ts DESC LIMIT 1"
	var pos PositionRow
	found := false
	err := r.each(ctx, sql, p, func(rows Rows) error {
		found = true
		return scanPos(rows, &pos)
	})
	if err == nil && !found {
		err = fmt.Errorf("%w: own-ship vessel %q", ErrNotFound, vessel)
	}
	return pos, err
}

// OwnShipTrack streams one own-ship vessel's positions in [From, To)
// ordered by time (MMSI 0 in every row), read as Track reads an MMSI's.
func (r *Reader) OwnShipTrack(ctx context.Context, q OwnShipTrackQuery, fn func(*PositionRow) error) error {
	w := where{p: Params{}}
	w.add(ownShipWhere, "vessel", q.Vessel)
	return r.track(ctx, w, q.From, q.To, q.Limit, fn)
}

// OwnShipRow is an own-ship vessel (stored without an MMSI) and its latest
// position.
type OwnShipRow struct {
	Vessel   string
	Position PositionRow // MMSI 0
}

// OwnShips streams every own-ship vessel stored without an MMSI with its
// latest usable position at or before before (zero: now), ordered by
// vessel id. (Own ships are few; the primary key of positions finds
// their rows, MMSI 0, directly.)
func (r *Reader) OwnShips(ctx context.Context, before time.Time, fn func(*OwnShipRow) error) error {
	p := Params{}
	src := "latest FINAL WHERE mmsi = 0 AND vessel != ''"
	if !before.IsZero() {
		src = "positions WHERE mmsi = 0 AND vessel != '' AND ts <= {before:DateTime64(3)}" + fmt.Sprintf(" AND bitAnd(flags, %d) = 0", badPos)
		p["before"] = before
	}
	sql := `SELECT vessel, max(ts), argMax(lon_e7, ts), argMax(lat_e7, ts), argMax(sog, ts), argMax(cog, ts), argMax(heading, ts), argMax(nav_status, ts)
FROM ` + src + ` GROUP BY vessel ORDER BY vessel`
	var o OwnShipRow
	return r.each(ctx, sql, p, func(rows Rows) error {
		var lon, lat int32
		var sog, cog, hdg float32
		pos := &o.Position
		if err := rows.Scan(&o.Vessel, &pos.Time, &lon, &lat, &sog, &cog, &hdg, &pos.NavStatus); err != nil {
			return err
		}
		pos.MMSI = 0
		pos.Lon, pos.Lat = float64(lon)/1e7, float64(lat)/1e7
		pos.SOG, pos.COG, pos.Heading = widen32(sog), widen32(cog), widen32(hdg)
		return fn(&o)
	})
}
