package storage

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keelson/keelson"
	"github.com/paulmach/orb/planar"
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
// vessel id: the latest table, or as of a cutoff as LatestBefore reads
// them (ownShipVessels; own ships are few, and the primary key of
// positions finds their rows, MMSI 0, directly).
func (r *Reader) OwnShips(ctx context.Context, before time.Time, fn func(*OwnShipRow) error) error {
	var o OwnShipRow
	return r.ownShipVessels(ctx, before, time.Time{}, time.Time{}, 0, Area{}, func(v *VesselRow) error {
		o = OwnShipRow{Vessel: v.Vessel, Position: v.Position}
		return fn(&o)
	})
}

// ownShipVessels streams the own-ship vessels stored without an MMSI as
// vessel rows (MMSI 0, Vessel set, no AIS identity: ShipType 0, Draught
// NA), each with its latest usable position, ordered by vessel id: what
// Latest and LatestBefore add ahead of the AIS vessels (MMSI 0 sorts
// first). Own ships are few, so since and area (the box and each polygon)
// are applied here to the answer, as Latest applies them in SQL.
//
//   - before zero: the latest table (positions newer than since only).
//   - before and after set: each own ship's latest position in (after,
//     before], for those that moved then (LatestBeforeQuery.After).
//   - before alone, win < 0: an argMax over every position up to before.
//   - before alone: the latest position at or before the cutoff, read as
//     LatestBefore reads the AIS vessels': an own ship whose row in latest
//     is at or before the cutoff has not moved since; the others' positions
//     in (before-win, before] are read by the primary key (mmsi 0, vessel,
//     ts), then, for those silent in that window, every position up to the
//     cutoff.
func (r *Reader) ownShipVessels(ctx context.Context, before, after, since time.Time, win time.Duration, area Area, fn func(*VesselRow) error) error {
	const cols = "vessel, ts, lon_e7, lat_e7, sog, cog, heading, nav_status"
	const outer = `SELECT vessel, max(ts), argMax(lon_e7, ts), argMax(lat_e7, ts), argMax(sog, ts), argMax(cog, ts), argMax(heading, ts), argMax(nav_status, ts)
FROM (%s) GROUP BY vessel ORDER BY vessel`
	usable := fmt.Sprintf(" AND bitAnd(flags, %d) = 0", badPos)
	p := Params{}
	var src string
	switch {
	case before.IsZero():
		src = "SELECT " + cols + " FROM latest FINAL WHERE mmsi = 0 AND vessel != ''"
		if !since.IsZero() {
			src += " AND ts > {since:DateTime64(3)}"
			p["since"] = since
		}
	case !after.IsZero():
		src = "SELECT " + cols + " FROM positions PREWHERE ts > {after:DateTime64(3)} AND ts <= {before:DateTime64(3)} WHERE mmsi = 0 AND vessel != ''" + usable
		p["after"], p["before"] = after, before
	case win < 0: // every position up to the cutoff (the reference that Latest gives)
		src = "SELECT " + cols + " FROM positions WHERE mmsi = 0 AND vessel != '' AND ts <= {before:DateTime64(3)}" + usable
		p["before"] = before
	default:
		if win == 0 {
			win = 24 * time.Hour
		}
		p["before"], p["wfrom"] = before, before.Add(-win)
		moved := "SELECT vessel FROM latest FINAL WHERE mmsi = 0 AND vessel != '' AND ts > {before:DateTime64(3)}"
		src = "SELECT " + cols + " FROM latest FINAL WHERE mmsi = 0 AND vessel != '' AND ts <= {before:DateTime64(3)}" +
			"\nUNION ALL SELECT " + cols + " FROM positions WHERE mmsi = 0 AND vessel IN (" + moved + ")" +
			" AND ts > {wfrom:DateTime64(3)} AND ts <= {before:DateTime64(3)}" + usable +
			// A marker at time 0 for each own ship that moved (as in LatestBefore).
			"\nUNION ALL SELECT vessel, toDateTime64(0, 3, 'UTC'), toInt32(0), toInt32(0), toFloat32(nan), toFloat32(nan), toFloat32(nan), toUInt8(15) FROM (" + moved + ")"
	}
	var v VesselRow
	keep := func(v *VesselRow) bool {
		pos := &v.Position
		if !since.IsZero() && !pos.Time.After(since) {
			return false
		}
		if !area.Set {
			return true
		}
		lat, lon := e7param(pos.Lat), e7param(pos.Lon)
		if lat < e7param(area.Bound.Min[1]) || lat > e7param(area.Bound.Max[1]) || lon < e7param(area.Bound.Min[0]) || lon > e7param(area.Bound.Max[0]) {
			return false
		}
		for _, mp := range area.Polygons {
			if !planar.MultiPolygonContains(mp, pos.Point()) {
				return false
			}
		}
		return true
	}
	var missing []string
	scan := func(rows Rows) error {
		if err := scanOwnVessel(rows, &v); err != nil {
			return err
		}
		if v.Position.Time.Unix() == 0 {
			missing = append(missing, v.Vessel)
			return nil
		}
		if !keep(&v) {
			return nil
		}
		return fn(&v)
	}
	if err := r.each(ctx, fmt.Sprintf(outer, src), p, scan); err != nil || len(missing) == 0 {
		return err
	}
	fp := Params{"before": before, "miss": missing}
	src = "SELECT " + cols + " FROM positions WHERE mmsi = 0 AND vessel IN {miss:Array(String)} AND ts <= {before:DateTime64(3)}" + usable
	missing = nil
	return r.each(ctx, fmt.Sprintf(outer, src), fp, scan)
}

// scanOwnVessel reads a row of ownShipVessels' outer query.
func scanOwnVessel(rows Rows, v *VesselRow) error {
	var lon, lat int32
	var sog, cog, hdg float32
	*v = VesselRow{Draught: keelson.NA, HasPosition: true}
	pos := &v.Position
	if err := rows.Scan(&v.Vessel, &pos.Time, &lon, &lat, &sog, &cog, &hdg, &pos.NavStatus); err != nil {
		return err
	}
	pos.Time = pos.Time.UTC()
	pos.Lon, pos.Lat = float64(lon)/1e7, float64(lat)/1e7
	pos.SOG, pos.COG, pos.Heading = widen32(sog), widen32(cog), widen32(hdg)
	return nil
}

// latestOwnShips is Latest's part for own ships stored without an MMSI
// (rows with MMSI 0 and Vessel set, ahead of the AIS vessels): none when
// q names MMSIs, or ship types without 0 (own ships have no AIS ship
// type: 0, as for a vessel that sent no static report).
func (r *Reader) latestOwnShips(ctx context.Context, q LatestQuery, fn func(*VesselRow) error) error {
	if q.MMSIs != nil || q.ShipTypes != nil && !slices.Contains(q.ShipTypes, 0) {
		return nil
	}
	return r.ownShipVessels(ctx, q.Before, time.Time{}, q.Since, -1, q.Area, fn)
}
