package storage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/paulmach/orb"
)

// openTestDB opens an embedded database in a temporary directory. It skips
// under -short and fails when libchdb.so is missing in a full run.
func openTestDB(t testing.TB) *DB {
	t.Helper()
	if testing.Short() {
		t.Skip("embedded ClickHouse: skipped with -short")
	}
	db, err := Open(context.Background(), "chdb://"+t.TempDir(), Options{})
	if err != nil {
		t.Fatalf("open embedded ClickHouse: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestEngineParamsRoundTrip(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	tricky := "a\tb\\c'd\n\"e\x00f"
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)
	var (
		x  int64
		s  string
		tt time.Time
		xs []string
		f  float64
		b  string
	)
	err := db.QueryRow(ctx, "SELECT {x:Int64} * 2, {s:String}, {t:DateTime64(3,'UTC')}, {xs:Array(String)}, {f:Float64}, {b:String}",
		Params{"x": 21, "s": tricky, "t": ts, "xs": []string{"it's", `back\slash`}, "b": "[x\\y", "f": 1.5}, &x, &s, &tt, &xs, &f, &b)
	if err != nil {
		t.Fatal(err)
	}
	if x != 42 || s != tricky || !tt.Equal(ts) || len(xs) != 2 || xs[0] != "it's" || xs[1] != `back\slash` || f != 1.5 || b != "[x\\y" {
		t.Fatalf("got %d %q %v %q %v", x, s, tt, xs, f)
	}
	// A parameter is a value, never SQL.
	var n uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM numbers(10) WHERE toString(number) = {s:String}",
		Params{"s": "1' OR '1'='1"}, &n); err != nil || n != 0 {
		t.Fatalf("injection: n=%d err=%v", n, err)
	}
}

func TestEngineErrors(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	_, err := db.Query(ctx, "SELECT nope", nil, nil)
	var qe *QueryError
	if !errors.Is(err, ErrQuery) || !errors.As(err, &qe) {
		t.Fatalf("want QueryError, got %v", err)
	}
	if err := db.Exec(ctx, "CREATE TABLE ro (a UInt8) ENGINE = Memory", nil, Settings{"readonly": 1}); !errors.Is(err, ErrQuery) {
		t.Fatalf("readonly: want ErrQuery, got %v", err)
	}
	if err := db.QueryRow(ctx, "SELECT 1 WHERE 0", nil, new(uint8)); !errors.Is(err, ErrNoRows) {
		t.Fatalf("want ErrNoRows, got %v", err)
	}
	if _, err := db.Query(ctx, "SELECT 1", Params{"bad name": 1}, nil); !errors.Is(err, ErrParam) {
		t.Fatalf("want ErrParam, got %v", err)
	}
}

func TestEngineStreamAndConcurrency(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	rows, err := db.Query(ctx, "SELECT number, toString(number) FROM numbers({n:UInt64})", Params{"n": 1_000_000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var i uint64
	for rows.Next() {
		var a uint64
		var s string
		if err := rows.Scan(&a, &s); err != nil {
			t.Fatal(err)
		}
		if a != i {
			t.Fatalf("row %d: %d", i, a)
		}
		i++
		if i == 10 {
			// A small query runs while the stream is open.
			var one uint8
			if err := db.QueryRow(ctx, "SELECT 1", nil, &one); err != nil || one != 1 {
				t.Fatalf("concurrent query: %v", err)
			}
		}
	}
	if err := rows.Err(); err != nil || i != 1_000_000 {
		t.Fatalf("streamed %d rows, err %v", i, err)
	}
	// Closing early releases the connection.
	for k := 0; k < 10; k++ {
		rows, err := db.Query(ctx, "SELECT number FROM numbers(10000000)", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		rows.Next()
		rows.Close()
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"mysql://x", "chdb://", "::"} {
		if _, err := Open(ctx, u, Options{}); !errors.Is(err, ErrURL) {
			t.Errorf("%q: want ErrURL, got %v", u, err)
		}
	}
	if err := (Options{Retention: time.Hour}).Validate(); err == nil {
		t.Error("Retention 1h accepted")
	}
	t.Setenv(LibCHDBEnv, "/nonexistent/libchdb.so")
	if _, err := findLibCHDB(); !errors.Is(err, ErrNoLibCHDB) {
		t.Errorf("missing lib: %v", err)
	}
}

func TestQueryNonStreamable(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	rows, err := db.Query(ctx, "SHOW DATABASES", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if rows.Err() != nil || n == 0 {
		t.Fatalf("SHOW DATABASES: %d rows, %v", n, rows.Err())
	}
	if _, err := db.Query(ctx, "DROP TABLE nope", nil, Settings{"readonly": 1}); !errors.Is(err, ErrQuery) {
		t.Fatalf("want ErrQuery, got %v", err)
	}
}

// Track (and Vessel's latest position) reads the stored hundredths and
// computes speed, course and heading in Go, with the engine settings of its
// own (trackSettings): it returns exactly what the ALIAS columns return
// through the default settings, with duplicates from a second receiver
// merged and unusable positions left out.
func TestTrackMatchesAliasColumns(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	t0 := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	var evs []keelson.Event
	for i := 0; i < 2000; i++ {
		e := testEvent(uint64(i), "c1")
		e.MMSI = keelson.MMSI(219000000 + rng.IntN(3))
		e.Received = t0.Add(time.Duration(i) * 61 * time.Second)
		pos := *e.Position
		pos.Point = orb.Point{9 + 4*rng.Float64(), 54 + 3*rng.Float64()}
		pos.Second = uint8(e.Received.Second())
		pos.SOG = keelson.Float(float64(rng.IntN(1023)) / 10)
		pos.COG = keelson.Float(float64(rng.IntN(3600)) / 10)
		pos.Heading = keelson.Float(rng.IntN(360))
		pos.NavStatus = uint8(rng.IntN(16))
		switch i % 11 {
		case 3:
			pos.SOG, pos.COG, pos.Heading = keelson.NA, keelson.NA, keelson.NA
		case 5:
			pos.Point = orb.Point{181, 91} // not available: left out
		case 7:
			pos.SOG, pos.COG = 102.2, 359.99
		}
		e.Position = &pos
		evs = append(evs, e)
	}
	again := slices.Clone(evs[:700]) // the same broadcasts heard by a second collector
	for i := range again {
		again[i].ID.Collector, again[i].Source.Collector = "c2", "c2"
	}
	for i, part := range [][]keelson.Event{evs, again} {
		b := NewBatch()
		for j := range part {
			b.Add(&part[j])
		}
		if err := db.InsertEvents(ctx, b, fmt.Sprint("tok", i)); err != nil {
			t.Fatal(err)
		}
	}
	r := db.Reader(QueryLimits{})
	// The layout check agrees with the sorting key Migrate gave the table.
	if got, want := r.positionsByDay(ctx), strings.HasPrefix(positionsOrder, "toDate(ts)"); got != want {
		t.Fatalf("positionsByDay %v, sorting key %q", got, positionsOrder)
	}
	same := func(a, b keelson.Float) bool { return a == b || !a.Valid() && !b.Valid() }
	for _, q := range []TrackQuery{
		{MMSI: 219000001, From: t0, To: t0.Add(40 * time.Hour)},
		{MMSI: 219000002, From: t0.Add(3 * time.Hour), To: t0.Add(9 * time.Hour)},
		{MMSI: 219000000, From: t0, To: t0.Add(40 * time.Hour), Limit: 50},
		{MMSI: 219000002, From: t0.Add(-10 * 24 * time.Hour), To: t0.Add(20 * 24 * time.Hour)}, // no day list
	} {
		var got, want []PositionRow
		if err := r.Track(ctx, q, func(p *PositionRow) error { got = append(got, *p); return nil }); err != nil {
			t.Fatal(err)
		}
		// The reference: the ALIAS columns, default settings.
		sql := "SELECT mmsi, ts, lon_e7, lat_e7, sog, cog, heading, nav_status FROM positions FINAL" +
			" WHERE mmsi = {mmsi:UInt32} AND ts >= {from:DateTime64(3)} AND ts < {to:DateTime64(3)} AND bitAnd(flags, 24) = 0 ORDER BY ts"
		if q.Limit > 0 {
			sql += fmt.Sprintf(" LIMIT %d", q.Limit)
		}
		err := r.each(ctx, sql, Params{"mmsi": uint32(q.MMSI), "from": q.From, "to": q.To}, func(rows Rows) error {
			var p PositionRow
			if err := scanPos(rows, &p); err != nil {
				return err
			}
			want = append(want, p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(want) < 40 || !slices.EqualFunc(got, want, func(a, b PositionRow) bool {
			return a.MMSI == b.MMSI && a.Time.Equal(b.Time) && a.Lon == b.Lon && a.Lat == b.Lat &&
				same(a.SOG, b.SOG) && same(a.COG, b.COG) && same(a.Heading, b.Heading) && a.NavStatus == b.NavStatus
		}) {
			t.Fatalf("%+v: Track %d rows, reference %d rows (or rows differ)", q, len(got), len(want))
		}
		if q.Limit == 0 {
			// Vessel's latest position reads like Track: the last of the range.
			v, err := r.Vessel(ctx, q.MMSI, q.To.Add(-time.Millisecond))
			last := want[len(want)-1]
			if err != nil || !v.HasPosition || !v.Position.Time.Equal(last.Time) || v.Position.Lon != last.Lon ||
				!same(v.Position.SOG, last.SOG) || !same(v.Position.COG, last.COG) || !same(v.Position.Heading, last.Heading) {
				t.Fatalf("%+v: Vessel position %+v (%v), want %+v", q, v.Position, err, last)
			}
		}
		nan := 0
		for _, p := range got {
			if !p.SOG.Valid() {
				nan++
			}
		}
		if nan == 0 {
			t.Fatalf("%+v: no position without speed in %d rows", q, len(got))
		}
	}
	// Vessel's latest position without a cutoff (bounded by the latest
	// table) and with one more than a day after the vessel went silent (the
	// day before the cutoff holds nothing: the unbounded read) is the
	// vessel's last usable position.
	for m := keelson.MMSI(219000000); m < 219000003; m++ {
		var last PositionRow
		err := r.each(ctx, "SELECT mmsi, ts, lon_e7, lat_e7, sog, cog, heading, nav_status FROM positions FINAL"+
			" WHERE mmsi = {mmsi:UInt32} AND bitAnd(flags, 24) = 0 ORDER BY ts DESC LIMIT 1", Params{"mmsi": uint32(m)}, func(rows Rows) error {
			return scanPos(rows, &last)
		})
		if err != nil || last.Time.IsZero() {
			t.Fatalf("%d: reference: %v", m, err)
		}
		for _, before := range []time.Time{{}, last.Time.Add(3 * 24 * time.Hour)} {
			v, err := r.Vessel(ctx, m, before)
			if err != nil || !v.HasPosition || !v.Position.Time.Equal(last.Time) || v.Position.Lon != last.Lon || v.Position.Lat != last.Lat {
				t.Fatalf("%d before %v: Vessel position %+v (%v), want %+v", m, before, v.Position, err, last)
			}
		}
	}
	// Every stored hundredths value reads as its ALIAS column reads it.
	rows, err := db.Query(ctx, "SELECT toUInt16(number), if(toUInt16(number) = 65535, nan, toUInt16(number) / 100)::Float32 FROM numbers(65536)", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var c uint16
		var f float32
		if err := rows.Scan(&c, &f); err != nil {
			t.Fatal(err)
		}
		if g, w := centi(c), widen32(f); !same(g, w) {
			t.Fatalf("centi(%d) = %v, ClickHouse %v", c, g, w)
		}
		n++
	}
	if err := rows.Err(); err != nil || n != 65536 {
		t.Fatalf("%d values, %v", n, err)
	}
}

// The embedded engine keeps Options.BlockCache bytes of decompressed blocks
// (256 MiB by default).
func TestBlockCacheOption(t *testing.T) {
	db := openTestDB(t)
	var size string
	if err := db.QueryRow(context.Background(), "SELECT value FROM system.server_settings WHERE name = 'uncompressed_cache_size'", nil, &size); err != nil {
		t.Fatal(err)
	}
	if size != "268435456" {
		t.Fatalf("uncompressed_cache_size %s, want 268435456 (the default)", size)
	}
	if got := engineArgs("/d", Options{BlockCache: -1}); !slices.Contains(got, "--uncompressed_cache_size=0") {
		t.Fatalf("BlockCache -1: args %q", got)
	}
	if err := (Options{BlockCache: 2 << 40}).Validate(); err == nil {
		t.Fatal("BlockCache 2 TiB: no error")
	}
}

// A result of many blocks reads whole, streamed or read in one call (one
// chunk of the engine's may hold several blocks).
func TestEngineManyBlocks(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	for _, whole := range []bool{false, true} {
		query := db.Query
		if whole {
			query = db.queryWhole
		}
		rows, err := query(ctx, "SELECT number FROM numbers({n:UInt64}) SETTINGS max_block_size = 1000", Params{"n": 250_000}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var n, sum uint64
		for rows.Next() {
			var x uint64
			if err := rows.Scan(&x); err != nil {
				t.Fatal(err)
			}
			if x != n {
				t.Fatalf("whole=%v: row %d is %d", whole, n, x)
			}
			n++
			sum += x
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if n != 250_000 || sum != 250_000*249_999/2 {
			t.Fatalf("whole=%v: %d rows, sum %d", whole, n, sum)
		}
	}
}

func TestTrackDays(t *testing.T) {
	d := time.Date(2026, 10, 12, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		from, to time.Time
		want     []string
	}{
		{d, d.Add(24 * time.Hour), []string{"2026-10-12"}},
		{d.Add(5 * time.Hour), d.Add(29 * time.Hour), []string{"2026-10-12", "2026-10-13"}},
		{d.Add(-time.Millisecond), d.Add(time.Millisecond), []string{"2026-10-11", "2026-10-12"}},
		{d.In(time.FixedZone("X", 3600)), d.Add(time.Hour), []string{"2026-10-12"}}, // UTC days
		{d, d.Add(7 * 24 * time.Hour), []string{"2026-10-12", "2026-10-13", "2026-10-14", "2026-10-15", "2026-10-16", "2026-10-17", "2026-10-18"}},
		{d, d.Add(7*24*time.Hour + 1), nil}, // longer than a week
		{d, d, nil},
		{d.Add(time.Hour), d, nil},
	} {
		if got := trackDays(c.from, c.to); !slices.Equal(got, c.want) {
			t.Errorf("trackDays(%v, %v) = %q, want %q", c.from, c.to, got, c.want)
		}
	}
}
