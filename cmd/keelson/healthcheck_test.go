package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	var out bytes.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"healthcheck", "-url", srv.URL + "/healthz"}, nil, &out, &out); err != nil {
		t.Errorf("healthy endpoint: %v", err)
	}
	err := run(ctx, []string{"healthcheck", "-url", srv.URL + "/readyz"}, nil, &out, &out)
	if !errors.Is(err, errUnhealthy) {
		t.Errorf("503 endpoint: got %v, want errUnhealthy", err)
	}
	srv.Close()
	err = run(ctx, []string{"healthcheck", "-url", srv.URL + "/healthz", "-timeout", "1s"}, nil, &out, &out)
	if !errors.Is(err, errUnhealthy) {
		t.Errorf("closed server: got %v, want errUnhealthy", err)
	}
}
