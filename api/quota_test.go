package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/keelson/keelson/storage"
	"github.com/prometheus/client_golang/prometheus"
)

// quotaClient sends requests to a real server and checks each /v1 answer
// against the server's OpenAPI document (which requires the quota
// headers on every /v1 answer).
type quotaClient struct {
	t      *testing.T
	base   string
	router routers.Router
}

func newQuotaClient(t *testing.T, srv *Server) *quotaClient {
	t.Helper()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	raw, err := json.Marshal(srv.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	return &quotaClient{t: t, base: hs.URL, router: openAPIRouter(t, raw, hs.URL)}
}

type answer struct {
	code       int
	h          http.Header
	errCode    string
	limit      int // X-RateLimit-Limit, -1 when missing
	remaining  int // X-RateLimit-Remaining, -1 when missing
	retryAfter int // Retry-After, -1 when missing
}

func intHeader(h http.Header, name string) int {
	v, err := strconv.Atoi(h.Get(name))
	if err != nil {
		return -1
	}
	return v
}

// get sends GET path with the Authorization header auth (none when
// empty) and the extra headers (name, value pairs).
func (c *quotaClient) get(path, auth string, extra ...string) answer {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := answer{code: resp.StatusCode, h: resp.Header, limit: intHeader(resp.Header, "X-RateLimit-Limit"),
		remaining: intHeader(resp.Header, "X-RateLimit-Remaining"), retryAfter: intHeader(resp.Header, "Retry-After")}
	var eb struct{ Error struct{ Code string } }
	if json.Unmarshal(b, &eb) == nil {
		a.errCode = eb.Error.Code
	}
	if route, params, err := c.router.FindRoute(req); err == nil {
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out.SetBodyBytes(b)
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			c.t.Errorf("GET %s: answer %d does not match the document: %v\n%s", path, resp.StatusCode, err, b)
		}
	}
	return a
}

func quotaServer(t *testing.T, e *testEnv, cfg Config) *Server {
	t.Helper()
	cfg.Store, cfg.Keys, cfg.Registry, cfg.Logger = e.db.Reader(storage.QueryLimits{}), e.db, prometheus.NewRegistry(), discardLogger()
	cfg.Now = func() time.Time { return e.now }
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.ready.Store(true)
	return srv
}

// Every /v1 answer carries the quota of the bucket that applied: the
// key's for a valid key (even once it is revoked), the client address's
// for everything else (no key, malformed, unknown), 401 and 429 included,
// and unknown /v1 paths too; the open endpoints carry none and cost
// nothing. A valid key seen for the first time gives its client token
// back, and a client out of tokens does not stop a known key.
func TestQuotaHeadersOnEveryAnswer(t *testing.T) {
	e := env(t)
	srv := quotaServer(t, e, Config{Rate: 0.001, Burst: 5, ClientRate: 0.001, ClientBurst: 3, KeyCacheTTL: time.Millisecond, KeyLookupRate: 1e6})
	c := newQuotaClient(t, srv)
	good := e.key(t, Scope{})
	fake, _, _ := NewKey("made up", Scope{}, e.now)

	// A valid key not seen yet: the key's bucket, and the client's token
	// is given back.
	if a := c.get("/v1/vessels?limit=1", "Bearer "+good); a.code != 200 || a.limit != 5 || a.remaining != 4 {
		t.Fatalf("valid key: %+v", a)
	}
	// Without a valid key: the client's bucket, one token each.
	steps := []struct {
		auth      string
		remaining int
	}{
		{"", 2},                // no key
		{"Bearer nonsense", 1}, // malformed
		{"Bearer " + fake, 0},  // unknown
	}
	for _, s := range steps {
		a := c.get("/v1/vessels?limit=1", s.auth)
		if a.code != 401 || a.errCode != "unauthorized" || a.limit != 3 || a.remaining != s.remaining ||
			intHeader(a.h, "X-RateLimit-Reset") < 1 || a.h.Get("WWW-Authenticate") == "" {
			t.Fatalf("%q: %+v", s.auth, a)
		}
	}
	// Out of tokens: 429 with Retry-After, for a key not seen yet too.
	for _, auth := range []string{"", "Bearer " + fake, "Bearer " + e.key(t, Scope{})} {
		a := c.get("/v1/vessels?limit=1", auth)
		if a.code != 429 || a.errCode != "rate_limited" || a.limit != 3 || a.remaining != 0 || a.retryAfter < 1 {
			t.Fatalf("%q past the client's bucket: %+v", auth, a)
		}
	}
	// An unknown /v1 path answers 404 only within the bucket too.
	if a := c.get("/v1/nothing", ""); a.code != 429 || a.limit != 3 || a.retryAfter < 1 {
		t.Fatalf("unknown /v1 path past the bucket: %+v", a)
	}
	// The known key is not held back by its client's empty bucket.
	if a := c.get("/v1/vessels?limit=1", "Bearer "+good); a.code != 200 || a.limit != 5 || a.remaining != 3 {
		t.Fatalf("known key, client bucket empty: %+v", a)
	}
	// The open endpoints: no key, no quota, no token.
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json"} {
		if a := c.get(p, ""); a.code != 200 || a.limit != -1 || a.h.Get("X-RateLimit-Remaining") != "" {
			t.Fatalf("%s: %+v", p, a)
		}
	}
	// A revoked key: 401 with its own bucket's quota.
	id, _ := ParseKeyID(good)
	if err := e.db.RevokeAPIKey(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if a := c.get("/v1/vessels?limit=1", "Bearer "+good); a.code != 401 || a.limit != 5 || a.remaining != 3 {
		t.Fatalf("revoked key: %+v", a)
	}
	if n := counterValue(t, srv.cfg.Registry, "keelson_api_rate_limited_total", map[string]string{"bucket": "client"}); n != 4 {
		t.Fatalf("client refusals counted: %v, want 4", n)
	}
}

// The key's own 429, the key-lookup limit's 429 (with the client's quota)
// and an unknown /v1 path within the bucket all carry the headers.
func TestQuotaHeadersKeyAndLookupLimits(t *testing.T) {
	e := env(t)
	srv := quotaServer(t, e, Config{Rate: 0.001, Burst: 1, ClientRate: 0.001, ClientBurst: 100, KeyCacheTTL: time.Hour, KeyLookupRate: 1})
	c := newQuotaClient(t, srv)
	k := e.key(t, Scope{})
	if a := c.get("/v1/vessels?limit=1", "Bearer "+k); a.code != 200 || a.limit != 1 || a.remaining != 0 {
		t.Fatalf("first: %+v", a)
	}
	if a := c.get("/v1/vessels?limit=1", "Bearer "+k); a.code != 429 || a.limit != 1 || a.remaining != 0 || a.retryAfter < 1 {
		t.Fatalf("past the key's bucket: %+v", a)
	}
	if a := c.get("/v1/nothing", "Bearer "+k); a.code != 429 || a.limit != 1 {
		t.Fatalf("unknown path, key's bucket empty: %+v", a)
	}
	// Key lookups: 1/s, burst 2 (one spent on k); made-up keys soon find
	// them used up and are told to retry in a second.
	var codes []int
	for range 4 {
		fake, _, _ := NewKey("made up", Scope{}, e.now)
		a := c.get("/v1/vessels?limit=1", "Bearer "+fake)
		codes = append(codes, a.code)
		if a.limit != 100 || a.remaining < 90 {
			t.Fatalf("made-up key: %+v", a)
		}
		if a.code == 429 && (a.retryAfter != 1 || a.errCode != "rate_limited") {
			t.Fatalf("lookup limit: %+v", a)
		}
	}
	if codes[0] != 401 || codes[3] != 429 {
		t.Fatalf("answers %v", codes)
	}
	if a := c.get("/v1/nothing", ""); a.code != 404 || a.limit != 100 || a.errCode != "not_found" {
		t.Fatalf("unknown /v1 path: %+v", a)
	}
	if n := counterValue(t, srv.cfg.Registry, "keelson_api_rate_limited_total", map[string]string{"bucket": "lookup"}); n < 1 {
		t.Fatalf("lookup refusals counted: %v", n)
	}
}

// X-Forwarded-For counts only behind a trusted proxy, and then only up to
// the first hop no trusted proxy vouches for; IPv6 clients count by /64.
func TestQuotaClientAddress(t *testing.T) {
	cases := []struct {
		trusted []string
		remote  string
		xff     []string
		want    string
	}{
		{nil, "192.0.2.1:1234", []string{"203.0.113.9"}, "192.0.2.1"},
		{[]string{"10.0.0.0/8"}, "192.0.2.1:1234", []string{"203.0.113.9"}, "192.0.2.1"},
		{[]string{"10.0.0.0/8"}, "10.1.2.3:1234", []string{"203.0.113.9"}, "203.0.113.9"},
		{[]string{"10.0.0.0/8"}, "10.1.2.3:1234", []string{"198.51.100.7, 203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{[]string{"10.0.0.0/8"}, "10.1.2.3:1234", []string{"198.51.100.7", "203.0.113.9"}, "203.0.113.9"},
		{[]string{"10.0.0.0/8"}, "10.1.2.3:1234", []string{"garbage, 10.9.9.9"}, "10.9.9.9"},
		{[]string{"10.0.0.0/8"}, "10.1.2.3:1234", nil, "10.1.2.3"},
		{nil, "[2001:db8:1:2:3:4:5:6]:443", nil, "2001:db8:1:2::"},
		{nil, "[::ffff:192.0.2.4]:443", nil, "192.0.2.4"},
		{[]string{"::1/128"}, "[::1]:443", []string{"[2001:db8::1]:5555"}, "2001:db8::"},
		{nil, "@", nil, "invalid IP"},
	}
	for _, c := range cases {
		cfg := Config{Store: brokenStore{}, Keys: memKeys{}}
		for _, p := range c.trusted {
			cfg.TrustedProxies = append(cfg.TrustedProxies, netip.MustParsePrefix(p))
		}
		srv, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/v1/vessels", nil)
		r.RemoteAddr = c.remote
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := srv.clientAddr(r).String(); got != c.want {
			t.Errorf("trusted %v, peer %s, X-Forwarded-For %q: %s, want %s", c.trusted, c.remote, c.xff, got, c.want)
		}
	}
	if _, err := New(Config{Store: brokenStore{}, Keys: memKeys{}, TrustedProxies: []netip.Prefix{{}}}); err == nil || !strings.Contains(err.Error(), "TrustedProxies") {
		t.Fatalf("invalid prefix: %v", err)
	}
}

// The client buckets are bounded: past ClientBuckets, full (idle) buckets
// are dropped, and clients that still find no room share one overflow
// bucket, so memory stays bounded and nobody gets a fresh bucket by
// pushing others out.
func TestQuotaClientBucketsBounded(t *testing.T) {
	c := clientBuckets{rate: 1, burst: 2, max: 3, m: map[netip.Addr]*tokenBucket{}}
	t0 := time.Unix(1e9, 0)
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}) }
	for i := range 3 {
		c.take(addr(i), t0)
		c.take(addr(i), t0)
	}
	// Full table, no bucket idle: newcomers share the overflow bucket.
	_, q1 := c.take(addr(10), t0)
	_, q2 := c.take(addr(11), t0)
	_, q3 := c.take(addr(12), t0)
	if len(c.m) != 3 || !q1.ok || !q2.ok || q3.ok {
		t.Fatalf("%d buckets, overflow answers %v %v %v", len(c.m), q1.ok, q2.ok, q3.ok)
	}
	// The first three stay empty: no reset by crowding them out.
	if _, q := c.take(addr(0), t0); q.ok {
		t.Fatal("an empty bucket was refilled by newcomers")
	}
	// Once their buckets are full again (idle), they make room.
	later := t0.Add(10 * time.Second)
	if _, q := c.take(addr(20), later); !q.ok || len(c.m) != 1 {
		t.Fatalf("after idling: %v, %d buckets", q.ok, len(c.m))
	}
	// Refund gives a token back, never past the burst.
	b, q := c.take(addr(21), later)
	c.refund(b, later)
	c.refund(b, later)
	if _, q2 := c.take(addr(21), later); q.tokens != 1 || q2.tokens != 1 {
		t.Fatalf("tokens %v then %v", q.tokens, q2.tokens)
	}
}

// The new limits refuse negative values, naming the field.
func TestConfigValidateLimits(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"DelayWait", Config{DelayWait: -1}},
		{"BackgroundTimeout", Config{BackgroundTimeout: -time.Second}},
		{"ClientRate", Config{ClientRate: -1}},
		{"ClientBurst", Config{ClientBurst: -1}},
		{"ClientBuckets", Config{ClientBuckets: -1}},
	} {
		c.cfg.Store, c.cfg.Keys = brokenStore{}, memKeys{}
		err := c.cfg.Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	cfg := Config{Store: brokenStore{}, Keys: memKeys{}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.setDefaults()
	if cfg.DelayWait != 5*time.Second || cfg.BackgroundTimeout != 5*time.Minute || cfg.ClientRate != 1 || cfg.ClientBurst != 10 ||
		cfg.ClientBuckets != 10_000 || cfg.Background != cfg.Store {
		t.Fatalf("defaults: %+v", cfg)
	}
}
