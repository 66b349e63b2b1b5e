//go:build !shipboard

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/keelson/keelson/bus"
	"github.com/keelson/keelson/sink"
	"github.com/keelson/keelson/storage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// defaultClickHouse is the embedded database of the storage commands.
const defaultClickHouse = "chdb:///var/lib/keelson"

// storageFlags are the ClickHouse flags shared by sink, migrate, sql and import.
type storageFlags struct {
	url       string
	cluster   string
	retention int
}

func (s *storageFlags) register(fs *flagSet) {
	fs.StringVar(&s.url, "clickhouse", defaultClickHouse, "ClickHouse URL: chdb:///dir (embedded; one process per directory) or clickhouse://user:password@host:9000/db?secure=true")
	fs.StringVar(&s.cluster, "cluster", "", "ClickHouse cluster name: Replicated tables and Distributed tables ON CLUSTER (server only)")
	fs.IntVar(&s.retention, "retention-days", 0, "keep time-series rows this many days (TTL); 0 keeps everything")
}

func (s *storageFlags) options(log *slog.Logger) storage.Options {
	return storage.Options{Cluster: s.cluster, Retention: time.Duration(s.retention) * 24 * time.Hour, Logger: log}
}

func newLogger(w interface{ Write([]byte) (int, error) }, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func runSink(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("sink", "sink [-brokers host:9092] [-clickhouse URL] [-drain]", io.err)
	var (
		cfg         sink.Config
		st          storageFlags
		topics      string
		metricsAddr string
		logLevel    string
	)
	cfg.Bus.RegisterFlags(fs.FlagSet)
	st.register(fs)
	fs.StringVar(&topics, "topics", bus.TopicEvents, "Kafka topics to consume, comma-separated")
	fs.StringVar(&cfg.Group, "group", "keelson-sink", "Kafka consumer group")
	fs.IntVar(&cfg.BatchSize, "batch-size", 200000, "most events per ClickHouse insert")
	fs.DurationVar(&cfg.BatchTime, "batch-time", time.Second, "longest a batch waits for more events")
	fs.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (empty: off)")
	fs.BoolVar(&cfg.Drain, "drain", false, "consume up to the high-water marks seen at start, commit and exit 0")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sink: unexpected arguments %q", fs.Args())
	}
	log, err := newLogger(io.err, logLevel)
	if err != nil {
		return err
	}
	for _, t := range strings.Split(topics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			cfg.Topics = append(cfg.Topics, t)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Registry = reg
	cfg.Logger = log
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	db, err := storage.Open(ctx, st.url, st.options(log))
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	s, err := sink.New(cfg, db)
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	if metricsAddr != "" {
		stop, err := serveMetrics(metricsAddr, reg, log)
		if err != nil {
			return fmt.Errorf("sink: %w", err)
		}
		defer stop()
	}
	log.Info("sink starting", "topics", cfg.Topics, "group", cfg.Group, "clickhouse", st.url, "drain", cfg.Drain)
	err = s.Run(ctx)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		log.Info("sink stopped")
		return nil
	}
	return err
}

// serveMetrics serves /metrics on addr until stop is called.
func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("metrics", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
