package hot

import (
	"context"
	"time"

	"github.com/keelson/keelson/storage"
	"github.com/prometheus/client_golang/prometheus"
)

// Track streams one vessel's positions in [From, To) ordered by time, as
// storage.Reader.Track does: from memory when the range starts inside the
// days held and memory is current, else from Fallback.
func (t *Tracks) Track(ctx context.Context, q storage.TrackQuery, fn func(*storage.PositionRow) error) error {
	if series, ok := t.lookup(uint32(q.MMSI), "", true, q.From); ok {
		return t.emit(uint32(q.MMSI), series, q.From, q.To, q.Limit, fn)
	}
	t.m.tracks.WithLabelValues("storage").Inc()
	return t.cfg.Fallback.Track(ctx, q, fn)
}

// OwnShipTrack is Track for an own-ship vessel stored without an MMSI.
func (t *Tracks) OwnShipTrack(ctx context.Context, q storage.OwnShipTrackQuery, fn func(*storage.PositionRow) error) error {
	if series, ok := t.lookup(0, q.Vessel, false, q.From); ok {
		return t.emit(0, series, q.From, q.To, q.Limit, fn)
	}
	t.m.tracks.WithLabelValues("storage").Inc()
	return t.cfg.Fallback.OwnShipTrack(ctx, q, fn)
}

// Ready tells whether the window has been read (memory answers from then
// on, while it keeps up).
func (t *Tracks) Ready() bool { return t.isReady() }

// Len is the number of positions held.
func (t *Tracks) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.held()
}

// held counts the positions held; t.mu is held.
func (t *Tracks) held() int {
	n := 0
	for _, vs := range t.series {
		for _, pts := range vs {
			n += len(pts)
		}
	}
	return n
}

// lookup returns the series of the MMSI (every vessel id stored with it,
// as Reader.Track selects by MMSI alone when allVessels) or of the one
// (mmsi, vessel), when memory may answer for a range starting at from.
func (t *Tracks) lookup(mmsi uint32, vessel string, allVessels bool, from time.Time) ([][]point, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if !t.ready || from.UnixMilli() < t.start || t.lagging() {
		return nil, false
	}
	vs := t.series[mmsi]
	if !allVessels {
		if pts := vs[vessel]; len(pts) > 0 {
			return [][]point{pts}, true
		}
		return nil, true
	}
	out := make([][]point, 0, len(vs))
	for _, pts := range vs {
		out = append(out, pts)
	}
	return out, true
}

// lagging tells whether the last successful poll began more than MaxLag ago.
func (t *Tracks) lagging() bool {
	return time.Since(time.Unix(0, t.lastOK.Load())) > t.cfg.MaxLag
}

// emit calls fn for the points in [from, to) of the series, merged in
// time order, at most limit (0: all).
func (t *Tracks) emit(mmsi uint32, series [][]point, from, to time.Time, limit int, fn func(*storage.PositionRow) error) error {
	t.m.tracks.WithLabelValues("memory").Inc()
	// Bounds to the millisecond below, as the query parameters have them.
	lo, hi := from.UnixMilli(), to.UnixMilli()
	for i, pts := range series {
		series[i] = pts[firstAtOrAfter(pts, lo):firstAtOrAfter(pts, hi)]
	}
	var sp storage.StoredPosition
	var row storage.PositionRow
	for n := 0; limit == 0 || n < limit; n++ {
		best := -1
		for i, pts := range series {
			if len(pts) > 0 && (best < 0 || pts[0].compare(&series[best][0]) < 0) {
				best = i
			}
		}
		if best < 0 {
			return nil
		}
		p := &series[best][0]
		series[best] = series[best][1:]
		sp = storage.StoredPosition{MMSI: mmsi, Millis: p.ms, LatE7: p.lat, LonE7: p.lon,
			SOGc: p.sog, COGc: p.cog, Headingc: p.heading, NavStatus: p.nav}
		sp.Row(&row)
		if err := fn(&row); err != nil {
			return err // ErrStop too, as Reader.Track returns it
		}
	}
	return nil
}

type metrics struct {
	polls     *prometheus.CounterVec
	reloads   prometheus.Counter
	tracks    *prometheus.CounterVec
	positions *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, t *Tracks) metrics {
	m := metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keelson_hot_polls_total",
			Help: "Polls of the positions table's parts by the tracks held in memory, by result."}, []string{"result"}),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{Name: "keelson_hot_reloads_total",
			Help: "Times the window of positions was read again (rows dropped or mutated in the table)."}),
		tracks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keelson_hot_tracks_total",
			Help: "Tracks served, by where from (memory or storage)."}, []string{"from"}),
		positions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keelson_hot_position_queries_total",
			Help: "Area-time position queries served, by where from (memory or storage)."}, []string{"from"}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.polls, m.reloads, m.tracks, m.positions,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keelson_hot_positions",
			Help: "Positions held in memory."}, func() float64 {
			return float64(t.Len())
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keelson_hot_window_start_seconds",
			Help: "Start of the days held in memory, Unix seconds (0 while loading)."}, func() float64 {
			t.mu.RLock()
			defer t.mu.RUnlock()
			if !t.ready {
				return 0
			}
			return float64(t.start) / 1e3
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keelson_hot_lag_seconds",
			Help: "Time since the last successful poll began."}, func() float64 {
			last := t.lastOK.Load()
			if last == 0 {
				return 0
			}
			return time.Since(time.Unix(0, last)).Seconds()
		}))
	return m
}

// Store is a storage.Reader whose tracks and area-time queries Tracks answers.
type Store struct {
	*storage.Reader
	Tracks *Tracks
}

// Track implements the API's store with Tracks.Track.
func (s Store) Track(ctx context.Context, q storage.TrackQuery, fn func(*storage.PositionRow) error) error {
	return s.Tracks.Track(ctx, q, fn)
}

// OwnShipTrack implements the API's store with Tracks.OwnShipTrack.
func (s Store) OwnShipTrack(ctx context.Context, q storage.OwnShipTrackQuery, fn func(*storage.PositionRow) error) error {
	return s.Tracks.OwnShipTrack(ctx, q, fn)
}

// Positions implements the API's store with Tracks.Positions.
func (s Store) Positions(ctx context.Context, q storage.PositionQuery, fn func(*storage.PositionRow) error) error {
	return s.Tracks.Positions(ctx, q, fn)
}
