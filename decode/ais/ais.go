// Package ais decodes AIS message payloads (the sixth field of !AIVDM/!AIVDO
// sentences, already reassembled when a message spans several sentences)
// into typed messages, for all 27 message types of ITU-R M.1371-5, and
// renders them as Keelson's JSON or as gpsd's `gpsdecode -j` JSON.
//
// The package is pure: no I/O, no logging, no goroutines, and no globals but
// immutable tables and error sentinels. NMEA framing, tag blocks and
// multi-sentence reassembly belong to package decode.
//
// Every message layout is declared once, as data, in the table of
// internal/gen; the typed structs, their decoders and their JSON writers in
// messages_gen.go are generated from it with go generate.
//
// "Not available" values are kept as the ITU codes in the raw fields (e.g.
// heading 511, SOG 1023) and scaled accessors return keelson.NA for them.
package ais

//go:generate go run ./internal/gen -o messages_gen.go -ref messages_ref_gen_test.go

import (
	"errors"

	"github.com/keelson/keelson"
)

// Errors returned by Unarmor, Reader and Decoder. They are sentinels, to be
// checked with errors.Is; returned errors may wrap them with context.
var (
	// ErrEmpty: the payload has no characters.
	ErrEmpty = errors.New("ais: empty payload")
	// ErrBadPayloadChar: a payload character outside the AIS 6-bit armor set
	// ('0'..'W' and '`'..'w').
	ErrBadPayloadChar = errors.New("ais: bad payload character")
	// ErrBadFill: fill bits outside 0-5, or more fill bits than payload bits.
	ErrBadFill = errors.New("ais: bad fill bits")
	// ErrUnknownType: message type 0 or above 27.
	ErrUnknownType = errors.New("ais: unknown message type")
	// ErrShort: too few bits for the message type (or for the field read).
	ErrShort = errors.New("ais: message too short")
)

// Message is a decoded AIS message. The concrete types are pointers to the
// structs of messages_gen.go (PositionReport, BaseStationReport, ...).
type Message interface {
	// Type returns the message type, 1-27.
	Type() uint8
	// MMSI returns the sender's MMSI (the "source ID" of the message).
	MMSI() keelson.MMSI
	// AppendJSON appends Keelson's JSON object of the message: every field
	// of the type, scaled to physical units, null for "not available".
	AppendJSON(b []byte) []byte
	// AppendGPSD appends the JSON object that gpsd's `gpsdecode -j` (gpsd
	// 3.22) writes for the message (class "AIS", device "stdin", gpsd's names,
	// scaling and quirks), or nothing when gpsdecode prints nothing for it:
	// gpsd's length checks, a type 24 part A, a part B that matches none of
	// the last 8 parts A decoded by the same Decoder (see docs/ais.md).
	AppendGPSD(b []byte) []byte
	// Clone returns a deep copy that stays valid after the Decoder's next call.
	Clone() Message
}
