package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/paulmach/orb"
)

// openAPIRouter routes requests to the test server by the OpenAPI
// document it serves.
func (e *testEnv) openAPIRouter(t *testing.T) routers.Router {
	t.Helper()
	resp := e.do(t, "GET", "/openapi.json", "", "")
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return openAPIRouter(t, raw, e.http.URL)
}

// openAPIRouter routes requests to the server at url by the OpenAPI
// document raw.
func openAPIRouter(t *testing.T, raw []byte, url string) routers.Router {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: url}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return router
}

// Real requests and their answers, successes and errors, validated
// against the served OpenAPI document: every parameter sent is one it
// declares (with a schema that admits the value), and every answer's
// status, content type, headers and body match what it promises.
func TestResponsesMatchOpenAPI(t *testing.T) {
	e := env(t)
	resp := e.do(t, "GET", "/openapi.json", "", "")
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	router := openAPIRouter(t, raw, e.http.URL)
	m := e.busiest().String()
	win := "from=" + rfc(e.base.Add(-time.Hour)) + "&to=" + rfc(e.now)
	full := e.key(t, Scope{Export: true})
	plain := e.key(t, Scope{})
	region := e.key(t, Scope{Region: orb.MultiPolygon{{{{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}}}}})
	limited := e.key(t, Scope{Rate: 0.001, Burst: 1})
	poly := `{"type":"Polygon","coordinates":[[[10,54],[14,54],[14,57],[10,57],[10,54]]]}`
	cases := []struct {
		method, path, key, body string
		want                    int
	}{
		{"GET", "/healthz", "", "", 200},
		{"GET", "/readyz", "", "", 200},
		{"GET", "/openapi.json", "", "", 200},
		{"GET", "/v1/vessels/" + m, full, "", 200},
		{"GET", "/v1/vessels/" + m + "?format=geojson", full, "", 200},
		{"GET", "/v1/vessels/zeus", full, "", 200},
		{"GET", "/v1/vessels/zeus?format=geojson", full, "", 200},
		{"GET", "/v1/vessels?bbox=10,54,14,57&limit=50", full, "", 200},
		{"GET", "/v1/vessels?bbox=10,54,14,57&limit=50&format=geojson", full, "", 200},
		{"GET", "/v1/vessels?limit=5&format=csv", full, "", 200},
		{"GET", "/v1/vessels?limit=5&format=parquet", full, "", 200},
		{"GET", "/v1/vessels/near?lat=55.7&lon=12.6&limit=5&ship_type=70,80", full, "", 200},
		{"GET", "/v1/ownships", full, "", 200},
		{"GET", "/v1/ownships?format=geojson&bbox=0,40,20,60", full, "", 200},
		{"GET", "/v1/vessels/near?lat=55.7&lon=12.6&format=geojson", full, "", 200},
		{"GET", "/v1/vessels/" + m + "/track?" + win, full, "", 200},
		{"GET", "/v1/vessels/" + m + "/track?format=json&simplify=50&" + win, full, "", 200},
		{"GET", "/v1/vessels/zeus/track?format=json&resample=1m&max_gap=5m&" + win, full, "", 200},
		{"GET", "/v1/vessels/zeus/track?" + win, full, "", 200},
		{"GET", "/v1/positions?bbox=10,54,14,57&limit=20&" + win, full, "", 200},
		{"GET", "/v1/positions?mmsi=" + m + "&limit=20&format=geojson&" + win, full, "", 200},
		{"GET", "/v1/positions?limit=20&format=ndjson&" + win, full, "", 200},
		{"POST", "/v1/positions?limit=20&" + win, full, poly, 200},
		{"GET", "/v1/observations?limit=20&from=" + rfc(e.now.Add(-30*24*time.Hour)), full, "", 200},
		{"GET", "/v1/observations?vessel=zeus&quantity=depth&limit=20&" + win, full, "", 200},
		// Errors, each in the one error shape with its documented headers.
		{"GET", "/v1/vessels?bbox=1,2,3", full, "", 400},
		{"GET", "/v1/vessels/" + m + "/track?" + win, e.key(t, Scope{Aggregated: true}), "", 403},
		{"GET", "/v1/vessels/999999998", full, "", 404},
		{"GET", "/v1/vessels/5", region, "", 403},
		{"GET", "/v1/positions?limit=20000", plain, "", 403},
		{"GET", "/v1/vessels", "", "", 401},
		{"GET", "/v1/stream", full, "", 503},
		{"GET", "/v1/vessels?limit=1", limited, "", 200},
		{"GET", "/v1/vessels?limit=1", limited, "", 429},
	}
	ctx := context.Background()
	for _, c := range cases {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		req, _ := http.NewRequest(c.method, e.http.URL+c.path, body)
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s %s: not in the document: %v", c.method, c.path, err)
			continue
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if c.want != 400 {
			if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
				t.Errorf("%s %s: request does not match the document: %v", c.method, c.path, err)
			}
		}
		if c.body != "" { // ValidateRequest read it
			req.Body = io.NopCloser(strings.NewReader(c.body))
		}
		resp, err := e.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: status %d, want %d: %.200s", c.method, c.path, resp.StatusCode, c.want, b)
			continue
		}
		ct := resp.Header.Get("Content-Type")
		binary := ct != "application/json" && ct != "application/geo+json" // csv, ndjson, parquet, text: content type only
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: binary}}
		out.SetBodyBytes(b)
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s %s: answer (%d %s) does not match the document: %v\n%.300s", c.method, c.path, resp.StatusCode, ct, err, b)
		}
		if binary && !bytes.Contains(raw, []byte(`"`+strings.ReplaceAll(ct, `"`, `\"`)+`"`)) {
			t.Errorf("%s %s: content type %q is not in the document", c.method, c.path, ct)
		}
	}
}
