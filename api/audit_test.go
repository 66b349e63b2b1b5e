package api

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/prometheus/client_golang/prometheus"
)

// storageRoutes are requests that reach storage (with the index not
// loaded, so that the latest positions do too), each with the key scope
// that sends it there.
func (e *testEnv) storageRoutes(m keelson.MMSI) []struct {
	method, path, body string
	scope              Scope
} {
	win := "from=" + rfc(e.base.Add(-time.Hour)) + "&to=" + rfc(e.now)
	poly := `{"type":"Polygon","coordinates":[[[-180,-90],[180,-90],[180,90],[-180,90],[-180,-90]]]}`
	delayed := Scope{Delay: Duration(time.Hour), Export: true}
	all := Scope{Export: true}
	return []struct {
		method, path, body string
		scope              Scope
	}{
		{"GET", "/v1/vessels/" + m.String(), "", all},
		{"GET", "/v1/vessels/" + m.String(), "", delayed},
		{"GET", "/v1/vessels", "", all},
		{"GET", "/v1/vessels?bbox=10,54,14,57", "", delayed},
		{"GET", "/v1/vessels/near?lat=55.7&lon=12.6", "", delayed},
		{"GET", "/v1/vessels/" + m.String() + "/track?" + win, "", all},
		{"GET", "/v1/vessels/zeus", "", all},
		{"GET", "/v1/vessels/zeus/track?" + win, "", all},
		{"GET", "/v1/ownships", "", all},
		{"GET", "/v1/ownships", "", delayed},
		{"GET", "/v1/positions?" + win, "", all},
		{"GET", "/v1/positions?mmsi=" + m.String() + "&" + win, "", all},
		{"GET", "/v1/positions?format=parquet&" + win, "", all},
		{"POST", "/v1/positions?" + win, poly, all},
		{"GET", "/v1/observations?from=" + rfc(e.now.Add(-30*24*time.Hour)), "", all},
		{"GET", "/v1/observations?vessel=zeus&" + win, "", all},
	}
}

// brokenStore answers every query with a real ClickHouse error.
type brokenStore struct {
	Store
	err error
}

func (b brokenStore) Vessel(context.Context, keelson.MMSI, time.Time) (storage.VesselRow, error) {
	return storage.VesselRow{}, b.err
}
func (b brokenStore) Latest(context.Context, storage.LatestQuery, func(*storage.VesselRow) error) error {
	return b.err
}
func (b brokenStore) LatestBefore(context.Context, storage.LatestBeforeQuery, func(*storage.VesselRow) error) error {
	return b.err
}
func (b brokenStore) Track(context.Context, storage.TrackQuery, func(*storage.PositionRow) error) error {
	return b.err
}
func (b brokenStore) OwnShipLatest(context.Context, string, time.Time) (storage.PositionRow, error) {
	return storage.PositionRow{}, b.err
}
func (b brokenStore) OwnShipTrack(context.Context, storage.OwnShipTrackQuery, func(*storage.PositionRow) error) error {
	return b.err
}
func (b brokenStore) OwnShips(context.Context, time.Time, func(*storage.OwnShipRow) error) error {
	return b.err
}
func (b brokenStore) Positions(context.Context, storage.PositionQuery, func(*storage.PositionRow) error) error {
	return b.err
}
func (b brokenStore) Observations(context.Context, storage.ObservationQuery, func(*storage.ObservationRow) error) error {
	return b.err
}
func (b brokenStore) Telemetry(context.Context, storage.TelemetryQuery, func(*storage.TelemetryRow) error) error {
	return b.err
}

func (e *testEnv) serve(t *testing.T, store Store) string {
	t.Helper()
	srv, err := New(Config{Store: store, Keys: e.db, Registry: prometheus.NewRegistry(), Now: func() time.Time { return e.now },
		Rate: 1000, Burst: 1000, KeyCacheTTL: time.Millisecond, KeyLookupRate: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	return httptestServer(t, srv)
}

func (e *testEnv) send(t *testing.T, base, method, path, body, key string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header, string(b)
}

// A storage failure is a 500 whose body says "internal error" and nothing
// of the failure, on every route that reads storage.
func TestInternalErrorsHidden(t *testing.T) {
	e := env(t)
	// A real ClickHouse error, with the SQL and table names in its text.
	_, qerr := e.db.Query(context.Background(), "SELECT secret_column FROM positions", nil, nil)
	if qerr == nil || !strings.Contains(qerr.Error(), "secret_column") {
		t.Fatalf("no query error to inject: %v", qerr)
	}
	base := e.serve(t, brokenStore{Store: e.db.Reader(storage.QueryLimits{}), err: qerr})
	for _, r := range e.storageRoutes(e.busiest()) {
		code, h, body := e.send(t, base, r.method, r.path, r.body, e.key(t, r.scope))
		if code != 500 || strings.TrimSpace(body) != `{"error":{"code":"internal","message":"internal error"}}` ||
			h.Get("Content-Type") != "application/json" || h.Get("X-RateLimit-Remaining") == "" {
			t.Errorf("%s %s: %d %s %v", r.method, r.path, code, body, h)
		}
	}
}

// Every query carries the ClickHouse caps: with max_rows_to_read at 10,
// every route that reads storage is refused with 413, naming no setting.
func TestQueryLimitsOnEveryRoute(t *testing.T) {
	e := env(t)
	base := e.serve(t, e.db.Reader(storage.QueryLimits{MaxRowsToRead: 10}))
	for _, r := range e.storageRoutes(e.busiest()) {
		code, _, body := e.send(t, base, r.method, r.path, r.body, e.key(t, r.scope))
		if code != 413 || !strings.Contains(body, `"too_large"`) || strings.Contains(body, "max_rows") {
			t.Errorf("%s %s: %d %s", r.method, r.path, code, body)
		}
	}
}

// A delayed key sees no observation received after its cutoff, even one
// whose own (reported) time is older than the cutoff.
func TestDelayedObservationsByReception(t *testing.T) {
	e := env(t)
	var pick *keelson.Event
	for i := range e.events {
		ev := &e.events[i]
		if o := ev.Observation; o != nil && !o.Time.IsZero() && ev.Received.Sub(o.Time) >= 2*time.Second {
			pick = ev
			break
		}
	}
	if pick == nil {
		t.Fatal("no observation received after its own time in the captures")
	}
	cut := pick.Observation.Time.Add(pick.Received.Sub(pick.Observation.Time) / 2).Truncate(time.Millisecond)
	span := "from=" + rfc(pick.Observation.Time.Add(-time.Hour)) + "&limit=5000"
	has := func(rows []row) bool {
		for _, r := range rows {
			if r.mmsi() == pick.MMSI && r.time("time").Equal(pick.Observation.Time.Truncate(time.Millisecond)) {
				return true
			}
		}
		return false
	}
	full := e.key(t, Scope{Export: true})
	if !has(e.all(t, "/v1/observations?"+span+"&to="+url.QueryEscape(cut.Add(time.Millisecond).Format(time.RFC3339Nano)), full)) {
		t.Fatalf("observation of %d at %v not listed before %v", pick.MMSI, pick.Observation.Time, cut)
	}
	delayed := e.key(t, Scope{Delay: Duration(e.now.Sub(cut)), Export: true})
	rows := e.all(t, "/v1/observations?"+span, delayed)
	if has(rows) {
		t.Fatalf("delayed key (cutoff %v) sees the observation received at %v", cut, pick.Received)
	}
	for _, r := range rows {
		if r.time("received").After(cut) {
			t.Fatalf("delayed key sees a reception at %v after the cutoff %v", r["received"], cut)
		}
	}
}

// countingKeys counts the lookups that reach the key store.
type countingKeys struct {
	KeyStore
	n *atomic.Int64
}

func (c countingKeys) APIKeyByID(ctx context.Context, id string) (storage.APIKey, error) {
	c.n.Add(1)
	return c.KeyStore.APIKeyByID(ctx, id)
}

// A flood of made-up keys reaches storage at most KeyLookupRate times a
// second (burst twice that); the rest are told to retry, and a known key
// cached before the flood still works.
func TestKeyLookupFloodBounded(t *testing.T) {
	e := env(t)
	var n atomic.Int64
	srv, err := New(Config{Store: e.db.Reader(storage.QueryLimits{}), Keys: countingKeys{e.db, &n}, Registry: prometheus.NewRegistry(),
		Now: func() time.Time { return e.now }, KeyLookupRate: 5, KeyCacheTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	base := httptestServer(t, srv)
	good := e.key(t, Scope{})
	if code, _, body := e.send(t, base, "GET", "/v1/vessels?limit=1", "", good); code != 200 {
		t.Fatalf("known key: %d %s", code, body)
	}
	codes := map[int]int{}
	for range 60 {
		fake, _, _ := NewKey("made up", Scope{}, e.now)
		code, h, body := e.send(t, base, "GET", "/v1/vessels?limit=1", "", fake)
		codes[code]++
		if code == 429 && (h.Get("Retry-After") == "" || !strings.Contains(body, "rate_limited")) {
			t.Fatalf("429 without Retry-After or code: %v %s", h, body)
		}
	}
	if got := n.Load(); got > 1+10+2 || codes[429] == 0 || codes[401] == 0 || codes[401]+codes[429] != 60 {
		t.Fatalf("%d lookups for 61 keys, answers %v", got, codes)
	}
	if code, _, _ := e.send(t, base, "GET", "/v1/vessels?limit=1", "", good); code != 200 {
		t.Fatalf("known key during the flood: %d", code)
	}
}
