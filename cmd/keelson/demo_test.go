//go:build !shipboard

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelson/keelson/web/webtest"
)

var screenshot = flag.String("screenshot", "", "save a PNG of the demo's map page here (e.g. ../../docs/map.png)")

// TestDemoDataIsCapture checks that the demo's embedded captures are
// byte-for-byte the documented real captures of testdata/ais.
func TestDemoDataIsCapture(t *testing.T) {
	ents, err := demoData.ReadDir("demodata")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range ents {
		names[e.Name()] = true
		got, _ := demoData.ReadFile(path.Join("demodata", e.Name()))
		want, err := os.ReadFile(filepath.Join("..", "..", "testdata", "ais", e.Name()))
		if err != nil {
			t.Errorf("demodata/%s is not a capture of testdata/ais: %v", e.Name(), err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("demodata/%s differs from testdata/ais/%s", e.Name(), e.Name())
		}
	}
	for _, in := range demoInputs {
		if !names[in.file] {
			t.Errorf("demo input %s: demodata/%s is not embedded", in.name, in.file)
		}
	}
}

// demoRun is a running demo started by startDemo.
type demoRun struct {
	url, key string
	base     string // http://host:port/
	started  time.Time
	stop     func() error
}

func startDemo(t *testing.T, dir string) *demoRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]string, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	logw := &lockedWriter{w: &logs}
	started := time.Now()
	go func() {
		done <- runDemoWith(ctx, demoConfig{
			DataDir: dir, Listen: "127.0.0.1:0",
			Logger: slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn})),
			Ready:  func(u, k string) { ready <- [2]string{u, k} },
		})
	}()
	select {
	case r := <-ready:
		d := &demoRun{url: r[0], key: r[1], base: strings.Split(r[0], "#")[0], started: started}
		d.stop = func() error {
			cancel()
			select {
			case err := <-done:
				return err
			case <-time.After(30 * time.Second):
				return fmt.Errorf("demo did not stop within 30 s of cancel")
			}
		}
		return d
	case err := <-done:
		cancel()
		t.Fatalf("demo failed to start: %v\nlogs:\n%s", err, logw.String())
	case <-time.After(90 * time.Second):
		cancel()
		t.Fatalf("demo not serving within 90 s\nlogs:\n%s", logw.String())
	}
	return nil
}

// get GETs an API path with the demo key and decodes the JSON answer.
func (d *demoRun) get(t *testing.T, p string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.base+strings.TrimPrefix(p, "/"), nil)
	req.Header.Set("Authorization", "Bearer "+d.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", p, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK && v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", p, err, b)
		}
	}
	return res.StatusCode
}

type featureCollection struct {
	Features []struct {
		Geometry struct {
			Type        string    `json:"type"`
			Coordinates []float64 `json:"coordinates"`
		} `json:"geometry"`
		Properties map[string]any `json:"properties"`
	} `json:"features"`
}

// TestDemo runs `keelson demo` for real (embedded broker over TCP, embedded
// ClickHouse, collector, sink, API) and checks the promise of the README:
// vessels on the map within 30 s of start, in a real browser, with a vessel
// card and track on click; a restart keeps the data and the key.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo with embedded ClickHouse and a browser; skipped with -short")
	}
	requireLibCHDB(t)
	if _, err := webtest.FindChromium(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	d := startDemo(t, dir)
	defer d.stop()

	if b, err := os.ReadFile(filepath.Join(dir, demoKeyFile)); err != nil || strings.TrimSpace(string(b)) != d.key {
		t.Errorf("%s holds %q (%v), want the printed key", demoKeyFile, b, err)
	}
	if !strings.Contains(d.url, "#key="+d.key) {
		t.Errorf("page URL %q lacks the key fragment", d.url)
	}
	// Unauthenticated requests are refused.
	if res, err := http.Get(d.base + "v1/vessels"); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/vessels without key: %v %v, want 401", res, err)
	} else {
		res.Body.Close()
	}

	// Vessels within 30 s of start.
	var fc featureCollection
	for {
		fc = featureCollection{}
		if code := d.get(t, "v1/vessels?bbox=-180,-90,180,90&format=geojson&limit=10000", &fc); code != http.StatusOK {
			t.Fatalf("GET /v1/vessels: status %d", code)
		}
		if len(fc.Features) >= 50 {
			break
		}
		if time.Since(d.started) > 30*time.Second {
			t.Fatalf("only %d vessels 30 s after start, want >= 50", len(fc.Features))
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("%d vessels %.1f s after start", len(fc.Features), time.Since(d.started).Seconds())

	// The browser: page, vessels, click, card, track.
	b, err := webtest.NewBrowser(context.Background(), t.TempDir(), 1280, 800)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Let the looped replay lay down some track and history first (the
	// browser test moves the time slider 15 s back).
	time.Sleep(time.Until(d.started.Add(22 * time.Second)))
	if err := b.CheckKeyPrompt(d.base, d.key, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	r, err := b.CheckMap(d.url, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("browser: %d vessels, clicked %s, track of %d points, %d vessels 15 s back, export %d bytes, area search %d; status %q",
		r.Vessels, r.MMSI, r.TrackPoints, r.ReplayVessels, r.ExportBytes, r.SearchHits, r.Status)
	if r.Vessels < 20 {
		t.Errorf("browser shows %d vessels, want >= 20", r.Vessels)
	}
	if !strings.Contains(r.Card, "MMSI") || !strings.Contains(r.Card, strings.TrimLeft(r.MMSI, "0")) {
		t.Errorf("vessel card lacks the MMSI %s:\n%s", r.MMSI, r.Card)
	}
	if r.TrackPoints < 1 {
		t.Errorf("track of %s has %d points, want >= 1", r.MMSI, r.TrackPoints)
	}
	if r.ReplayVessels < 20 {
		t.Errorf("time slider 15 s back shows %d vessels, want >= 20", r.ReplayVessels)
	}
	if r.ExportBytes < 100 {
		t.Errorf("export of the view gave %d bytes", r.ExportBytes)
	}
	if r.SearchHits < 1 {
		t.Errorf("area search of the view listed %d vessels", r.SearchHits)
	}
	if *screenshot != "" {
		if err := os.WriteFile(*screenshot, r.Screenshot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot saved to %s", *screenshot)
	}
	b.Close()

	// Ctrl-C: a clean stop, then a restart on the same data keeps the key
	// and serves the stored vessels.
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	d2 := startDemo(t, dir)
	defer d2.stop()
	if d2.key != d.key {
		t.Errorf("restart made a new key %q, want the stored %q", d2.key, d.key)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		fc = featureCollection{}
		d2.get(t, "v1/vessels?bbox=-180,-90,180,90&format=geojson&limit=10000", &fc)
		if len(fc.Features) >= 50 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after restart: %d vessels, want >= 50", len(fc.Features))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err := d2.stop(); err != nil {
		t.Fatalf("stop after restart: %v", err)
	}
}

// TestDemoFlags checks the demo refuses bad flags with named errors.
func TestDemoFlags(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"demo", "-log-level", "loud"}, nil, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "-log-level") {
		t.Errorf("bad -log-level: got %v", err)
	}
	err = run(context.Background(), []string{"demo", "extra"}, nil, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "unexpected argument") {
		t.Errorf("extra argument: got %v", err)
	}
	// A busy port fails at once, before anything starts.
	dir := t.TempDir()
	ln, lerr := netListen()
	if lerr != nil {
		t.Fatal(lerr)
	}
	defer ln.Close()
	err = runDemoWith(context.Background(), demoConfig{DataDir: dir, Listen: ln.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "-listen") {
		t.Errorf("busy port: got %v", err)
	}
}

// requireLibCHDB points KEELSON_LIBCHDB at the repository's lib/libchdb.so
// when unset, and fails the test when the library is missing.
func requireLibCHDB(t *testing.T) {
	t.Helper()
	p := os.Getenv("KEELSON_LIBCHDB")
	if p == "" {
		p, _ = filepath.Abs(filepath.Join("..", "..", "lib", "libchdb.so"))
		t.Setenv("KEELSON_LIBCHDB", p)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("embedded ClickHouse library missing (%v): run scripts/setup.sh lib", err)
	}
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// lockedWriter is an io.Writer safe for concurrent use, for captured logs.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}
