package api

import (
	"context"
	"fmt"
	"net/url"
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := prometheus.NewRegistry()
	r := e.db.Reader(storage.QueryLimits{})
	tr, err := hot.New(hot.Config{DB: e.db, Fallback: r, Registry: reg, Now: func() time.Time { return e.now }, MaxLag: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for start := time.Now(); !tr.Ready(); time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > time.Minute {
			t.Fatal("tracks not loaded in a minute")
		}
	}
	if tr.Len() == 0 {
		t.Fatal("no positions held")
	}
	mem := e.serve(t, hot.Store{Reader: r, Tracks: tr})
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
	mfs, _ := reg.Gather()
	served := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "keelson_hot_tracks_total" {
			for _, m := range mf.GetMetric() {
				served[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if served["memory"] == 0 || served["storage"] != 0 {
		t.Fatalf("tracks served: %v, want all from memory", served)
	}
}
