package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/paulmach/orb"
)

// shipTypeFilter restricts to vessels whose current ship type is listed.
const shipTypeFilter = "mmsi IN (SELECT mmsi FROM vessels GROUP BY mmsi HAVING has({types:Array(UInt8)}, argMaxMerge(ship_type)))"

// Positions streams positions ordered by (time, MMSI, lat_e7, lon_e7): a
// total order of the rows (one per broadcast and vessel id), so that a
// cursor resumes exactly after a row.
//
// They are read from positions, partitioned by day and sorted by (mmsi,
// vessel, ts): a time range reads its days. With an MMSI list the key
// prunes to those vessels in each day. With an area of at most maxCells
// 1-degree cells, the vessels come from positions_cells (which vessels were
// in which cell each day): only those vessels' ranges of the range's days
// are read. Otherwise the ts and lat/lon minmax indexes prune.
func (r *Reader) Positions(ctx context.Context, q PositionQuery, fn func(*PositionRow) error) error {
	w := where{p: Params{}}
	w.add("ts >= {from:DateTime64(3)} AND ts < {to:DateTime64(3)}", "from", q.From, "to", q.To)
	w.area(q.Area, "lat_e7", "lon_e7")
	w.add(fmt.Sprintf("mmsi != 0 AND bitAnd(flags, %d) = 0", badPos))
	if q.MMSIs != nil {
		w.add("mmsi IN {mm:Array(UInt32)}", "mm", u32s(q.MMSIs))
	} else if cells, _ := areaCells(q.Area); cells != nil {
		// GLOBAL: with a cluster, the vessel list is built once from the
		// Distributed positions_cells and sent to every shard (on a single
		// node it is a plain IN, and the key analysis uses the set).
		w.add(vesselsInCells, "d0", q.From.UTC().Format(time.DateOnly), "d1", q.To.UTC().Format(time.DateOnly), "cells", cells)
	}
	if q.ShipTypes != nil {
		w.add(shipTypeFilter, "types", ints(q.ShipTypes))
	}
	switch {
	case q.After != nil && q.After.Point:
		w.add("(ts, mmsi, lat_e7, lon_e7) > ({cts:DateTime64(3)}, {cmmsi:UInt32}, {clat:Int32}, {clon:Int32})",
			"cts", q.After.Time, "cmmsi", uint32(q.After.MMSI), "clat", q.After.LatE7, "clon", q.After.LonE7)
	case q.After != nil:
		w.add("(ts, mmsi) > ({cts:DateTime64(3)}, {cmmsi:UInt32})", "cts", q.After.Time, "cmmsi", uint32(q.After.MMSI))
	}
	sql := "SELECT " + queryPosCols + " FROM positions FINAL" + w.sql() + " ORDER BY ts, mmsi, lat_e7, lon_e7"
	if q.Limit > 0 {
		sql += " LIMIT {limit:UInt64}"
		w.p["limit"] = q.Limit
	}
	var p PositionRow
	// Read with Track's settings (see trackSettings): above all the block
	// cache, which ClickHouse itself uses only for reads of up to
	// merge_tree_max_rows_to_use_cache rows (~1M), so an area-time query
	// (a day or two of the vessels in its cells) keeps its decompressed
	// blocks and a bulk export passes by. On the 10M-row benchmark table,
	// 200 random 2x2 degree x 6 h queries, bare engine: 27.6 -> 14.5 ms p50.
	return r.eachWith(ctx, sql, w.p, r.trackSettings(), false, func(rows Rows) error {
		if err := scanPos(rows, &p); err != nil {
			return err
		}
		return fn(&p)
	})
}

// vesselsInCells restricts positions to the vessels that positions_cells
// saw in the cells {cells} on the days {d0}..{d1} (duplicate rows not yet
// merged do not matter in an IN set, so no FINAL).
const vesselsInCells = `(mmsi, vessel) GLOBAL IN (SELECT mmsi, vessel FROM positions_cells
    WHERE day BETWEEN {d0:Date} AND {d1:Date} AND cell IN {cells:Array(UInt16)})`

// maxCells bounds the cell list of an area query; a larger area is pruned
// by time only.
const maxCells = 4096

// areaCells returns the 1-degree cells (see cellExpr) that cover the area's
// bounding box (or its polygons' common bounding box); ok is false when the
// area is not restricted, and cells nil when there are too many of them.
func areaCells(a Area) (cells []uint16, ok bool) {
	var b orb.Bound
	switch {
	case a.Set:
		b = a.Bound
	case len(a.Polygons) > 0:
		b = a.Polygons[0].Bound()
	default:
		return nil, false
	}
	for _, mp := range a.Polygons {
		pb := mp.Bound()
		b.Min = orb.Point{max(b.Min[0], pb.Min[0]), max(b.Min[1], pb.Min[1])}
		b.Max = orb.Point{min(b.Max[0], pb.Max[0]), min(b.Max[1], pb.Max[1])}
	}
	if b.Min[0] > b.Max[0] || b.Min[1] > b.Max[1] {
		return []uint16{}, true // nothing can match
	}
	// Cells from the bounds as the query compares them (1e-7 degrees).
	r0, r1 := cellRow(e7param(b.Min[1])), cellRow(e7param(b.Max[1]))
	// Unwrapped columns: lon 180 is column 360, stored as 0.
	c0, c1 := floorDiv(e7param(b.Min[0])+1_800_000_000, 1e7), floorDiv(e7param(b.Max[0])+1_800_000_000, 1e7)
	c0, c1 = max(c0, 0), min(c1, 360)
	if (r1-r0+1)*int(c1-c0+1) > maxCells {
		return nil, true
	}
	for r := r0; r <= r1; r++ {
		for c := c0; c <= c1; c++ {
			cells = append(cells, uint16(r*360+int(c%360)))
		}
	}
	return cells, true
}

// cellRow and cellCol are floor(deg)+90 and floor(deg)+180 of a 1e-7 degree
// value, as cellExpr computes them (row clamped to 0-179, column 0-359).
func cellRow(e7 int64) int { return int(min(max(floorDiv(e7+900_000_000, 1e7), 0), 179)) }

func cellCol(e7 int64) int { return int(((floorDiv(e7+1_800_000_000, 1e7) % 360) + 360) % 360) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Cell is the 1-degree cell of positions_cells holding p (lon, lat degrees).
func Cell(p orb.Point) uint16 {
	return uint16(cellRow(e7param(p[1]))*360 + cellCol(e7param(p[0])))
}
