package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keelson/keelson"
)

// The queries of a memory tier that follows the positions table (package
// storage/hot): which data parts the table has, and the usable positions of
// some of them. A part of a MergeTree table never changes once written; an
// insert adds a part with a new block number, and a merge replaces parts by
// one that covers their block numbers. So a follower that remembers the
// block numbers it has read can find what is new by listing the active
// parts, whoever wrote it (the sink, `keelson import`).

// ErrNotLocal is returned by PositionsLocal when positions is not a MergeTree
// table of this server (a Distributed table of a cluster: each shard's
// parts are its own).
var ErrNotLocal = errors.New("storage: positions is not a local MergeTree table")

// Part is an active data part of the positions table: its name and the
// range of insert block numbers it holds, within a partition.
type Part struct {
	Partition          string
	Name               string
	MinBlock, MaxBlock int64
	Rows               uint64 // rows stored, duplicates and unusable positions included
}

// PositionsLocal tells (nil) whether positions is a MergeTree table of
// this server, whose parts PositionParts lists, or why not.
func (r *Reader) PositionsLocal(ctx context.Context) error {
	var engine string
	err := r.db.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'positions'", nil, &engine)
	if errors.Is(err, ErrNoRows) {
		return fmt.Errorf("%w: no positions table (run keelson migrate)", ErrNotLocal)
	}
	if err != nil {
		return err
	}
	if !strings.HasSuffix(engine, "MergeTree") {
		return fmt.Errorf("%w: its engine is %s", ErrNotLocal, engine)
	}
	return nil
}

// PositionParts lists the active parts of the positions table.
func (r *Reader) PositionParts(ctx context.Context) ([]Part, error) {
	var parts []Part
	err := r.each(ctx, `SELECT partition_id, name, min_block_number, max_block_number, rows FROM system.parts
WHERE database = currentDatabase() AND table = 'positions' AND active`, nil, func(rows Rows) error {
		var p Part
		if err := rows.Scan(&p.Partition, &p.Name, &p.MinBlock, &p.MaxBlock, &p.Rows); err != nil {
			return err
		}
		parts = append(parts, p)
		return nil
	})
	return parts, err
}

// StoredPosition is a usable position as positions stores it: the time in
// Unix milliseconds, the coordinates in 1e-7 degrees, speed, course and
// heading in hundredths (65535: not available).
type StoredPosition struct {
	MMSI                 uint32
	Vessel               string // own-ship vessel id; "" for AIS
	Millis               int64
	LatE7, LonE7         int32
	SOGc, COGc, Headingc uint16
	NavStatus            uint8
}

// Row is the position as Track returns it.
func (p *StoredPosition) Row(dst *PositionRow) {
	dst.MMSI = keelson.MMSI(p.MMSI)
	dst.Time = time.UnixMilli(p.Millis).UTC()
	dst.Lon, dst.Lat = float64(p.LonE7)/1e7, float64(p.LatE7)/1e7
	dst.SOG, dst.COG, dst.Heading = centi(p.SOGc), centi(p.COGc), centi(p.Headingc)
	dst.NavStatus = p.NavStatus
}

// PartPositions streams the usable positions at or after since that the
// named parts of positions hold (a part that no longer exists, merged away
// meanwhile, gives nothing), in no particular order and not merged: a
// broadcast heard by several receivers may come more than once.
func (r *Reader) PartPositions(ctx context.Context, parts []string, since time.Time, fn func(*StoredPosition) error) error {
	if len(parts) == 0 {
		return nil
	}
	sql := fmt.Sprintf(`SELECT mmsi, vessel, ts, lat_e7, lon_e7, sog_c, cog_c, heading_c, nav_status FROM positions
WHERE _part IN {parts:Array(String)} AND ts >= {since:DateTime64(3)} AND bitAnd(flags, %d) = 0`, badPos)
	var p StoredPosition
	var ts time.Time
	return r.each(ctx, sql, Params{"parts": parts, "since": since}, func(rows Rows) error {
		if err := rows.Scan(&p.MMSI, &p.Vessel, &ts, &p.LatE7, &p.LonE7, &p.SOGc, &p.COGc, &p.Headingc, &p.NavStatus); err != nil {
			return err
		}
		p.Millis = ts.UnixMilli()
		return fn(&p)
	})
}

// NewestPosition is the time of the newest usable position at or before
// before, or the zero time when there is none.
func (r *Reader) NewestPosition(ctx context.Context, before time.Time) (time.Time, error) {
	var t time.Time
	var n uint64
	err := r.db.QueryRow(ctx, fmt.Sprintf(`SELECT max(ts), count() FROM positions
WHERE ts <= {before:DateTime64(3)} AND bitAnd(flags, %d) = 0`, badPos), Params{"before": before}, &t, &n)
	if err != nil || n == 0 {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
