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
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
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
	// DelayWait is how long a request of a key with a delay waits for its
	// view's snapshot while it is being built (at start, or for a delay
	// new to the server) before it gets 503 with Retry-After; default 5s.
	DelayWait time.Duration
	// Background is the store that background reads go through: the
	// snapshots of delayed keys' views, which read every vessel's latest
	// position. Give it limits meant for that rather than a request's
	// (keelson serve: the request limits with BackgroundTimeout as
	// max_execution_time). Default: Store, with its limits.
	Background Store
	// BackgroundTimeout bounds one background read (the deadline of its
	// context, which is otherwise the server's lifetime, never a
	// request's); default 5m.
	BackgroundTimeout time.Duration

	// ClientRate and ClientBurst are the token bucket of each client
	// address for the /v1 requests that carry no valid key: none, a
	// malformed, unknown or revoked one, or one not in the key cache yet
	// (a valid key gives the token back and pays in its own bucket). It
	// bounds the 401s and the key lookups one client can cause, and its
	// quota headers are the ones such answers carry. A client address is
	// the peer's IPv4 address or IPv6 /64. Default 1 request/s, burst 10.
	ClientRate  float64
	ClientBurst int
	// ClientBuckets bounds the client buckets kept; when full, the full
	// (idle) buckets are dropped, and clients that still find no room share
	// one overflow bucket. Default 10,000.
	ClientBuckets int
	// TrustedProxies are the reverse proxies in front of the server: when
	// the peer is in one of them, the client address is the rightmost
	// address of X-Forwarded-For that is not (the first hop no trusted
	// proxy vouches for). Default none: X-Forwarded-For is ignored.
	TrustedProxies []netip.Prefix
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
	if c.DelayWait == 0 {
		c.DelayWait = 5 * time.Second
	}
	if c.Background == nil {
		c.Background = c.Store
	}
	if c.BackgroundTimeout == 0 {
		c.BackgroundTimeout = 5 * time.Minute
	}
	if c.ClientRate == 0 {
		c.ClientRate = 1
	}
	def(&c.ClientBurst, 10)
	def(&c.ClientBuckets, 10_000)
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
	case c.DelayWait < 0 || c.BackgroundTimeout < 0:
		return errorf(ErrInvalidConfig, "DelayWait and BackgroundTimeout must not be negative")
	case c.Rate < 0 || c.Burst < 0 || c.KeyLookupRate < 0:
		return errorf(ErrInvalidConfig, "Rate, Burst and KeyLookupRate must not be negative")
	case c.ClientRate < 0 || c.ClientBurst < 0 || c.ClientBuckets < 0:
		return errorf(ErrInvalidConfig, "ClientRate, ClientBurst and ClientBuckets must not be negative")
	case c.DefaultPage < 0 || c.MaxPage < 0 || c.ExportMaxRows < 0 || c.MaxTrack < 0 || c.StreamBuffer < 0:
		return errorf(ErrInvalidConfig, "DefaultPage, MaxPage, ExportMaxRows, MaxTrack and StreamBuffer must not be negative")
	case c.DefaultPage > 0 && c.MaxPage > 0 && c.DefaultPage > c.MaxPage:
		return errorf(ErrInvalidConfig, "DefaultPage %d exceeds MaxPage %d", c.DefaultPage, c.MaxPage)
	}
	for _, p := range c.TrustedProxies {
		if !p.IsValid() {
			return errorf(ErrInvalidConfig, "TrustedProxies: invalid prefix %v", p)
		}
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

	delayed    delayedIndexes // latest-position snapshots of delayed keys
	background Store          // Config.Background
	clients    clientBuckets  // rate limits of requests without a valid key

	ready    atomic.Bool // index loaded
	limMu    sync.Mutex
	limiters map[string]*rate.Limiter
}

type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	rows          *prometheus.CounterVec
	limited       *prometheus.CounterVec
	indexUpd      prometheus.Counter
	streamDrops   prometheus.Counter
	feedErrors    prometheus.Counter
	delayedBuild  *prometheus.HistogramVec
	delayedFailed *prometheus.CounterVec
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
	s.keys.onFetch = func(k Key) {
		if k.Scope.Delay > 0 {
			s.wantDelay(time.Duration(k.Scope.Delay))
		}
	}
	s.hub.clients = map[*streamClient]struct{}{}
	s.initDelayed()
	s.background = cfg.Background
	s.clients = clientBuckets{rate: cfg.ClientRate, burst: float64(cfg.ClientBurst), max: cfg.ClientBuckets, m: map[netip.Addr]*tokenBucket{}}
	reg := cfg.Registry
	s.m = metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keelson_api_requests_total", Help: "API requests by route and status."}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "keelson_api_request_duration_seconds", Help: "API request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30}}, []string{"route"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keelson_api_rows_total", Help: "Rows written by route."}, []string{"route"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keelson_api_rate_limited_total",
			Help: "Requests refused with 429, by the bucket that refused them: key (the key's), client (requests without a valid key, per client address) or lookup (key lookups in storage, over all clients)."}, []string{"bucket"}),
		indexUpd:    prometheus.NewCounter(prometheus.CounterOpts{Name: "keelson_api_index_updates_total", Help: "Updates applied to the in-memory latest-position index."}),
		streamDrops: prometheus.NewCounter(prometheus.CounterOpts{Name: "keelson_api_stream_dropped_total", Help: "Live events dropped for slow stream clients."}),
		feedErrors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "keelson_api_feed_errors_total", Help: "Failures of the live feed, index poll or delayed snapshot build."}),
		delayedBuild: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "keelson_api_delayed_index_build_seconds", Help: "Time to build (full) or move forward (update) the latest-position snapshot of a delayed key's view.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, []string{"kind"}),
		delayedFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keelson_api_delayed_index_build_failures_total", Help: "Failed builds (full) or updates (update) of the latest-position snapshot of a delayed key's view (each is retried)."}, []string{"kind"}),
	}
	for _, c := range []prometheus.Collector{s.m.requests, s.m.duration, s.m.rows, s.m.limited, s.m.indexUpd, s.m.streamDrops, s.m.feedErrors, s.m.delayedBuild, s.m.delayedFailed,
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
		v1 := r.URL.Path == "/v1" || strings.HasPrefix(r.URL.Path, "/v1/")
		if pattern != "" && !(v1 && pattern == "GET /") { // the map page is no /v1 answer
			s.mux.ServeHTTP(w, r)
			return
		}
		// No route: answer in the one error shape, keeping the mux's
		// status (404, or 405 with its Allow header). Under /v1 a key is
		// needed first, like on every /v1 path, and its quota applies.
		if v1 {
			// No key is needed to learn that a path does not exist, but
			// the answer costs a token of the bucket that applies.
			if _, err := s.authorize(w, r); errors.Is(err, ErrRateLimited) {
				s.fail(w, r, err)
				return
			}
			w.Header().Del("WWW-Authenticate")
		}
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
// Meanwhile it builds the views of the keys with a delay (see delayed.go)
// and keeps them current. ctx is the server's lifetime: when it ends, the
// background reads end too.
func (s *Server) Run(ctx context.Context) error {
	context.AfterFunc(ctx, s.delayed.stop)
	defer s.delayed.stop()
	watched := make(chan struct{})
	go func() { s.watchKeys(ctx); close(watched) }()
	defer func() { <-watched }()
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

// authorize authenticates the bearer key and applies the rate limit of
// the bucket that applies, setting its quota headers on every answer, 401
// and 429 included. A key that proved valid before pays in its own bucket
// (its answer is the key's even when it is now revoked, or its cache
// entry could not be refreshed); anything else pays in the client's (see
// Config.ClientRate): no key, a malformed or unknown one, or a key not
// seen yet, whose token is given back once it proves valid. So one client
// cannot use up the key lookups of everybody, and a client sending bad
// keys cannot starve the valid keys behind the same address.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) (Key, error) {
	secret, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	secret = strings.TrimSpace(secret)
	if bearer && secret != "" {
		if known, ok := s.keys.known(secret); ok {
			k, err := s.keys.authenticate(r.Context(), secret)
			if err != nil {
				lim := s.limiter(&known)
				quota{burst: lim.Burst(), rate: float64(lim.Limit()), tokens: lim.TokensAt(time.Now())}.set(w.Header())
				return Key{}, s.authError(w, err)
			}
			return k, s.takeKey(w, &k)
		}
	}
	now := time.Now() // buckets refill in real time, whatever Config.Now says
	b, q := s.clients.take(s.clientAddr(r), now)
	q.set(w.Header())
	if !q.ok {
		s.m.limited.WithLabelValues("client").Inc()
		return Key{}, &Error{Kind: ErrRateLimited, RetryAfter: q.retry(),
			Message: fmt.Sprintf("too many requests without a valid API key from this address (%g/s, burst %d)", q.rate, q.burst)}
	}
	if !bearer || secret == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="keelson"`)
		return Key{}, errorf(ErrUnauthorized, "send an API key as Authorization: Bearer <key>")
	}
	k, err := s.keys.authenticate(r.Context(), secret)
	if err != nil {
		return Key{}, s.authError(w, err)
	}
	s.clients.refund(b, now)
	return k, s.takeKey(w, &k)
}

// authError completes the answer to a failed authentication.
func (s *Server) authError(w http.ResponseWriter, err error) error {
	if errors.Is(err, ErrUnauthorized) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="keelson", error="invalid_token"`)
	}
	var e *Error
	if errors.Is(err, ErrRateLimited) && errors.As(err, &e) {
		s.m.limited.WithLabelValues("lookup").Inc()
		e.RetryAfter = time.Second
	}
	return err
}

// takeKey takes a token from the key's bucket, setting its quota headers.
func (s *Server) takeKey(w http.ResponseWriter, k *Key) error {
	lim := s.limiter(k)
	now := time.Now()
	ok := lim.AllowN(now, 1)
	q := quota{ok: ok, burst: lim.Burst(), rate: float64(lim.Limit()), tokens: lim.TokensAt(now)}
	q.set(w.Header())
	if !ok {
		s.m.limited.WithLabelValues("key").Inc()
		return &Error{Kind: ErrRateLimited, RetryAfter: q.retry(),
			Message: fmt.Sprintf("rate limit of %g requests/s (burst %d) exceeded", q.rate, q.burst)}
	}
	return nil
}

// quota is the state of the token bucket that applied to a request.
type quota struct {
	ok     bool    // a token was taken
	burst  int     // bucket size
	rate   float64 // tokens per second
	tokens float64 // tokens left
}

// set writes the quota headers: the bucket size, the requests left and
// the seconds until the bucket is full.
func (q quota) set(h http.Header) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(q.burst))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, int(q.tokens))))
	h.Set("X-RateLimit-Reset", strconv.Itoa(ceilSeconds((float64(q.burst)-q.tokens)/q.rate)))
}

// retry is how long until the next token.
func (q quota) retry() time.Duration {
	return time.Duration(max(1, ceilSeconds((1-q.tokens)/q.rate))) * time.Second
}

func ceilSeconds(s float64) int {
	if s <= 0 || math.IsNaN(s) {
		return 0
	}
	return int(math.Ceil(min(s, 1<<31)))
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

// clientAddr is the address whose bucket applies to a request without a
// valid key: the peer's, or behind a trusted proxy the rightmost
// X-Forwarded-For address that is not a trusted proxy. IPv6 addresses
// count by their /64 (what one subscriber gets).
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	a := parseAddr(r.RemoteAddr)
	if len(s.cfg.TrustedProxies) > 0 && s.trusted(a) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			h := parseAddr(strings.TrimSpace(hops[i]))
			if !h.IsValid() {
				break // not an address: the last trusted hop stands for the client
			}
			a = h
			if !s.trusted(h) {
				break
			}
		}
	}
	if a.Is6() {
		a = netip.PrefixFrom(a, 64).Masked().Addr()
	}
	return a
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr parses "ip", "ip:port" or "[ip]:port"; invalid gives the zero
// Addr (all such clients share its bucket).
func parseAddr(v string) netip.Addr {
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(strings.Trim(v, "[]"))
	return a.Unmap()
}

// clientBuckets are the token buckets of client addresses, at most max of
// them; past that, full buckets are dropped (a full bucket is the same as
// a new one) at most once a second, and the clients that still find no
// room share the overflow bucket.
type clientBuckets struct {
	rate, burst float64
	max         int

	mu       sync.Mutex
	m        map[netip.Addr]*tokenBucket
	overflow tokenBucket
	swept    time.Time
}

type tokenBucket struct {
	tokens float64
	last   time.Time
}

// refill adds the tokens earned since the bucket was last used.
func (b *tokenBucket) refill(now time.Time, rate, burst float64) {
	if b.last.IsZero() {
		b.tokens = burst
	} else if d := now.Sub(b.last); d > 0 {
		b.tokens = min(burst, b.tokens+d.Seconds()*rate)
	}
	b.last = now
}

// take takes a token from the client's bucket (when there is one) and
// returns the bucket and its quota.
func (c *clientBuckets) take(a netip.Addr, now time.Time) (*tokenBucket, quota) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.m[a]
	if b == nil {
		if len(c.m) >= c.max && now.Sub(c.swept) >= time.Second {
			c.swept = now
			for k, v := range c.m {
				if v.refill(now, c.rate, c.burst); v.tokens >= c.burst {
					delete(c.m, k)
				}
			}
		}
		if len(c.m) < c.max {
			b = &tokenBucket{}
			c.m[a] = b
		} else {
			b = &c.overflow
		}
	}
	b.refill(now, c.rate, c.burst)
	q := quota{burst: int(c.burst), rate: c.rate}
	if b.tokens >= 1 {
		b.tokens--
		q.ok = true
	}
	q.tokens = b.tokens
	return b, q
}

// refund gives a token back to a bucket.
func (c *clientBuckets) refund(b *tokenBucket, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b.refill(now, c.rate, c.burst)
	b.tokens = min(c.burst, b.tokens+1)
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
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, ceilSeconds(e.RetryAfter.Seconds()))))
		}
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
