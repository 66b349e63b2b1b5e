package ingest_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/bus"
	"github.com/keelson/keelson/decode"
	"github.com/keelson/keelson/ingest"
)

// benchCorpus writes a replay file of about n lines built from the real AIS
// captures (derived at test time, never committed): with positions only,
// the single-sentence lines that decode to exactly one position event;
// otherwise every line of the captures. It returns the path and the number
// of events the file makes.
func benchCorpus(b *testing.B, n int, positionsOnly bool) (string, int) {
	b.Helper()
	var lines [][]byte
	perLine := 0
	d := decode.NewDecoder(decode.Config{})
	var evs []keelson.Event
	for _, f := range []string{ais250, dmaPGHP, goais, "../testdata/ais/pyais_nmea_data_sample.txt", "../testdata/ais/dma_decode_encode_messages.txt"} {
		for _, l := range sentenceLines(b, f) {
			var err error
			evs, err = d.Decode(evs[:0], l, time.Now())
			if positionsOnly && (err != nil || len(evs) != 1 || evs[0].Kind != keelson.KindPosition) {
				continue
			}
			lines = append(lines, l)
		}
	}
	path := filepath.Join(b.TempDir(), "corpus.nmea")
	var buf bytes.Buffer
	for i := 0; i < n; i++ {
		buf.Write(lines[i%len(lines)])
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	// count what the file really makes
	d = decode.NewDecoder(decode.Config{})
	for _, l := range bytes.Split(buf.Bytes(), []byte("\n")) {
		if len(l) > 0 {
			evs, _ = d.Decode(evs[:0], l, time.Now())
			perLine += len(evs)
		}
	}
	return path, perLine
}

// countingProxy forwards TCP connections to target and counts the bytes the
// clients send: the collector's wire bytes.
type countingProxy struct {
	ln   net.Listener
	sent atomic.Int64
	wg   sync.WaitGroup
}

func newCountingProxy(b testing.TB, addr, target string) *countingProxy {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	p := &countingProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.wg.Add(2)
			go func() { defer p.wg.Done(); io.Copy(countWriter{u, &p.sent}, c); u.(*net.TCPConn).CloseWrite() }()
			go func() { defer p.wg.Done(); io.Copy(c, u); c.Close() }()
		}
	}()
	b.Cleanup(func() { ln.Close() })
	return p
}

type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// BenchmarkCollectorReplay replays a file of real AIS lines as fast as
// possible through decode, the spool (fsync per batch) and the Kafka writer
// into the embedded broker, and reports events/s and the bytes sent to the
// broker per event (zstd, protocol included). Run with -cpu 1 for one core.
func BenchmarkCollectorReplay(b *testing.B) {
	for _, tc := range []struct {
		name      string
		positions bool
		omitAIS   bool
	}{{"positions", true, false}, {"positions-omit-ais", true, true}, {"all", false, false}, {"all-omit-ais", false, true}} {
		b.Run(tc.name, func(b *testing.B) {
			const lines = 200_000
			path, events := benchCorpus(b, lines, tc.positions)
			brokerAddr := freePort(b, "tcp")
			proxyAddr := freePort(b, "tcp")
			startBroker(b, bus.BrokerConfig{Listen: brokerAddr, Advertise: proxyAddr, Partitions: 4})
			proxy := newCountingProxy(b, proxyAddr, brokerAddr)
			b.ReportAllocs()
			var total int
			var elapsed, cpu time.Duration
			for b.Loop() {
				cfg := collectorConfig(b, proxyAddr, "bench=file://"+path+"?speed=0")
				cfg.Registry = nil
				cfg.OmitAIS = tc.omitAIS
				c, err := ingest.New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				start, cpu0 := time.Now(), cpuTime()
				if err := c.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				cpu += cpuTime() - cpu0
				total += events
			}
			b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(proxy.sent.Load())/float64(total), "wire-B/event")
			b.ReportMetric(float64(total)/cpu.Seconds(), "events/cpu-s")
		})
	}
}

// cpuTime is the process's user+system CPU time (the collector and the
// in-process broker together).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
