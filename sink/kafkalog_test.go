package sink

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestSinkKafkaErrorLog: an isolated fetch timeout (kafka-go's wording) is
// a debug line and a counted retry; a burst of them within a minute, and
// every other reader error, are warnings.
func TestSinkKafkaErrorLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "t"})
	l := newKafkaErrorLog(log, c)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	const format = "the kafka reader got an unknown error reading partition %d of %s at offset %d: %s"
	line := func() string {
		s := buf.String()
		buf.Reset()
		return s
	}

	for i := range timeoutBurst - 1 {
		l.Printf(format, i, "keelson.events", 7, timeout)
		if s := line(); !strings.Contains(s, "level=DEBUG") || !strings.Contains(s, "i/o timeout") {
			t.Fatalf("timeout %d: %q, want a debug line", i+1, s)
		}
		now = now.Add(10 * time.Second)
	}
	l.Printf(format, 0, "keelson.events", 7, timeout)
	if s := line(); !strings.Contains(s, "level=WARN") || !strings.Contains(s, fmt.Sprintf("timeouts_in_last_minute=%d", timeoutBurst)) {
		t.Fatalf("timeout %d within a minute: %q, want a warning", timeoutBurst, s)
	}
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetCounter().GetValue(); got != timeoutBurst {
		t.Fatalf("fetch_timeout retries = %v, want %d", got, timeoutBurst)
	}
	// A minute later the window starts again.
	now = now.Add(2 * time.Minute)
	l.Printf(format, 0, "keelson.events", 7, fmt.Errorf("wrapped: %w", timeout))
	if s := line(); !strings.Contains(s, "level=DEBUG") {
		t.Fatalf("timeout after a quiet minute: %q, want a debug line", s)
	}
	// Anything else is a warning, even a single one.
	for _, err := range []error{errors.New("connection refused"), &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection reset by peer")}} {
		l.Printf(format, 0, "keelson.events", 7, err)
		if s := line(); !strings.Contains(s, "level=WARN") {
			t.Fatalf("%v: %q, want a warning", err, s)
		}
	}
	l.Printf("no error argument %s", "x")
	if s := line(); !strings.Contains(s, "level=WARN") {
		t.Fatalf("plain message: %q, want a warning", s)
	}
}
