// Package keelson holds the domain types that every stage of the pipeline
// shares: the collector (ingest) produces them, Kafka carries them as JSON,
// the sink (storage) writes them to ClickHouse and the API serves them.
//
// The package has no I/O and imports nothing of the project's own; the stage
// packages (decode, ingest, storage, api) import it and never each other
// sideways.
//
// "Not available" is kept distinct from zero everywhere: floating-point
// quantities use NaN (see [Float]) and integer codes use the ITU-R M.1371
// "not available" code documented on each field.
package keelson

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// ErrInvalidMMSI is returned by ParseMMSI for anything that is not a
// 1-9 digit decimal number.
var ErrInvalidMMSI = errors.New("keelson: invalid MMSI")

// MMSI is a Maritime Mobile Service Identity (30 bits in AIS).
type MMSI uint32

// String returns the MMSI as nine digits, zero padded (MID first).
func (m MMSI) String() string {
	var b [9]byte
	return string(m.AppendText(b[:0]))
}

// AppendText appends the nine-digit form of m to b.
func (m MMSI) AppendText(b []byte) []byte {
	v := uint32(m)
	if v > 999999999 {
		return strconv.AppendUint(b, uint64(v), 10)
	}
	var d [9]byte
	for i := 8; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:]...)
}

// ParseMMSI parses a decimal MMSI.
func ParseMMSI(s string) (MMSI, error) {
	if len(s) == 0 || len(s) > 9 {
		return 0, fmt.Errorf("%w: %q", ErrInvalidMMSI, s)
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrInvalidMMSI, s)
	}
	return MMSI(v), nil
}

// Float is a float64 quantity in which NaN means "not available". It encodes
// to JSON as a number, or null when not available, and null decodes to NaN.
type Float float64

// NA is the "not available" Float.
var NA = Float(math.NaN())

// Valid reports whether f holds a value.
func (f Float) Valid() bool { return !math.IsNaN(float64(f)) }

// IsZero reports whether f is not available, so `omitzero` omits it.
func (f Float) IsZero() bool { return math.IsNaN(float64(f)) }

// MarshalJSON encodes f as the shortest decimal that round-trips, or null.
func (f Float) MarshalJSON() ([]byte, error) { return f.AppendJSON(nil), nil }

// AppendJSON appends the JSON form of f to b.
func (f Float) AppendJSON(b []byte) []byte {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return appendFloatFast(b, v) // strconv.AppendFloat(b, v, 'f', -1, 64), faster (event_json.go)
}

// UnmarshalJSON decodes a number, or null as NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = NA
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("keelson: invalid number %q", b)
	}
	*f = Float(v)
	return nil
}
