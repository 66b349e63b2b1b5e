package ais

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
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

// TestAppendDecReference: appendDec against a string-built reference, on
// every scale the generator uses and a range of magnitudes and signs.
func TestAppendDecReference(t *testing.T) {
	ref := func(q int64, dec int) string {
		neg := q < 0
		if neg {
			q = -q
		}
		s := strconv.FormatUint(uint64(q), 10)
		for len(s) <= dec {
			s = "0" + s
		}
		ip, frac := s[:len(s)-dec], strings.TrimRight(s[len(s)-dec:], "0")
		if frac != "" {
			ip += "." + frac
		}
		if neg {
			ip = "-" + ip
		}
		return ip
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, dec := range []int{0, 1, 2, 3, 4, 6, 7, 9} {
		for q := int64(-2000); q <= 2000; q++ {
			if got, want := string(appendDec(nil, q, dec)), ref(q, dec); got != want {
				t.Fatalf("appendDec(%d, %d) = %q, want %q", q, dec, got, want)
			}
		}
		for range 100000 {
			q := r.Int64N(1<<uint(r.IntN(62)+1)) * int64(1-2*r.IntN(2))
			if got, want := string(appendDec([]byte("x"), q, dec)), "x"+ref(q, dec); got != want {
				t.Fatalf("appendDec(%d, %d) = %q, want %q", q, dec, got, want)
			}
		}
	}
	for _, v := range []uint64{0, 9, 10, 99, 100, 999, 1000, 1<<64 - 1, 1e19, 1e19 - 1} {
		if got, want := string(appendUint(nil, v)), strconv.FormatUint(v, 10); got != want {
			t.Fatalf("appendUint(%d) = %q, want %q", v, got, want)
		}
	}
}
