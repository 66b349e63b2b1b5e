//go:build !shipboard

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/bus"
	"github.com/keelson/keelson/storage"
	"github.com/keelson/keelson/storage/hot"
	"github.com/keelson/keelson/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/segmentio/kafka-go"
)

// runServe runs the query API (and the map page) until ctx ends.
func runServe(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("serve", "serve [-listen :8080] [-clickhouse URL] [-brokers host:9092]", io.err)
	var (
		listen, chURL, group, logLevel, logFormat string
		stream, noWeb                             bool
		cfg                                       api.Config
		lim                                       storage.QueryLimits
		kafkaCfg                                  bus.Config
		shutdown                                  time.Duration
		tracks                                    hot.Config
		proxies                                   listFlag
	)
	fs.StringVar(&listen, "listen", ":8080", "host:port of the HTTP server")
	fs.StringVar(&chURL, "clickhouse", defaultClickHouse, "ClickHouse URL: clickhouse://user:password@host:9000/db (use a read-only user) or chdb:///dir (embedded; one process per directory)")
	fs.BoolVar(&stream, "stream", true, "serve /v1/stream and update the index from Kafka (its own consumer group)")
	fs.StringVar(&group, "group", "", "Kafka consumer group of the live stream; give every API instance its own (default keelson-api-HOSTNAME)")
	fs.BoolVar(&noWeb, "no-web", false, "do not serve the map page at /")
	fs.DurationVar(&cfg.Poll, "poll", 2*time.Second, "how often the in-memory index reads new positions from storage")
	fs.Float64Var(&cfg.Rate, "rate", 20, "default requests per second per key (a key's scope may set its own)")
	fs.IntVar(&cfg.Burst, "burst", 40, "default token bucket size per key")
	fs.IntVar(&cfg.DefaultPage, "page", 1000, "rows per page when limit is not given")
	fs.IntVar(&cfg.MaxPage, "max-page", 10000, "largest page for keys without export rights")
	fs.IntVar(&cfg.ExportMaxRows, "export-max-rows", 10_000_000, "largest export (keys with export rights)")
	fs.DurationVar(&cfg.MaxRange, "max-range", 31*24*time.Hour, "longest time range of one request")
	fs.DurationVar(&cfg.KeyCacheTTL, "key-cache", 30*time.Second, "how long a key lookup is cached (revocation delay)")
	fs.Float64Var(&cfg.KeyLookupRate, "key-lookup-rate", 100, "key lookups in storage per second over all clients (keys not in the cache get 429 past it)")
	fs.DurationVar(&cfg.DelayRefresh, "delay-refresh", time.Minute, "how far the latest-position view of keys with a delay may lag before it is moved forward")
	fs.IntVar(&tracks.Days, "track-days", 7, "days of positions held in memory for tracks, counted back from the newest stored day (about 27 bytes a position); 0: every track from ClickHouse")
	fs.IntVar(&tracks.MaxPositions, "track-max-positions", 50_000_000, "most positions held in memory for tracks and area-time queries (about 1.4 GB at the default): past it the oldest days go (0: no bound)")
	fs.DurationVar(&tracks.Poll, "track-poll", time.Second, "how often the positions held in memory are brought up to date with ClickHouse")
	fs.DurationVar(&cfg.DelayWait, "delay-wait", 5*time.Second, "how long a request of a key with a delay waits for its view while it is being prepared before 503 with Retry-After")
	fs.DurationVar(&cfg.BackgroundTimeout, "background-timeout", 5*time.Minute, "ClickHouse max_execution_time (and deadline) of background reads: the views of keys with a delay")
	fs.Float64Var(&cfg.ClientRate, "client-rate", 1, "requests per second per client address without a valid key (401s, keys not seen yet)")
	fs.IntVar(&cfg.ClientBurst, "client-burst", 10, "token bucket size per client address without a valid key")
	fs.Var(&proxies, "trusted-proxy", "CIDR of a reverse proxy whose X-Forwarded-For is believed for client addresses (repeatable, or comma-separated); default none")
	fs.DurationVar(&lim.MaxExecutionTime, "query-timeout", 10*time.Second, "ClickHouse max_execution_time per query")
	fs.Uint64Var(&lim.MaxRowsToRead, "max-rows-to-read", 200_000_000, "ClickHouse max_rows_to_read per query")
	fs.Uint64Var(&lim.MaxResultRows, "max-result-rows", 20_000_000, "ClickHouse max_result_rows per query")
	fs.Uint64Var(&lim.MaxMemoryUsage, "max-memory", 2<<30, "ClickHouse max_memory_usage per query, bytes")
	fs.DurationVar(&shutdown, "shutdown-timeout", 10*time.Second, "bound on draining requests at SIGTERM")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	kafkaCfg.RegisterFlags(fs.FlagSet)
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	log, err := serveLogger(io, logLevel, logFormat)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	log = log.With("component", "serve")
	for _, v := range proxies {
		for _, c := range strings.Split(v, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(c))
			if err != nil {
				return fmt.Errorf("serve: -trusted-proxy %q: want a CIDR such as 10.0.0.0/8: %w", c, err)
			}
			cfg.TrustedProxies = append(cfg.TrustedProxies, p.Masked())
		}
	}
	if stream {
		if err := kafkaCfg.Validate(); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		if group == "" {
			h, _ := os.Hostname()
			group = "keelson-api-" + h
		}
		rc := kafkaCfg.ReaderConfig(group, bus.TopicEvents)
		rc.StartOffset = kafka.LastOffset
		cfg.Feed = api.KafkaFeed(rc)
	}
	db, err := storage.Open(ctx, chURL, storage.Options{ReadOnly: true, Logger: log})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer db.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Store, cfg.Keys, cfg.Logger, cfg.Registry = db.Reader(lim), db, log, reg
	bg := lim // background reads: the request caps, with a longer time
	bg.MaxExecutionTime = cfg.BackgroundTimeout
	if bg.MaxExecutionTime == 0 {
		bg.MaxExecutionTime = 5 * time.Minute // api.Config's default
	}
	cfg.Background = db.Reader(bg)
	if tracks.Days > 0 {
		tracks.DB, tracks.Logger, tracks.Registry = db, log, reg
		var stop func()
		if cfg.Store, stop, err = trackStore(ctx, db.Reader(lim), tracks); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		defer stop() // before db.Close
	}
	if tracks.Days < 0 {
		return fmt.Errorf("serve: -track-days %d is negative", tracks.Days)
	}
	if !noWeb {
		cfg.Web = web.Handler()
	}
	srv, err := api.New(cfg)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("serve: -listen: %w", err)
	}
	return serveHTTP(ctx, log, srv, ln, shutdown)
}

// trackStore is r with its tracks answered from memory (package hot),
// which follows the table until ctx ends or stop is called; stop returns
// once it no longer reads (call it before closing the database).
func trackStore(ctx context.Context, r *storage.Reader, cfg hot.Config) (_ api.Store, stop func(), _ error) {
	cfg.Fallback = r
	t, err := hot.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.Run(ctx) // it logs why it stops early; tracks then come from ClickHouse
	}()
	return hot.Store{Reader: r, Tracks: t}, func() { cancel(); <-done }, nil
}

// serveHTTP runs srv on ln until ctx ends, then drains for at most timeout.
func serveHTTP(ctx context.Context, log *slog.Logger, srv *api.Server, ln net.Listener, timeout time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- srv.Run(ctx) }()
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String())
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, scancel := context.WithTimeout(context.Background(), timeout)
	defer scancel()
	_ = hs.Shutdown(sctx)
	cancel()
	<-runDone
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// serveLogger makes the command's logger from -log-level and -log-format.
func serveLogger(io stdio, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(io.err, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(io.err, hopts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}
