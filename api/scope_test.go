package api

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/keelson/keelson"
	"github.com/paulmach/orb"
)

// Every scope rule against every endpoint (OWASP API1: no leak through
// another endpoint).
func TestScopeRules(t *testing.T) {
	e := env(t)
	full := e.key(t, Scope{Export: true})
	m := e.busiest()
	win := "from=" + rfc(e.base.Add(-time.Hour)) + "&to=" + rfc(e.now)
	allVessels := e.all(t, "/v1/vessels?limit=5000", full)
	var other keelson.MMSI
	for _, r := range allVessels {
		if r.mmsi() != m && r.mmsi() != 0 { // 0: an own ship (its id in vessel)
			other = r.mmsi()
			break
		}
	}

	t.Run("mmsi allowlist", func(t *testing.T) {
		k := e.key(t, Scope{MMSIs: []keelson.MMSI{m}, Export: true})
		e.call(t, "GET", "/v1/vessels/"+m.String(), k, "", 200, nil)
		e.call(t, "GET", "/v1/vessels/"+other.String(), k, "", 403, nil)
		e.call(t, "GET", "/v1/vessels/999999998", k, "", 403, nil) // no existence leak
		for _, r := range e.all(t, "/v1/vessels?limit=5000", k) {
			if r.mmsi() != m {
				t.Fatalf("list leaks %d", r.mmsi())
			}
		}
		var pg page
		e.call(t, "GET", "/v1/vessels/near?lat=0&lon=0&limit=1000", k, "", 200, &pg)
		if len(pg.Data) != 1 || pg.Data[0].mmsi() != m {
			t.Fatalf("near: %v", pg.Data)
		}
		e.call(t, "GET", "/v1/vessels/"+m.String()+"/track?"+win, k, "", 200, nil)
		e.call(t, "GET", "/v1/vessels/"+other.String()+"/track?"+win, k, "", 403, nil)
		rows := e.all(t, "/v1/positions?limit=10000&"+win, k)
		if len(rows) == 0 {
			t.Fatal("no positions of the allowed vessel")
		}
		for _, r := range rows {
			if r.mmsi() != m {
				t.Fatalf("positions leak %d", r.mmsi())
			}
		}
		if rows := e.all(t, "/v1/positions?mmsi="+other.String()+"&"+win, k); len(rows) != 0 {
			t.Fatalf("positions of a vessel out of scope: %d", len(rows))
		}
		e.call(t, "POST", "/v1/positions?"+win, k, `{"type":"Polygon","coordinates":[[[-180,-90],[180,-90],[180,90],[-180,90],[-180,-90]]]}`, 200, &pg)
		for _, r := range pg.Data {
			if r.mmsi() != m {
				t.Fatalf("POST positions leak %d", r.mmsi())
			}
		}
		for _, r := range e.all(t, "/v1/observations?from="+rfc(e.now.Add(-30*24*time.Hour)), k) {
			if r.mmsi() != m {
				t.Fatalf("observations leak %d", r.mmsi())
			}
		}
		e.call(t, "GET", "/v1/observations?vessel=zeus&"+win, k, "", 403, nil)
		e.call(t, "GET", "/v1/stream?mmsi="+other.String(), k, "", 403, nil)
		// An own-ship allowlist opens that vessel's telemetry only.
		ko := e.key(t, Scope{Vessels: []string{"zeus"}})
		e.call(t, "GET", "/v1/observations?vessel=zeus&"+win, ko, "", 200, nil)
		e.call(t, "GET", "/v1/observations?vessel=other&"+win, ko, "", 403, nil)
		if rows := e.all(t, "/v1/vessels?limit=100", ko); len(rows) != 1 || rows[0]["vessel"] != "zeus" {
			t.Fatalf("own-ship-only key sees %v, want zeus only", rows)
		}
	})

	t.Run("region", func(t *testing.T) {
		// The Sound (Øresund) and around.
		region := orb.Polygon{{{12.2, 55.3}, {13.2, 55.3}, {13.2, 56.3}, {12.2, 56.3}, {12.2, 55.3}}}
		k := e.key(t, Scope{Region: orb.MultiPolygon{region}, Export: true})
		b := region.Bound()
		var in, out keelson.MMSI
		for _, r := range allVessels {
			if b.Contains(r.point()) && in == 0 {
				in = r.mmsi()
			} else if !b.Contains(r.point()) && out == 0 {
				out = r.mmsi()
			}
		}
		e.call(t, "GET", "/v1/vessels/"+in.String(), k, "", 200, nil)
		e.call(t, "GET", "/v1/vessels/"+out.String(), k, "", 403, nil)
		// A vessel that does not exist looks the same as one outside.
		e.call(t, "GET", "/v1/vessels/999999998", k, "", 403, nil)
		e.call(t, "GET", "/v1/vessels/nosuchship", k, "", 403, nil)
		check := func(what string, rows []row) {
			t.Helper()
			for _, r := range rows {
				if !b.Contains(r.point()) {
					t.Fatalf("%s leaks %d at %v", what, r.mmsi(), r.point())
				}
			}
		}
		vs := e.all(t, "/v1/vessels?limit=5000", k)
		if len(vs) == 0 {
			t.Fatal("no vessel in the region")
		}
		check("vessels", vs)
		var pg page
		e.call(t, "GET", "/v1/vessels/near?lat=0&lon=0&limit=1000", k, "", 200, &pg)
		check("near", pg.Data)
		if len(pg.Data) != len(vs) {
			t.Fatalf("near: %d vessels, region holds %d", len(pg.Data), len(vs))
		}
		ps := e.all(t, "/v1/positions?limit=10000&"+win, k)
		if len(ps) == 0 {
			t.Fatal("no positions in the region")
		}
		check("positions", ps)
		e.call(t, "POST", "/v1/positions?limit=10000&"+win, k, `{"type":"Polygon","coordinates":[[[-180,-90],[180,-90],[180,90],[-180,90],[-180,-90]]]}`, 200, &pg)
		check("POST positions", pg.Data)
		if len(pg.Data) != len(ps) {
			t.Fatalf("POST positions: %d, GET %d", len(pg.Data), len(ps))
		}
		check("observations", e.all(t, "/v1/observations?from="+rfc(e.now.Add(-30*24*time.Hour)), k))
		// A track keeps only the points inside the region.
		var tr page
		e.call(t, "GET", "/v1/vessels/"+in.String()+"/track?format=json&"+win, k, "", 200, &tr)
		check("track", tr.Data)
		e.call(t, "GET", "/v1/observations?vessel=zeus&"+win, k, "", 403, nil)
	})

	t.Run("max range", func(t *testing.T) {
		k := e.key(t, Scope{MaxRange: Duration(time.Hour), Export: true})
		long := "from=" + rfc(e.now.Add(-2*time.Hour)) + "&to=" + rfc(e.now)
		short := "from=" + rfc(e.now.Add(-30*time.Minute)) + "&to=" + rfc(e.now)
		for _, p := range []string{"/v1/vessels/" + m.String() + "/track?", "/v1/positions?", "/v1/observations?", "/v1/observations?vessel=zeus&"} {
			e.call(t, "GET", p+long, k, "", 403, nil)
			e.call(t, "GET", p+short, k, "", 200, nil)
		}
		e.call(t, "POST", "/v1/positions?"+long, k, `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}`, 403, nil)
		// The default range of a track (24 h) is too long for this key.
		e.call(t, "GET", "/v1/vessels/"+m.String()+"/track", k, "", 403, nil)
	})

	t.Run("delay", func(t *testing.T) {
		const d = 2 * time.Hour
		k := e.key(t, Scope{Delay: Duration(d), Export: true})
		cut := e.now.Add(-d)
		late := func(what string, rows []row) {
			t.Helper()
			for _, r := range rows {
				if r.time("time").After(cut) {
					t.Fatalf("%s leaks %v (cutoff %v)", what, r["time"], cut)
				}
			}
		}
		vs := e.all(t, "/v1/vessels?limit=5000", k)
		if len(vs) == 0 {
			t.Fatal("delayed key sees no vessel")
		}
		late("vessels", vs)
		var n int
		for _, r := range allVessels {
			if r.time("time").After(cut) {
				n++
			}
		}
		if n == 0 {
			t.Fatal("test data has nothing newer than the cutoff")
		}
		for _, r := range vs[:min(len(vs), 20)] {
			var v row
			id := r.mmsi().String()
			if r.mmsi() == 0 {
				id = r["vessel"].(string) // an own ship
			}
			e.call(t, "GET", "/v1/vessels/"+id, k, "", 200, &v)
			late("vessel", []row{v})
		}
		var pg page
		e.call(t, "GET", "/v1/vessels/near?lat=55.7&lon=12.6&limit=50", k, "", 200, &pg)
		late("near", pg.Data)
		e.call(t, "GET", "/v1/vessels/"+m.String()+"/track?format=json&"+win, k, "", 200, &pg)
		late("track", pg.Data)
		ps := e.all(t, "/v1/positions?limit=10000&"+win, k)
		late("positions", ps)
		all := e.all(t, "/v1/positions?limit=10000&"+win, full)
		if len(ps) == 0 || len(ps) == len(all) {
			t.Fatalf("delayed positions: %d of %d", len(ps), len(all))
		}
		late("telemetry", e.all(t, "/v1/observations?vessel=zeus&limit=5000&"+win, k))
		e.call(t, "GET", "/v1/stream", k, "", 403, nil)
	})

	t.Run("export", func(t *testing.T) {
		k := e.key(t, Scope{})
		big := "limit=" + strconv.Itoa(e.srv.cfg.MaxPage+1)
		for _, p := range []string{"/v1/vessels?", "/v1/positions?" + win + "&", "/v1/observations?", "/v1/positions?format=parquet&" + win + "&"} {
			e.call(t, "GET", p+big, k, "", 403, nil)
			e.call(t, "GET", p+"limit=10", k, "", 200, nil)
			e.call(t, "GET", p+big, full, "", 200, nil)
		}
		// Without export rights an export format gets one page and a cursor.
		resp := e.do(t, "GET", "/v1/positions?format=csv&"+win, k, "")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if lines := strings.Count(string(b), "\n"); lines != e.srv.cfg.DefaultPage+1 || resp.Trailer.Get("X-Next-Cursor") == "" {
			t.Fatalf("csv page: %d lines, trailer %q", lines, resp.Trailer.Get("X-Next-Cursor"))
		}
	})

	t.Run("aggregated only", func(t *testing.T) {
		k := e.key(t, Scope{Aggregated: true})
		e.call(t, "GET", "/v1/vessels", k, "", 200, nil)
		e.call(t, "GET", "/v1/vessels/"+m.String(), k, "", 200, nil)
		e.call(t, "GET", "/v1/vessels/near?lat=55&lon=12", k, "", 200, nil)
		for _, p := range []string{"/v1/vessels/" + m.String() + "/track", "/v1/positions?" + win, "/v1/observations", "/v1/observations?vessel=zeus", "/v1/stream",
			"/v1/vessels/" + m.String() + "/track?format=csv", "/v1/positions?format=parquet"} {
			e.call(t, "GET", p, k, "", 403, nil)
		}
		e.call(t, "POST", "/v1/positions", k, `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}`, 403, nil)
	})
}

// Injection attempts in every parameter: each is refused with a 400 (no
// value is ever formatted into SQL, and typed parsing rejects them first),
// and the data is intact afterwards.
func TestInjection(t *testing.T) {
	e := env(t)
	k := e.key(t, Scope{Export: true})
	before := len(e.all(t, "/v1/vessels?limit=5000", k))
	evil := []string{`'`, `"`, `\`, `\'`, `--`, `/*`, `*/`, `' OR '1'='1`, `1; DROP TABLE positions`, `1) OR (1=1`,
		`Europe/Oslo`, `2026-10-01T00:00:00 Europe/Oslo`, `2026-10-01 00:00:00`, `toDateTime('2026-10-01')`, "1\x00", `{x:String}`, `$1`, `%s`}
	params := map[string][]string{
		"/v1/vessels":                 {"bbox", "ship_type", "updated_since", "limit", "cursor", "format"},
		"/v1/vessels/near":            {"lat", "lon", "radius_m", "limit", "ship_type", "format"},
		"/v1/vessels/211000001/track": {"from", "to", "simplify", "resample", "max_gap", "format"},
		"/v1/positions":               {"bbox", "from", "to", "mmsi", "ship_type", "limit", "cursor", "format"},
		"/v1/observations":            {"bbox", "from", "to", "mmsi", "vessel", "limit", "cursor", "format"},
		"/v1/stream":                  {"bbox", "mmsi", "vessel"},
	}
	for path, names := range params {
		for _, name := range names {
			for _, v := range evil {
				q := url.Values{name: {v}}
				if path == "/v1/vessels/near" && name != "lat" && name != "lon" {
					q.Set("lat", "55")
					q.Set("lon", "12")
				}
				e.call(t, "GET", path+"?"+q.Encode(), k, "", 400, nil)
			}
		}
	}
	for _, v := range evil {
		e.call(t, "GET", "/v1/vessels/"+url.PathEscape(v), k, "", 400, nil)
		e.call(t, "GET", "/v1/vessels/"+url.PathEscape(v)+"/track", k, "", 400, nil)
		e.call(t, "GET", "/v1/observations?vessel=zeus&quantity="+url.QueryEscape(v), k, "", 400, nil)
	}
	// The bodies of POST /v1/positions.
	for _, v := range evil {
		body := fmt.Sprintf(`{"type":%q,"coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}`, v)
		e.call(t, "POST", "/v1/positions", k, body, 400, nil)
	}
	// The key itself, and cursors that decode to SQL.
	for _, bad := range []string{`kls_' OR '1'='1`, "kls_0123456789ab_" + strings.Repeat("'", 43), "kls_0123456789ab_" + strings.Repeat("A", 42) + `\`,
		"kls_01234567'9ab_" + strings.Repeat("A", 43), "kls_0123456789AB_" + strings.Repeat("A", 43)} {
		e.call(t, "GET", "/v1/vessels", bad, "", 401, nil)
	}
	for _, c := range []string{"c1.0.0 OR 1=1", "c1.0'.1", "c1.1e3.1", "c1.0.1.2", "c2.0.1"} {
		e.call(t, "GET", "/v1/positions?cursor="+base64.RawURLEncoding.EncodeToString([]byte(c)), k, "", 400, nil)
	}
	// A numeric offset is the same instant as Z.
	z := e.all(t, "/v1/positions?limit=10000&from="+rfc(e.now.Add(-90*time.Minute))+"&to="+rfc(e.now), k)
	off := e.all(t, "/v1/positions?limit=10000&from="+url.QueryEscape(e.now.Add(-90*time.Minute).In(time.FixedZone("", 2*3600)).Format(time.RFC3339))+
		"&to="+url.QueryEscape(e.now.In(time.FixedZone("", -5*3600)).Format(time.RFC3339)), k)
	if len(z) == 0 {
		t.Fatal("no positions in the last 90 minutes")
	}
	sameRows(t, "offset times", off, z)
	if after := len(e.all(t, "/v1/vessels?limit=5000", k)); after != before {
		t.Fatalf("vessels before %d, after %d", before, after)
	}
	var n uint64
	if err := e.db.QueryRow(context.Background(), "SELECT count() FROM positions", nil, &n); err != nil || n == 0 {
		t.Fatalf("positions: %d %v", n, err)
	}
}

func TestRateLimit(t *testing.T) {
	e := env(t)
	k := e.key(t, Scope{Rate: 0.5, Burst: 2})
	for i := range 2 {
		r := e.call(t, "GET", "/v1/vessels?limit=1", k, "", 200, nil)
		if r.Header.Get("X-RateLimit-Limit") != "2" || r.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(1-i) || r.Header.Get("X-RateLimit-Reset") == "" {
			t.Fatalf("request %d: quota headers %v", i, r.Header)
		}
	}
	r := e.call(t, "GET", "/v1/vessels?limit=1", k, "", 429, nil)
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 1 || ra > 2 || r.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("429 headers: %v", r.Header)
	}
	// Another key has its own bucket; quota headers on errors too.
	k2 := e.key(t, Scope{Rate: 0.5, Burst: 2})
	r = e.call(t, "GET", "/v1/vessels?bbox=bad", k2, "", 400, nil)
	if r.Header.Get("X-RateLimit-Remaining") != "1" {
		t.Fatalf("quota headers on a 400: %v", r.Header)
	}
}

// The OpenAPI document is valid 3.1 and lists exactly the served routes.
func TestOpenAPI(t *testing.T) {
	e := env(t)
	resp := e.do(t, "GET", "/openapi.json", "", "")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid OpenAPI document: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	// Every route is documented with each of its parameters ...
	for _, rt := range e.srv.routes {
		item := doc.Paths.Find(rt.pattern)
		if item == nil || item.GetOperation(rt.method) == nil {
			t.Fatalf("%s %s is not documented", rt.method, rt.pattern)
		}
		op := item.GetOperation(rt.method)
		if (op.Security == nil || len(*op.Security) == 0) != rt.public {
			t.Errorf("%s %s: security does not match", rt.method, rt.pattern)
		}
	}
	// ... and every documented operation is routed by the mux.
	n := 0
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			n++
			p := strings.ReplaceAll(path, "{id}", "211000001")
			req, _ := http.NewRequest(method, "http://x"+p, nil)
			if _, pattern := e.srv.mux.Handler(req); pattern != method+" "+path {
				t.Errorf("documented %s %s is routed to %q", method, path, pattern)
			}
		}
	}
	if n != len(e.srv.routes) {
		t.Errorf("%d documented operations, %d routes", n, len(e.srv.routes))
	}
	// Headers: quota on every authenticated answer, Retry-After on 429,
	// the X-Next-Cursor trailer on paged lists.
	for _, rt := range e.srv.routes {
		op := doc.Paths.Find(rt.pattern).GetOperation(rt.method)
		if rt.public {
			continue
		}
		for _, code := range []string{"200", "400", "403", "429", "500"} {
			r := op.Responses.Value(code)
			if r == nil || r.Value == nil || r.Value.Headers["X-RateLimit-Remaining"] == nil {
				t.Errorf("%s %s: %s without quota headers", rt.method, rt.pattern, code)
			}
		}
		if op.Responses.Value("429").Value.Headers["Retry-After"] == nil {
			t.Errorf("%s %s: 429 without Retry-After", rt.method, rt.pattern)
		}
		if (op.Parameters.GetByInAndName("query", "cursor") != nil) != (op.Responses.Value("200").Value.Headers["X-Next-Cursor"] != nil) {
			t.Errorf("%s %s: cursor parameter and X-Next-Cursor trailer disagree", rt.method, rt.pattern)
		}
	}
	// The {id} pattern says what the parser accepts.
	pat := doc.Paths.Find("/v1/vessels/{id}").Get.Parameters.GetByInAndName("path", "id").Schema.Value.Pattern
	re := regexp.MustCompile(pat)
	for _, id := range []string{"211000001", "1", "zeus", "MV_Keelson-2.a:b", "9V-ABC", "x'", "-zeus", "a b", "1234567890", "é", "12ab", "1.5", "_a"} {
		_, _, err := parseVesselID("id", id)
		if (re.MatchString(id) && len(id) <= 64) != (err == nil) {
			t.Errorf("id %q: pattern match %v, parser error %v", id, re.MatchString(id), err)
		}
	}
	// A paged answer announces the trailer.
	r := e.do(t, "GET", "/v1/positions?limit=1&format=csv&from="+rfc(e.base)+"&to="+rfc(e.now), e.key(t, Scope{}), "")
	if _, ok := r.Trailer["X-Next-Cursor"]; !ok {
		t.Errorf("positions: trailers %v", r.Trailer)
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	if r.Trailer.Get("X-Next-Cursor") == "" {
		t.Errorf("positions: no next cursor in the trailer %v", r.Trailer)
	}
	// Every parameter a handler accepts is documented: an undocumented one
	// is refused as unknown, so probing each documented name must not be.
	k := e.key(t, Scope{})
	for _, rt := range e.srv.routes {
		if rt.public || rt.stream {
			continue
		}
		for _, p := range rt.params {
			if p.in != "query" {
				continue
			}
			r := e.do(t, rt.method, strings.ReplaceAll(rt.pattern, "{id}", "211000001")+"?"+p.name+"=%ZZ", k, "")
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if strings.Contains(string(b), "unknown parameter") {
				t.Errorf("%s %s: documented parameter %s is unknown to the handler", rt.method, rt.pattern, p.name)
			}
		}
	}
}

// The live stream over a real Kafka-protocol broker.
func TestStream(t *testing.T) {
	e := env(t)
	srv, base, publish := e.liveServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func(key, q string) (*bufio.Reader, func()) {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/stream?"+q, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return bufio.NewReader(resp.Body), func() { resp.Body.Close() }
	}
	k := e.key(t, Scope{})
	kA := e.key(t, Scope{MMSIs: []keelson.MMSI{211000001}})
	all, c1 := open(k, "")
	defer c1()
	boxed, c2 := open(k, "bbox=10,54,12,56")
	defer c2()
	allowed, c3 := open(kA, "")
	defer c3()
	waitClients(t, srv, 3)
	mk := func(m keelson.MMSI, lon, lat float64) keelson.Event {
		return keelson.Event{V: 1, ID: keelson.EventID{Collector: "t", Boot: 1, Seq: uint64(m)}, Kind: keelson.KindPosition, Received: time.Now().UTC(), MMSI: m,
			Position: &keelson.Position{Point: orb.Point{lon, lat}, Class: keelson.ClassA, SOG: 1, COG: 2, Heading: keelson.NA, ROT: keelson.NA}}
	}
	publish(mk(211000001, 11, 55), mk(211000002, 20, 60), mk(211000003, 11.5, 55.5))
	read := func(r *bufio.Reader, n int) []keelson.MMSI {
		var out []keelson.MMSI
		for len(out) < n {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var ev keelson.Event
				if err := json.Unmarshal([]byte(data), &ev); err != nil {
					t.Fatalf("event %q: %v", data, err)
				}
				out = append(out, ev.MMSI)
			}
		}
		slices.Sort(out) // events of different partitions may come in any order
		return out
	}
	if got := read(all, 3); fmt.Sprint(got) != "[211000001 211000002 211000003]" {
		t.Errorf("all: %v", got)
	}
	if got := read(boxed, 2); fmt.Sprint(got) != "[211000001 211000003]" {
		t.Errorf("bbox: %v", got)
	}
	// The allowlisted key gets its vessel only: send a marker it may see.
	publish(mk(211000002, 11, 55), mk(211000001, 11.2, 55.2))
	if got := read(allowed, 2); fmt.Sprint(got) != "[211000001 211000001]" {
		t.Errorf("allowlist: %v", got)
	}
	// The index follows the stream.
	if v, ok := srv.Index().Get(211000003); !ok || v.Position.Lon != 11.5 {
		t.Errorf("index not updated from the stream: %+v", v)
	}
	// Own-ship positions (stored without an MMSI) reach the keys that may
	// see the vessel and the vessel= subscriptions, never an AIS allowlist.
	own, c4 := open(e.key(t, Scope{Vessels: []string{"zeus"}}), "")
	defer c4()
	named, c5 := open(k, "vessel=zeus")
	defer c5()
	waitClients(t, srv, 5)
	ship := func(v string, seq uint64) keelson.Event {
		ev := mk(0, 5.3, 52.6)
		ev.Vessel, ev.ID.Seq, ev.Position.Class = v, seq, keelson.ClassOwnShip
		return ev
	}
	publish(ship("other", 1001), mk(211000004, 11, 55), ship("zeus", 1002))
	time.Sleep(200 * time.Millisecond)
	publish(ship("zeus", 1003), mk(211000001, 11.3, 55.3))
	readIDs := func(r *bufio.Reader, n int) []string {
		var out []string
		for len(out) < n {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var ev keelson.Event
				if err := json.Unmarshal([]byte(data), &ev); err != nil {
					t.Fatalf("event %q: %v", data, err)
				}
				out = append(out, fmt.Sprintf("%d/%s", ev.MMSI, ev.Vessel))
			}
		}
		return out
	}
	if got := readIDs(own, 2); fmt.Sprint(got) != "[0/zeus 0/zeus]" {
		t.Errorf("own-ship key: %v", got)
	}
	if got := readIDs(named, 2); fmt.Sprint(got) != "[0/zeus 0/zeus]" {
		t.Errorf("vessel=zeus: %v", got)
	}
	if got := readIDs(allowed, 1); fmt.Sprint(got) != "[211000001/]" {
		t.Errorf("AIS allowlist after own-ship events: %v", got)
	}
	// Naming only vessels outside the scope is refused.
	kA2 := e.key(t, Scope{MMSIs: []keelson.MMSI{211000001}})
	e.call(t, "GET", "/v1/stream?vessel=zeus", kA2, "", 403, nil)
	e.call(t, "GET", "/v1/stream?vessel=other", e.key(t, Scope{Vessels: []string{"zeus"}}), "", 403, nil)
	e.call(t, "GET", "/v1/stream?mmsi=211000001", e.key(t, Scope{Vessels: []string{"zeus"}}), "", 403, nil)
}

func waitClients(t *testing.T, s *Server, n int) {
	for i := 0; s.hub.count() < n; i++ {
		if i > 500 {
			t.Fatalf("%d stream clients, want %d", s.hub.count(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
