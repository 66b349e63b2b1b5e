package api

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/decode"
	"github.com/keelson/keelson/storage"
	"github.com/prometheus/client_golang/prometheus"
)

// testEnv is an embedded ClickHouse loaded with replays of every real AIS
// capture in testdata/ais (and an own-ship log for telemetry), decoded by
// package decode and inserted by storage, with an API server in front.
type testEnv struct {
	db      *storage.DB
	srv     *Server
	http    *httptest.Server
	events  []keelson.Event // everything inserted
	base    time.Time       // reception time of the first line
	now     time.Time       // the server's clock
	refused int             // events the engine refused to insert
}

var (
	envOnce sync.Once
	envVal  *testEnv
	envErr  error
	envDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if envVal != nil {
		envVal.http.Close()
		envVal.db.Close()
	}
	if envDir != "" {
		os.RemoveAll(envDir)
	}
	os.Exit(code)
}

// env returns the shared loaded environment. It skips under -short and
// fails when the embedded engine is missing.
func env(t testing.TB) *testEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("embedded ClickHouse: skipped with -short")
	}
	envOnce.Do(func() { envVal, envErr = newEnv() })
	if envErr != nil {
		t.Fatalf("test environment: %v", envErr)
	}
	return envVal
}

// replay decodes the lines of a capture, one second apart from start.
func replay(path string, cfg decode.Config, start time.Time, seq *uint64) ([]keelson.Event, time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, start, err
	}
	defer f.Close()
	d := decode.NewDecoder(cfg)
	var evs []keelson.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	t := start
	for sc.Scan() {
		n := len(evs)
		evs, _ = d.Decode(evs, sc.Bytes(), t) // bad lines are counted by the decoder; the good ones stay
		for i := n; i < len(evs); i++ {
			*seq++
			evs[i].ID = keelson.EventID{Collector: "test", Boot: 1, Seq: *seq}
			evs[i].AIS = append(keelson.RawJSON(nil), evs[i].AIS...)
		}
		t = t.Add(time.Second)
	}
	return evs, t, sc.Err()
}

func newEnv() (*testEnv, error) {
	ctx := context.Background()
	var err error
	envDir, err = os.MkdirTemp("", "keelson-api-test")
	if err != nil {
		return nil, err
	}
	db, err := storage.Open(ctx, "chdb://"+envDir, storage.Options{})
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	if err := db.EnsureAPIKeys(ctx); err != nil {
		return nil, err
	}
	e := &testEnv{db: db, now: time.Now().UTC().Truncate(time.Second)}
	e.base = e.now.Add(-4 * time.Hour)
	files, _ := filepath.Glob("../testdata/ais/*")
	t := e.base
	var seq uint64
	for _, f := range files {
		evs, next, err := replay(f, decode.Config{Collector: "test", Input: filepath.Base(f)}, t, &seq)
		if err != nil {
			return nil, err
		}
		e.events = append(e.events, evs...)
		t = next
	}
	evs, _, err := replay("../testdata/gnss/bundg_zeus_9.log", decode.Config{Collector: "test", Input: "zeus", Vessel: "zeus"}, e.base, &seq)
	if err != nil {
		return nil, err
	}
	e.events = append(e.events, evs...)
	// Insert in batches; a batch the engine refuses is retried event by
	// event and the refused events are dropped from the reference set (the
	// embedded engine rejects a few Native blocks: see the report).
	var kept []keelson.Event
	for i := 0; i < len(e.events); i += 200 {
		chunk := e.events[i:min(i+200, len(e.events))]
		b := storage.NewBatch()
		for j := range chunk {
			b.Add(&chunk[j])
		}
		if err := db.InsertEvents(ctx, b, fmt.Sprint("load", i)); err == nil {
			kept = append(kept, chunk...)
			continue
		}
		for j := range chunk {
			b.Reset()
			b.Add(&chunk[j])
			if err := db.InsertEvents(ctx, b, fmt.Sprint("load1-", i+j)); err == nil {
				kept = append(kept, chunk[j])
			} else {
				e.refused++
			}
		}
	}
	e.events = kept
	e.srv, err = New(Config{Store: db.Reader(storage.QueryLimits{}), Keys: db, Registry: prometheus.NewRegistry(),
		Now: func() time.Time { return e.now }, Rate: 1000, Burst: 1000, ClientRate: 1000, ClientBurst: 1000, MaxPage: 500, DefaultPage: 100, KeyCacheTTL: time.Millisecond, KeyLookupRate: 1e6})
	if err != nil {
		return nil, err
	}
	if err := e.srv.load(ctx); err != nil {
		return nil, err
	}
	e.srv.ready.Store(true)
	e.http = httptest.NewServer(e.srv.Handler())
	return e, nil
}

// key stores a new key with the scope and returns its secret.
func (e *testEnv) key(t testing.TB, scope Scope) string {
	t.Helper()
	secret, k, err := NewKey(t.Name(), scope, e.now)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := k.Storage()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.PutAPIKey(context.Background(), sk); err != nil {
		t.Fatal(err)
	}
	return secret
}

// get sends a request with the key ("" for none).
func (e *testEnv) do(t testing.TB, method, path, key string, body string) *http.Response {
	t.Helper()
	var req *http.Request
	var err error
	if body != "" {
		req, err = http.NewRequest(method, e.http.URL+path, stringsReader(body))
	} else {
		req, err = http.NewRequest(method, e.http.URL+path, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
