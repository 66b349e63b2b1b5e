package sink

import (
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/keelson/keelson"
)

func BenchmarkDecodeMessage(b *testing.B) {
	e := positionEvent("bench", 12345, 219000001, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	e.AIS = keelson.RawJSON(`{"type":1,"repeat":0,"mmsi":219000001,"status":0,"turn":-128,"speed":10.0,"accuracy":false,"lon":10.5,"lat":55.0,"course":90.0,"heading":511,"second":0}`)
	msg := e.AppendJSON(nil)
	var ev keelson.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for i := 0; i < b.N; i++ {
		if err := decodeMessage(&ev, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeJSONv2(b *testing.B) {
	e := positionEvent("bench", 12345, 219000001, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	msg := e.AppendJSON(nil)
	var ev keelson.Event
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ev = keelson.Event{}
		if err := jsonv2.Unmarshal(msg, &ev); err != nil {
			b.Fatal(err)
		}
	}
}
