// Package jsonnum holds the integer-to-decimal primitives shared by the
// hand-written JSON writers (the event encoder in package keelson and the
// AIS message writers in decode/ais): two digits at a time, in place, into
// a slice grown once.
package jsonnum

import (
	"encoding/binary"
	mathbits "math/bits"
)

// Digits2 holds the two decimal digits of 0-99, back to back.
const Digits2 = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// Pow10 holds 10^0 to 10^19.
var Pow10 = func() (t [20]uint64) {
	t[0] = 1
	for i := 1; i < 20; i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()

// Pairs holds the two decimal digits of 0-99.
var Pairs = func() (t [100][2]byte) {
	for i := range t {
		t[i] = [2]byte{byte('0' + i/10), byte('0' + i%10)}
	}
	return t
}()

// Extend returns b grown by n bytes (to be written by the caller).
func Extend(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	return append(b, make([]byte, n)...)
}

// DecimalLen returns the number of decimal digits of u (1 for 0).
func DecimalLen(u uint64) int {
	t := mathbits.Len64(u) * 1233 >> 12
	if u >= Pow10[t] {
		t++
	}
	if t == 0 {
		return 1
	}
	return t
}

// PutDigits writes the low len(d) decimal digits of v into d (zero padded
// on the left), two at a time, and returns v without them.
func PutDigits(d []byte, v uint64) uint64 {
	if len(d) > 8 {
		// The low 8 digits in 32-bit arithmetic, independent of the rest:
		// two short dependency chains instead of one long one.
		n := len(d)
		Put8(d[n-8:], uint32(v%1e8))
		d = d[:n-8]
		v /= 1e8
	}
	for len(d) >= 2 {
		p := Pairs[v%100]
		n := len(d)
		d[n-2], d[n-1] = p[0], p[1]
		d = d[:n-2]
		v /= 100
	}
	if len(d) == 1 {
		d[0] = byte('0' + v%10)
		v /= 10
	}
	return v
}

// Put8 writes the 8 decimal digits of v < 1e8 into d.
func Put8(d []byte, v uint32) {
	o := (*[8]byte)(d)
	hi, lo := v/10000, v%10000
	h1, h2, l1, l2 := Pairs[hi/100%100], Pairs[hi%100], Pairs[lo/100], Pairs[lo%100]
	o[0], o[1], o[2], o[3] = h1[0], h1[1], h2[0], h2[1]
	o[4], o[5], o[6], o[7] = l1[0], l1[1], l2[0], l2[1]
}

// AppendUint appends v in decimal; one digit inline, more two at a time.
func AppendUint(b []byte, v uint64) []byte {
	if v < 10 {
		return append(b, byte('0'+v))
	}
	return appendUintSlow(b, v)
}

func appendUintSlow(b []byte, v uint64) []byte {
	if v < 100 {
		return append(b, Digits2[2*v], Digits2[2*v+1])
	}
	l := len(b)
	if v < 1000 { // headings, courses: three digits, no length to find
		b = Extend(b, 3)
		o := (*[3]byte)(b[l:])
		q := v / 10
		p := Pairs[q%100]
		o[0], o[1], o[2] = p[0], p[1], byte('0'+v-q*10)
		return b
	}
	if v >= 1e8 && v < 1e9 { // MMSIs: nine digits, no length to find
		b = Extend(b, 9)
		o := (*[9]byte)(b[l:])
		Put8(o[1:], uint32(v%1e8))
		o[0] = byte('0' + v/1e8)
		return b
	}
	b = Extend(b, DecimalLen(v))
	PutDigits(b[l:], v)
	return b
}

// AppendFixed appends v as [-]iii[.fff]: its low f digits (zero padded)
// after the point, the intLen digits above them (zero padded) before it,
// in place: no temporary buffer, no copy, no division by a variable.
func AppendFixed(b []byte, neg bool, v uint64, intLen, f int) []byte {
	total := intLen
	if neg {
		total++
	}
	if f > 0 {
		total += 1 + f
	}
	l := len(b)
	b = Extend(b, total)
	o := b[l:]
	if neg {
		o[0] = '-'
		o = o[1:]
	}
	if f > 0 {
		k := len(o) - f
		v = PutDigits(o[k:], v)
		o[k-1] = '.'
		o = o[:k-1]
	}
	PutDigits(o, v)
	return b
}

// AppendFrac appends [-]ip[.fff]: ip, then frac < 10^dec as dec digits
// (zero padded, 1 <= dec <= 8) with trailing zeros trimmed, the point
// only when frac is not 0. The fraction is written as 8 digits in one
// store and trimmed by counting its trailing '0' bytes: no loop, no
// division by a variable.
func AppendFrac(b []byte, neg bool, ip, frac uint64, dec int) []byte {
	if neg {
		b = append(b, '-')
	}
	b = AppendUint(b, ip)
	if frac == 0 {
		return b
	}
	l := len(b)
	b = Extend(b, 9)
	o := (*[9]byte)(b[l:])
	Put8(o[1:], uint32(frac*Pow10[(8-dec)&15])) // frac's digits, then zeros
	o[0] = '.'
	w := binary.LittleEndian.Uint64(o[1:]) ^ (0x0101010101010101 * '0')
	return b[:l+9-mathbits.LeadingZeros64(w)>>3] // w != 0: frac != 0
}
