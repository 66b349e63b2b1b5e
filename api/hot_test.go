package api

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/keelson/keelson/storage/hot"
	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"
)

// Tracks answered from memory (package hot, what `keelson serve` runs)
// are byte for byte the tracks answered from ClickHouse, for every vessel
// of the real captures and the own ship, in every format, simplified and
// resampled, and for keys with a region or a delay.
func TestTracksFromMemorySame(t *testing.T) {
	e := env(t)
	mem, reg := e.memoryServer(t)
	seen := map[keelson.MMSI]bool{}
	var ids []string
	for _, ev := range e.positionEvents() {
		if ev.MMSI != 0 && !seen[ev.MMSI] && len(ids) < 40 {
			seen[ev.MMSI] = true
			ids = append(ids, fmt.Sprint(uint32(ev.MMSI)))
		}
	}
	ids = append(ids, "zeus")
	from, to := url.QueryEscape(e.base.Add(-time.Hour).Format(time.RFC3339)), url.QueryEscape(e.now.Add(time.Hour).Format(time.RFC3339))
	all := e.key(t, Scope{Export: true})
	region := e.key(t, Scope{Export: true, Region: orb.MultiPolygon{{{{8, 54}, {11, 54}, {11, 58}, {8, 58}, {8, 54}}}}})
	delayed := e.key(t, Scope{Export: true, Delay: Duration(2 * time.Hour)})
	queries := []string{"", "&format=json", "&format=csv", "&format=ndjson", "&format=parquet", "&simplify=50", "&resample=30s&max_gap=10m"}
	points := 0
	for _, id := range ids {
		for i, q := range queries {
			for _, key := range []string{all, region, delayed} {
				if key != all && i > 1 {
					continue
				}
				path := "/v1/vessels/" + id + "/track?from=" + from + "&to=" + to + q
				wc, _, want := e.send(t, e.http.URL, "GET", path, "", key)
				gc, _, got := e.send(t, mem, "GET", path, "", key)
				if gc != wc || got != want {
					t.Fatalf("%s: memory %d %.300s\nClickHouse %d %.300s", path, gc, got, wc, want)
				}
				if wc == 200 && q == "" {
					points += len(want)
				}
			}
		}
	}
	if points < 10_000 {
		t.Fatalf("only %d bytes of tracks compared", points)
	}
	if n := served(reg, "keelson_hot_tracks_total"); n["memory"] == 0 || n["storage"] != 0 {
		t.Fatalf("tracks served: %v, want all from memory", n)
	}
}

// memoryServer serves the test data with package hot's store (tracks
// and area-time queries from memory), once memory holds the data; reg
// holds package hot's metrics.
func (e *testEnv) memoryServer(t *testing.T) (string, *prometheus.Registry) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reg := prometheus.NewRegistry()
	r := e.db.Reader(storage.QueryLimits{})
	tr, err := hot.New(hot.Config{DB: e.db, Fallback: r, Registry: reg, Now: func() time.Time { return e.now }, MaxLag: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for start := time.Now(); !tr.Ready(); time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > time.Minute {
			t.Fatal("tracks not loaded in a minute")
		}
	}
	if tr.Len() == 0 {
		t.Fatal("no positions held")
	}
	return e.serve(t, hot.Store{Reader: r, Tracks: tr}), reg
}

// served returns package hot's counter name by its label from.
func served(reg *prometheus.Registry, name string) map[string]float64 {
	mfs, _ := reg.Gather()
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				out[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// sendPage is send with the X-Next-Cursor trailer.
func (e *testEnv) sendPage(t *testing.T, base, path, key string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b), resp.Trailer.Get("X-Next-Cursor")
}

// Area-time queries answered from memory (package hot) are byte for byte
// those answered from ClickHouse: boxes over the real captures (the
// whole world, the data's extent, random boxes, boxes on reported
// points' exact coordinates, an empty one), MMSI lists, in JSON, CSV,
// NDJSON and GeoJSON, paged with cursors to the end, for keys with and
// without a region or a delay.
func TestPositionsFromMemorySame(t *testing.T) {
	e := env(t)
	mem, reg := e.memoryServer(t)
	ch := e.serve(t, e.db.Reader(storage.QueryLimits{})) // configured as mem is
	evs := e.positionEvents()
	ext := orb.MultiPoint{}
	for _, ev := range evs {
		ext = append(ext, ev.Position.Point)
	}
	b := ext.Bound()
	rng := rand.New(rand.NewPCG(5, 5))
	bbox := func(w, s, e, n float64) string { return fmt.Sprintf("bbox=%v,%v,%v,%v", w, s, e, n) }
	areas := []string{
		bbox(-180, -90, 180, 90),
		bbox(b.Min[0], b.Min[1], b.Max[0], b.Max[1]),
		bbox(100, -40, 110, -30), // nothing there
	}
	for i := 0; i < 8; i++ {
		p := evs[rng.IntN(len(evs))].Position.Point
		areas = append(areas, bbox(p[0]-rng.Float64(), p[1]-rng.Float64(), p[0]+rng.Float64(), p[1]+rng.Float64()))
		r := evs[rng.IntN(len(evs))].Position.Point
		areas = append(areas, bbox(min(p[0], r[0]), min(p[1], r[1]), max(p[0], r[0]), max(p[1], r[1])))
	}
	for i := 0; i < 3; i++ {
		areas = append(areas, fmt.Sprintf("mmsi=%d,%d", uint32(evs[rng.IntN(len(evs))].MMSI), uint32(evs[rng.IntN(len(evs))].MMSI)))
	}
	areas = append(areas, fmt.Sprintf("mmsi=%d&", uint32(evs[0].MMSI))+bbox(b.Min[0], b.Min[1], b.Max[0], b.Max[1]))
	ts := func(t time.Time) string { return url.QueryEscape(t.UTC().Format(time.RFC3339Nano)) }
	ranges := [][2]time.Time{
		{e.base.Add(-time.Hour), e.now.Add(time.Hour)},
		{e.base.Add(7 * time.Minute), e.base.Add(30*time.Minute + 123*time.Millisecond)},
	}
	all := e.key(t, Scope{Export: true})
	region := e.key(t, Scope{Export: true, Region: orb.MultiPolygon{{{{8, 54}, {11, 54}, {11, 58}, {8, 58}, {8, 54}}}}})
	delayed := e.key(t, Scope{Export: true, Delay: Duration(2 * time.Hour)})
	rows, pages := 0, 0
	for i, a := range areas {
		for j, r := range ranges {
			for k, key := range []string{all, region, delayed} {
				formats := []string{"", "&format=csv"}
				if k == 0 && j == 0 {
					formats = append(formats, "&format=ndjson", "&format=geojson")
				}
				for _, f := range formats {
					path := "/v1/positions?" + a + "&from=" + ts(r[0]) + "&to=" + ts(r[1]) + f
					wc, want, wnext := e.sendPage(t, ch, path, key)
					gc, got, gnext := e.sendPage(t, mem, path, key)
					if gc != wc || gnext != wnext || got != want {
						t.Fatalf("%s: memory %d %.300s\nClickHouse %d %.300s", path, gc, got, wc, want)
					}
					if wc == 200 && f == "&format=csv" {
						rows += strings.Count(want, "\n") - 1
					}
				}
				if (i+j+k)%3 != 0 {
					continue
				}
				// Pages to the end, small ones.
				cursor := ""
				for page := 0; ; page++ {
					path := "/v1/positions?" + a + "&from=" + ts(r[0]) + "&to=" + ts(r[1]) + "&limit=97&format=csv" + cursor
					wc, want, wnext := e.sendPage(t, ch, path, key)
					gc, got, gnext := e.sendPage(t, mem, path, key)
					if gc != wc || gnext != wnext || got != want {
						t.Fatalf("%s page %d: memory %d %q %.300s\nClickHouse %d %q %.300s", path, page, gc, gnext, got, wc, wnext, want)
					}
					pages++
					if wnext == "" || page > 200 {
						break
					}
					cursor = "&cursor=" + url.QueryEscape(wnext)
				}
			}
		}
	}
	if rows < 10_000 || pages < 50 {
		t.Fatalf("only %d rows and %d pages compared", rows, pages)
	}
	t.Logf("%d rows, %d pages compared", rows, pages)
	if n := served(reg, "keelson_hot_position_queries_total"); n["memory"] < 100 || n["storage"] == 0 {
		t.Fatalf("area-time queries served: %v, want most from memory, the region key's from storage", n)
	}
}
