package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/storage"
	"github.com/keelson/keelson/web"
	"github.com/keelson/keelson/web/webtest"
	"github.com/prometheus/client_golang/prometheus"
)

// The map page shows an own ship stored without an MMSI as a marker of its
// own style; a click opens its card and its track via /v1/vessels/{id}
// (a real browser against the server over embedded ClickHouse).
func TestOwnShipOnMap(t *testing.T) {
	e := env(t)
	if _, err := webtest.FindChromium(); err != nil {
		t.Fatal(err) // a full run needs the browser (scripts/setup.sh test)
	}
	srv, err := New(Config{Store: e.db.Reader(storage.QueryLimits{}), Keys: e.db, Registry: prometheus.NewRegistry(), Web: web.Handler(),
		Now: func() time.Time { return e.now }, KeyLookupRate: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.ready.Store(true)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	last, _ := e.zeusAt(t, time.Time{})
	p := last.Position.Point
	key := e.key(t, Scope{Vessels: []string{"zeus"}, MMSIs: []keelson.MMSI{e.busiest()}})

	b, err := webtest.NewBrowser(context.Background(), t.TempDir(), 1280, 800)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	url := fmt.Sprintf("%s/?lat=%v&lon=%v&z=11#key=%s", hs.URL, p[1], p[0], key)
	r, err := b.CheckOwnShip(url, "zeus", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("own ships on the map: %d; track of %d points; card:\n%s", r.OwnShips, r.TrackPoints, r.Card)
	if r.OwnShips != 1 {
		t.Errorf("%d own-ship markers, want 1", r.OwnShips)
	}
	if !strings.Contains(r.Card, "Own ship") || !strings.Contains(r.Card, "zeus") || strings.Contains(r.Card, "MMSI") {
		t.Errorf("card of zeus:\n%s", r.Card)
	}
	if r.TrackPoints < 100 {
		t.Errorf("track of zeus: %d points, want the log's fixes (%d)", r.TrackPoints, len(e.ownFixes("zeus")))
	}
}
