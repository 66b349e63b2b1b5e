package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keelson/keelson"
	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"
)

// hub fans the live feed out to /v1/stream clients. A client that cannot
// keep up loses events (counted), never slows the feed.
type hub struct {
	mu      sync.Mutex
	clients map[*streamClient]struct{}
}

type streamClient struct {
	ch     chan []byte
	accept func(ev *keelson.Event) bool
	closed bool
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

func (h *hub) add(c *streamClient) {
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
}

func (h *hub) remove(c *streamClient) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
}

func (h *hub) publish(ev *keelson.Event, drops prometheus.Counter) {
	if ev.Kind != keelson.KindPosition || ev.Position == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var data []byte
	for c := range h.clients {
		if c.closed || !c.accept(ev) {
			continue
		}
		if data == nil {
			b, err := json.Marshal(ev)
			if err != nil {
				return
			}
			data = b
		}
		select {
		case c.ch <- data:
		default:
			drops.Inc()
		}
	}
}

func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		if !c.closed {
			c.closed = true
			close(c.ch)
		}
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// GET /v1/stream: live positions as Server-Sent Events.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request, k *Key) error {
	q, err := newQuery(r.URL.RawQuery, "bbox", "mmsi", "vessel")
	if err != nil {
		return err
	}
	b := world
	if q.has("bbox") {
		if b, err = parseBBox("bbox", q.get("bbox")); err != nil {
			return err
		}
	}
	var mm []keelson.MMSI
	if q.has("mmsi") {
		if mm, err = parseMMSIs("mmsi", q.get("mmsi")); err != nil {
			return err
		}
	}
	var vs []string
	if q.has("vessel") {
		for _, v := range splitList(q.get("vessel")) {
			if !vesselName.MatchString(v) {
				return badParam("vessel", "%q is not an own-ship vessel id", v)
			}
			vs = append(vs, v)
		}
		if len(vs) > maxListItems {
			return badParam("vessel", "more than %d items", maxListItems)
		}
	}
	if k.Scope.Aggregated {
		return errorf(ErrOutOfScope, "this key may read aggregated data only, not the live stream")
	}
	if k.Scope.Delay > 0 {
		return errorf(ErrOutOfScope, "this key sees data older than %s only, not the live stream", time.Duration(k.Scope.Delay))
	}
	// AIS vessels by MMSI, own-ship vessels stored without an MMSI by
	// vessel id; naming either restricts the stream to the named ones.
	named := mm != nil || vs != nil
	var aisOK, ownOK bool
	if !named || mm != nil {
		mm, aisOK = k.Scope.filterMMSIs(mm)
	}
	if !named || vs != nil {
		vs = slices.DeleteFunc(vs, func(v string) bool { return !k.Scope.allowsVessel(v) })
		ownOK = (!k.Scope.restricted() || len(k.Scope.Vessels) > 0) && (vs == nil || len(vs) > 0)
	}
	if !aisOK && !ownOK {
		return errorf(ErrOutOfScope, "none of the requested vessels is in this key's scope")
	}
	if s.cfg.Feed == nil {
		return errorf(ErrUnavailable, "the live stream is not configured on this server")
	}
	c := &streamClient{ch: make(chan []byte, s.cfg.StreamBuffer), accept: func(ev *keelson.Event) bool {
		p := orb.Point(ev.Position.Point)
		if !b.Contains(p) || !k.Scope.allowsPoint(p) {
			return false
		}
		if ev.MMSI != 0 {
			return aisOK && (len(mm) == 0 || slices.Contains(mm, ev.MMSI))
		}
		return ownOK && ev.Vessel != "" && k.Scope.allowsVessel(ev.Vessel) && (len(vs) == 0 || slices.Contains(vs, ev.Vessel))
	}}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte(": keelson live positions\n\n")); err != nil {
		return nil
	}
	rc.Flush()
	s.hub.add(c)
	defer s.hub.remove(c)
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	buf := make([]byte, 0, 1024)
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-tick.C:
			if _, err := w.Write([]byte(": keepalive\n\n")); err != nil {
				return nil
			}
		case data, ok := <-c.ch:
			if !ok {
				return nil
			}
			buf = append(append(append(buf[:0], "event: position\ndata: "...), data...), '\n', '\n')
			if _, err := w.Write(buf); err != nil {
				return nil
			}
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}
