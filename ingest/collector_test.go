package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"gopkg.in/yaml.v3"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/bus"
	"github.com/keelson/keelson/bus/bustest"
	"github.com/keelson/keelson/decode"
	"github.com/keelson/keelson/ingest"
)

// The real captures the tests replay (see testdata/README.md).
var (
	zeus    = "../testdata/gnss/bundg_zeus_9.log"      // own-ship instruments, 5,000 lines
	hemi    = "../testdata/gnss/hemi.log"              // own-ship GNSS compass
	goais   = "../testdata/ais/goais_aistest.nmea"     // AIS with ns receive-time prefixes
	tagged  = "../testdata/ais/libais_tagblock.nmea"   // AIS with tag blocks
	dmaPGHP = "../testdata/ais/dma_stream_example.txt" // AIS with $PGHP headers
	ais250  = "../testdata/ais/dma_ais250.txt"         // AIS, 250 messages
	_       = []string{zeus, hemi, goais, tagged, dmaPGHP, ais250}
)

func TestMain(m *testing.M) {
	if os.Getenv("KEELSON_INGEST_HELPER") != "" {
		os.Exit(helperMain())
	}
	os.Exit(m.Run())
}

// helperMain runs a collector configured by environment variables; the
// outage test re-executes the test binary this way to SIGKILL it.
func helperMain() int {
	var cfg ingest.Config
	if err := json.Unmarshal([]byte(os.Getenv("KEELSON_INGEST_HELPER")), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c, err := ingest.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := c.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// expected counts the events a fresh decoder makes from a capture, which
// is what the collector must deliver, each exactly once.
func expected(t testing.TB, path string) (events, lines int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := decode.NewDecoder(decode.Config{})
	var evs []keelson.Event
	for _, l := range bytes.Split(b, []byte("\n")) {
		l = bytes.TrimRight(l, "\r")
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		lines++
		evs, _ = d.Decode(evs[:0], l, time.Now())
		events += len(evs)
	}
	return events, lines
}

func startBroker(t testing.TB, cfg bus.BrokerConfig) *bus.Broker {
	t.Helper()
	b, err := bus.StartBroker(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

type record struct {
	Partition int
	Offset    int64
	Key       string
	Event     keelson.Event
}

// readAll reads a topic with a fresh consumer group until n records came
// and then 1s more passed without another (to catch duplicates).
func readAll(t testing.TB, cfg bus.Config, topic string, n int, timeout time.Duration) []record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rc := cfg.ReaderConfig(fmt.Sprintf("test-%d", time.Now().UnixNano()), topic)
	rc.MaxWait = 200 * time.Millisecond
	r := kafka.NewReader(rc)
	defer r.Close()
	var out []record
	for {
		rctx := ctx
		var rcancel context.CancelFunc = func() {}
		if len(out) >= n {
			rctx, rcancel = context.WithTimeout(ctx, time.Second)
		}
		m, err := r.ReadMessage(rctx)
		rcancel()
		if err != nil {
			if len(out) >= n && errors.Is(err, context.DeadlineExceeded) {
				return out
			}
			t.Fatalf("read %s after %d of %d: %v", topic, len(out), n, err)
		}
		rec := record{Partition: m.Partition, Offset: m.Offset, Key: string(m.Key)}
		if topic == bus.TopicEvents {
			if err := json.Unmarshal(m.Value, &rec.Event); err != nil {
				t.Fatalf("event JSON: %v: %s", err, m.Value)
			}
		}
		out = append(out, rec)
	}
}

// checkDelivery checks that each event id arrives once, with the key its
// event gives, and that within each partition a key's events keep their
// order (increasing sequence).
func checkDelivery(t testing.TB, recs []record) {
	t.Helper()
	seen := map[keelson.EventID]bool{}
	last := map[string]uint64{} // partition/key -> seq
	for _, r := range recs {
		id := r.Event.ID
		if id.IsZero() {
			t.Fatalf("event without id at %d/%d", r.Partition, r.Offset)
		}
		if seen[id] {
			t.Errorf("event %s delivered twice", id)
		}
		seen[id] = true
		if k := string(r.Event.Key()); k != r.Key {
			t.Errorf("event %s key %q, want %q", id, r.Key, k)
		}
		pk := fmt.Sprintf("%d/%s/%d", r.Partition, r.Key, id.Boot)
		if id.Seq <= last[pk] {
			t.Errorf("partition %d key %s: seq %d after %d (out of order)", r.Partition, r.Key, id.Seq, last[pk])
		}
		last[pk] = id.Seq
	}
}

func collectorConfig(t testing.TB, broker string, inputs ...string) ingest.Config {
	t.Helper()
	cfg := ingest.Config{
		Collector: "test",
		Vessel:    "ijssel",
		Spool:     ingest.SpoolConfig{Dir: t.TempDir()},
		Kafka:     bus.Config{Brokers: []string{broker}},
		Registry:  prometheus.NewRegistry(),
	}
	for _, s := range inputs {
		spec, err := ingest.ParseInput(s)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Inputs = append(cfg.Inputs, spec)
	}
	return cfg
}

func TestCollectFileReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	b := startBroker(t, bus.BrokerConfig{Partitions: 4})
	files := []string{zeus, goais, tagged, dmaPGHP}
	var inputs []string
	want, wantLines := 0, 0
	for i, f := range files {
		abs, _ := filepath.Abs(f)
		inputs = append(inputs, fmt.Sprintf("in%d=file://%s?speed=0", i, abs))
		e, l := expected(t, f)
		want += e
		wantLines += l
	}
	cfg := collectorConfig(t, b.Addr(), inputs...)
	cfg.Raw = true
	reg := prometheus.NewRegistry()
	cfg.Registry = reg
	c, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	if err := c.Run(ctx); err != nil { // ends by itself: every input is a file without loop
		t.Fatal(err)
	}
	t.Logf("%d events from %d lines in %v", want, wantLines, time.Since(start))
	if want == 0 {
		t.Fatal("the reference decoder found no events")
	}
	recs := readAll(t, cfg.Kafka, bus.TopicEvents, want, 30*time.Second)
	if len(recs) != want {
		t.Fatalf("got %d events, want %d", len(recs), want)
	}
	checkDelivery(t, recs)
	byInput := map[string]int{}
	for _, r := range recs {
		byInput[r.Event.Source.Input]++
		if r.Event.Source.Collector != "test" {
			t.Fatalf("collector %q", r.Event.Source.Collector)
		}
	}
	for i, f := range files {
		if e, _ := expected(t, f); byInput[fmt.Sprintf("in%d", i)] != e {
			t.Errorf("%s: %d events, want %d", f, byInput[fmt.Sprintf("in%d", i)], e)
		}
	}
	raws := readAll(t, cfg.Kafka, bus.TopicRaw, wantLines, 30*time.Second)
	if len(raws) != wantLines {
		t.Errorf("raw topic: %d lines, want %d", len(raws), wantLines)
	}
	if got := metricValue(t, reg, "keelson_collector_events_sent_total"); int(got) != want {
		t.Errorf("events_sent_total = %v, want %d", got, want)
	}

	// A second run with the same spool resumes after the end: nothing new.
	cfg.Registry = prometheus.NewRegistry()
	c2, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if recs := readAll(t, cfg.Kafka, bus.TopicEvents, want, 30*time.Second); len(recs) != want {
		t.Errorf("after a rerun: %d events, want still %d", len(recs), want)
	}
}

func metricValue(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var v float64
			for _, m := range mf.GetMetric() {
				if m.Counter != nil {
					v += m.Counter.GetValue()
				}
				if m.Gauge != nil {
					v += m.Gauge.GetValue()
				}
			}
			return v
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func sentenceLines(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		l = bytes.TrimRight(l, "\r")
		if len(l) > 0 && l[0] != '#' {
			out = append(out, l)
		}
	}
	return out
}

func freePort(t testing.TB, network string) string {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().String()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestCollectLiveInputs drives every live input for real at once: a UDP
// sender, an instrument connecting to the TCP server, a multiplexer the TCP
// client connects to (dropping the connection halfway to force a
// reconnect), a serial port on a pseudo-terminal, and stdin.
func TestCollectLiveInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	b := startBroker(t, bus.BrokerConfig{Partitions: 3})
	lines := sentenceLines(t, hemi)[:200]
	d := decode.NewDecoder(decode.Config{})
	per := 0
	var evs []keelson.Event
	for _, l := range lines {
		evs, _ = d.Decode(evs[:0], l, time.Now())
		per += len(evs)
	}

	udpAddr := freePort(t, "udp")
	srvAddr := freePort(t, "tcp")
	mux, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mux.Close()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	stdinR, stdinW := io.Pipe()

	cfg := collectorConfig(t, b.Addr(),
		"udp=udp://"+udpAddr,
		"tcpsrv=tcp-listen://"+srvAddr,
		"tcpcli=tcp://"+mux.Addr().String(),
		"serial=serial://"+tty.Name()+"?baud=4800",
		"stdin=stdin:",
	)
	cfg.Stdin = stdinR
	cfg.BatchDelay = 10 * time.Millisecond
	c, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()

	// multiplexer: serve half, hang up, serve the rest on the reconnect
	var muxConns atomic.Int32
	go func() {
		half := len(lines) / 2
		for i, part := range [][][]byte{lines[:half], lines[half:]} {
			conn, err := mux.Accept()
			if err != nil {
				return
			}
			muxConns.Add(1)
			for _, l := range part {
				conn.Write(append(bytes.Clone(l), '\r', '\n'))
			}
			if i == 0 {
				time.Sleep(100 * time.Millisecond)
			}
			conn.Close()
		}
	}()
	// UDP: a datagram may hold several lines
	go func() {
		time.Sleep(300 * time.Millisecond)
		conn, err := net.Dial("udp", udpAddr)
		if err != nil {
			return
		}
		defer conn.Close()
		for i := 0; i < len(lines); i += 2 {
			msg := append(bytes.Clone(lines[i]), "\r\n"...)
			if i+1 < len(lines) {
				msg = append(append(msg, lines[i+1]...), "\r\n"...)
			}
			conn.Write(msg)
			time.Sleep(200 * time.Microsecond)
		}
	}()
	// TCP server: two instruments connect (after the listener is up) and
	// send half the lines each, at the same time
	for _, part := range [][][]byte{lines[:len(lines)/2], lines[len(lines)/2:]} {
		go func() {
			var conn net.Conn
			var err error
			for range 50 {
				if conn, err = net.Dial("tcp", srvAddr); err == nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if conn == nil {
				return
			}
			defer conn.Close()
			for _, l := range part {
				conn.Write(append(bytes.Clone(l), '\n'))
			}
			time.Sleep(time.Second)
		}()
	}
	// serial: the instrument writes to the pty master
	go func() {
		time.Sleep(300 * time.Millisecond)
		w := bufio.NewWriter(ptmx)
		for _, l := range lines {
			w.Write(l)
			w.WriteString("\r\n")
		}
		w.Flush()
	}()
	go func() {
		for _, l := range lines {
			stdinW.Write(append(bytes.Clone(l), '\n'))
		}
		// stdin stays open: the collector must keep running for the others
	}()

	recs := readAll(t, cfg.Kafka, bus.TopicEvents, 5*per, 60*time.Second)
	cancel()
	if err := <-runErr; err != nil {
		t.Fatalf("run: %v", err)
	}
	stdinW.Close()
	checkDelivery(t, recs)
	byInput := map[string]int{}
	for _, r := range recs {
		byInput[r.Event.Source.Input]++
	}
	for _, in := range []string{"udp", "tcpsrv", "tcpcli", "serial", "stdin"} {
		if byInput[in] != per {
			t.Errorf("input %s: %d events, want %d", in, byInput[in], per)
		}
	}
	if muxConns.Load() != 2 {
		t.Errorf("TCP client connected %d times, want 2 (reconnect)", muxConns.Load())
	}
}

// TestCollectSerialReconnect unplugs the serial device (closes the pty) and
// plugs a new one under the same name (a symlink, like udev's by-id).
func TestCollectSerialReconnect(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	b := startBroker(t, bus.BrokerConfig{Partitions: 1})
	lines := sentenceLines(t, hemi)[:50]
	d := decode.NewDecoder(decode.Config{})
	per := 0
	var evs []keelson.Event
	for _, l := range lines {
		evs, _ = d.Decode(evs[:0], l, time.Now())
		per += len(evs)
	}
	link := filepath.Join(t.TempDir(), "ttyAIS")
	plug := func() (*os.File, *os.File) {
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(link)
		if err := os.Symlink(tty.Name(), link); err != nil {
			t.Fatal(err)
		}
		return ptmx, tty
	}
	ptmx, tty := plug()
	cfg := collectorConfig(t, b.Addr(), "gps=serial://"+link+"?baud=115200")
	cfg.BatchDelay = 10 * time.Millisecond
	c, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()
	write := func(f *os.File) {
		for _, l := range lines {
			f.Write(append(bytes.Clone(l), '\r', '\n'))
		}
	}
	time.Sleep(500 * time.Millisecond)
	write(ptmx)
	readAll(t, cfg.Kafka, bus.TopicEvents, per, 20*time.Second)
	ptmx.Close() // unplug
	tty.Close()
	time.Sleep(300 * time.Millisecond)
	ptmx2, tty2 := plug()
	defer ptmx2.Close()
	defer tty2.Close()
	time.Sleep(6 * time.Second) // the reopen backoff is at most 5s
	write(ptmx2)
	recs := readAll(t, cfg.Kafka, bus.TopicEvents, 2*per, 20*time.Second)
	cancel()
	<-runErr
	if len(recs) != 2*per {
		t.Errorf("%d events, want %d (before and after the unplug)", len(recs), 2*per)
	}
	checkDelivery(t, recs)
}

// TestCollectOutage replays a capture with the broker down, SIGKILLs the
// collector twice during the outage, then brings the broker up: every
// event arrives, in order per vessel, none twice.
func TestCollectOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs collector processes and a broker")
	}
	addr := freePort(t, "tcp")
	abs, _ := filepath.Abs(zeus)
	want, _ := expected(t, zeus)
	cfg := collectorConfig(t, addr, "zeus=file://"+abs+"?rate=2500")
	cfg.Registry = nil
	cfg.BatchDelay = 20 * time.Millisecond
	js, _ := json.Marshal(cfg)
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "KEELSON_INGEST_HELPER="+string(js))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	for i := range 2 {
		cmd := start()
		time.Sleep(700 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		t.Logf("killed collector %d during the outage", i+1)
	}
	cmd := start()
	time.Sleep(500 * time.Millisecond)
	b := startBroker(t, bus.BrokerConfig{Listen: addr, Partitions: 4})
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("collector: %v", err)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("collector did not end after the broker came up")
	}
	recs := readAll(t, bus.Config{Brokers: []string{b.Addr()}}, bus.TopicEvents, want, 30*time.Second)
	if len(recs) != want {
		t.Errorf("got %d events, want %d", len(recs), want)
	}
	checkDelivery(t, recs)
}

// TestCollectKillWithBrokerUp kills a replay repeatedly while it sends: a
// restarted collector resumes the file where it left off, so every message
// arrives with one id (a duplicate from the window between the broker's ack
// and the spool's cursor write keeps its id, for the sink to drop).
func TestCollectKillWithBrokerUp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs collector processes and a broker")
	}
	b := startBroker(t, bus.BrokerConfig{Partitions: 4})
	abs, _ := filepath.Abs(zeus)
	want, _ := expected(t, zeus)
	cfg := collectorConfig(t, b.Addr(), "zeus=file://"+abs+"?rate=5000")
	cfg.Registry = nil
	js, _ := json.Marshal(cfg)
	var cmd *exec.Cmd
	for i := 0; ; i++ {
		cmd = exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "KEELSON_INGEST_HELPER="+string(js))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			break
		}
		time.Sleep(time.Duration(300+100*i) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, cfg.Kafka, bus.TopicEvents, want, 30*time.Second)
	ids := map[keelson.EventID]int{}
	for _, r := range recs {
		ids[r.Event.ID]++
	}
	if len(ids) != want {
		t.Errorf("%d distinct events, want %d", len(ids), want)
	}
	if dup := len(recs) - len(ids); dup > 0 {
		t.Logf("%d redelivered copies (same ids)", dup)
	}
}

// TestCollectAuth runs the collector against a TLS + SASL broker: with a
// wrong password (PLAIN) or no credentials (SCRAM) it is refused with
// bus.ErrAuth and keeps everything in the spool; with the right ones
// everything arrives.
func TestCollectAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	files, srvTLS, err := bustest.WriteTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, mech := range []string{bus.SASLPlain, bus.SASLScramSHA256} {
		t.Run(mech, func(t *testing.T) {
			b := startBroker(t, bus.BrokerConfig{Partitions: 2, TLS: srvTLS,
				Users: []bus.BrokerUser{{Mechanism: mech, User: "ship", Password: "right"}}})
			abs, _ := filepath.Abs(hemi)
			want, _ := expected(t, hemi)
			cfg := collectorConfig(t, b.Addr(), "hemi=file://"+abs+"?speed=0")
			cfg.Kafka = bus.Config{Brokers: []string{b.Addr()}, TLSCAFile: files.CA, SASL: mech, User: "ship", Password: "wrong"}
			if mech == bus.SASLScramSHA256 {
				// missing credentials altogether
				cfg.Kafka.SASL, cfg.Kafka.User, cfg.Kafka.Password = "", "", ""
			}
			cfg.ShutdownTimeout = 500 * time.Millisecond
			reg := prometheus.NewRegistry()
			cfg.Registry = reg
			c, err := ingest.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if err := c.Run(ctx); err != nil {
				t.Fatal(err)
			}
			mfs, _ := reg.Gather()
			var authErrs float64
			for _, mf := range mfs {
				if mf.GetName() == "keelson_collector_send_errors_total" {
					for _, m := range mf.GetMetric() {
						for _, lp := range m.GetLabel() {
							if lp.GetValue() == "auth" {
								authErrs += m.GetCounter().GetValue()
							}
						}
					}
				}
			}
			if authErrs == 0 {
				t.Error("no send error counted with reason auth")
			}
			sp, err := ingest.OpenSpool(ingest.SpoolConfig{Dir: cfg.Spool.Dir})
			if err != nil {
				t.Fatal(err)
			}
			if got := sp.Pending(); got != int64(want) {
				t.Errorf("spool holds %d events after refusal, want %d", got, want)
			}
			sp.Close()

			cfg.Kafka.SASL, cfg.Kafka.User, cfg.Kafka.Password = mech, "ship", "right"
			cfg.Registry = prometheus.NewRegistry()
			c2, err := ingest.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel2()
			if err := c2.Run(ctx2); err != nil {
				t.Fatal(err)
			}
			recs := readAll(t, cfg.Kafka, bus.TopicEvents, want, 20*time.Second)
			if len(recs) != want {
				t.Errorf("%d events, want %d", len(recs), want)
			}
			checkDelivery(t, recs)
		})
	}
}

func TestParseInput(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ingest.InputSpec
		err  bool
	}{
		{in: "udp://:10110", want: ingest.InputSpec{Name: "udp::10110", Kind: ingest.KindUDP, Addr: ":10110"}},
		{in: "ais=tcp://mux.local:10110", want: ingest.InputSpec{Name: "ais", Kind: ingest.KindTCP, Addr: "mux.local:10110"}},
		{in: "tcp-listen://0.0.0.0:2000", want: ingest.InputSpec{Name: "tcp-listen:0.0.0.0:2000", Kind: ingest.KindTCPListen, Addr: "0.0.0.0:2000"}},
		{in: "gps=serial:///dev/ttyUSB0?baud=4800", want: ingest.InputSpec{Name: "gps", Kind: ingest.KindSerial, Addr: "/dev/ttyUSB0", Baud: 4800}},
		{in: "file://testdata/x.nmea?speed=10&loop=true&shift=now", want: ingest.InputSpec{Name: "file:testdata/x.nmea", Kind: ingest.KindFile, Addr: "testdata/x.nmea", Speed: 10, Loop: true, Shift: true}},
		{in: "file:///abs/x.nmea?speed=0", want: ingest.InputSpec{Name: "file:/abs/x.nmea", Kind: ingest.KindFile, Addr: "/abs/x.nmea"}},
		{in: "-", want: ingest.InputSpec{Name: "stdin", Kind: ingest.KindStdin}},
		{in: "udp://nohost", err: true},
		{in: "tcp://:10110", err: true},
		{in: "ftp://x:1", err: true},
		{in: "file://x?speed=fast", err: true},
		{in: "serial://", err: true},
		{in: "just words", err: true},
	} {
		got, err := ingest.ParseInput(tc.in)
		if tc.err {
			if !errors.Is(err, ingest.ErrInput) {
				t.Errorf("%s: err = %v, want ErrInput", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := ingest.Config{Inputs: []ingest.InputSpec{{Name: "a", Kind: ingest.KindUDP}}, Spool: ingest.SpoolConfig{Dir: t.TempDir()}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	dup := good
	dup.Inputs = append(dup.Inputs, dup.Inputs[0])
	for name, c := range map[string]ingest.Config{"no input": {Spool: good.Spool}, "duplicate": dup} {
		if err := c.Validate(); !errors.Is(err, ingest.ErrConfig) || !strings.Contains(err.Error(), "-input") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestSampleConfig checks that the sample config of docs/collector.md
// names valid inputs.
func TestSampleConfig(t *testing.T) {
	b, err := os.ReadFile("testdata/collect.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Input []string `yaml:"input"`
	}
	if err := yaml.Unmarshal(b, &conf); err != nil {
		t.Fatal(err)
	}
	if len(conf.Input) != 5 {
		t.Fatalf("%d inputs", len(conf.Input))
	}
	kinds := map[ingest.InputKind]bool{}
	for _, s := range conf.Input {
		spec, err := ingest.ParseInput(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		kinds[spec.Kind] = true
	}
	if len(kinds) != 4 {
		t.Errorf("sample covers %d input kinds, want 4", len(kinds))
	}
}

// TestCollectLiveDropsCounted floods a UDP input behind a one-chunk queue:
// the input never blocks, and every line read is either delivered or
// counted as dropped.
func TestCollectLiveDropsCounted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	b := startBroker(t, bus.BrokerConfig{Partitions: 2})
	// single-sentence lines that make exactly one event each
	d := decode.NewDecoder(decode.Config{})
	var lines [][]byte
	var evs []keelson.Event
	for _, l := range sentenceLines(t, ais250) {
		var err error
		if evs, err = d.Decode(evs[:0], l, time.Now()); err == nil && len(evs) == 1 {
			lines = append(lines, l)
		}
	}
	addr := freePort(t, "udp")
	cfg := collectorConfig(t, b.Addr(), "flood=udp://"+addr)
	cfg.QueueLines = 1
	reg := prometheus.NewRegistry()
	cfg.Registry = reg
	c, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()
	time.Sleep(300 * time.Millisecond)
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20000 {
		conn.Write(append(bytes.Clone(lines[i%len(lines)]), '\n'))
	}
	conn.Close()
	time.Sleep(500 * time.Millisecond)
	read := metricValue(t, reg, "keelson_collector_sentences_read_total")
	dropped := 0.0
	if mfs, _ := reg.Gather(); mfs != nil {
		for _, mf := range mfs {
			if mf.GetName() == "keelson_collector_lines_dropped_total" {
				dropped = metricValue(t, reg, mf.GetName())
			}
		}
	}
	want := int(read - dropped)
	recs := readAll(t, cfg.Kafka, bus.TopicEvents, want, 30*time.Second)
	cancel()
	<-runErr
	t.Logf("read %v lines, dropped %v, delivered %d", read, dropped, len(recs))
	if read == 0 || len(recs) != want {
		t.Errorf("read %v - dropped %v = %d, but %d events delivered", read, dropped, want, len(recs))
	}
	checkDelivery(t, recs)
}

// TestCollectReplayTiming replays goais_aistest.nmea (receive-time
// prefixes spanning 2.1 s) at its original pace, then again re-stamped to
// look live (shift=now).
func TestCollectReplayTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	b := startBroker(t, bus.BrokerConfig{Partitions: 2})
	abs, _ := filepath.Abs(goais)
	want, _ := expected(t, goais)
	first := time.Unix(0, 1550303566167726840).UTC()

	cfg := collectorConfig(t, b.Addr(), "paced=file://"+abs+"?speed=1")
	start := time.Now()
	c, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 1900*time.Millisecond || d > 15*time.Second {
		t.Errorf("speed=1 replay of a 2.1 s capture took %v", d)
	}
	recs := readAll(t, cfg.Kafka, bus.TopicEvents, want, 30*time.Second)
	var earliest time.Time
	for _, r := range recs {
		if r.Event.Flags&keelson.FlagTimeFromTag == 0 {
			t.Fatalf("event %s: received not from the capture", r.Event.ID)
		}
		if earliest.IsZero() || r.Event.Received.Before(earliest) {
			earliest = r.Event.Received
		}
	}
	if d := earliest.Sub(first); d < 0 || d > time.Second {
		t.Errorf("earliest received %v, want the capture's %v", earliest, first)
	}

	cfg2 := collectorConfig(t, b.Addr(), "live=file://"+abs+"?speed=0&shift=now")
	c2, err := ingest.New(cfg2)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := c2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs = readAll(t, cfg.Kafka, bus.TopicEvents, 2*want, 30*time.Second)
	n := 0
	for _, r := range recs {
		if r.Event.Source.Input != "live" {
			continue
		}
		n++
		if r.Event.Received.Before(start.Add(-time.Second)) || r.Event.Flags&keelson.FlagTimeFromTag != 0 {
			t.Fatalf("shift=now: received %v (flags %d), want now", r.Event.Received, r.Event.Flags)
		}
		if !r.Event.TagTime.IsZero() {
			if d := r.Event.TagTime.Sub(r.Event.Received); d > time.Second || d < -time.Second {
				t.Fatalf("shift=now: tag time %v not shifted with received %v", r.Event.TagTime, r.Event.Received)
			}
		}
	}
	if n != want {
		t.Errorf("shift=now: %d events, want %d", n, want)
	}
}
