package ais

import (
	"fmt"

	"github.com/keelson/keelson"
)

// Decoder decodes AIS payloads. It holds the bit buffer, a text arena and one
// preallocated struct per message type, so that decoding allocates nothing
// for the common messages. A Decoder is used by one goroutine at a time; its
// zero value is ready to use.
//
// The Message returned by Decode (and the strings inside it) is owned by the
// Decoder and valid only until its next call to Decode: call Message.Clone
// to keep one.
type Decoder struct {
	bits []byte
	msgs messages // one struct per type, the text arena; see messages_gen.go
}

// Decode decodes one complete AIS payload (all sentences' payloads joined,
// in order) with the fill-bit count of its last sentence.
//
// Errors: ErrEmpty, ErrBadPayloadChar, ErrBadFill, ErrUnknownType (type 0 or
// > 27) and ErrShort (fewer bits than the type's mandatory fields), wrapped
// with the message type where known.
func (d *Decoder) Decode(payload []byte, fillBits int) (Message, error) {
	bits, err := Unarmor(d.bits, payload, fillBits)
	if err != nil {
		return nil, err
	}
	d.bits = bits.buf
	return d.DecodeBits(bits)
}

// DecodeBits decodes a message from already unarmored bits.
func (d *Decoder) DecodeBits(bits Bits) (Message, error) {
	r, t, err := d.start(bits)
	if err != nil {
		return nil, err
	}
	m := d.msgs.decodeType(t, &r)
	return d.finish(m, t, &r)
}

// start checks the type and length and readies the arena.
func (d *Decoder) start(bits Bits) (Reader, uint8, error) {
	if bits.n < 6 {
		return Reader{}, 0, ErrShort
	}
	r := bits.Reader()
	t := uint8(r.Uint(6))
	if t == 0 || t > 27 {
		return r, t, &decodeError{err: ErrUnknownType, form: formUnknown, t: t}
	}
	if bits.n < minBits[t] {
		return r, t, &decodeError{err: ErrShort, form: formShort, t: t, n: bits.n, need: minBits[t]}
	}
	if cap(d.msgs.arena) == 0 {
		d.msgs.arena = make([]byte, 0, 256)
	}
	d.msgs.arena = d.msgs.arena[:0]
	return r, t, nil
}

// finish checks the reader's error and keeps gpsd's type 24 state.
func (d *Decoder) finish(m Message, t uint8, r *Reader) (Message, error) {
	if err := r.Err(); err != nil {
		return nil, &decodeError{err: err, form: formRead, t: t, n: r.Len()}
	}
	if t == 24 {
		d.msgs.t24.after24(&d.msgs.mStaticDataReport, r)
	}
	return m, nil
}

// Fill maps m into the domain event e: it sets Kind, MMSI, AISType, the
// payload that matches the message (Position for types 1, 2, 3, 4, 9, 11,
// 18, 19, 21 and 27; Static for 5, 19, 21 and 24; Observation for the
// meteorological and hydrographic messages DAC 1 FI 11 and FI 31 in types
// 8 and 6; Kind "ais" for the rest) and always e.AIS, the message's Keelson
// JSON. Not-available values become keelson.NA. e.AIS reuses its storage.
func Fill(e *keelson.Event, m Message) {
	FillPayload(e, m)
	e.AIS = m.AppendJSON(e.AIS)
}

// FillPayload is Fill without the message's JSON: e.AIS is left empty
// (its storage kept), for events whose payload already carries what the
// reader needs, such as positions on a thin link.
func FillPayload(e *keelson.Event, m Message) {
	e.MMSI = m.MMSI()
	e.AISType = m.Type()
	e.Kind = keelson.KindAIS
	e.AIS = e.AIS[:0]
	fill(e, m)
}

// decodeError is a sentinel error with the message type and lengths, the
// text made only when asked for (bad payloads are common in real feeds,
// and formatting each one cost more than decoding it).
type decodeError struct {
	err     error
	form    uint8
	t       uint8
	n, need int
}

const (
	formUnknown = iota // "%w: %d" (type)
	formShort          // "%w: type %d has %d bits, needs %d"
	formRead           // "%w: type %d (%d bits)"
)

func (e *decodeError) Error() string {
	switch e.form {
	case formUnknown:
		return fmt.Sprintf("%v: %d", e.err, e.t)
	case formShort:
		return fmt.Sprintf("%v: type %d has %d bits, needs %d", e.err, e.t, e.n, e.need)
	}
	return fmt.Sprintf("%v: type %d (%d bits)", e.err, e.t, e.n)
}

func (e *decodeError) Unwrap() error { return e.err }
