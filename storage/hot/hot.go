// Package hot keeps the newest days of the positions table in memory, in
// step with the table, and answers vessel tracks and area-time queries
// from there.
//
// A track is the API's most frequent selective query, and the embedded
// engine spends 2-3 ms on any MergeTree read before it reads a row (a
// vessel-day is about 70 rows). Tracks holds every usable position of the
// newest Days days (about 27.4 bytes each with the cell index: 274 MB for
// the 10M-position benchmark month) and serves a track whose range starts
// inside them;
// any other track goes to storage. Positions answers the area-time query
// (a box or an MMSI list) the same way, through an index of which series
// were in which 1-degree cell on which day (area.go).
//
// It follows the table, not the Kafka topic, so it holds what storage
// holds whoever wrote it (the sink, `keelson import`), merged as FINAL
// merges it: a MergeTree part never changes once written, an insert adds a
// part with a new block number, and a merge replaces parts by one covering
// their block numbers. Every Poll it lists the active parts and reads only
// those holding block numbers it has not read. A part that disappears
// without being merged into another (a dropped partition, a TTL) or a
// mutation (ALTER ... DELETE/UPDATE) makes it read the window again.
// Memory answers only while its last poll is at most MaxLag old; it is
// never more than one poll behind the table.
package hot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keelson/keelson/storage"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrInvalidConfig is returned by New for a bad Config.
var ErrInvalidConfig = errors.New("hot: invalid config")

// TrackReader answers the tracks and area-time queries that memory does
// not hold. *storage.Reader implements it.
type TrackReader interface {
	Positions(ctx context.Context, q storage.PositionQuery, fn func(*storage.PositionRow) error) error
	Track(ctx context.Context, q storage.TrackQuery, fn func(*storage.PositionRow) error) error
	OwnShipTrack(ctx context.Context, q storage.OwnShipTrackQuery, fn func(*storage.PositionRow) error) error
}

// Config configures Tracks. Zero values take the defaults in the comments.
type Config struct {
	DB       *storage.DB // required: the positions are read from it
	Fallback TrackReader // required: answers the tracks memory does not hold
	// Days is how many UTC days are held, counted back from the day of
	// the newest stored position (never later than today); default 7.
	Days int
	// MaxPositions bounds the positions held: beyond it the oldest days
	// are let go (the newest day is always held); default 0, no bound.
	MaxPositions int
	Poll         time.Duration // how often the table's parts are listed; default 1s
	// MaxLag: memory answers only while its last successful poll began at
	// most this long ago; default 5s.
	MaxLag time.Duration
	// LoadTimeout bounds one poll's reads (the first reads the whole
	// window); default 10 minutes.
	LoadTimeout time.Duration
	Logger      *slog.Logger          // default: discard
	Registry    prometheus.Registerer // default: none
	Now         func() time.Time      // default: time.Now
}

// Validate reports a bad Config.
func (c *Config) Validate() error {
	switch {
	case c.DB == nil || c.Fallback == nil:
		return fmt.Errorf("%w: DB and Fallback are required", ErrInvalidConfig)
	case c.Days < 0 || c.MaxPositions < 0 || c.Poll < 0 || c.MaxLag < 0 || c.LoadTimeout < 0:
		return fmt.Errorf("%w: Days, MaxPositions, Poll, MaxLag and LoadTimeout must not be negative", ErrInvalidConfig)
	case c.Days > 3660:
		return fmt.Errorf("%w: Days %d is more than ten years", ErrInvalidConfig, c.Days)
	}
	return nil
}

const day = 24 * time.Hour

// point is a stored position (storage.StoredPosition without the vessel).
type point struct {
	ms                int64
	lat, lon          int32
	sog, cog, heading uint16
	nav               uint8
}

func (p *point) compare(q *point) int {
	if c := cmp.Compare(p.ms, q.ms); c != 0 {
		return c
	}
	if c := cmp.Compare(p.lat, q.lat); c != 0 {
		return c
	}
	return cmp.Compare(p.lon, q.lon)
}

// key is a series: one (mmsi, vessel) of the positions' sorting key.
type key struct {
	mmsi   uint32
	vessel string
}

// Tracks holds the newest days of positions. Create it with New, run it
// with Run, and read tracks with Track and OwnShipTrack (safe for
// concurrent use).
type Tracks struct {
	cfg    Config
	loader *storage.Reader
	log    *slog.Logger
	m      metrics

	mu     sync.RWMutex
	series map[uint32]map[string][]point // sorted by (ms, lat, lon), no duplicates; below len never changes
	start  int64                         // window start, Unix ms: every stored position at or after it is held
	ready  bool
	lastOK atomic.Int64        // Unix nanos at which the last successful poll began
	cells  map[uint64][]uint32 // (day, cell) -> sorted ids of the series with a point there (area.go)
	keys   []key               // series id -> series

	// Owned by the poller.
	count    int
	newest   int64 // newest position held, Unix ms
	seen     map[string]*partition
	mutation int64          // highest mutation version among the parts read
	ids      map[key]uint32 // series -> id, the inverse of keys
}

// partition is what the poller has read of one partition of positions.
type partition struct {
	blocks [][2]int64 // block number ranges read, sorted, disjoint
}

// New returns Tracks for the config; Run fills it.
func New(cfg Config) (*Tracks, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Days == 0 {
		cfg.Days = 7
	}
	if cfg.Poll == 0 {
		cfg.Poll = time.Second
	}
	if cfg.MaxLag == 0 {
		cfg.MaxLag = 5 * time.Second
	}
	if cfg.LoadTimeout == 0 {
		cfg.LoadTimeout = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t := &Tracks{
		cfg:    cfg,
		loader: cfg.DB.Reader(storage.QueryLimits{MaxExecutionTime: cfg.LoadTimeout, MaxRowsToRead: 1 << 62, MaxResultRows: 1 << 62, MaxMemoryUsage: 4 << 30}),
		log:    cfg.Logger.With("component", "hot"),
		series: map[uint32]map[string][]point{},
		seen:   map[string]*partition{},
		cells:  map[uint64][]uint32{},
		ids:    map[key]uint32{},
	}
	t.m = newMetrics(cfg.Registry, t)
	return t, nil
}

// Run follows the table until ctx ends; it returns nil then, or an error
// when the table cannot be followed (not a local MergeTree table).
func (t *Tracks) Run(ctx context.Context) error {
	tick := time.NewTicker(t.cfg.Poll)
	defer tick.Stop()
	for {
		err := t.poll(ctx)
		switch {
		case err == nil:
			t.m.polls.WithLabelValues("ok").Inc()
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, storage.ErrNotLocal):
			t.log.Warn("tracks are not held in memory", "err", err)
			return err
		default:
			t.m.polls.WithLabelValues("error").Inc()
			t.log.Warn("poll of positions failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// errReload: what memory holds may no longer be in the table.
var errReload = errors.New("hot: positions changed other than by inserts and merges")

// poll reads the parts of positions not read yet; the first poll (and the
// one after a reload) reads the whole window.
func (t *Tracks) poll(ctx context.Context) error {
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, t.cfg.LoadTimeout)
	defer cancel()
	first := !t.isReady()
	if first {
		if err := t.loader.PositionsLocal(ctx); err != nil {
			return err
		}
	}
	// A part merged away between a listing and its read gives nothing;
	// the part that holds its blocks now is read on the next listing, at
	// most four in one poll.
	needStart := first
	for attempt := 0; ; attempt++ {
		parts, err := t.loader.PositionParts(ctx)
		if err != nil {
			return err
		}
		if len(t.seen) > 0 {
			if err := t.check(parts); err != nil {
				t.m.reloads.Inc()
				t.log.Warn("reading the window again", "reason", err)
				t.reset()
				first, needStart = true, true
			}
		}
		if needStart {
			newest, err := t.loader.NewestPosition(ctx, t.cfg.Now().Add(time.Minute))
			if err != nil {
				return err
			}
			t.newest = 0 // an empty table: the window ends today
			if !newest.IsZero() {
				t.newest = newest.UnixMilli()
			}
			t.setStart(boundStart(parts, t.windowStart(), t.cfg.MaxPositions))
			needStart = false
		}
		var todo []storage.Part
		for _, p := range parts {
			t.mutation = max(t.mutation, t.mutated(p))
			if s := t.seen[p.Partition]; s == nil || !covered(s.blocks, p.MinBlock, p.MaxBlock) {
				todo = append(todo, p)
			}
		}
		// Oldest partitions first (their ids sort by time for the daily
		// and monthly layouts), a few parts per read: rows mostly append.
		slices.SortFunc(todo, func(a, b storage.Part) int {
			return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.MinBlock, b.MinBlock))
		})
		missed := 0
		for len(todo) > 0 {
			n := min(len(todo), 8)
			m, err := t.read(ctx, todo[:n])
			if err != nil {
				return err
			}
			missed += m
			todo = todo[n:]
		}
		if missed == 0 || attempt == 3 {
			break
		}
	}
	t.slide()
	t.lastOK.Store(began.UnixNano())
	if first {
		t.mu.Lock()
		t.ready = true
		t.mu.Unlock()
		t.log.Info("tracks held in memory", "positions", t.count, "since", time.UnixMilli(t.start).UTC(), "took", time.Since(began).Round(time.Millisecond))
	}
	return nil
}

// mutated is the mutation version of a part (0 for a part no mutation
// rewrote): the fifth field of its name, all_1_1_0_5.
func (t *Tracks) mutated(p storage.Part) int64 {
	rest := strings.TrimPrefix(p.Name, p.Partition+"_")
	f := strings.Split(rest, "_")
	if len(f) != 4 {
		return 0
	}
	v, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil || v < 0 {
		return 0
	}
	return v
}

// check tells whether every block read is still in an active part (else
// rows may have gone: a dropped partition, a TTL) and no part was
// mutated since the last poll. Partitions gone that held nothing in the
// window are forgotten.
func (t *Tracks) check(parts []storage.Part) error {
	active := map[string][][2]int64{}
	for _, p := range parts {
		active[p.Partition] = addRange(active[p.Partition], p.MinBlock, p.MaxBlock)
		if t.mutated(p) > t.mutation {
			return fmt.Errorf("part %s was mutated", p.Name)
		}
	}
	for id, s := range t.seen {
		for _, r := range s.blocks {
			if covered(active[id], r[0], r[1]) {
				continue
			}
			if end, ok := partitionEnd(id); ok && end <= t.start {
				delete(t.seen, id)
				break
			}
			return fmt.Errorf("blocks %d-%d of partition %s are gone", r[0], r[1], id)
		}
	}
	return nil
}

// partitionEnd is the end (Unix ms) of the days a partition of positions
// holds, from its id: 20261001 for the daily layout (toDate(ts)), 202610
// for the monthly one (toYYYYMM(ts)).
func partitionEnd(id string) (int64, bool) {
	var layout string
	var next func(time.Time) time.Time
	switch len(id) {
	case 8:
		layout, next = "20060102", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
	case 6:
		layout, next = "200601", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
	default:
		return 0, false
	}
	t, err := time.Parse(layout, id)
	if err != nil {
		return 0, false
	}
	return next(t).UnixMilli(), true
}

// read reads parts into memory and marks their blocks read; it returns
// how many of the parts were merged away before they could be read.
func (t *Tracks) read(ctx context.Context, parts []storage.Part) (int, error) {
	names := make([]string, len(parts))
	for i, p := range parts {
		names[i] = p.Name
	}
	add := map[key][]point{}
	horizon := t.cfg.Now().Add(time.Minute).UnixMilli()
	err := t.loader.PartPositions(ctx, names, time.UnixMilli(t.start), func(sp *storage.StoredPosition) error {
		k := key{sp.MMSI, sp.Vessel}
		add[k] = append(add[k], point{sp.Millis, sp.LatE7, sp.LonE7, sp.SOGc, sp.COGc, sp.Headingc, sp.NavStatus})
		if sp.Millis > t.newest && sp.Millis <= horizon {
			t.newest = sp.Millis
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	t.merge(add)
	// A part merged away between the listing and the read gave nothing:
	// its blocks are read again from the part that holds them now. A part
	// still active after the read was in the read (parts never come
	// back), so its blocks are read.
	now, err := t.loader.PositionParts(ctx)
	if err != nil {
		return 0, err
	}
	active := make(map[string]bool, len(now))
	for _, p := range now {
		active[p.Name] = true
	}
	missed := 0
	for _, p := range parts {
		if !active[p.Name] {
			missed++
			continue
		}
		s := t.seen[p.Partition]
		if s == nil {
			s = &partition{}
			t.seen[p.Partition] = s
		}
		s.blocks = addRange(s.blocks, p.MinBlock, p.MaxBlock)
	}
	return missed, nil
}

// merge publishes the series with the points added: appended in place
// when they all come after the series' last point (readers never look
// beyond the length they were given), else merged into a new slice.
func (t *Tracks) merge(add map[key][]point) {
	type update struct {
		k     key
		pts   []point
		id    uint32
		cells []uint64
	}
	var fresh []key
	ups := make([]update, 0, len(add))
	for k, a := range add {
		slices.SortStableFunc(a, func(x, y point) int { return x.compare(&y) })
		a = dedupe(a)
		old := t.series[k.mmsi][k.vessel] // the poller is the only writer
		var pts []point
		if len(old) == 0 || old[len(old)-1].compare(&a[0]) < 0 {
			pts = append(old, a...)
		} else {
			pts = mergeSorted(old, a)
		}
		t.count += len(pts) - len(old)
		ups = append(ups, update{k, pts, t.seriesID(k, &fresh), indexCells(a)})
	}
	t.mu.Lock()
	t.keys = append(t.keys, fresh...)
	for _, u := range ups {
		t.addIndex(u.id, u.cells)
		m := t.series[u.k.mmsi]
		if m == nil {
			m = map[string][]point{}
			t.series[u.k.mmsi] = m
		}
		m[u.k.vessel] = u.pts
	}
	t.mu.Unlock()
}

// dedupe drops points equal (same time and place) to the one before them
// in a sorted slice, keeping the first.
func dedupe(a []point) []point {
	return slices.CompactFunc(a, func(x, y point) bool { return x.compare(&y) == 0 })
}

// mergeSorted merges two sorted, duplicate-free slices into a new one,
// keeping old's point where both hold the same time and place.
func mergeSorted(old, add []point) []point {
	out := make([]point, 0, len(old)+len(add))
	i, j := 0, 0
	for i < len(old) && j < len(add) {
		switch c := old[i].compare(&add[j]); {
		case c < 0:
			out = append(out, old[i])
			i++
		case c > 0:
			out = append(out, add[j])
			j++
		default:
			out = append(out, old[i])
			i++
			j++
		}
	}
	out = append(out, old[i:]...)
	return append(out, add[j:]...)
}

// windowStart is the start of the Days newest days, the newest being the
// day of the newest position held (never later than today).
func (t *Tracks) windowStart() int64 {
	newest := time.UnixMilli(t.newest).UTC()
	if now := t.cfg.Now().UTC(); t.newest == 0 || newest.After(now) {
		newest = now
	}
	return newest.Truncate(day).Add(-time.Duration(t.cfg.Days-1) * day).UnixMilli()
}

// boundStart moves a window start forward past the oldest daily
// partitions while the parts of those after it hold more than most rows
// (the newest day is always kept), so that a first load never reads far
// more than MaxPositions before slide trims it to the count of usable,
// merged positions. Rows of parts count duplicates and unusable positions,
// so it errs towards fewer days. Monthly partitions are left to slide.
func boundStart(parts []storage.Part, start int64, most int) int64 {
	if most <= 0 {
		return start
	}
	rows := map[string]uint64{}
	for _, p := range parts {
		if end, ok := partitionEnd(p.Partition); ok && len(p.Partition) == 8 && end > start {
			rows[p.Partition] += p.Rows
		}
	}
	ids := slices.Sorted(maps.Keys(rows))
	var sum uint64
	for i := len(ids) - 1; i > 0; i-- {
		if sum += rows[ids[i]]; sum+rows[ids[i-1]] > uint64(most) {
			end, _ := partitionEnd(ids[i-1])
			return max(start, end)
		}
	}
	return start
}

func (t *Tracks) setStart(ms int64) {
	t.mu.Lock()
	t.start = ms
	t.mu.Unlock()
}

// slide moves the window start forward to the newest days, and further
// while more than MaxPositions are held, and lets go of the points
// before it.
func (t *Tracks) slide() {
	start := max(t.start, t.windowStart())
	if start == t.start && (t.cfg.MaxPositions == 0 || t.count <= t.cfg.MaxPositions) {
		return
	}
	last := time.UnixMilli(t.newest).UTC().Truncate(day).UnixMilli()
	for {
		n := 0
		for _, vs := range t.series {
			for _, pts := range vs {
				n += len(pts) - firstAtOrAfter(pts, start)
			}
		}
		if t.cfg.MaxPositions == 0 || n <= t.cfg.MaxPositions || start >= last {
			break
		}
		start += day.Milliseconds()
	}
	type update struct {
		mmsi   uint32
		vessel string
		pts    []point
	}
	var ups []update
	for m, vs := range t.series {
		for v, pts := range vs {
			i := firstAtOrAfter(pts, start)
			if i == 0 {
				continue
			}
			t.count -= i
			ups = append(ups, update{m, v, slices.Clone(pts[i:])})
		}
	}
	t.mu.Lock()
	moved := start != t.start
	t.start = start
	for _, u := range ups {
		if len(u.pts) == 0 {
			delete(t.series[u.mmsi], u.vessel)
			if len(t.series[u.mmsi]) == 0 {
				delete(t.series, u.mmsi)
			}
			continue
		}
		t.series[u.mmsi][u.vessel] = u.pts
	}
	if moved || len(ups) > 0 {
		t.compactIndex()
	}
	t.mu.Unlock()
}

func firstAtOrAfter(pts []point, ms int64) int {
	i, _ := slices.BinarySearchFunc(pts, ms, func(p point, ms int64) int { return cmp.Compare(p.ms, ms) })
	return i
}

// reset forgets everything: the next poll reads the window again.
func (t *Tracks) reset() {
	t.mu.Lock()
	t.series = map[uint32]map[string][]point{}
	t.cells, t.keys = map[uint64][]uint32{}, nil
	t.ready = false
	t.mu.Unlock()
	t.ids = map[key]uint32{}
	t.seen = map[string]*partition{}
	t.count, t.newest, t.mutation = 0, 0, 0
}

func (t *Tracks) isReady() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.ready
}

// covered tells whether [lo, hi] lies within the sorted disjoint ranges.
func covered(ranges [][2]int64, lo, hi int64) bool {
	i, found := slices.BinarySearchFunc(ranges, lo, func(r [2]int64, lo int64) int {
		if r[1] < lo {
			return -1
		}
		if r[0] > lo {
			return 1
		}
		return 0
	})
	return found && ranges[i][1] >= hi
}

// addRange adds [lo, hi] to sorted disjoint ranges, joining neighbours
// (block numbers are integers: [1,2] and [3,4] join).
func addRange(ranges [][2]int64, lo, hi int64) [][2]int64 {
	out := make([][2]int64, 0, len(ranges)+1)
	for _, r := range ranges {
		switch {
		case r[1] < lo-1:
			out = append(out, r)
		case r[0] > hi+1:
			out = append(out, [2]int64{lo, hi})
			lo, hi = r[0], r[1] // the rest go after
		default:
			lo, hi = min(lo, r[0]), max(hi, r[1])
		}
	}
	return append(out, [2]int64{lo, hi})
}
