//go:build !shipboard

package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// keelson keys create|list|revoke and keelson serve on one embedded
// ClickHouse (each command opens and closes the directory in turn).
func TestKeysAndServe(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded ClickHouse: skipped with -short")
	}
	ctx := context.Background()
	dir := "chdb://" + t.TempDir()
	var out, errb bytes.Buffer
	region := filepath.Join(t.TempDir(), "region.geojson")
	os.WriteFile(region, []byte(`{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[10,54],[12,54],[12,56],[10,54]]]}}`), 0o600)
	if err := run(ctx, []string{"keys", "create", "-clickhouse", dir, "-name", "partner", "-mmsi", "211000001,211000002",
		"-region", region, "-delay", "24h", "-max-range", "48h", "-export"}, nil, &out, &errb); err != nil {
		t.Fatalf("keys create: %v\n%s", err, errb.String())
	}
	secret := strings.TrimSpace(out.String())
	if !strings.HasPrefix(secret, "kls_") || strings.Count(secret, "\n") != 0 {
		t.Fatalf("keys create printed %q", secret)
	}
	out.Reset()
	if err := run(ctx, []string{"keys", "create", "-clickhouse", dir, "-name", "open", "-bbox", "1,2,3"}, nil, &out, &errb); err == nil {
		t.Fatal("a bad -bbox was accepted")
	}
	if err := run(ctx, []string{"keys", "create", "-clickhouse", dir, "-name", "all"}, nil, &out, &errb); err != nil {
		t.Fatal(err)
	}
	open := strings.TrimSpace(out.String())
	out.Reset()
	if err := run(ctx, []string{"keys", "list", "-clickhouse", dir}, nil, &out, &errb); err != nil {
		t.Fatal(err)
	}
	id := secret[4:16]
	if !strings.Contains(out.String(), id) || !strings.Contains(out.String(), `"delay":"24h0m0s"`) || strings.Contains(out.String(), secret) {
		t.Fatalf("keys list:\n%s", out.String())
	}
	if err := run(ctx, []string{"keys", "revoke", "-clickhouse", dir, id}, nil, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"keys", "revoke", "-clickhouse", dir, "000000000000"}, nil, &out, &errb); err == nil {
		t.Fatal("revoking an unknown key succeeded")
	}
	out.Reset()
	run(ctx, []string{"keys", "list", "-clickhouse", dir}, nil, &out, &errb)
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, id) && !strings.Contains(line, "true") {
			t.Fatalf("revoked key listed as %q", line)
		}
	}

	// serve: schema from the sink's migrate, then the API.
	if err := run(ctx, []string{"migrate", "-clickhouse", dir}, nil, &out, &errb); err != nil {
		t.Fatalf("migrate: %v\n%s", err, errb.String())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- run(sctx, []string{"serve", "-clickhouse", dir, "-listen", addr, "-stream=false", "-no-web", "-log-level", "warn"}, nil, io.Discard, io.Discard)
	}()
	get := func(path, key string) int {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(30 * time.Second)
	for get("/readyz", "") != 200 {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve not ready: %v", <-done)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c := get("/v1/vessels", open); c != 200 {
		t.Errorf("/v1/vessels with a key: %d", c)
	}
	if c := get("/v1/vessels", secret); c != 401 {
		t.Errorf("/v1/vessels with a revoked key: %d", c)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}
