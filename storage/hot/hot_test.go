package hot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/keelson/keelson/storage/storagetest"
	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"
)

// counting is the real reader, counting the tracks it is asked for.
type counting struct {
	*storage.Reader
	n     atomic.Int64
	areas atomic.Int64 // area-time queries (area_test.go)
}

func (c *counting) Track(ctx context.Context, q storage.TrackQuery, fn func(*storage.PositionRow) error) error {
	c.n.Add(1)
	return c.Reader.Track(ctx, q, fn)
}

func (c *counting) OwnShipTrack(ctx context.Context, q storage.OwnShipTrackQuery, fn func(*storage.PositionRow) error) error {
	c.n.Add(1)
	return c.Reader.OwnShipTrack(ctx, q, fn)
}

type env struct {
	t      testing.TB
	ctx    context.Context
	db     *storage.DB
	reader *storage.Reader
	fb     *counting
	tracks *Tracks
	reg    *prometheus.Registry
	rng    *rand.Rand
	seq    uint64
	now    time.Time
}

var t0 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	ctx := context.Background()
	db := storagetest.Open(t)
	var err error
	e := &env{t: t, ctx: ctx, db: db, reader: db.Reader(storage.QueryLimits{}), reg: prometheus.NewRegistry(),
		rng: rand.New(rand.NewPCG(7, 8)), now: t0.Add(10 * day)}
	e.fb = &counting{Reader: e.reader}
	cfg.DB, cfg.Fallback, cfg.Registry = db, e.fb, e.reg
	cfg.Now = func() time.Time { return e.now }
	cfg.MaxLag = time.Hour
	e.tracks, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// events are n positions of the vessels in [from, from+span), on unique
// whole seconds per vessel; own ships (MMSI 0) have a vessel id; every
// 50th position is not available (left out by both paths).
func (e *env) events(n int, vessels []keelson.MMSI, own []string, from time.Time, span time.Duration) []keelson.Event {
	var evs []keelson.Event
	for i := 0; i < n; i++ {
		e.seq++
		ev := keelson.Event{V: 1, ID: keelson.EventID{Collector: "c1", Boot: 1, Seq: e.seq}, Kind: keelson.KindPosition,
			Source: keelson.Source{Collector: "c1", Station: "st1"}, AISType: 1,
			Received: from.Add(time.Duration(e.rng.Int64N(int64(span/time.Second))) * time.Second)}
		k := e.rng.IntN(len(vessels) + len(own))
		if k < len(vessels) {
			ev.MMSI = vessels[k]
		} else {
			ev.Vessel, ev.AISType, ev.Flags = own[k-len(vessels)], 0, keelson.FlagOwnShip
		}
		pos := keelson.Position{Point: orb.Point{9 + 4*e.rng.Float64(), 54 + 3*e.rng.Float64()}, Class: keelson.ClassA,
			SOG: keelson.Float(e.rng.IntN(300)) / 10, COG: keelson.Float(e.rng.IntN(3600)) / 10, Heading: keelson.NA, ROT: keelson.NA,
			NavStatus: uint8(e.rng.IntN(9)), Second: uint8(ev.Received.Second()), Altitude: keelson.NA, HDOP: keelson.NA}
		if i%50 == 0 {
			pos.Point, ev.Flags = orb.Point{181, 91}, ev.Flags|keelson.FlagPositionNA
		}
		if i%7 == 0 {
			pos.Heading = keelson.Float(e.rng.IntN(360))
		}
		ev.Position = &pos
		evs = append(evs, ev)
	}
	return evs
}

func (e *env) insert(evs []keelson.Event, token string) {
	e.t.Helper()
	b := storage.NewBatch()
	for i := range evs {
		b.Add(&evs[i])
	}
	if err := e.db.InsertEvents(e.ctx, b, token); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) exec(sql string) {
	e.t.Helper()
	if err := e.db.Exec(e.ctx, sql, nil, storage.Settings{"mutations_sync": 2}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) poll() {
	e.t.Helper()
	if err := e.tracks.poll(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

func sortRows(rows []storage.PositionRow) {
	slices.SortStableFunc(rows, func(a, b storage.PositionRow) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Lat, b.Lat), cmp.Compare(a.Lon, b.Lon))
	})
}

// same asks memory and storage for the tracks of every vessel over the
// ranges and fails on any difference; it returns how many rows came.
func (e *env) same(vessels []keelson.MMSI, own []string, ranges [][2]time.Time, wantMemory bool) int {
	e.t.Helper()
	total := 0
	for _, r := range ranges {
		ids := make([]string, 0, len(vessels)+len(own))
		for _, m := range vessels {
			ids = append(ids, fmt.Sprint(uint32(m)))
		}
		ids = append(ids, own...)
		for i, id := range ids {
			var got, want []storage.PositionRow
			keep := func(dst *[]storage.PositionRow) func(*storage.PositionRow) error {
				return func(p *storage.PositionRow) error { *dst = append(*dst, *p); return nil }
			}
			before := e.fb.n.Load()
			var err, werr error
			if i < len(vessels) {
				q := storage.TrackQuery{MMSI: vessels[i], From: r[0], To: r[1]}
				err, werr = e.tracks.Track(e.ctx, q, keep(&got)), e.reader.Track(e.ctx, q, keep(&want))
			} else {
				q := storage.OwnShipTrackQuery{Vessel: id, From: r[0], To: r[1]}
				err, werr = e.tracks.OwnShipTrack(e.ctx, q, keep(&got)), e.reader.OwnShipTrack(e.ctx, q, keep(&want))
			}
			if err != nil || werr != nil {
				e.t.Fatalf("%s: %v / %v", id, err, werr)
			}
			if fromMemory := e.fb.n.Load() == before; fromMemory != wantMemory {
				e.t.Fatalf("%s %v: served from memory %v, want %v", id, r, fromMemory, wantMemory)
			}
			for j := 1; j < len(got); j++ {
				if got[j].Time.Before(got[j-1].Time) {
					e.t.Fatalf("%s: memory track not in time order at %d", id, j)
				}
			}
			sortRows(got)
			sortRows(want)
			if !slices.EqualFunc(got, want, func(a, b storage.PositionRow) bool {
				return a.MMSI == b.MMSI && a.Time.Equal(b.Time) && a.Lat == b.Lat && a.Lon == b.Lon && a.NavStatus == b.NavStatus &&
					eqFloat(a.SOG, b.SOG) && eqFloat(a.COG, b.COG) && eqFloat(a.Heading, b.Heading)
			}) {
				e.t.Fatalf("%s %v: memory has %d rows, storage %d\nmemory %v\nstorage %v", id, r, len(got), len(want), head(got), head(want))
			}
			total += len(got)
		}
	}
	return total
}

func eqFloat(a, b keelson.Float) bool { return a == b || (!a.Valid() && !b.Valid()) }

func head(rows []storage.PositionRow) []storage.PositionRow { return rows[:min(len(rows), 3)] }

func days(from time.Time, n int) [][2]time.Time {
	var r [][2]time.Time
	for i := 0; i < n; i++ {
		r = append(r, [2]time.Time{from.Add(time.Duration(i) * day), from.Add(time.Duration(i+1) * day)})
	}
	// A range across days, and one inside a second.
	return append(r, [2]time.Time{from.Add(13 * time.Hour), from.Add(day + 7*time.Hour)},
		[2]time.Time{from.Add(1500 * time.Millisecond), from.Add(1700 * time.Millisecond)})
}

// Memory answers what storage answers, through inserts (new parts, late
// rows for old days, duplicates from a second receiver), merges, a
// dropped partition and a mutation; and storage answers what memory does
// not hold.
func TestTracksFollowTable(t *testing.T) {
	e := newEnv(t, Config{Days: 5})
	vessels := []keelson.MMSI{219000001, 219000002, 219000003, 257000004}
	own := []string{"zeus", "hera"}
	e.insert(e.events(3000, vessels, own, t0, 10*day), "a") // days 0-9
	e.poll()
	start := t0.Add(5 * day) // the day of the newest position is day 9
	if got := time.UnixMilli(e.tracks.start).UTC(); !got.Equal(start) {
		t.Fatalf("window starts %v, want %v", got, start)
	}
	if n := e.same(vessels, own, days(start, 5), true); n < 1000 {
		t.Fatalf("only %d rows in the window", n)
	}
	e.same(vessels, own, days(t0, 2), false) // before the window: storage

	// New parts: more of the same days, late rows of an old day in the
	// window, and the same broadcasts heard by a second receiver.
	more := e.events(1000, vessels, own, start, 5*day)
	e.insert(more, "b")
	again := slices.Clone(more[:400])
	for i := range again {
		again[i].ID.Collector, again[i].Source.Collector = "c2", "c2"
	}
	e.insert(again, "c")
	e.poll()
	e.same(vessels, own, days(start, 5), true)
	e.checkIndex()
	e.randomAreas(30, start, 5, vessels)

	// Merges replace parts by one covering their blocks: nothing to read.
	e.exec("OPTIMIZE TABLE positions FINAL")
	reads := gauge(t, e.reg, "keelson_hot_reloads_total")
	e.poll()
	if r := gauge(t, e.reg, "keelson_hot_reloads_total"); r != reads {
		t.Fatalf("a merge made the window be read again")
	}
	e.same(vessels, own, days(start, 5), true)
	e.checkIndex()
	e.randomAreas(30, start, 5, vessels)

	// Rows gone from the window: a dropped day, then a mutation.
	e.exec("ALTER TABLE positions DROP PARTITION '" + start.Add(2*day).Format("2006-01-02") + "'")
	e.poll()
	e.same(vessels, own, days(start, 5), true)
	e.checkIndex()
	e.randomAreas(30, start, 5, vessels)
	e.exec("ALTER TABLE positions DELETE WHERE mmsi = 219000002 AND ts < '" + start.Add(4*day).Format("2006-01-02") + "'")
	e.poll()
	e.same(vessels, own, days(start, 5), true)
	e.checkIndex()
	e.randomAreas(30, start, 5, vessels)
	if r := gauge(t, e.reg, "keelson_hot_reloads_total"); r != reads+2 {
		t.Fatalf("%v reloads after a dropped partition and a mutation, want %v", r, reads+2)
	}
	// A day dropped before the window changes nothing.
	e.exec("ALTER TABLE positions DROP PARTITION '" + t0.Format("2006-01-02") + "'")
	e.poll()
	if r := gauge(t, e.reg, "keelson_hot_reloads_total"); r != reads+2 {
		t.Fatalf("a partition dropped before the window made it be read again")
	}

	// A new day moves the window and lets go of the oldest.
	e.now = t0.Add(11 * day)
	e.insert(e.events(300, vessels, own, t0.Add(10*day), day), "d")
	e.poll()
	start = start.Add(day)
	if got := time.UnixMilli(e.tracks.start).UTC(); !got.Equal(start) {
		t.Fatalf("window starts %v, want %v", got, start)
	}
	e.same(vessels, own, days(start, 5), true)
	e.checkIndex()
	e.randomAreas(30, start, 5, vessels)
	e.same(vessels, own, days(start.Add(-day), 1)[:1], false)
	var held int
	for _, vs := range e.tracks.series {
		for _, pts := range vs {
			held += len(pts)
			if len(pts) > 0 && pts[0].ms < e.tracks.start {
				t.Fatalf("a point before the window is held")
			}
		}
	}
	if held != e.tracks.count || float64(held) != gauge(t, e.reg, "keelson_hot_positions") {
		t.Fatalf("held %d, counted %d", held, e.tracks.count)
	}

	// Memory answers only while its last poll is recent.
	e.tracks.cfg.MaxLag = time.Nanosecond
	e.same(vessels[:1], nil, days(start, 1), false)
}

func gauge(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			if m := mf.GetMetric()[0]; m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			} else {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// MaxPositions lets go of the oldest days (the newest is always held),
// and a limit and ErrStop end a track early as storage ends it.
func TestTracksMaxPositionsAndLimit(t *testing.T) {
	e := newEnv(t, Config{Days: 10, MaxPositions: 500})
	vessels := []keelson.MMSI{219000001, 219000002}
	e.insert(e.events(2000, vessels, nil, t0, 10*day), "a")
	e.poll()
	if got, want := time.UnixMilli(e.tracks.start).UTC(), t0.Add(8*day); !got.Equal(want) {
		t.Fatalf("window starts %v, want %v (about 200 positions a day, at most 500)", got, want)
	}
	if e.tracks.count > 500 {
		t.Fatalf("%d held", e.tracks.count)
	}
	e.same(vessels, nil, days(t0.Add(8*day), 2), true)
	e.checkIndex()
	e.randomAreas(30, t0.Add(8*day), 2, vessels)
	for _, limit := range []int{1, 10} {
		var got, want []storage.PositionRow
		q := storage.TrackQuery{MMSI: vessels[0], From: t0.Add(8 * day), To: t0.Add(10 * day), Limit: limit}
		if err := e.tracks.Track(e.ctx, q, func(p *storage.PositionRow) error { got = append(got, *p); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := e.reader.Track(e.ctx, q, func(p *storage.PositionRow) error { want = append(want, *p); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != limit || len(want) != limit || !got[limit-1].Time.Equal(want[limit-1].Time) {
			t.Fatalf("limit %d: memory %d rows, storage %d", limit, len(got), len(want))
		}
	}
	n := 0
	err := e.tracks.Track(e.ctx, storage.TrackQuery{MMSI: vessels[0], From: t0.Add(8 * day), To: t0.Add(10 * day)},
		func(*storage.PositionRow) error { n++; return storage.ErrStop })
	if !errors.Is(err, storage.ErrStop) || n != 1 {
		t.Fatalf("ErrStop: %v after %d rows", err, n)
	}
}

// Before the first poll, storage answers; concurrent reads during polls
// see whole, ordered tracks (run with -race).
func TestTracksConcurrentReads(t *testing.T) {
	e := newEnv(t, Config{Days: 3})
	vessels := []keelson.MMSI{219000001, 219000002, 219000003}
	e.insert(e.events(500, vessels, nil, t0.Add(7*day), 3*day), "a")
	e.same(vessels, nil, days(t0.Add(7*day), 1), false)
	e.poll()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var last time.Time
				err := e.tracks.Track(e.ctx, storage.TrackQuery{MMSI: vessels[0], From: t0.Add(7 * day), To: t0.Add(11 * day)}, func(p *storage.PositionRow) error {
					if p.Time.Before(last) {
						return fmt.Errorf("out of order")
					}
					last = p.Time
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				last = time.Time{}
				var lastMMSI keelson.MMSI
				err = e.tracks.Positions(e.ctx, storage.PositionQuery{From: t0.Add(7 * day), To: t0.Add(11 * day), Area: box(9, 54, 13, 57)}, func(p *storage.PositionRow) error {
					if p.Time.Before(last) || p.Time.Equal(last) && p.MMSI < lastMMSI {
						return fmt.Errorf("positions out of order")
					}
					last, lastMMSI = p.Time, p.MMSI
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 5; i++ {
		e.insert(e.events(200, vessels, nil, t0.Add(7*day), 3*day), fmt.Sprint("b", i))
		e.poll()
	}
	close(stop)
	wg.Wait()
	e.same(vessels, nil, days(t0.Add(7*day), 3), true)
	e.checkIndex()
	e.randomAreas(30, t0.Add(7*day), 3, vessels)
}

func TestRanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for round := 0; round < 200; round++ {
		var ranges [][2]int64
		var model [64]bool
		for i := 0; i < rng.IntN(8); i++ {
			lo := rng.Int64N(60)
			hi := lo + rng.Int64N(4)
			ranges = addRange(ranges, lo, hi)
			for b := lo; b <= hi; b++ {
				model[b] = true
			}
		}
		for j := 1; j < len(ranges); j++ {
			if ranges[j][0] <= ranges[j-1][1]+1 {
				t.Fatalf("ranges not disjoint and apart: %v", ranges)
			}
		}
		for lo := int64(0); lo < 64; lo++ {
			for hi := lo; hi < 64; hi++ {
				want := true
				for b := lo; b <= hi; b++ {
					want = want && model[b]
				}
				if got := covered(ranges, lo, hi); got != want {
					t.Fatalf("%v: covered(%d, %d) = %v, want %v", ranges, lo, hi, got, want)
				}
			}
		}
	}
}

func TestPartNames(t *testing.T) {
	tr := &Tracks{}
	for _, c := range []struct {
		p    storage.Part
		want int64
	}{
		{storage.Part{Partition: "20261001", Name: "20261001_1_5_1"}, 0},
		{storage.Part{Partition: "20261001", Name: "20261001_1_5_1_9"}, 9},
		{storage.Part{Partition: "all", Name: "all_3_3_0_12"}, 12},
		{storage.Part{Partition: "a_b", Name: "a_b_3_3_0"}, 0},
		{storage.Part{Partition: "x", Name: "garbage"}, 0},
	} {
		if got := tr.mutated(c.p); got != c.want {
			t.Errorf("%s: mutation %d, want %d", c.p.Name, got, c.want)
		}
	}
	for id, want := range map[string]string{"20261001": "2026-10-02", "202610": "2026-11-01", "202612": "2027-01-01"} {
		end, ok := partitionEnd(id)
		if !ok || time.UnixMilli(end).UTC().Format(time.DateOnly) != want {
			t.Errorf("%s: end %v %v, want %s", id, time.UnixMilli(end).UTC(), ok, want)
		}
	}
	for _, id := range []string{"all", "2026100", "abcdefgh", ""} {
		if _, ok := partitionEnd(id); ok {
			t.Errorf("%q: an end", id)
		}
	}
}

func FuzzPartNames(f *testing.F) {
	for _, s := range []string{"20261001", "202610", "all", "20261001_1_5_1_9"} {
		f.Add(s, s+"_1_2_3")
	}
	f.Fuzz(func(t *testing.T, id, name string) {
		tr := &Tracks{}
		if v := tr.mutated(storage.Part{Partition: id, Name: name}); v < 0 {
			t.Fatalf("%q: mutation version %d", name, v)
		}
		if end, ok := partitionEnd(id); ok {
			layout := "20060102"[:len(id)]
			if last := time.UnixMilli(end - 1).UTC().Format(layout); last != id {
				t.Fatalf("%q: end %d, the millisecond before is in %s", id, end, last)
			}
		}
	})
}

// BenchmarkPoll is the cost of keeping up: a poll that finds nothing new
// (every Poll while no writes come), and one that reads a new part of
// 1,000 positions (a sink batch) beside 100,000 held.
func BenchmarkPoll(b *testing.B) {
	for _, newRows := range []int{0, 1000} {
		b.Run(fmt.Sprintf("new-%d", newRows), func(b *testing.B) {
			e := newEnv(b, Config{Days: 30})
			vessels := make([]keelson.MMSI, 500)
			for i := range vessels {
				vessels[i] = keelson.MMSI(219000000 + i)
			}
			e.insert(e.events(100_000, vessels, nil, t0, 10*day), "a")
			e.poll()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if newRows > 0 {
					b.StopTimer()
					e.insert(e.events(newRows, vessels, nil, t0.Add(9*day), day), fmt.Sprint("b", i))
					b.StartTimer()
				}
				e.poll()
			}
		})
	}
}

// Without a local positions table Run stops with ErrNotLocal and tracks
// come from storage (which says what is wrong).
func TestTracksNotLocal(t *testing.T) {
	ctx := context.Background()
	db := storagetest.OpenBare(t)
	r := db.Reader(storage.QueryLimits{})
	tr, err := New(Config{DB: db, Fallback: r, Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(ctx); !errors.Is(err, storage.ErrNotLocal) {
		t.Fatalf("Run: %v, want ErrNotLocal", err)
	}
	err = tr.Track(ctx, storage.TrackQuery{MMSI: 219000001, From: t0, To: t0.Add(day)}, func(*storage.PositionRow) error { return nil })
	if err == nil {
		t.Fatal("a track from a database without positions")
	}
	if _, err := New(Config{DB: db}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New without Fallback: %v", err)
	}
	if _, err := New(Config{DB: db, Fallback: r, Days: -1}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New with Days -1: %v", err)
	}
}

// After each poll memory holds every position stored before it, also
// when the engine merges the new parts while they are being read (a part
// merged away is read from the part that holds it now, in the same poll).
func TestTracksCurrentAfterEachPoll(t *testing.T) {
	for round := 0; round < 5; round++ {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			e := newEnv(t, Config{Days: 3})
			vessels := []keelson.MMSI{219000001, 219000002, 219000003}
			e.insert(e.events(500, vessels, nil, t0.Add(7*day), 3*day), "a")
			e.poll()
			for i := 0; i < 6; i++ {
				e.insert(e.events(200, vessels, nil, t0.Add(7*day), 3*day), fmt.Sprint("b", i))
				e.poll()
				var n uint64
				if err := e.db.QueryRow(e.ctx, fmt.Sprintf("SELECT count() FROM positions FINAL WHERE bitAnd(flags, %d) = 0",
					keelson.FlagPositionNA|keelson.FlagPositionInvalid), nil, &n); err != nil {
					t.Fatal(err)
				}
				if int(n) != e.tracks.count || n == 0 {
					t.Fatalf("insert %d: the table has %d positions, memory %d", i, n, e.tracks.count)
				}
			}
		})
	}
}

// On an empty table the window is the Days up to today, and the first
// positions written are held.
func TestTracksEmptyTable(t *testing.T) {
	e := newEnv(t, Config{Days: 2})
	e.poll()
	if got, want := time.UnixMilli(e.tracks.start).UTC(), e.now.Truncate(day).Add(-day); !got.Equal(want) {
		t.Fatalf("window on an empty table starts %v, want %v", got, want)
	}
	vessels := []keelson.MMSI{219000001}
	e.insert(e.events(100, vessels, nil, e.now.Add(-day), day), "a")
	e.poll()
	if n := e.same(vessels, nil, days(e.now.Truncate(day).Add(-day), 2), true); n == 0 {
		t.Fatal("nothing held")
	}
}

func TestBoundStart(t *testing.T) {
	ms := func(s string) int64 { d, _ := time.Parse(time.DateOnly, s); return d.UnixMilli() }
	parts := []storage.Part{
		{Partition: "20261001", Rows: 100}, {Partition: "20261002", Rows: 100}, {Partition: "20261002", Rows: 50},
		{Partition: "20261003", Rows: 100}, {Partition: "20261004", Rows: 300}, {Partition: "202609", Rows: 1000},
	}
	for _, c := range []struct {
		start, want string
		most        int
	}{
		{"2026-10-01", "2026-10-01", 0},    // no bound
		{"2026-10-01", "2026-10-01", 1000}, // all fit
		{"2026-10-01", "2026-10-02", 600},  // 650 fit from the 2nd, 750 from the 1st
		{"2026-10-01", "2026-10-03", 500},
		{"2026-10-01", "2026-10-04", 399}, // the newest day alone, even over the bound
		{"2026-10-01", "2026-10-04", 1},
		{"2026-10-03", "2026-10-04", 399}, // never back
		{"2026-10-04", "2026-10-04", 10},
	} {
		if got := boundStart(parts, ms(c.start), c.most); got != ms(c.want) {
			t.Errorf("start %s, at most %d: %v, want %s", c.start, c.most, time.UnixMilli(got).UTC(), c.want)
		}
	}
}
