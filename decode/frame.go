package decode

import (
	"encoding/binary"
	mathbits "math/bits"
	"time"

	"github.com/keelson/keelson"
)

// Sentence is one framed NMEA 0183 sentence. Its byte slices point into the
// line it was framed from and are valid only as long as that line is.
type Sentence struct {
	// Raw is the sentence from its '!' or '$' through the two checksum
	// digits (without tag block, trailer or line end).
	Raw []byte
	// Start is '!' (encapsulated, e.g. AIS) or '$'.
	Start byte
	// Talker is the two-character talker ("AI", "GP", "--"); empty for a
	// proprietary sentence ("$PGHP").
	Talker []byte
	// Formatter is the sentence type ("VDM", "RMC"), or the whole address
	// of a proprietary sentence ("PGHP").
	Formatter []byte
	// Fields is everything between the address field's comma and the '*'.
	Fields []byte
	// Flags holds keelson.FlagChecksumBad and keelson.FlagTagChecksumBad
	// when a bad checksum was accepted in lenient mode.
	Flags keelson.Flags
	// Tag is the NMEA 4.10 tag block in front of the sentence, if any.
	Tag TagBlock
	// Trailer is what follows the checksum up to the next sentence or the
	// end of the line: receiver fields such as the USCG format's
	// ",d-109,S2105,t050056.00,...,1325394060" (leading comma removed).
	Trailer []byte
}

// TagBlock is an NMEA 4.10 tag block: `\s:station,c:time,g:1-2-42*hh\`.
// Its byte slices point into the line.
type TagBlock struct {
	Present bool
	Station []byte    // s: source (receiver or station id)
	Time    time.Time // c: UNIX time, seconds or milliseconds (told apart by size); zero if absent
	// g: sentence grouping "num-total-id"; GroupTotal is 0 when absent.
	GroupNum, GroupTotal, GroupID int
	Line                          int   // n: line count; 0 if absent
	Relative                      int64 // r: relative time; 0 if absent
	Dest                          []byte
	Text                          []byte
}

// stop marks the bytes that end a sentence's body: the checksum separator,
// line ends and the three NMEA start delimiters (reserved characters that
// cannot occur inside a sentence, so a sentence cut short by the next one is
// detected).
var stop = func() (t [256]bool) {
	for _, c := range []byte{'*', '\r', '\n', '!', '$', '\\', 0} {
		t[c] = true
	}
	return t
}()

// startByte marks the bytes that may start a sentence or tag block.
var startByte = func() (t [256]bool) {
	t['!'], t['$'], t['\\'] = true, true, true
	return t
}()

var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'A'; c <= 'F'; c++ {
		t[c] = byte(c-'A') + 10
		t[c+'a'-'A'] = byte(c-'A') + 10
	}
	return t
}()

// Frame frames the first sentence in b (with its tag block, if any) into s
// and returns how many bytes of b it consumed; the caller frames the rest of
// a line by calling Frame again on b[n:]. Bytes before the first tag block
// or sentence are skipped as garbage. When b holds no sentence, Frame
// returns len(b) and ErrNoSentence.
//
// With lenient false, a sentence or tag block with a bad or missing
// checksum is an error (*ChecksumError, ErrNoChecksum); with lenient true
// it is accepted and flagged in s.Flags. On any error n still moves past
// the bad sentence, so that nothing after it is lost.
func Frame(s *Sentence, b []byte, lenient bool) (n int, err error) {
	*s = Sentence{}
	return frame(s, b, lenient)
}

// frame is Frame for a Sentence that is zero or was last written by frame
// (the Decoder's): it clears the tag block only when one was there, the
// larger half of the Sentence.
func frame(s *Sentence, b []byte, lenient bool) (n int, err error) {
	s.Raw, s.Start, s.Talker, s.Formatter, s.Fields, s.Flags, s.Trailer = nil, 0, nil, nil, nil, 0, nil
	if s.Tag.Present {
		s.Tag = TagBlock{}
	}
	i := 0
	var tagErr error
	for {
		for i < len(b) && !startByte[b[i]] {
			i++
		}
		if i == len(b) {
			return len(b), ErrNoSentence
		}
		if b[i] != '\\' {
			break
		}
		j := i + 1
		for j < len(b) && b[j] != '\\' && b[j] != '\r' && b[j] != '\n' {
			j++
		}
		if j == len(b) || b[j] != '\\' || j+1 == len(b) || (b[j+1] != '!' && b[j+1] != '$') {
			// Not a tag block in front of a sentence (unterminated, or
			// garbage such as a literal "\r\n"): skip the backslash as
			// garbage and look for a sentence after it.
			i++
			continue
		}
		tagErr = parseTagBlock(&s.Tag, b[i+1:j], lenient, &s.Flags)
		i = j + 1
		break
	}
	start := i
	j := i + 1
	// The body up to the first byte of the stop table, XORed for the
	// checksum: eight bytes at a time while none is below '+' (which
	// covers '*', NUL, CR, LF, '!' and '$') or a backslash. The lowest
	// flagged byte of a word is exact (borrows only run upwards), so the
	// clean bytes below it are XORed in and the byte loop takes over from
	// it (a space, '"', '#' or '(' is flagged but is no stop byte).
	var x8 uint64
	for j+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[j:])
		if m := stopMask(x); m != 0 {
			k := uint(mathbits.TrailingZeros64(m)) &^ 7 // bit offset of the flagged byte
			x8 ^= x & (1<<k - 1)
			j += int(k >> 3)
			break
		}
		x8 ^= x
		j += 8
	}
	x8 ^= x8 >> 32
	x8 ^= x8 >> 16
	x8 ^= x8 >> 8
	cs := byte(x8)
	for j < len(b) && !stop[b[j]] {
		cs ^= b[j]
		j++
	}
	body := b[start+1 : j]
	var sumErr error
	end := j
	switch {
	case j+3 <= len(b) && b[j] == '*' && hexVal[b[j+1]] < 16 && hexVal[b[j+2]] < 16:
		end = j + 3
		if got := hexVal[b[j+1]]<<4 | hexVal[b[j+2]]; got != cs {
			if lenient {
				s.Flags |= keelson.FlagChecksumBad
			} else {
				sumErr = &ChecksumError{Got: got, Want: cs}
			}
		}
	default:
		if j < len(b) && b[j] == '*' {
			end = j + 1
		}
		if lenient {
			s.Flags |= keelson.FlagChecksumBad
		} else {
			sumErr = ErrNoChecksum
		}
	}
	s.Raw = b[start:end]
	s.Start = b[start]
	n = end
	// Trailer: receiver fields after the checksum, up to the next sentence.
	if n < len(b) && b[n] == ',' {
		k := n + 1
		for k < len(b) && !startByte[b[k]] && b[k] != '\r' && b[k] != '\n' {
			k++
		}
		s.Trailer = b[n+1 : k]
		n = k
	}
	if tagErr != nil {
		return n, tagErr
	}
	if sumErr != nil {
		return n, sumErr
	}
	// Address field: 2-10 of A-Z, 0-9 and '-', up to the first comma.
	a := 0
	for a < len(body) && addrByte[body[a]] {
		a++
	}
	if a < len(body) && body[a] != ',' || a < 2 || a > 10 {
		return n, ErrMalformed
	}
	addr := body[:a]
	if a < len(body) {
		s.Fields = body[a+1:]
	} else {
		s.Fields = body[len(body):]
	}
	if addr[0] == 'P' && s.Start == '$' {
		s.Formatter = addr
	} else {
		if len(addr) < 3 {
			return n, ErrMalformed
		}
		s.Talker, s.Formatter = addr[:2], addr[2:]
	}
	return n, nil
}

func tagError(what string) error { return &tagBlockError{what} }

type tagBlockError struct{ what string }

func (e *tagBlockError) Error() string { return "decode: bad tag block: " + e.what }
func (e *tagBlockError) Unwrap() error { return ErrTagBlock }

// Preallocated tag block errors: the hot path must not allocate on bad input
// either.
var (
	errTagField    = tagError("bad field")
	errTagChecksum = tagError("missing checksum")
)

// ParseTagBlock parses the content of a tag block (between the two
// backslashes, including its "*hh" checksum) into t. With lenient true a
// bad checksum is accepted and flagged keelson.FlagTagChecksumBad in flags.
func ParseTagBlock(t *TagBlock, b []byte, lenient bool, flags *keelson.Flags) error {
	*t = TagBlock{}
	return parseTagBlock(t, b, lenient, flags)
}

func parseTagBlock(t *TagBlock, b []byte, lenient bool, flags *keelson.Flags) error {
	t.Present = true
	var cs byte
	j := 0
	for j < len(b) && b[j] != '*' {
		cs ^= b[j]
		j++
	}
	if j+3 == len(b) && hexVal[b[j+1]] < 16 && hexVal[b[j+2]] < 16 {
		if got := hexVal[b[j+1]]<<4 | hexVal[b[j+2]]; got != cs {
			if !lenient {
				return &ChecksumError{TagBlock: true, Got: got, Want: cs}
			}
			*flags |= keelson.FlagTagChecksumBad
		}
	} else {
		if !lenient {
			return errTagChecksum
		}
		*flags |= keelson.FlagTagChecksumBad
	}
	body := b[:j]
	for len(body) > 0 {
		k := 0
		for k < len(body) && body[k] != ',' {
			k++
		}
		f := body[:k]
		if k < len(body) {
			body = body[k+1:]
		} else {
			body = body[k:]
		}
		if len(f) < 2 || f[1] != ':' {
			return errTagField
		}
		v := f[2:]
		switch f[0] {
		case 's':
			t.Station = v
		case 'c':
			x, ok := atoi64(v)
			if !ok {
				return errTagField
			}
			// Seconds until the year 5138; anything larger is milliseconds.
			if x > 1e11 {
				t.Time = time.UnixMilli(x).UTC()
			} else {
				t.Time = time.Unix(x, 0).UTC()
			}
		case 'g':
			num, rest, ok1 := cutInt(v)
			total, rest2, ok2 := cutInt(rest)
			id, _, ok3 := cutInt(rest2)
			if !ok1 || !ok2 || !ok3 || total < 1 || num < 1 || num > total {
				return errTagField
			}
			t.GroupNum, t.GroupTotal, t.GroupID = num, total, id
		case 'n':
			x, ok := atoi64(v)
			if !ok {
				return errTagField
			}
			t.Line = int(x)
		case 'r':
			x, ok := atoi64(v)
			if !ok {
				return errTagField
			}
			t.Relative = x
		case 'd':
			t.Dest = v
		case 't':
			t.Text = v
		default:
			// Other parameters (ORBCOMM's "q:", "T:", ...) are kept nowhere but
			// are valid.
		}
	}
	return nil
}

// cutInt parses a decimal up to the next '-' (or the end) and returns the
// rest after the '-'.
func cutInt(b []byte) (int, []byte, bool) {
	k := 0
	for k < len(b) && b[k] != '-' {
		k++
	}
	x, ok := atoi64(b[:k])
	if k < len(b) {
		return int(x), b[k+1:], ok
	}
	return int(x), b[k:], ok
}

// atoi64 parses a non-negative decimal of at most 18 digits.
func atoi64(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var x int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		x = x*10 + int64(c-'0')
	}
	return x, true
}

// LeadingTime strips a receive timestamp in front of a line ("1550303566167726840
// !AIVDM,..."): a decimal UNIX time of 10 (seconds), 13 (milliseconds), 16
// (microseconds) or 19 (nanoseconds) digits followed by a space or tab. It
// returns the time and the rest of the line, or the zero time and line
// unchanged when there is none.
func LeadingTime(line []byte) (time.Time, []byte) {
	// The digits are summed as they are scanned, in int64 arithmetic (19
	// digits may wrap: a negative sum is refused).
	k := 0
	var x int64
	for k < len(line) && k < 20 && line[k] >= '0' && line[k] <= '9' {
		x = x*10 + int64(line[k]-'0')
		k++
	}
	if k == len(line) || (line[k] != ' ' && line[k] != '\t') || x < 0 {
		return time.Time{}, line
	}
	var t time.Time
	switch k {
	case 10:
		t = time.Unix(x, 0)
	case 13:
		t = time.UnixMilli(x)
	case 16:
		t = time.UnixMicro(x)
	case 19:
		t = time.Unix(0, x)
	default:
		return time.Time{}, line
	}
	return t.UTC(), line[k+1:]
}

// AISFields are the fields of a !--VDM/!--VDO sentence.
type AISFields struct {
	Total, Num int    // fragment count and number, 1-9
	Seq        int    // sequential message id 0-9, -1 when empty
	Channel    byte   // 'A', 'B', '1', '2', or 0 when empty
	Payload    []byte // armoured six-bit payload
	Fill       int    // fill bits 0-5
}

// ParseAIS parses the fields of a VDM/VDO sentence (Sentence.Fields).
func ParseAIS(f *AISFields, b []byte) error {
	// total,num,seq,chan,payload,fill: at least "1,1,,,,0".
	if len(b) < 8 {
		return ErrMalformed
	}
	if b[1] != ',' || b[3] != ',' {
		return ErrMalformed
	}
	f.Total, f.Num = int(b[0]-'0'), int(b[2]-'0')
	if f.Total < 1 || f.Total > 9 || f.Num < 1 || f.Num > 9 {
		return errFragmentNumber
	}
	i := 4
	f.Seq = -1
	if b[i] != ',' {
		if b[i] < '0' || b[i] > '9' || i+1 >= len(b) || b[i+1] != ',' {
			return ErrMalformed
		}
		f.Seq = int(b[i] - '0')
		i++
	}
	i++ // ','
	f.Channel = 0
	if i < len(b) && b[i] != ',' {
		f.Channel = b[i]
		i++
		if i < len(b) && b[i] != ',' {
			// Some receivers write "AB" or longer; keep the first letter.
			for i < len(b) && b[i] != ',' {
				i++
			}
		}
	}
	if i >= len(b) || b[i] != ',' {
		return ErrMalformed
	}
	i++
	p := i
	for i+8 <= len(b) && !hasByte(binary.LittleEndian.Uint64(b[i:]), ',') {
		i += 8 // eight payload characters at a time
	}
	for i < len(b) && b[i] != ',' {
		i++
	}
	f.Payload = b[p:i]
	if i+2 != len(b) || b[i] != ',' || b[i+1] < '0' || b[i+1] > '5' {
		return ErrMalformed
	}
	f.Fill = int(b[i+1] - '0')
	return nil
}

var errFragmentNumber = &fragmentError{"fragment count or number out of range"}

type fragmentError struct{ what string }

func (e *fragmentError) Error() string { return "decode: bad fragment: " + e.what }
func (e *fragmentError) Unwrap() error { return ErrFragment }

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// hasByte reports whether any byte of x equals c.
func hasByte(x uint64, c byte) bool {
	y := x ^ (lo8 * uint64(c))
	return (y-lo8)&^y&hi8 != 0
}

// stopMask flags (in the high bit of each byte) the bytes of x that are
// below '+' (which covers '*', NUL, CR, LF, '!' and '$') or a backslash: a
// superset of the stop table. Above the lowest flagged byte, flags may be
// false (borrows); the lowest is exact.
func stopMask(x uint64) uint64 {
	y := x ^ (lo8 * '\\')
	return ((x-lo8*'+')&^x | (y-lo8)&^y) & hi8
}

// addrByte marks the bytes of an address field: A-Z, 0-9 and '-'.
var addrByte = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
	}
	return t
}()
