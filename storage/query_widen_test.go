package storage

import (
	"math"
	"strconv"
	"testing"
)

// widen32 gives the shortest decimal (at most six places) that reads back
// as the same Float32, as strconv's shortest float32 formatting does.
func TestWiden32(t *testing.T) {
	for _, v := range []float32{0, 9.2, 134.6, 359.99, 0.1, 102.3, 12345.67, -7.25, 0.000123, 511, 65534.99} {
		want, _ := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'f', -1, 32), 64)
		if got := float64(widen32(v)); got != want {
			t.Errorf("widen32(%v) = %v, want %v", v, got, want)
		}
	}
	// Every stored hundredths value (speed, course, heading) reads as its decimal.
	for c := 0; c < 65535; c++ {
		want := float64(c) / 100
		if got := float64(widen32(float32(want))); math.Abs(got-want) > 1e-9 {
			t.Fatalf("widen32(%d / 100) = %v", c, got)
		}
	}
	if !math.IsNaN(float64(widen32(float32(math.NaN())))) {
		t.Error("NaN")
	}
}
