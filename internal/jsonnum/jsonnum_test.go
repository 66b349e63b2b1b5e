package jsonnum

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestAppendUintMatchesStrconv(t *testing.T) {
	vals := []uint64{0, 1, 9, 10, 99, 100, 101, 999, 1000, 12345678, 99999999, 100000000, 123456789012, math.MaxUint64}
	for i := range 19 {
		vals = append(vals, Pow10[i]-1, Pow10[i], Pow10[i]+1)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		vals = append(vals, r.Uint64()>>r.UintN(64))
	}
	for _, v := range vals {
		if got, want := string(AppendUint([]byte("x"), v)), "x"+strconv.FormatUint(v, 10); got != want {
			t.Fatalf("AppendUint(%d) = %q, want %q", v, got, want)
		}
		if got, want := DecimalLen(v), len(strconv.FormatUint(v, 10)); got != want {
			t.Fatalf("DecimalLen(%d) = %d, want %d", v, got, want)
		}
	}
}

func TestPutDigitsZeroPadsAndReturnsRest(t *testing.T) {
	d := make([]byte, 5)
	if rest := PutDigits(d, 1234567); string(d) != "34567" || rest != 12 {
		t.Fatalf("PutDigits = %q rest %d", d, rest)
	}
	d = make([]byte, 10)
	if rest := PutDigits(d, 42); string(d) != "0000000042" || rest != 0 {
		t.Fatalf("PutDigits = %q rest %d", d, rest)
	}
}

func BenchmarkAppendUint(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 32)
	for i := range b.N {
		buf = AppendUint(buf[:0], uint64(i)*2654435761)
	}
}

func TestAppendFixed(t *testing.T) {
	for _, c := range []struct {
		neg       bool
		v         uint64
		intLen, f int
		want      string
	}{
		{false, 1234567, 3, 4, "123.4567"},
		{true, 5, 1, 1, "-0.5"},
		{false, 42, 2, 0, "42"},
		{false, 7, 1, 3, "0.007"},
	} {
		if got := string(AppendFixed([]byte("x"), c.neg, c.v, c.intLen, c.f)); got != "x"+c.want {
			t.Errorf("AppendFixed(%v, %d, %d, %d) = %q, want %q", c.neg, c.v, c.intLen, c.f, got, "x"+c.want)
		}
	}
}

// TestAppendFixedProperty: every split of random numbers of 1-20 digits
// (zero padded), signed or not, after text already in the buffer, and
// with the buffer exactly full or with room to spare, against strconv.
func TestAppendFixedProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		n := 1 + r.IntN(20)
		var v uint64
		if n == 20 {
			v = r.Uint64()
		} else {
			v = r.Uint64N(Pow10[n])
		}
		f := r.IntN(n + 1)
		intLen := n - f
		if intLen == 0 {
			intLen, n = 1, n+1 // at least one digit before the point
			if n > 20 {
				continue
			}
		}
		neg := r.IntN(2) == 0
		digits := strconv.FormatUint(v, 10)
		for len(digits) < n {
			digits = "0" + digits
		}
		want := "ab"
		if neg {
			want += "-"
		}
		want += digits[:intLen]
		if f > 0 {
			want += "." + digits[intLen:]
		}
		for _, room := range []int{0, 40} {
			b := make([]byte, 2, 2+room)
			copy(b, "ab")
			if got := string(AppendFixed(b, neg, v, intLen, f)); got != want {
				t.Fatalf("AppendFixed(%v, %d, %d, %d) = %q, want %q", neg, v, intLen, f, got, want)
			}
		}
	}
}

// TestAppendFrac against strconv's shortest form of ip + frac/10^dec
// (exact: the decimals are few).
func TestAppendFrac(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	check := func(neg bool, ip, frac uint64, dec int) {
		want := strconv.FormatUint(ip, 10)
		if frac != 0 {
			fs := strconv.FormatUint(frac+Pow10[dec], 10)[1:] // zero padded to dec digits
			for fs[len(fs)-1] == '0' {
				fs = fs[:len(fs)-1]
			}
			want += "." + fs
		}
		if neg {
			want = "-" + want
		}
		if got := string(AppendFrac([]byte("x"), neg, ip, frac, dec)); got != "x"+want {
			t.Fatalf("AppendFrac(%v, %d, %d, %d) = %q, want %q", neg, ip, frac, dec, got, "x"+want)
		}
	}
	for dec := 1; dec <= 8; dec++ {
		for _, frac := range []uint64{0, 1, Pow10[dec] - 1, Pow10[dec-1], 5 * Pow10[dec-1]} {
			check(false, 0, frac, dec)
			check(true, 123, frac, dec)
		}
		for range 20000 {
			check(r.IntN(2) == 0, r.Uint64N(1000000), r.Uint64N(Pow10[dec]), dec)
		}
	}
}
