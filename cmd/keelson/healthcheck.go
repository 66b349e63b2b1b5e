package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// errUnhealthy is returned when the checked endpoint does not answer 2xx.
var errUnhealthy = errors.New("healthcheck: unhealthy")

// runHealthcheck probes an HTTP health endpoint and exits 0 when it answers
// 2xx: the container health check of the (shell-less) keelson image.
func runHealthcheck(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("healthcheck", "healthcheck [-url URL] [-timeout D]", io.err)
	url := fs.String("url", "http://127.0.0.1:8080/healthz", "health endpoint to probe (GET, 2xx is healthy)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("healthcheck: unexpected argument %q", fs.Arg(0))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	return probe(ctx, *url)
}

// probe GETs url and returns nil on a 2xx answer.
func probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", errUnhealthy, err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%w: %s answered %s", errUnhealthy, url, res.Status)
	}
	return nil
}
