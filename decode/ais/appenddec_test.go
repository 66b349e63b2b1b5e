package ais

import (
	"math"
	"strconv"
	"testing"
)

func TestAppendDec(t *testing.T) {
	for _, tt := range []struct {
		q    int64
		dec  int
		want string
	}{
		{0, 0, "0"}, {-5, 0, "-5"}, {86, 1, "8.6"}, {80, 1, "8"}, {-1, 1, "-0.1"}, {5, 3, "0.005"},
		{50, 3, "0.05"}, {0, 4, "0"}, {-703469050, 7, "-70.346905"}, {1230000, 7, "0.123"},
	} {
		if got := string(appendDec(nil, tt.q, tt.dec)); got != tt.want {
			t.Errorf("appendDec(%d, %d) = %q, want %q", tt.q, tt.dec, got, tt.want)
		}
	}
	// Positions: the 7-decimal form is within 0.5e-7 of the exact value.
	for _, raw := range []int64{0, 1, -1, 7, 108600000, -108600000, 54600000, -42207930, 599999} {
		s := string(appendDec(nil, roundDiv(raw*10000000, 600000), 7))
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Abs(v-float64(raw)/600000) > 0.5e-7+1e-12 {
			t.Errorf("raw %d: %q", raw, s)
		}
	}
}
