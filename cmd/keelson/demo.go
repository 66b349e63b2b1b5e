//go:build !shipboard

package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/bus"
	"github.com/keelson/keelson/ingest"
	"github.com/keelson/keelson/sink"
	"github.com/keelson/keelson/storage"
	"github.com/keelson/keelson/storage/hot"
	"github.com/keelson/keelson/web"
	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"
)

// demoData holds copies of real AIS captures (see demodata/README.md).
//
//go:embed demodata/*.txt demodata/*.nmea
var demoData embed.FS

// demoInputs are the collector inputs of the demo: the Danish Maritime
// Authority stream looped at its own pace, the others once, all re-stamped
// to now so that they look live.
var demoInputs = []struct{ name, file, query string }{
	{"dma-stream", "dma_stream_example.txt", "speed=1&loop=true&shift=now"},
	{"goais", "goais_aistest.nmea", "speed=1&shift=now"},
	{"dma-ais250", "dma_ais250.txt", "speed=0&shift=now"},
	{"pyais", "pyais_nmea_data_sample.txt", "speed=0&shift=now"},
}

// demoKeyFile is the file in the data directory holding the demo API key.
const demoKeyFile = "demo-api-key"

// demoConfig configures runDemoWith.
type demoConfig struct {
	DataDir string // data directory; required
	Listen  string // HTTP host:port; required ("127.0.0.1:0" picks a port)
	Logger  *slog.Logger
	// Ready, when set, is called once the demo serves, with the page URL
	// (key fragment included) and the API key.
	Ready func(pageURL, key string)
}

// runDemo runs the whole pipeline in one process: an embedded Kafka-protocol
// broker, embedded ClickHouse, a collector replaying real captures, the sink
// and the API with the map page.
func runDemo(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("demo", "demo [-data DIR] [-listen host:port]", io.err)
	var cfg demoConfig
	fs.StringVar(&cfg.DataDir, "data", filepath.Join(".data", "demo"), "data directory (broker log, ClickHouse, spool, API key)")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "host:port of the API and the map page")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo: unexpected argument %q", fs.Arg(0))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("demo: -log-level: %w", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.err, &slog.HandlerOptions{Level: lvl}))
	cfg.Ready = func(pageURL, key string) {
		fmt.Fprintf(io.out, "\nKeelson demo: vessels from real AIS captures, replayed live.\n\n")
		fmt.Fprintf(io.out, "  Map:      %s\n", pageURL)
		fmt.Fprintf(io.out, "  API key:  %s\n", key)
		fmt.Fprintf(io.out, "            (also in %s)\n", filepath.Join(cfg.DataDir, demoKeyFile))
		fmt.Fprintf(io.out, "  Try:      curl -H 'Authorization: Bearer %s' '%s'\n\n", key, strings.Split(pageURL, "#")[0]+"v1/vessels?bbox=9,54,13,58&limit=3")
		fmt.Fprintf(io.out, "Press Ctrl-C to stop.\n")
	}
	return runDemoWith(ctx, cfg)
}

// runDemoWith runs the demo until ctx ends or a part fails.
func runDemoWith(ctx context.Context, cfg demoConfig) error {
	if cfg.DataDir == "" || cfg.Listen == "" {
		return errors.New("demo: data directory and listen address are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("demo: -data: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: -data: %w", err)
	}
	// Listen first: a busy port fails before anything else starts.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("demo: -listen: %w", err)
	}
	defer ln.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The broker outlives ctx: it closes (deferred) only after the collector
	// has flushed its spool into it and the consumers have stopped.
	broker, err := bus.StartBroker(context.WithoutCancel(ctx), bus.BrokerConfig{
		Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "kafka"), Partitions: 4,
		Logger: log.With("component", "broker"),
	})
	if err != nil {
		return fmt.Errorf("demo: broker: %w", err)
	}
	defer broker.Close()
	kafka := bus.Config{Brokers: []string{broker.Addr()}, ClientID: "keelson-demo"}
	// Topics exist before their consumers start, so that no consumer waits
	// for a partition refresh.
	if err := kafka.EnsureTopics(ctx, 4, bus.TopicEvents, bus.TopicDLQ); err != nil {
		return fmt.Errorf("demo: broker: %w", err)
	}

	db, err := storage.Open(ctx, "chdb://"+filepath.Join(dir, "clickhouse"), storage.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("demo: storage: %w", err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("demo: storage: %w", err)
	}

	samples, err := writeDemoData(filepath.Join(dir, "samples"))
	if err != nil {
		return err
	}
	ccfg := ingest.Config{
		Collector: "demo",
		Spool:     ingest.SpoolConfig{Dir: filepath.Join(dir, "spool"), MaxBytes: 256 << 20, Fsync: ingest.FsyncInterval},
		Kafka:     kafka,
		Logger:    log.With("component", "collect"),
		Registry:  prometheus.NewRegistry(),
	}
	for _, in := range demoInputs {
		spec, err := ingest.ParseInput(in.name + "=file://" + filepath.ToSlash(filepath.Join(samples, in.file)) + "?" + in.query)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		ccfg.Inputs = append(ccfg.Inputs, spec)
	}
	collector, err := ingest.New(ccfg)
	if err != nil {
		return fmt.Errorf("demo: collector: %w", err)
	}

	var wg sync.WaitGroup
	// However this returns, the parts stop before storage and the broker
	// close (deferred earlier, so run later).
	defer func() {
		cancel()
		wg.Wait()
	}()
	errc := make(chan error, 4)
	goRun := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("demo: %s: %w", name, err)
				cancel()
			}
		}()
	}
	goRun("collector", collector.Run)

	snk, err := sink.New(sink.Config{
		Bus: kafka, Group: "keelson-demo-sink", BatchTime: 500 * time.Millisecond,
		Logger: log.With("component", "sink"), Registry: prometheus.NewRegistry(),
	}, db)
	if err != nil {
		return fmt.Errorf("demo: sink: %w", err)
	}
	goRun("sink", snk.Run)

	// The API with the map page, its latest-position index kept current
	// from Kafka as `keelson serve -stream` does (and feeding /v1/stream).
	if err := db.EnsureAPIKeys(ctx); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	key, err := demoKey(ctx, db, filepath.Join(dir, demoKeyFile))
	if err != nil {
		return err
	}
	feed := kafka.ReaderConfig("keelson-demo-api", bus.TopicEvents)
	feed.StartOffset = kafkago.LastOffset
	reg := prometheus.NewRegistry()
	store, stopTracks, err := trackStore(ctx, db.Reader(storage.QueryLimits{}), hot.Config{DB: db, Logger: log, Registry: reg})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer stopTracks() // before storage closes
	srv, err := api.New(api.Config{
		Store: store, Keys: db, Feed: api.KafkaFeed(feed),
		Logger: log.With("component", "api"), Registry: reg, Web: web.Handler(),
	})
	if err != nil {
		return fmt.Errorf("demo: api: %w", err)
	}
	goRun("api", srv.Run)
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()

	base := "http://" + ln.Addr().String() + "/"
	if cfg.Ready != nil {
		cfg.Ready(base+"#key="+key, key)
	}
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		errc <- fmt.Errorf("demo: http: %w", err)
		cancel()
	}
	// Shut down: the HTTP server drains, the collector flushes its spool,
	// the sink commits what ClickHouse acknowledged; then storage and the
	// broker close (deferred).
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = hs.Shutdown(sctx)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	return nil
}

// demoKey returns the demo's API key: the one stored in file when it is
// still valid in db, or a new one (all vessels, exports allowed), stored in
// db and written to file (mode 0600).
func demoKey(ctx context.Context, db *storage.DB, file string) (string, error) {
	if b, err := os.ReadFile(file); err == nil {
		secret := strings.TrimSpace(string(b))
		if id, err := api.ParseKeyID(secret); err == nil {
			sk, err := db.APIKeyByID(ctx, id)
			if err == nil && !sk.Revoked && sk.Hash == api.HashKey(secret) {
				return secret, nil
			}
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return "", fmt.Errorf("demo: API key: %w", err)
			}
		}
	}
	secret, k, err := api.NewKey("demo", api.Scope{Export: true}, time.Now())
	if err != nil {
		return "", fmt.Errorf("demo: API key: %w", err)
	}
	sk, err := k.Storage()
	if err != nil {
		return "", fmt.Errorf("demo: API key: %w", err)
	}
	if err := db.PutAPIKey(ctx, sk); err != nil {
		return "", fmt.Errorf("demo: API key: %w", err)
	}
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("demo: API key: %w", err)
	}
	return secret, nil
}

// writeDemoData writes the embedded captures into dir (once; unchanged files
// are left alone so that the collector's replay positions stay valid) and
// returns dir.
func writeDemoData(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	ents, err := demoData.ReadDir("demodata")
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	for _, e := range ents {
		b, err := demoData.ReadFile(path.Join("demodata", e.Name()))
		if err != nil {
			return "", fmt.Errorf("demo: %w", err)
		}
		p := filepath.Join(dir, e.Name())
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, b) {
			continue
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return "", fmt.Errorf("demo: %w", err)
		}
	}
	return dir, nil
}
