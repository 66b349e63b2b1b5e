package sink

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/bus"
	"github.com/keelson/keelson/storage"
	"github.com/segmentio/kafka-go"
)

// The crash test: while a sink process lands >= 1M events, SIGKILL it at
// random points (>= 10 times), restart it each time, finally drain; then
// every event is in ClickHouse exactly once.
//
// The sink runs in a child process: this test binary re-executed with
// KEELSON_CRASH_CHILD set, which runs TestCrashChild.

const crashEnv = "KEELSON_CRASH_CHILD"

func TestCrashChild(t *testing.T) {
	if os.Getenv(crashEnv) == "" {
		t.Skip("helper process of TestSinkCrashSIGKILL")
	}
	drain := os.Getenv(crashEnv) == "drain"
	batch := 2000 // small batches while being killed: many commit points
	if drain {
		batch = 50000
	}
	db, err := storage.Open(context.Background(), os.Getenv("KEELSON_CRASH_DB"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Bus: bus.Config{Brokers: []string{os.Getenv("KEELSON_CRASH_BROKER")}}, Group: "crash",
		BatchSize: batch, BatchTime: 200 * time.Millisecond, Drain: drain, RetryMin: 50 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		SessionTimeout: 6 * time.Second, OnBatch: func(n int) { fmt.Printf("landed %d\n", n) }}, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSinkCrashSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped with -short")
	}
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("KEELSON_CRASH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	// The database must exist and load before the broker fills: fail early
	// when libchdb is missing.
	dir := t.TempDir()
	dbURL := "chdb://" + dir
	func() {
		db, err := storage.Open(context.Background(), dbURL, storage.Options{})
		if err != nil {
			t.Fatalf("open embedded ClickHouse: %v", err)
		}
		defer db.Close()
		if _, err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
	}()
	br := startBroker(t, 8)
	cfg := bus.Config{Brokers: []string{br.Addr()}}
	start := time.Now()
	msgs := make([]kafka.Message, 0, 20000)
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	w, err := cfg.NewWriter(bus.TopicEvents, bus.WriterOptions{BatchSize: 20000, BatchBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		v := i % 5000
		at := t0.Add(time.Duration(i/5000)*30*time.Second + time.Duration(v)*time.Millisecond)
		e := positionEvent("crash", uint64(i), keelson.MMSI(200000000+v), at)
		msgs = append(msgs, kafka.Message{Key: e.Key(), Value: e.AppendJSON(nil)})
		if len(msgs) == cap(msgs) || i == n-1 {
			if err := w.WriteMessages(context.Background(), msgs...); err != nil {
				t.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
	w.Close()
	t.Logf("produced %d events in %v", n, time.Since(start))

	// landed is written by the child after each committed batch.
	landed := make(chan struct{}, 1000)
	child := func(mode string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+mode, "KEELSON_CRASH_DB="+dbURL, "KEELSON_CRASH_BROKER="+br.Addr())
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "landed ") {
					select {
					case landed <- struct{}{}:
					default:
					}
				}
			}
		}()
		return cmd
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 0
	for kills < 10 {
		for len(landed) > 0 {
			<-landed
		}
		cmd := child("run")
		// Kill at a random point once the child is landing batches: after
		// 0-2 batches, then 0-0.3 s into whatever it is doing (fetching,
		// inserting, committing).
	wait:
		for k := rng.IntN(3); k > 0; k-- {
			select {
			case <-landed:
			case <-time.After(45 * time.Second):
				t.Logf("kill %d: child landed no batch in 45 s (all consumed?)", kills+1)
				break wait
			}
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		kills++
	}
	t.Logf("%d SIGKILLs in %v", kills, time.Since(start))
	cmd := child("drain")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("draining sink: %v", err)
		}
	case <-time.After(10 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("draining sink did not finish in 10 minutes")
	}
	t.Logf("drained after %v", time.Since(start))

	db, err := storage.Open(context.Background(), dbURL, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var cnt, ids, pos uint64
	if err := db.QueryRow(ctx, "SELECT count(), uniqExact(id) FROM events FINAL", nil, &cnt, &ids); err != nil {
		t.Fatal(err)
	}
	if cnt != uint64(n) || ids != uint64(n) {
		t.Fatalf("events FINAL: count %d, distinct ids %d, sent %d", cnt, ids, n)
	}
	if err := db.Exec(ctx, "OPTIMIZE TABLE events FINAL", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, "SELECT count(), uniqExact(id) FROM events", nil, &cnt, &ids); err != nil {
		t.Fatal(err)
	}
	if cnt != uint64(n) || ids != uint64(n) {
		t.Fatalf("events after OPTIMIZE: count %d, distinct ids %d, sent %d", cnt, ids, n)
	}
	if err := db.QueryRow(ctx, "SELECT count() FROM positions FINAL", nil, &pos); err != nil || pos != uint64(n) {
		t.Fatalf("positions FINAL: %d (want %d) %v", pos, n, err)
	}
	var dupRows uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM positions", nil, &dupRows); err == nil {
		t.Logf("positions before merge: %d rows for %d broadcasts (%d duplicates from replays, collapsed by FINAL)", dupRows, n, dupRows-uint64(n))
	}
	fmt.Fprintf(os.Stderr, "crash test: %d events, %d kills, exactly once\n", n, kills)
}
