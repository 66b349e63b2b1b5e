// Package api is Keelson's HTTP query API: vessels, tracks, positions,
// observations and a live stream, for partners, data scientists and
// downstream AI. Every /v1 path needs an API key whose scope limits what it
// sees; /healthz, /readyz, /metrics and /openapi.json are open.
//
// Latest positions, bounding-box and nearest-vessel queries are served from
// an in-memory [Index] kept current from the live stream (or by polling
// storage); tracks, positions and observations are read from storage with
// server-side parameters and capped ClickHouse settings.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Store is the read side of storage that the API needs; *storage.Reader
// implements it. Row callbacks may return storage.ErrStop to end early.
type Store interface {
	Ping(ctx context.Context) error
	// Vessel returns identity and the latest position at or before before
	// (zero: now), or an error wrapping storage.ErrNotFound.
	Vessel(ctx context.Context, mmsi keelson.MMSI, before time.Time) (storage.VesselRow, error)
	Latest(ctx context.Context, q storage.LatestQuery, fn func(*storage.VesselRow) error) error
	// LatestBefore is Latest as of a cutoff in the past (keys with a delay).
	LatestBefore(ctx context.Context, q storage.LatestBeforeQuery, fn func(*storage.VesselRow) error) error
	Track(ctx context.Context, q storage.TrackQuery, fn func(*storage.PositionRow) error) error
	// OwnShipLatest and OwnShipTrack serve own-ship vessels stored without
	// an MMSI (by vessel id); OwnShipLatest wraps storage.ErrNotFound.
	OwnShipLatest(ctx context.Context, vessel string, before time.Time) (storage.PositionRow, error)
	OwnShipTrack(ctx context.Context, q storage.OwnShipTrackQuery, fn func(*storage.PositionRow) error) error
	OwnShips(ctx context.Context, before time.Time, fn func(*storage.OwnShipRow) error) error
	Positions(ctx context.Context, q storage.PositionQuery, fn func(*storage.PositionRow) error) error
	Observations(ctx context.Context, q storage.ObservationQuery, fn func(*storage.ObservationRow) error) error
	Telemetry(ctx context.Context, q storage.TelemetryQuery, fn func(*storage.TelemetryRow) error) error
}

// Feed delivers live events: it calls fn for each event until ctx ends or
// the feed fails. fn must not keep ev.
type Feed func(ctx context.Context, fn func(ev *keelson.Event)) error

// Registry is a Prometheus registry: where metrics go and what /metrics shows.
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// Config configures a Server. Zero values take the defaults in the comments.
type Config struct {
	Store Store    // required
	Keys  KeyStore // required
	// Feed, when set, feeds /v1/stream and keeps the index current between
	// polls; without it /v1/stream answers 503.
	Feed Feed
	// Poll is how often the index reads the positions newer than it holds
	// from storage (always, with or without a Feed); default 2s.
	Poll     time.Duration
	Logger   *slog.Logger     // default: discard
	Registry Registry         // default: a new registry
	Now      func() time.Time // the clock of data cutoffs (delays, default ranges); default time.Now
	Web      http.Handler     // served at / when set (the map page)

	Rate          float64       // default requests per second per key; default 20
	Burst         int           // default token bucket size per key; default 40
	DefaultPage   int           // rows per page when limit is not given; default 1000
	MaxPage       int           // largest page for keys without export; default 10000
	ExportMaxRows int           // largest export; default 10,000,000
	MaxTrack      int           // most points of one track; default 1,000,000
	MaxRange      time.Duration // longest time range of a request; default 31 days
	KeyCacheTTL   time.Duration // how long a key lookup is remembered; default 30s
	// KeyLookupRate bounds the key lookups in storage per second, over all
	// clients (burst: twice as many), so that a flood of made-up keys
	// cannot load the database; past it, keys not in the cache get 429.
	// Default 100.
	KeyLookupRate float64
	StreamBuffer  int // events buffered per stream client; default 256
	// DelayRefresh is how old (in data time) the latest-position snapshot
	// of a delayed key's view may grow before it is rebuilt in the
	// background; default 1m.
	DelayRefresh time.Duration
}

func (c *Config) setDefaults() {
	if c.Poll == 0 {
		c.Poll = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	if c.Rate == 0 {
		c.Rate = 20
	}
	def(&c.Burst, 40)
	def(&c.DefaultPage, 1000)
	def(&c.MaxPage, 10000)
	def(&c.ExportMaxRows, 10_000_000)
	def(&c.MaxTrack, 1_000_000)
	def(&c.StreamBuffer, 256)
	if c.MaxRange == 0 {
		c.MaxRange = 31 * 24 * time.Hour
	}
	if c.KeyCacheTTL == 0 {
		c.KeyCacheTTL = 30 * time.Second
	}
	if c.KeyLookupRate == 0 {
		c.KeyLookupRate = 100
	}
	if c.DelayRefresh == 0 {
		c.DelayRefresh = time.Minute
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	switch {
	case c.Store == nil:
		return errorf(ErrInvalidConfig, "Store is required")
	case c.Keys == nil:
		return errorf(ErrInvalidConfig, "Keys is required")
	case c.Poll < 0 || c.MaxRange < 0 || c.KeyCacheTTL < 0 || c.DelayRefresh < 0:
		return errorf(ErrInvalidConfig, "Poll, MaxRange, KeyCacheTTL and DelayRefresh must not be negative")
	case c.Rate < 0 || c.Burst < 0 || c.KeyLookupRate < 0:
		return errorf(ErrInvalidConfig, "Rate, Burst and KeyLookupRate must not be negative")
	case c.DefaultPage < 0 || c.MaxPage < 0 || c.ExportMaxRows < 0 || c.MaxTrack < 0 || c.StreamBuffer < 0:
		return errorf(ErrInvalidConfig, "DefaultPage, MaxPage, ExportMaxRows, MaxTrack and StreamBuffer must not be negative")
	case c.DefaultPage > 0 && c.MaxPage > 0 && c.DefaultPage > c.MaxPage:
		return errorf(ErrInvalidConfig, "DefaultPage %d exceeds MaxPage %d", c.DefaultPage, c.MaxPage)
	}
	return nil
}

// Server serves the API. Create it with New, serve Handler, and run Run to
// load and maintain the in-memory index.
type Server struct {
	cfg    Config
	log    *slog.Logger
	store  Store
	keys   *keyCache
	index  *Index
	mux    *http.ServeMux
	routes []route
	m      metrics
	hub    hub

	delayed delayedIndexes // latest-position snapshots of delayed keys

	ready    atomic.Bool // index loaded
	limMu    sync.Mutex
	limiters map[string]*rate.Limiter
}

type metrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	rows         *prometheus.CounterVec
	limited      prometheus.Counter
	indexUpd     prometheus.Counter
	streamDrops  prometheus.Counter
	feedErrors   prometheus.Counter
	delayedBuild *prometheus.HistogramVec
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "api"),
		store:    cfg.Store,
		index:    NewIndex(),
		mux:      http.NewServeMux(),
		limiters: map[string]*rate.Limiter{},
	}
	s.keys = newKeyCache(cfg.Keys, cfg.KeyCacheTTL, time.Now) // real time, whatever Now says
	s.keys.lookups = rate.NewLimiter(rate.Limit(cfg.KeyLookupRate), max(1, int(2*cfg.KeyLookupRate)))
	s.hub.clients = map[*streamClient]struct{}{}
	s.delayed.m = map[time.Duration]*delayedIndex{}
	reg := cfg.Registry
	s.m = metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keelson_api_requests_total", Help: "API requests by route and status."}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "keelson_api_request_duration_seconds", Help: "API request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30}}, []string{"route"}),
		rows:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keelson_api_rows_total", Help: "Rows written by route."}, []string{"route"}),
		limited:     prometheus.NewCounter(prometheus.CounterOpts{Name: "keelson_api_rate_limited_total", Help: "Requests refused by a key's rate limit."}),
		indexUpd:    prometheus.NewCounter(prometheus.CounterOpts{Name: "keelson_api_index_updates_total", Help: "Updates applied to the in-memory latest-position index."}),
		streamDrops: prometheus.NewCounter(prometheus.CounterOpts{Name: "keelson_api_stream_dropped_total", Help: "Live events dropped for slow stream clients."}),
		feedErrors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "keelson_api_feed_errors_total", Help: "Failures of the live feed, index poll or delayed snapshot build."}),
		delayedBuild: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "keelson_api_delayed_index_build_seconds", Help: "Time to build (full) or move forward (update) the latest-position snapshot of a delayed key's view.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"kind"}),
	}
	for _, c := range []prometheus.Collector{s.m.requests, s.m.duration, s.m.rows, s.m.limited, s.m.indexUpd, s.m.streamDrops, s.m.feedErrors, s.m.delayedBuild,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keelson_api_index_vessels", Help: "Vessels in the in-memory index."}, func() float64 { return float64(s.index.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keelson_api_stream_clients", Help: "Connected /v1/stream clients."}, func() float64 { return float64(s.hub.count()) }),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	if cfg.Web != nil {
		s.mux.Handle("GET /", cfg.Web)
	}
	return s, nil
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := s.mux.Handler(r)
		if pattern != "" {
			s.mux.ServeHTTP(w, r)
			return
		}
		// No route: answer in the one error shape, keeping the mux's
		// status (404, or 405 with its Allow header).
		rec := &headerRecorder{h: http.Header{}}
		h.ServeHTTP(rec, r)
		if a := rec.h.Get("Allow"); a != "" {
			w.Header().Set("Allow", a)
		}
		if rec.code == http.StatusMethodNotAllowed {
			writeError(w, rec.code, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path)
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "no such path: "+r.URL.Path)
	})
}

// headerRecorder captures the status and headers of the mux's own answer.
type headerRecorder struct {
	h    http.Header
	code int
}

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(code int)        { r.code = code }

// Index returns the in-memory latest-position index.
func (s *Server) Index() *Index { return s.index }

// Ready reports whether the index is loaded.
func (s *Server) Ready() bool { return s.ready.Load() }

func (s *Server) now() time.Time { return s.cfg.Now().UTC() }

// Run loads the index from storage, then keeps it current from the feed
// (and fans the feed out to stream clients) or by polling, until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	for {
		err := s.load(ctx)
		if err == nil {
			break
		}
		s.m.feedErrors.Inc()
		s.log.Warn("index load failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
	s.ready.Store(true)
	s.log.Info("index loaded", "vessels", s.index.Len())
	if s.cfg.Feed == nil {
		return s.poll(ctx)
	}
	// Polling storage keeps the index right when the feed lags or fails.
	done := make(chan struct{})
	go func() { s.poll(ctx); close(done) }()
	for ctx.Err() == nil {
		err := s.cfg.Feed(ctx, func(ev *keelson.Event) {
			s.index.Apply(ev)
			s.m.indexUpd.Inc()
			s.hub.publish(ev, s.m.streamDrops)
		})
		if ctx.Err() != nil {
			break
		}
		s.m.feedErrors.Inc()
		s.log.Warn("live feed stopped; restarting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	s.hub.closeAll()
	<-done
	return nil
}

func (s *Server) load(ctx context.Context) error {
	return s.store.Latest(ctx, storage.LatestQuery{}, func(v *storage.VesselRow) error {
		s.index.Put(v)
		return nil
	})
}

// poll refreshes the index from storage's latest positions.
func (s *Server) poll(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		since := s.index.Newest().Add(-time.Minute) // late arrivals
		err := s.store.Latest(ctx, storage.LatestQuery{Since: since}, func(v *storage.VesselRow) error {
			s.index.Put(v)
			s.m.indexUpd.Inc()
			return nil
		})
		if err != nil && ctx.Err() == nil {
			s.m.feedErrors.Inc()
			s.log.Warn("index poll failed", "err", err)
		}
	}
}

// handlerFunc is an API handler; key is nil on open routes.
type handlerFunc func(w http.ResponseWriter, r *http.Request, key *Key) error

// wrap adds metrics, authentication, rate limiting and error mapping.
func (s *Server) wrap(rt route) http.Handler {
	name := rt.method + " " + rt.pattern
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			s.m.requests.WithLabelValues(name, strconv.Itoa(sw.code)).Inc()
			s.m.duration.WithLabelValues(name).Observe(time.Since(start).Seconds())
		}()
		var key *Key
		if !rt.public {
			k, err := s.authorize(sw, r)
			if err != nil {
				s.fail(sw, r, err)
				return
			}
			key = &k
		}
		if err := rt.h(sw, r, key); err != nil {
			s.fail(sw, r, err)
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// authorize authenticates the bearer key and applies its rate limit,
// setting the quota headers.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) (Key, error) {
	h := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || secret == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="keelson"`)
		return Key{}, errorf(ErrUnauthorized, "send an API key as Authorization: Bearer <key>")
	}
	k, err := s.keys.authenticate(r.Context(), strings.TrimSpace(secret))
	if err != nil {
		if errors.Is(err, ErrUnauthorized) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="keelson", error="invalid_token"`)
		}
		if errors.Is(err, ErrRateLimited) {
			s.m.limited.Inc()
			w.Header().Set("Retry-After", "1")
		}
		return Key{}, err
	}
	lim := s.limiter(&k)
	now := time.Now() // buckets refill in real time, whatever Config.Now says
	ok = lim.AllowN(now, 1)
	tokens := lim.TokensAt(now)
	hd := w.Header()
	hd.Set("X-RateLimit-Limit", strconv.Itoa(lim.Burst()))
	hd.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, int(tokens))))
	full := time.Duration((float64(lim.Burst()) - tokens) / float64(lim.Limit()) * float64(time.Second))
	hd.Set("X-RateLimit-Reset", strconv.Itoa(int((full+time.Second-1)/time.Second)))
	if !ok {
		s.m.limited.Inc()
		wait := time.Duration((1 - tokens) / float64(lim.Limit()) * float64(time.Second))
		hd.Set("Retry-After", strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second))))
		return Key{}, errorf(ErrRateLimited, "rate limit of %g requests/s (burst %d) exceeded", float64(lim.Limit()), lim.Burst())
	}
	return k, nil
}

func (s *Server) limiter(k *Key) *rate.Limiter {
	r, b := s.cfg.Rate, s.cfg.Burst
	if k.Scope.Rate > 0 {
		r = k.Scope.Rate
	}
	if k.Scope.Burst > 0 {
		b = k.Scope.Burst
	}
	s.limMu.Lock()
	defer s.limMu.Unlock()
	lim := s.limiters[k.ID]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(r), b)
		s.limiters[k.ID] = lim
	} else if lim.Limit() != rate.Limit(r) || lim.Burst() != b {
		lim.SetLimit(rate.Limit(r))
		lim.SetBurst(b)
	}
	return lim
}

// writeJSON writes v with the status.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// writeError writes the one error shape.
func writeError(w http.ResponseWriter, code int, errCode, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]string{"code": errCode, "message": msg}})
}

// fail maps err to a response. Internal errors are logged, never shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errCommitted) {
		// The body was already streaming: cut the connection so that the
		// client sees a truncated response, not a complete one.
		s.log.Warn("request failed mid-response", "path", r.URL.Path, "err", err)
		panic(http.ErrAbortHandler)
	}
	if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
		return // the client went away
	}
	code, errCode := status(err)
	msg := "internal error"
	var e *Error
	if errors.As(err, &e) {
		msg = e.Message
	} else if errors.Is(err, storage.ErrNotFound) {
		code, errCode, msg = http.StatusNotFound, "not_found", "not found"
	} else if storage.IsLimitError(err) {
		code, errCode, msg = http.StatusRequestEntityTooLarge, "too_large", "the query exceeds the server's limits; narrow the area, time range or vessels"
	}
	if code == http.StatusInternalServerError {
		s.log.Error("request failed", "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	writeError(w, code, errCode, msg)
}

// errCommitted marks an error after the response started.
var errCommitted = errors.New("api: response already started")
