package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/bus"
	"github.com/keelson/keelson/ingest"
)

// runCollect runs the onboard collector: inputs -> decode -> spool -> Kafka.
func runCollect(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("collect", "collect -input URL [-input URL...] [-brokers host:9092] [-spool DIR]", io.err)
	var (
		cfg       ingest.Config
		inputs    listFlag
		ownMMSI   string
		fsync     string
		maxMB     int64
		metrics   string
		logLevel  string
		logFormat string
		memLimit  int
	)
	cfg.Kafka.RegisterFlags(fs.FlagSet)
	fs.Var(&inputs, "input", "input URL, optionally NAME=URL (repeatable): udp://:10110, tcp://host:port, tcp-listen://:port, serial:///dev/ttyUSB0?baud=38400, file://path?speed=1&loop=false&shift=now, stdin")
	fs.StringVar(&cfg.Collector, "collector", "", "collector identity, part of every event id (default: host name)")
	fs.StringVar(&cfg.Vessel, "vessel", "", "own ship's name or id, the key of own-ship events")
	fs.StringVar(&ownMMSI, "mmsi", "", "own ship's MMSI")
	fs.StringVar(&cfg.Spool.Dir, "spool", defaultSpoolDir(), "spool directory (store and forward)")
	fs.Int64Var(&maxMB, "spool-max-mb", 1024, "spool size cap in MiB; when full the oldest events are dropped (counted)")
	fs.StringVar(&fsync, "spool-fsync", "batch", "spool fsync policy: batch, interval or never")
	fs.DurationVar(&cfg.Spool.FsyncInterval, "spool-fsync-interval", time.Second, "fsync interval of -spool-fsync interval")
	fs.BoolVar(&cfg.Raw, "raw", false, "also send the raw sentences to "+bus.TopicRaw)
	fullAIS := fs.Bool("full-ais", false, "also send the full AIS message (ais) with position events; by default it is left out, as position already carries it (about 40% fewer bytes on the link)")
	fs.BoolVar(&cfg.Lenient, "lenient", false, "accept sentences with a bad checksum (flagged)")
	fs.IntVar(&cfg.BatchEvents, "batch-events", 2000, "most events per spool record (one fsync)")
	fs.DurationVar(&cfg.BatchDelay, "batch-delay", 50*time.Millisecond, "longest an event waits before it is spooled")
	fs.IntVar(&cfg.SendEvents, "send-events", 10000, "most events per Kafka write")
	fs.DurationVar(&cfg.SendLinger, "send-linger", 200*time.Millisecond, "wait this long for more spooled events to fill a Kafka write (negative: no wait)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 5*time.Second, "bound on the flush at SIGTERM")
	fs.IntVar(&memLimit, "memory-limit", 28, "soft memory limit in MiB for the Go runtime (0: none; GOMEMLIMIT wins)")
	fs.StringVar(&metrics, "metrics-addr", "", "serve Prometheus metrics on this host:port (/metrics)")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("collect: unexpected argument %q", fs.Arg(0))
	}
	cfg.OmitAIS = !*fullAIS
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("collect: -log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewTextHandler(io.err, hopts)
	if logFormat == "json" {
		h = slog.NewJSONHandler(io.err, hopts)
	}
	log := slog.New(h).With("component", "collect")

	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && memLimit > 0 {
		// a small onboard computer: keep the heap tight (GC works harder)
		debug.SetMemoryLimit(int64(memLimit) << 20)
	}
	for _, s := range inputs {
		spec, err := ingest.ParseInput(s)
		if err != nil {
			return fmt.Errorf("collect: -input: %w", err)
		}
		cfg.Inputs = append(cfg.Inputs, spec)
	}
	if ownMMSI != "" {
		m, err := keelson.ParseMMSI(ownMMSI)
		if err != nil {
			return fmt.Errorf("collect: -mmsi: %w", err)
		}
		cfg.OwnMMSI = m
	}
	cfg.Spool.Fsync = ingest.FsyncPolicy(fsync)
	cfg.Spool.MaxBytes = maxMB << 20
	cfg.Stdin = io.in
	cfg.Logger = log
	reg := prometheus.NewRegistry()
	cfg.Registry = reg
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	c, err := ingest.New(cfg)
	if err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	if metrics != "" {
		ln, err := net.Listen("tcp", metrics)
		if err != nil {
			c.Spool().Close()
			return fmt.Errorf("collect: -metrics-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		}()
		log.Info("metrics", "addr", ln.Addr().String())
	}
	log.Info("collector starting", "collector", cfg.Collector, "inputs", len(cfg.Inputs), "kafka", cfg.Kafka.String(), "spool", cfg.Spool.Dir)
	if err := c.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("collect: %w", err)
	}
	return nil
}

// defaultSpoolDir is $XDG_STATE_HOME/keelson/spool, else ~/.local/state/...
func defaultSpoolDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "keelson", "spool")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "keelson", "spool")
	}
	return "keelson-spool"
}
