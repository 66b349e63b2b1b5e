package decode

import (
	"errors"
	"strconv"
)

// The errors of package decode. Every error that Decode returns wraps one
// of these sentinels; check with errors.Is. Each also has a short name, the
// key under which Stats.ByError counts it (see ErrorName).
var (
	// ErrLineTooLong: a line longer than Config.MaxLineLength; nothing in it
	// is decoded.
	ErrLineTooLong = errors.New("decode: line too long")
	// ErrNoSentence: a line with no '!' or '$' sentence in it (garbage, or a
	// tag block alone).
	ErrNoSentence = errors.New("decode: no sentence")
	// ErrChecksum: the sentence's "*hh" checksum does not match (the
	// *ChecksumError says which it was and what it should be).
	ErrChecksum = errors.New("decode: checksum mismatch")
	// ErrNoChecksum: a sentence without its "*hh" checksum (truncated).
	ErrNoChecksum = errors.New("decode: missing checksum")
	// ErrMalformed: a sentence whose fields do not fit its type: bad
	// address field, wrong number of AIS fields, bad fill bits, ...
	ErrMalformed = errors.New("decode: malformed sentence")
	// ErrTagBlock: a bad NMEA 4.10 tag block (unterminated, bad field, bad
	// checksum). A tag block checksum mismatch wraps ErrChecksum too.
	ErrTagBlock = errors.New("decode: bad tag block")
	// ErrFragment: a multi-sentence fragment that cannot belong to any
	// message (count 0 or above Config.MaxFragments, number above count).
	ErrFragment = errors.New("decode: bad fragment")
	// ErrDuplicateFragment: a fragment received twice; the copy is dropped
	// and the completed message is flagged keelson.FlagFragmentGap.
	ErrDuplicateFragment = errors.New("decode: duplicate fragment")
	// ErrFragmentLost: a pending multi-sentence message that was dropped
	// incomplete: evicted as stale (Config.MaxAge), for room
	// (Config.MaxPending), replaced by a conflicting fragment, or pending at
	// Flush. Counted in Stats, never returned by Decode.
	ErrFragmentLost = errors.New("decode: incomplete message dropped")
	// ErrIncomplete is returned by Reassembler.Add while a message still
	// waits for fragments. It is not a failure and is not counted.
	ErrIncomplete = errors.New("decode: incomplete message")
	// ErrAIS: the AIS payload did not decode (wraps the decode/ais error).
	ErrAIS = errors.New("decode: bad AIS payload")
	// ErrNMEA: an own-ship sentence that go-nmea could not parse (wraps its
	// error).
	ErrNMEA = errors.New("decode: bad NMEA sentence")
)

// errorNames maps each sentinel to its Stats.ByError key.
var errorNames = []struct {
	err  error
	name string
}{
	{ErrLineTooLong, "line_too_long"},
	{ErrNoSentence, "no_sentence"},
	{ErrTagBlock, "tag_block"}, // before ErrChecksum: a tag block checksum error is a tag block error
	{ErrChecksum, "checksum"},
	{ErrNoChecksum, "no_checksum"},
	{ErrMalformed, "malformed"},
	{ErrDuplicateFragment, "duplicate_fragment"},
	{ErrFragment, "fragment"},
	{ErrFragmentLost, "fragment_lost"},
	{ErrAIS, "ais"},
	{ErrNMEA, "nmea"},
}

// ErrorName returns the short name under which Stats.ByError counts err
// ("checksum", "tag_block", "fragment_lost", ...), or "other".
func ErrorName(err error) string {
	for _, e := range errorNames {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	return "other"
}

// ChecksumError is a checksum mismatch: Want is the checksum the data
// computes to, Got the one the sentence (or tag block) carries. It wraps
// ErrChecksum, and ErrTagBlock too when TagBlock is set.
type ChecksumError struct {
	TagBlock  bool
	Got, Want byte
}

func (e *ChecksumError) Error() string {
	where := "sentence"
	if e.TagBlock {
		where = "tag block"
	}
	return "decode: " + where + " checksum mismatch: got " + hex2(e.Got) + ", want " + hex2(e.Want)
}

// Unwrap returns the sentinels e matches.
func (e *ChecksumError) Unwrap() []error {
	if e.TagBlock {
		return []error{ErrTagBlock, ErrChecksum}
	}
	return []error{ErrChecksum}
}

func hex2(b byte) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[b>>4], digits[b&15]})
}

// SentenceError gives the context of an error: the sentence formatter
// ("VDM", "RMC", ...) and, for AIS, the message type when known. It
// unwraps to the underlying error.
type SentenceError struct {
	Formatter string
	AISType   int
	Err       error
}

func (e *SentenceError) Error() string {
	s := "decode: " + e.Formatter
	if e.AISType > 0 {
		s += " type " + strconv.Itoa(e.AISType)
	}
	return s + ": " + trimPrefix(e.Err.Error())
}

func (e *SentenceError) Unwrap() error { return e.Err }

func trimPrefix(s string) string {
	if len(s) > 8 && s[:8] == "decode: " {
		return s[8:]
	}
	return s
}

// aisError is ErrAIS wrapping a decode/ais error: what
// fmt.Errorf("%w: %w", ErrAIS, err) makes, without the formatting.
type aisError struct{ err error }

func (e *aisError) Error() string   { return ErrAIS.Error() + ": " + e.err.Error() }
func (e *aisError) Unwrap() []error { return []error{ErrAIS, e.err} }

// errorAISIndex is the index of ErrAIS in errorNames.
var errorAISIndex = func() int {
	for i, e := range errorNames {
		if e.err == ErrAIS {
			return i
		}
	}
	return len(errorNames)
}()
