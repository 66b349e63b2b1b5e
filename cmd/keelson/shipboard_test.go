//go:build shipboard

package main

import (
	"bytes"
	"context"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

// The shipboard build has the ship's commands only and links none of the
// shore packages (ClickHouse, the API, the map page).
func TestShipboardBuild(t *testing.T) {
	var names []string
	for n := range commands() {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"broker", "collect", "decode", "healthcheck"}; !slices.Equal(names, want) {
		t.Errorf("commands = %v, want %v", names, want)
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"serve"}, strings.NewReader(""), &out, &errb); err == nil || !strings.Contains(err.Error(), `unknown command "serve"`) {
		t.Errorf("keelson serve in the shipboard build: err %v", err)
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Skip("no build info in this test binary")
	}
	for _, d := range bi.Deps {
		for _, shore := range []string{"github.com/ClickHouse/", "github.com/parquet-go/", "github.com/getkin/", "github.com/chromedp/"} {
			if strings.HasPrefix(d.Path, shore) {
				t.Errorf("shipboard build links %s", d.Path)
			}
		}
	}
}
