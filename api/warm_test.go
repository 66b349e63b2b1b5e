package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelson/keelson/storage"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// gatedStore is the real storage reader with LatestBefore (what builds
// the delayed views) counted, optionally held until a gate opens, and
// optionally failing: the faults a background build must survive.
type gatedStore struct {
	Store
	full, update atomic.Int64 // LatestBefore calls: whole builds, updates

	mu     sync.Mutex
	gate   chan struct{} // when non-nil, reads wait for it to close
	fail   error         // when non-nil, reads fail with it
	ctxs   []context.Context
	builds map[time.Time]int // whole builds by cutoff
}

// buildsAt returns the whole builds started for a cutoff.
func (g *gatedStore) buildsAt(cut time.Time) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.builds[cut]
}

func (g *gatedStore) LatestBefore(ctx context.Context, q storage.LatestBeforeQuery, fn func(*storage.VesselRow) error) error {
	if q.After.IsZero() {
		g.full.Add(1)
	} else {
		g.update.Add(1)
	}
	g.mu.Lock()
	gate, fail := g.gate, g.fail
	g.ctxs = append(g.ctxs, ctx)
	if q.After.IsZero() {
		if g.builds == nil {
			g.builds = map[time.Time]int{}
		}
		g.builds[q.Before]++
	}
	g.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		return fail
	}
	return g.Store.LatestBefore(ctx, q, fn)
}

func (g *gatedStore) set(gate chan struct{}, fail error) {
	g.mu.Lock()
	g.gate, g.fail = gate, fail
	g.mu.Unlock()
}

// delayedServer is a server over the test database whose delayed views
// read through a gatedStore.
func delayedServer(t *testing.T, e *testEnv, cfg Config) (*Server, *gatedStore, string) {
	t.Helper()
	g := &gatedStore{Store: e.db.Reader(storage.QueryLimits{})}
	cfg.Store, cfg.Background = e.db.Reader(storage.QueryLimits{}), g
	cfg.Keys, cfg.Registry, cfg.Logger = e.db, prometheus.NewRegistry(), discardLogger()
	cfg.Now = func() time.Time { return e.now }
	cfg.KeyLookupRate, cfg.Rate, cfg.Burst = 1e6, 1000, 1000
	if cfg.KeyCacheTTL == 0 {
		cfg.KeyCacheTTL = time.Millisecond
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.delayed.retryMin = 20 * time.Millisecond
	return srv, g, httptestServer(t, srv)
}

// delayedGet asks for the latest positions with a key; on 200 it checks
// that none is newer than now minus the delay.
func delayedGet(t *testing.T, ctx context.Context, base, key string, delay time.Duration, now time.Time) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/vessels?limit=5000", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err.Error()
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == 200 {
		var pg page
		if err := json.Unmarshal(b, &pg); err != nil {
			t.Fatal(err)
		}
		if len(pg.Data) == 0 {
			t.Fatalf("delay %v: no vessel", delay)
		}
		for _, r := range pg.Data {
			if ts := r.time("time"); ts.After(now.Add(-delay)) {
				t.Fatalf("delay %v: position at %v, newer than the cutoff %v", delay, ts, now.Add(-delay))
			}
		}
	}
	return resp.StatusCode, resp.Header, string(b)
}

// waitSnapshot waits until the delay's view exists.
func waitSnapshot(t *testing.T, srv *Server, delay time.Duration) *delayedSnap {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if sn := srv.delayedSnapshot(delay); sn != nil {
			return sn
		}
		if time.Now().After(deadline) {
			t.Fatalf("no view for delay %v", delay)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func counterValue(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metrics
				}
			}
			sum += metricValue(m)
		}
	}
	return sum
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

// Run builds the views of the active keys' delays before any request,
// and the view of a key made while it runs as soon as it lists the keys;
// a request then finds its view ready and reads nothing itself. A revoked
// key's delay gets no view.
func TestDelayedWarmUp(t *testing.T) {
	e := env(t)
	const d1, d2, dRevoked = 37 * time.Minute, 41 * time.Minute, 43 * time.Minute
	k1 := e.key(t, Scope{Delay: Duration(d1), Export: true})
	revoked := e.key(t, Scope{Delay: Duration(dRevoked)})
	id, _ := ParseKeyID(revoked)
	if err := e.db.RevokeAPIKey(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	srv, g, base := delayedServer(t, e, Config{KeyCacheTTL: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	sn := waitSnapshot(t, srv, d1)
	if want := e.now.Add(-d1); !sn.cutoff.Equal(want) {
		t.Fatalf("view cutoff %v, want %v", sn.cutoff, want)
	}
	srv.delayedSettle(d1)
	if n := g.buildsAt(e.now.Add(-d1)); n != 1 {
		t.Fatalf("%d builds of the view before any request, want 1", n)
	}
	if code, _, body := delayedGet(t, context.Background(), base, k1, d1, e.now); code != 200 {
		t.Fatalf("warmed delay: %d %s", code, body)
	}
	if n := g.buildsAt(e.now.Add(-d1)); n != 1 {
		t.Fatalf("the request built the view again (%d builds)", n)
	}
	if n := counterValue(t, srv.cfg.Registry, "keelson_api_delayed_index_build_seconds", map[string]string{"kind": "full"}); n < 1 {
		t.Fatalf("no full build measured: %v", n)
	}

	// A key made now: its view is built without a request.
	k2 := e.key(t, Scope{Delay: Duration(d2)})
	sn = waitSnapshot(t, srv, d2)
	if sn.cutoff.After(e.now.Add(-d2)) {
		t.Fatalf("view cutoff %v after now-delay %v", sn.cutoff, e.now.Add(-d2))
	}
	srv.delayedSettle(d2)
	if code, _, body := delayedGet(t, context.Background(), base, k2, d2, e.now); code != 200 || g.buildsAt(e.now.Add(-d2)) != 1 {
		t.Fatalf("new key: %d %s, %d builds", code, body, g.buildsAt(e.now.Add(-d2)))
	}
	if srv.delayedSnapshot(dRevoked) != nil {
		t.Fatal("a revoked key's delay got a view")
	}
	// Every background read ran under the server's lifetime, with the
	// background deadline, none under a request's context.
	g.mu.Lock()
	for _, c := range g.ctxs {
		if dl, ok := c.Deadline(); !ok || time.Until(dl) < 4*time.Minute {
			t.Errorf("background read with deadline %v (ok %v), want about BackgroundTimeout (5m)", dl, ok)
		}
	}
	g.mu.Unlock()
	// Run's end ends the server's lifetime: background reads stop.
	cancel()
	<-done
	if srv.delayed.ctx.Err() == nil {
		t.Fatal("background context alive after Run returned")
	}
}

// A key seen for the first time (looked up by a request to any route)
// starts its delay's view at once, before any request needs it.
func TestDelayedKeySeenStartsBuild(t *testing.T) {
	e := env(t)
	const delay = 47 * time.Minute
	srv, g, base := delayedServer(t, e, Config{})
	k := e.key(t, Scope{Delay: Duration(delay)})
	req, _ := http.NewRequest("GET", base+"/v1/positions?limit=1", nil)
	req.Header.Set("Authorization", "Bearer "+k)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitSnapshot(t, srv, delay)
	if g.full.Load() == 0 {
		t.Fatal("no build")
	}
}

// While a view is being built, a request waits at most DelayWait and then
// gets 503 with Retry-After and its quota headers; once built, 200.
func TestDelayedBuilding503(t *testing.T) {
	e := env(t)
	const delay = 53 * time.Minute
	srv, g, base := delayedServer(t, e, Config{DelayWait: 150 * time.Millisecond})
	gate := make(chan struct{})
	g.set(gate, nil)
	k := e.key(t, Scope{Delay: Duration(delay)})
	t0 := time.Now()
	code, h, body := delayedGet(t, context.Background(), base, k, delay, e.now)
	took := time.Since(t0)
	if code != 503 || h.Get("Retry-After") == "" || h.Get("X-RateLimit-Remaining") == "" {
		t.Fatalf("while building: %d %v %s", code, h, body)
	}
	if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", h.Get("Retry-After"))
	}
	var eb struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error.Code != "unavailable" || eb.Error.Message == "" {
		t.Fatalf("error body %s", body)
	}
	if took < 150*time.Millisecond || took > 5*time.Second {
		t.Fatalf("answered after %v, want about DelayWait (150ms)", took)
	}
	// Other requests meanwhile join the same build; their answer is the
	// one the OpenAPI document promises (a 503 with the quota headers).
	c := newQuotaClient(t, srv)
	for _, p := range []string{"/v1/vessels?limit=10", "/v1/vessels/near?lat=55.7&lon=12.6", "/v1/vessels/" + e.busiest().String()} {
		if a := c.get(p, "Bearer "+k); a.code != 503 || a.errCode != "unavailable" || a.retryAfter < 1 || a.limit != 1000 {
			t.Fatalf("%s while building: %+v", p, a)
		}
	}
	if n := g.full.Load(); n != 1 {
		t.Fatalf("%d builds started, want 1", n)
	}
	close(gate)
	srv.delayedSettle(delay)
	if code, _, body := delayedGet(t, context.Background(), base, k, delay, e.now); code != 200 {
		t.Fatalf("after the build: %d %s", code, body)
	}
	if n := g.full.Load(); n != 1 {
		t.Fatalf("%d builds, want 1", n)
	}
}

// A client that gives up while waiting does not cancel the build it
// waited for: the build goes on under the server's lifetime and serves
// the next request.
func TestDelayedClientCancelKeepsBuild(t *testing.T) {
	e := env(t)
	const delay = 59 * time.Minute
	srv, g, base := delayedServer(t, e, Config{DelayWait: time.Minute})
	gate := make(chan struct{})
	g.set(gate, nil)
	k := e.key(t, Scope{Delay: Duration(delay)})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	code, _, body := delayedGet(t, ctx, base, k, delay, e.now)
	cancel()
	if code != 0 {
		t.Fatalf("the client gave up, yet got %d %s", code, body)
	}
	time.Sleep(50 * time.Millisecond) // the server sees the client gone
	g.mu.Lock()
	ctxs := append([]context.Context(nil), g.ctxs...)
	g.mu.Unlock()
	if len(ctxs) != 1 || ctxs[0].Err() != nil {
		t.Fatalf("%d builds (want 1), cancelled: %v", len(ctxs), ctxs)
	}
	close(gate)
	srv.delayedSettle(delay)
	if srv.delayedSnapshot(delay) == nil {
		t.Fatal("the build did not finish")
	}
	if code, _, body := delayedGet(t, context.Background(), base, k, delay, e.now); code != 200 || g.full.Load() != 1 {
		t.Fatalf("after the build: %d %s, %d builds", code, body, g.full.Load())
	}
}

// A build that fails answers the requests that waited for it like any
// storage failure (500, nothing internal shown) and is retried in the
// background with a backoff: requests meanwhile start no build of their
// own, and once storage is back the view is built without a request.
func TestDelayedBuildFailureRetried(t *testing.T) {
	e := env(t)
	const delay = 61 * time.Minute
	srv, g, base := delayedServer(t, e, Config{})
	srv.delayed.retryMin = time.Second
	g.set(nil, errors.New("storage: secret failure text"))
	k := e.key(t, Scope{Delay: Duration(delay)})
	code, _, body := delayedGet(t, context.Background(), base, k, delay, e.now)
	if code != 500 || body != `{"error":{"code":"internal","message":"internal error"}}`+"\n" {
		t.Fatalf("failed build: %d %q", code, body)
	}
	n := g.full.Load()
	if code, _, _ := delayedGet(t, context.Background(), base, k, delay, e.now); code != 500 || g.full.Load() != n {
		t.Fatalf("during the backoff: %d, builds %d -> %d", code, n, g.full.Load())
	}
	if f := counterValue(t, srv.cfg.Registry, "keelson_api_delayed_index_build_failures_total", map[string]string{"kind": "full"}); f < 1 {
		t.Fatalf("failures counted: %v", f)
	}
	g.set(nil, nil) // storage is back
	sn := waitSnapshot(t, srv, delay)
	if sn.cutoff.After(e.now.Add(-delay)) {
		t.Fatalf("cutoff %v after now-delay", sn.cutoff)
	}
	if code, _, body := delayedGet(t, context.Background(), base, k, delay, e.now); code != 200 {
		t.Fatalf("after the retry: %d %s", code, body)
	}
}

// A failed update of a view keeps serving it (nothing in it is newer than
// its cutoff) and the retry rebuilds it whole.
func TestDelayedUpdateFailureRebuilds(t *testing.T) {
	e := env(t)
	const delay = 67 * time.Minute
	var now atomic.Int64
	now.Store(e.now.UnixNano())
	srv, g, base := delayedServer(t, e, Config{DelayRefresh: time.Minute})
	srv.cfg.Now = func() time.Time { return time.Unix(0, now.Load()) }
	srv.delayed.retryMin = 50 * time.Millisecond
	k := e.key(t, Scope{Delay: Duration(delay)})
	if code, _, body := delayedGet(t, context.Background(), base, k, delay, e.now); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	srv.delayedSettle(delay)
	g.set(nil, errors.New("update failed"))
	now.Add(int64(5 * time.Minute))
	at := time.Unix(0, now.Load())
	if code, _, body := delayedGet(t, context.Background(), base, k, delay, at); code != 200 {
		t.Fatalf("stale view: %d %s", code, body)
	}
	srv.delayedSettle(delay)
	if g.update.Load() != 1 {
		t.Fatalf("%d updates, want 1", g.update.Load())
	}
	if sn := srv.delayedSnapshot(delay); !sn.full.IsZero() || sn.cutoff.After(at.Add(-delay)) {
		t.Fatalf("after a failed update: full %v cutoff %v", sn.full, sn.cutoff)
	}
	if code, _, body := delayedGet(t, context.Background(), base, k, delay, at); code != 200 {
		t.Fatalf("after the failed update: %d %s", code, body)
	}
	fulls := g.full.Load()
	g.set(nil, nil)
	deadline := time.Now().Add(10 * time.Second)
	for srv.delayedSnapshot(delay).full.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("no rebuild after the failed update")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if g.full.Load() <= fulls {
		t.Fatalf("rebuilds %d -> %d", fulls, g.full.Load())
	}
}

// The views are read with the background limits, not a request's: with
// request limits that refuse any real read (max_rows_to_read 10), a
// delayed key still gets its view, and the request limits still hold for
// what requests read themselves.
func TestDelayedBackgroundLimits(t *testing.T) {
	e := env(t)
	const delay = 71 * time.Minute
	srv, err := New(Config{Store: e.db.Reader(storage.QueryLimits{MaxRowsToRead: 10}), Background: e.db.Reader(storage.QueryLimits{}),
		Keys: e.db, Registry: prometheus.NewRegistry(), Now: func() time.Time { return e.now }, KeyCacheTTL: time.Millisecond, KeyLookupRate: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	base := httptestServer(t, srv)
	k := e.key(t, Scope{Delay: Duration(delay)})
	if code, _, body := delayedGet(t, context.Background(), base, k, delay, e.now); code != 200 {
		t.Fatalf("delayed view with background limits: %d %s", code, body)
	}
	if code, _, body := e.send(t, base, "GET", "/v1/positions?limit=5&from="+rfc(e.base), "", k); code != 413 {
		t.Fatalf("a request's own read: %d %s, want 413 (request limits)", code, body)
	}
}
