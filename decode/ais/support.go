package ais

import (
	"github.com/keelson/keelson/internal/jsonnum"
	"math"
	"strconv"

	"github.com/keelson/keelson"
)

// Header is the start of every message.
type Header struct {
	MsgType uint8        // message type 1-27
	Repeat  uint8        // repeat indicator 0-3
	Source  keelson.MMSI // sender's MMSI
	NBits   int          // length of the message in bits
}

// Type returns the message type.
func (h *Header) Type() uint8 { return h.MsgType }

// MMSI returns the sender's MMSI.
func (h *Header) MMSI() keelson.MMSI { return h.Source }

// readHeader reads the header of a message of at least 38 bits and leaves
// the reader at bit 38.
func readHeader(r *Reader) Header {
	r.Seek(38)
	w := r.at(0, 38)
	return Header{
		MsgType: uint8(w >> 32),
		Repeat:  uint8(w>>30) & 3,
		Source:  keelson.MMSI(w & (1<<30 - 1)),
		NBits:   r.Len(),
	}
}

func (h *Header) appendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = appendUint(b, uint64(h.MsgType))
	b = append(b, `,"repeat":`...)
	b = appendUint(b, uint64(h.Repeat))
	b = append(b, `,"mmsi":`...)
	b = appendUint(b, uint64(h.Source))
	return b
}

func (h *Header) appendGPSD(b []byte) []byte {
	b = append(b, `{"class":"AIS","device":"stdin","type":`...)
	b = appendUint(b, uint64(h.MsgType))
	b = append(b, `,"repeat":`...)
	b = appendUint(b, uint64(h.Repeat))
	b = append(b, `,"mmsi":`...)
	b = appendUint(b, uint64(h.Source))
	return append(b, `,"scaled":true`...)
}

// Application is a decoded application message: the data of a binary
// message (type 6 or 8) for a DAC/FI that this package knows, such as
// *MetHydro11 and *MetHydro31.
type Application interface {
	// AppendJSON appends Keelson's JSON object of the application data.
	AppendJSON(b []byte) []byte
	appendGPSD(b []byte) []byte
	gpsdStructured(n, typ int) bool
	cloneApp() Application
}

// optUint reads an optional trailing field: when the message ends before
// it, it returns what the buffer holds there (the fill bits, then zeros),
// as gpsd does, and sets no error.
func (r *Reader) optUint(n int) uint64 {
	if r.err != nil {
		return 0
	}
	if r.pos+n <= r.n {
		return r.Uint(n)
	}
	var v uint64
	if r.pos>>3+8 <= len(r.buf) {
		v = uint64At(r.buf, r.pos, n)
	}
	r.pos += n
	return v
}

func (r *Reader) optInt(n int) int64 {
	v := r.optUint(n)
	return int64(v<<uint(64-n)) >> uint(64-n)
}

// data copies nbits bits from the current position into the arena, left
// aligned with the trailing bits of the last byte zeroed, and returns them
// with the last byte as it is in the message buffer (fill bits included).
func (r *Reader) data(arena *[]byte, nbits int) ([]byte, byte) {
	if nbits <= 0 || r.err != nil {
		return nil, 0
	}
	nbytes := (nbits + 7) / 8
	start := len(*arena)
	a := *arena
	for i := 0; i < nbytes; i++ {
		p := r.pos + 8*i
		var v byte
		if p>>3+8 <= len(r.buf) {
			v = byte(uint64At(r.buf, p, 8))
		}
		a = append(a, v)
	}
	*arena = a
	d := a[start:len(a):len(a)]
	last := d[nbytes-1]
	if rem := nbits % 8; rem != 0 {
		d[nbytes-1] &= 0xFF << (8 - rem)
	}
	r.pos = min(r.pos+nbits, r.n)
	return d, last
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// auxiliary reports whether mmsi is an auxiliary craft's (98XXXYYYY).
func auxiliary(mmsi keelson.MMSI) bool { return mmsi/10000000 == 98 }

// rotValue converts the ITU ROT_AIS code to degrees per minute:
// (code/4.733)², signed; ±127 (turning fast, no indicator) and -128 (not
// available) are keelson.NA.
func rotValue(v int64) keelson.Float {
	if v < -128 || v > 127 {
		return rotCompute(v)
	}
	return rotTable[v+128]
}

// rotTable holds rotCompute of every 8-bit rate of turn (a division and a
// rounding saved per position, twice: event and AIS JSON).
var rotTable = func() (t [256]keelson.Float) {
	for v := range t {
		t[v] = rotCompute(int64(v) - 128)
	}
	return t
}()

func rotCompute(v int64) keelson.Float {
	if v == -128 || v == 127 || v == -127 {
		return keelson.NA
	}
	r := float64(v) / 4.733
	r *= r
	if v < 0 {
		r = -r
	}
	return keelson.Float(math.Round(r*10) / 10)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped like gpsd's
// json_stringify (quotes, backslashes and control characters).
func appendJSONString(b []byte, s string) []byte {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\' {
		i++
	}
	if i == len(s) { // nothing to escape (names, call signs): one copy
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c >= 0x7f:
			b = append(b, `\u00`...)
			b = append(b, hexDigits[c>>4], hexDigits[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendJSONData appends `key nbits,"data":"hex"` for Keelson's JSON.
func appendJSONData(b []byte, key string, data []byte, nbits int) []byte {
	b = append(b, key...)
	b = strconv.AppendInt(b, int64(nbits), 10)
	b = append(b, `,"data":"`...)
	for _, c := range data {
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return append(b, '"')
}

// appendGPSDData appends gpsd's `"data":"bits:hex"`; gpsd dumps the last
// byte as it is in its buffer.
func appendGPSDData(b []byte, data []byte, nbits int, last byte) []byte {
	b = append(b, `,"data":"`...)
	b = strconv.AppendInt(b, int64(nbits), 10)
	b = append(b, ':')
	for i, c := range data {
		if i == len(data)-1 {
			c = last
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return append(b, '"')
}

// decodeAtoNName reads the type 21 name and its extension (bits 272 on),
// like gpsd: the extension is appended only to a full 20-character name.
func decodeAtoNName(m *AidToNavigation, r *Reader, ms *messages) {
	start := len(ms.arena)
	ms.arena = r.appendTextUntrimmed(ms.arena, 20)
	if len(ms.arena)-start == 20 && r.Len() > 272 {
		save := r.Pos()
		r.Seek(272)
		ms.arena = r.appendTextUntrimmed(ms.arena, (r.Len()-272)/6)
		r.Seek(save)
	}
	for len(ms.arena) > start && ms.arena[len(ms.arena)-1] == ' ' {
		ms.arena = ms.arena[:len(ms.arena)-1]
	}
	m.Name = arenaString(ms.arena[start:])
}

// appendTextUntrimmed is AppendText without the trimming of spaces.
func (r *Reader) appendTextUntrimmed(b []byte, nchars int) []byte {
	if r.err != nil {
		return b
	}
	stopped := false
	for i := 0; i < nchars; i++ {
		if r.pos+6 > r.n {
			r.pos = r.n
			break
		}
		c := sixbit[uint64At(r.buf, r.pos, 6)]
		r.pos += 6
		if c == '@' {
			stopped = true
		}
		if !stopped {
			b = append(b, c)
		}
	}
	return b
}

func lastByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[len(b)-1]
}

// decodeRadio1 reads the radio status of a class A report: 19 bits, or
// what is left of a message shorter than 168 bits (as gpsd does).
func decodeRadio1(m *PositionReport, r *Reader, _ *messages) {
	n := min(r.Remaining(), 19)
	m.Radio = uint32(r.Uint(n))
}

// gpsdDataLast returns the last byte of gpsd's hex dump of the data of a
// type 25 or 26 message (the reader is at the data): gpsd copies the bytes
// from bit 40 (56 when structured) up to its bit count, and shifts an
// addressed message's data left by 30 bits inside that copy, so zeros come
// in at the end.
func gpsdDataLast(r *Reader, typ uint8, addressed, structured bool, nbits int) byte {
	if nbits <= 0 {
		return 0
	}
	base := 40 + 16*b2i(structured)
	pre := r.n - base
	if typ == 26 {
		pre -= 20
	}
	limit := base + 8*((pre+7)/8)
	p := r.pos + 8*((nbits+7)/8-1)
	var v byte
	if p>>3+8 <= len(r.buf) {
		v = byte(uint64At(r.buf, p, 8))
	}
	if keep := limit - p; keep <= 0 {
		v = 0
	} else if keep < 8 {
		v &= 0xFF << (8 - keep)
	}
	return v
}

// countFrom is gpsd's element count for `for (u = 0; base + size*u <= bits; u++)`.
func countFrom(nd, base, size int) int {
	if nd < base {
		return 0
	}
	return (nd-base)/size + 1
}

// optSkip skips n bits of an optional trailing field, past the end if need be.
func (r *Reader) optSkip(n int) {
	if r.err == nil {
		r.pos += n
	}
}

// roundDiv returns n/d rounded half away from zero (inlined, so that a
// constant d becomes a multiplication).
func roundDiv(n, d int64) int64 {
	if n >= 0 {
		return (n + d/2) / d
	}
	return -((-n + d/2) / d)
}

// appendDec appends q/10^dec without trailing zeros: Keelson's JSON of a
// scaled field (q from roundDiv), exact for decimal scales (0.1 kn, 0.1°)
// and to about a centimetre for positions. The digits are written in place
// (no temporary buffer); the scales the generator uses divide by a constant.
func appendDec(b []byte, q int64, dec int) []byte {
	if dec == 1 && q >= 0 && q < 1e6 { // tenths: speeds, courses
		u := uint64(q)
		b = appendUint(b, u/10)
		if d := u % 10; d != 0 {
			b = append(b, '.', byte('0'+d))
		}
		return b
	}
	neg := q < 0
	if neg {
		q = -q
	}
	u := uint64(q)
	var ip, frac uint64
	switch dec {
	case 0:
		if neg {
			b = append(b, '-')
		}
		return appendUint(b, u)
	case 1:
		ip, frac = u/10, u%10
	case 2:
		ip, frac = u/100, u%100
	case 4:
		ip, frac = u/1e4, u%1e4
	case 6:
		ip, frac = u/1e6, u%1e6
	case 7:
		ip, frac = u/1e7, u%1e7
	default:
		ip, frac = u/jsonnum.Pow10[dec], u%jsonnum.Pow10[dec]
	}
	if dec <= 8 {
		return jsonnum.AppendFrac(b, neg, ip, frac, dec)
	}
	f := 0 // fraction digits, trailing zeros trimmed
	if frac != 0 {
		f = dec
		for frac%10 == 0 {
			frac /= 10
			f--
		}
	}
	return jsonnum.AppendFixed(b, neg, ip*jsonnum.Pow10[f]+frac, jsonnum.DecimalLen(ip), f)
}

// appendUint appends v in decimal (the generated writers call it).
func appendUint(b []byte, v uint64) []byte { return jsonnum.AppendUint(b, v) }
