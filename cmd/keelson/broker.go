package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/keelson/keelson/bus"
)

// runBroker runs the embedded Kafka-protocol broker until ctx is done.
func runBroker(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("broker", "broker [-listen host:port] [-data DIR] [-partitions N]", io.err)
	var cfg bus.BrokerConfig
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:9092", "host:port to listen on")
	fs.StringVar(&cfg.Advertise, "advertise", "", "host:port announced to clients (default: the listening address)")
	fs.StringVar(&cfg.DataDir, "data", "", "directory persisting the log (default: memory only)")
	fs.IntVar(&cfg.Partitions, "partitions", 10, "partitions of topics created on demand")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("broker: unexpected argument %q", fs.Arg(0))
	}
	log := slog.New(slog.NewTextHandler(io.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.Logger = log
	b, err := bus.StartBroker(ctx, cfg)
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(io.out, "keelson broker listening on %s (topics created on demand, %d partitions)\n", b.Addr(), cfg.Partitions)
	<-ctx.Done()
	return nil
}
