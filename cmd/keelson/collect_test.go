package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/keelson/keelson/bus"
)

// collectCount reads keelson.events until n messages came.
func collectCount(t *testing.T, broker string, n int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := bus.Config{Brokers: []string{broker}}
	r := kafka.NewReader(cfg.ReaderConfig(fmt.Sprintf("cmdtest-%d", time.Now().UnixNano()), bus.TopicEvents))
	defer r.Close()
	got := 0
	for got < n {
		if _, err := r.ReadMessage(ctx); err != nil {
			t.Fatalf("read after %d of %d: %v", got, n, err)
		}
		got++
	}
	return got
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCollectCommandUDP is the README's `keelson collect -input udp://:10110
// -brokers host:9092`: lines sent over UDP arrive in Kafka, and a cancel (what
// SIGTERM does) flushes and returns within the shutdown bound.
func TestCollectCommandUDP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := bus.StartBroker(ctx, bus.BrokerConfig{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	addr := pc.LocalAddr().String()
	pc.Close()
	var errw syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"collect", "-input", "udp://" + addr, "-brokers", b.Addr(),
			"-spool", t.TempDir(), "-collector", "cmdtest", "-metrics-addr", "127.0.0.1:0"}, nil, &bytes.Buffer{}, &errw)
	}()
	lines := []string{
		"$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A",
		"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47",
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errw.String(), "listening") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		conn.Write([]byte(l + "\r\n"))
	}
	conn.Close()
	collectCount(t, b.Addr(), len(lines))
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("collect: %v\n%s", err, errw.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("collect did not stop within 10s of the signal")
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("shutdown took %v", d)
	}
}

// TestCollectCommandFile replays a capture with flags from the environment
// and a config file, and ends by itself (exit 0) once everything is acked.
func TestCollectCommandFile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := bus.StartBroker(ctx, bus.BrokerConfig{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	abs, _ := filepath.Abs("../../testdata/gnss/hemi.log")
	dir := t.TempDir()
	conf := filepath.Join(dir, "collect.yaml")
	os.WriteFile(conf, []byte("input:\n  - hemi=file://"+abs+"?speed=0\ncollector: ship-1\nvessel: hemi\n"), 0o644)
	t.Setenv("KEELSON_BROKERS", b.Addr())
	t.Setenv("KEELSON_SPOOL", filepath.Join(dir, "spool"))
	var errw syncBuffer
	if err := run(ctx, []string{"collect", "-config", conf}, nil, &bytes.Buffer{}, &errw); err != nil {
		t.Fatalf("collect: %v\n%s", err, errw.String())
	}
	if !strings.Contains(errw.String(), "every event acknowledged") {
		t.Errorf("no completion log:\n%s", errw.String())
	}
	collectCount(t, b.Addr(), 700) // hemi.log makes several hundred events
}

func TestCollectCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"collect"}, "-input"},
		{[]string{"collect", "-input", "ftp://x:1"}, "unknown scheme"},
		{[]string{"collect", "-input", "udp://:0", "-kafka-sasl", "gssapi", "-kafka-user", "u"}, "-kafka-sasl"},
		{[]string{"collect", "-input", "udp://:0", "-spool-fsync", "maybe", "-spool", "x"}, "-spool-fsync"},
	} {
		err := run(context.Background(), tc.args, nil, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want it to name %s", tc.args, err, tc.want)
		}
	}
}

func TestBrokerCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"broker", "-listen", "127.0.0.1:0", "-data", t.TempDir(), "-partitions", "2"}, nil, &out, &bytes.Buffer{})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "listening on") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	f := strings.Fields(out.String())
	if len(f) < 5 {
		t.Fatalf("no address printed: %q", out.String())
	}
	cfg := bus.Config{Brokers: []string{f[4]}}
	if err := cfg.Ping(ctx); err != nil {
		t.Fatalf("ping %s: %v", f[4], err)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
