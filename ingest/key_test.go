package ingest

import (
	"bytes"
	"testing"

	"github.com/keelson/keelson"
)

// appendKey must give the same Kafka key as Event.Key (the contract), for
// each kind of key, and append to what the buffer holds.
func TestAppendKeyMatchesKey(t *testing.T) {
	for _, ev := range []keelson.Event{
		{MMSI: 244660000, Vessel: "ijssel"},
		{MMSI: 2442}, // fewer than 9 digits
		{Vessel: "ijssel", Source: keelson.Source{Collector: "c1"}},
		{Source: keelson.Source{Collector: "c1"}},
	} {
		want := ev.Key()
		got := appendKey([]byte("x"), &ev)
		if !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Errorf("appendKey(%+v) = %q, want x%q", ev, got, want)
		}
	}
}
