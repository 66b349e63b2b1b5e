package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressPlainLines(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "replay", 100, "events")
	if p.bar != nil {
		t.Fatal("a bytes.Buffer is not a terminal: want plain lines")
	}
	p.interval = 0 // a line per Add
	p.Add(40)
	p.Add(60)
	p.Finish()
	p.Add(5) // after Finish: ignored
	p.Finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), buf.String())
	}
	if !strings.HasPrefix(lines[0], "replay: 40/100 events (40%)") || !strings.HasPrefix(lines[2], "replay: 100/100 events (100%)") {
		t.Errorf("unexpected lines:\n%s", buf.String())
	}

	buf.Reset()
	p = newProgress(&buf, "export", 0, "rows")
	p.interval = time.Hour
	p.Add(7)
	p.Finish()
	if got := buf.String(); !strings.HasPrefix(got, "export: 7 rows in ") {
		t.Errorf("unknown total: got %q", got)
	}
}
