package ais

import (
	"bytes"
	"encoding/binary"
	"slices"
	"unsafe"
)

// armor maps a payload character to its 6-bit value, 0xFF for characters
// outside the armor set. Immutable.
var armor = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for c := 48; c <= 87; c++ {
		t[c] = byte(c - 48)
	}
	for c := 96; c <= 119; c++ {
		t[c] = byte(c - 56)
	}
	return t
}()

// pad is the number of zero bytes kept after the packed bits so that the
// reader can always load 8 bytes at once.
const pad = 8

// Bits is a packed bit buffer (most significant bit first), as produced by
// Unarmor. It aliases the dst slice given to Unarmor.
type Bits struct {
	buf []byte // packed bits followed by at least pad zero bytes
	n   int    // number of valid bits
}

// Len returns the number of bits.
func (b Bits) Len() int { return b.n }

// Bytes returns the packed bits, (Len()+7)/8 bytes; the bits after Len in the
// last byte are the fill bits as sent.
func (b Bits) Bytes() []byte { return b.buf[:(b.n+7)/8] }

// Reader returns a bit reader positioned at bit 0.
func (b Bits) Reader() Reader { return Reader{buf: b.buf, n: b.n} }

// Unarmor converts the 6-bit ASCII payload of an AIVDM sentence into packed
// bits, reusing dst's storage when it is large enough (no allocation then).
// fillBits (0-5) is the sentence's fill-bit count: that many bits at the end
// of the last character are not part of the message.
func Unarmor(dst []byte, payload []byte, fillBits int) (Bits, error) {
	if len(payload) == 0 {
		return Bits{}, ErrEmpty
	}
	if fillBits < 0 || fillBits > 5 {
		return Bits{}, ErrBadFill
	}
	nbits := 6 * len(payload)
	size := (nbits+7)/8 + pad
	if cap(dst) < size {
		dst = make([]byte, size)
	} else {
		dst = dst[:size]
	}
	var bad byte
	i, o := 0, 0
	for ; i+8 <= len(payload); i, o = i+8, o+6 {
		p := payload[i : i+8 : i+8]
		a0, a1, a2, a3 := armor[p[0]], armor[p[1]], armor[p[2]], armor[p[3]]
		a4, a5, a6, a7 := armor[p[4]], armor[p[5]], armor[p[6]], armor[p[7]]
		bad |= a0 | a1 | a2 | a3 | a4 | a5 | a6 | a7
		w := uint64(a0)<<58 | uint64(a1)<<52 | uint64(a2)<<46 | uint64(a3)<<40 |
			uint64(a4)<<34 | uint64(a5)<<28 | uint64(a6)<<22 | uint64(a7)<<16
		binary.BigEndian.PutUint64(dst[o:], w) // the 2 low bytes are rewritten next
	}
	for ; i+4 <= len(payload); i, o = i+4, o+3 {
		a, b, c, d := armor[payload[i]], armor[payload[i+1]], armor[payload[i+2]], armor[payload[i+3]]
		bad |= a | b | c | d
		w := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst[o] = byte(w >> 16)
		dst[o+1] = byte(w >> 8)
		dst[o+2] = byte(w)
	}
	var w uint32
	rest := len(payload) - i
	for j := 0; j < rest; j++ {
		v := armor[payload[i+j]]
		bad |= v
		w = w<<6 | uint32(v)
	}
	// Zero the rest (at most 3 bytes of the last characters and the pad):
	// two overlapping 8-byte stores, 8 <= len(dst)-o <= 11.
	binary.LittleEndian.PutUint64(dst[o:], 0)
	binary.LittleEndian.PutUint64(dst[len(dst)-8:], 0)
	switch rest {
	case 1:
		dst[o] = byte(w << 2)
	case 2:
		dst[o] = byte(w >> 4)
		dst[o+1] = byte(w << 4)
	case 3:
		dst[o] = byte(w >> 10)
		dst[o+1] = byte(w >> 2)
		dst[o+2] = byte(w << 6)
	}
	if bad&0xC0 != 0 {
		return Bits{}, ErrBadPayloadChar
	}
	return Bits{buf: dst, n: nbits - fillBits}, nil
}

// Reader reads fields from Bits, most significant bit first. Its error is
// sticky: once a read runs past the end, every later read returns zero and
// Err returns ErrShort.
type Reader struct {
	buf []byte
	n   int
	pos int
	err error
}

// Err returns ErrShort if a read ran past the end of the bits, else nil.
func (r *Reader) Err() error { return r.err }

// Pos returns the index of the next bit to read.
func (r *Reader) Pos() int { return r.pos }

// Len returns the total number of bits.
func (r *Reader) Len() int { return r.n }

// Remaining returns the number of bits left to read.
func (r *Reader) Remaining() int { return max(r.n-r.pos, 0) }

// seekRaw moves to pos even past the end, for the optional reads of
// repeated groups.
func (r *Reader) seekRaw(pos int) { r.pos = max(pos, 0) }

// Seek moves to bit pos (clamped to the bits' length).
func (r *Reader) Seek(pos int) {
	r.pos = min(max(pos, 0), r.n)
}

// Skip advances n bits.
func (r *Reader) Skip(n int) {
	if r.pos+n > r.n {
		r.fail()
		return
	}
	r.pos += n
}

func (r *Reader) fail() {
	r.err = ErrShort
	r.pos = r.n
}

// Uint reads an unsigned field of n bits (0 <= n <= 64).
func (r *Reader) Uint(n int) uint64 {
	if r.err != nil || r.pos+n > r.n {
		r.fail()
		return 0
	}
	if n <= 57 {
		v := uint64At(r.buf, r.pos, n)
		r.pos += n
		return v
	}
	hi := uint64At(r.buf, r.pos, n-32)
	lo := uint64At(r.buf, r.pos+n-32, 32)
	r.pos += n
	return hi<<32 | lo
}

// uint64At returns the n bits (n <= 57) at bit pos of buf, which must have
// pad bytes after the last one addressed.
func uint64At(buf []byte, pos, n int) uint64 {
	if n == 0 {
		return 0
	}
	w := binary.BigEndian.Uint64(buf[pos>>3:])
	return w << uint(pos&7) >> uint(64-n)
}

// at returns the n bits (n <= 57) at bit pos without any check: the caller
// has checked that pos+n <= Len().
func (r *Reader) at(pos, n int) uint64 { return uint64At(r.buf, pos, n) }

// sat is at for a two's complement signed field.
func (r *Reader) sat(pos, n int) int64 {
	return int64(uint64At(r.buf, pos, n)<<uint(64-n)) >> uint(64-n)
}

// Int reads a two's complement signed field of n bits (1 <= n <= 64).
func (r *Reader) Int(n int) int64 {
	v := r.Uint(n)
	if n == 0 {
		return 0
	}
	return int64(v<<uint(64-n)) >> uint(64-n)
}

// Bool reads one bit.
func (r *Reader) Bool() bool { return r.Uint(1) != 0 }

// sixbit is the AIS 6-bit character set.
const sixbit = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_ !\"#$%&'()*+,-./0123456789:;<=>?"

// AppendText reads a 6-bit text field of nchars characters and appends it
// to b the way gpsd does: the text stops at the first '@' (the AIS
// terminator) and trailing spaces are trimmed. A text field cut short by the
// end of the message sets no error: a character cut by the end is read with
// the bits that follow it in the buffer (fill bits, then zeros), as gpsd does.
func (r *Reader) AppendText(b []byte, nchars int) []byte {
	if r.err != nil || nchars <= 0 {
		return b
	}
	// A character cut by the end of the message is read with the bits
	// that follow in the buffer (the fill bits, then zeros), as gpsd does.
	end := r.pos + 6*nchars
	if avail := (r.n - r.pos + 5) / 6; nchars > avail {
		nchars, end = avail, max(r.n, r.pos)
	}
	if nchars <= 0 {
		r.pos = end
		return b
	}
	start := len(b)
	b = slices.Grow(b, nchars)[:start+nchars]
	out := b[start:]
	k, p := 0, r.pos
	for ; k+8 <= nchars; k, p = k+8, p+48 {
		w := uint64At(r.buf, p, 48)
		o := out[k : k+8 : k+8]
		o[0] = sixbit[w>>42&63]
		o[1] = sixbit[w>>36&63]
		o[2] = sixbit[w>>30&63]
		o[3] = sixbit[w>>24&63]
		o[4] = sixbit[w>>18&63]
		o[5] = sixbit[w>>12&63]
		o[6] = sixbit[w>>6&63]
		o[7] = sixbit[w&63]
	}
	for ; k < nchars; k, p = k+1, p+6 {
		out[k] = sixbit[uint64At(r.buf, p, 6)]
	}
	if i := bytes.IndexByte(out, '@'); i >= 0 {
		b = b[:start+i]
	}
	r.pos = end
	for len(b) > start && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// Text reads a 6-bit text field like AppendText and returns it as a string
// (allocates).
func (r *Reader) Text(nchars int) string {
	var a [64]byte
	return string(r.AppendText(a[:0], nchars))
}

// text reads a text field into the arena and returns a string aliasing it.
func (r *Reader) text(arena *[]byte, nchars int) string {
	start := len(*arena)
	*arena = r.AppendText(*arena, nchars)
	return arenaString((*arena)[start:])
}

// arenaString returns a string aliasing s (no copy): it is valid until the
// arena is reused by the Decoder's next call.
func arenaString(s []byte) string {
	if len(s) == 0 {
		return ""
	}
	return unsafe.String(&s[0], len(s))
}
