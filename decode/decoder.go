// Package decode turns NMEA 0183 lines into Keelson events: framing
// ('!'/'$' sentences, checksums, NMEA 4.10 tag blocks, receive-time
// prefixes, receiver trailers, Gatehouse $PGHP headers), multi-sentence AIS
// reassembly, AIS payloads (through package decode/ais) and own-ship
// sentences (through github.com/adrianmo/go-nmea).
//
// The package is pure: bytes in, typed values and errors out; no I/O, no
// logging, no goroutines, no globals but tables and error sentinels. A
// Decoder holds the state of one input (pending fragments, the last $PGHP
// header) and is owned by one goroutine.
package decode

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/adrianmo/go-nmea"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/decode/ais"
)

// Config configures a Decoder. The zero value is ready to use.
type Config struct {
	// Lenient accepts sentences and tag blocks with a bad or missing
	// checksum and flags their events keelson.FlagChecksumBad or
	// keelson.FlagTagChecksumBad. Default false: they are dropped with
	// ErrChecksum / ErrNoChecksum.
	Lenient bool
	// OwnMMSI is the own ship's MMSI, set on own-ship events (NMEA
	// sentences and !AIVDO). Default 0: none.
	OwnMMSI keelson.MMSI
	// Vessel is the own ship's name or id, set in Event.Vessel of own-ship
	// events (the Kafka key when OwnMMSI is 0). Default "": none.
	Vessel string
	// Collector and Input are copied into every event's Source. Default "".
	Collector, Input string
	// KeepRaw keeps each event's sentences in Event.Raw. Default false.
	KeepRaw bool
	// OmitPositionAIS leaves Event.AIS empty in position events: their
	// Position already carries the track, and the full message would
	// double their size (keelson collect sends them so by default).
	// Default false: every AIS event carries its whole message.
	OmitPositionAIS bool
	// MaxLineLength bounds a line; longer ones fail with ErrLineTooLong.
	// Default 0: 1024 bytes (an NMEA sentence is at most 82, a tag block
	// and receiver trailer add a few hundred).
	MaxLineLength int
	// MaxPending bounds the incomplete multi-sentence messages held; the
	// oldest is dropped for room. Default 0: 64.
	MaxPending int
	// MaxFragments bounds the sentences of one message, 1-9. Default 0: 9.
	MaxFragments int
	// MaxSpread drops an incomplete message when more than this many
	// fragments (of any message) arrived since its first one, so that a
	// stray fragment is not joined to a later message that reuses its
	// sequence id. Default 0: 16; negative: never.
	MaxSpread int
	// MaxAge drops an incomplete message whose first fragment was received
	// longer ago than this (by the recv times given to Decode). Default 0:
	// one minute; negative: never by age.
	MaxAge time.Duration
}

// Errors of Config.Validate.
var ErrConfig = errors.New("decode: invalid config")

// Validate reports a config field out of range.
func (c Config) Validate() error {
	switch {
	case c.MaxLineLength < 0:
		return fmt.Errorf("%w: MaxLineLength %d is negative", ErrConfig, c.MaxLineLength)
	case c.MaxPending < 0:
		return fmt.Errorf("%w: MaxPending %d is negative", ErrConfig, c.MaxPending)
	case c.MaxFragments < 0 || c.MaxFragments > 9:
		return fmt.Errorf("%w: MaxFragments %d is not in 0-9", ErrConfig, c.MaxFragments)
	}
	return nil
}

// Message is one decoded message as the low-level Scan path yields it:
// framing metadata and either an AIS message or an own-ship NMEA sentence.
// It and everything it points to is valid only during the Scan callback
// (call AIS.Clone to keep the AIS message).
type Message struct {
	// AIS is the decoded AIS message, for !--VDM/!--VDO.
	AIS ais.Message
	// NMEA is the own-ship sentence parsed by go-nmea, for '$' sentences.
	NMEA nmea.Sentence
	// Formatter is the sentence type: "VDM", "VDO", "RMC", ...
	Formatter string
	// Talker is the talker id ("AI", "GP", ...).
	Talker string
	// Channel is the AIS radio channel ("A", "B", "1", "2" or "").
	Channel string
	// Station is the tag block source (s:), "" when none.
	Station string
	// TagTime is the time the data carries: tag block c:, $PGHP header, or
	// receive-time prefix; zero when none.
	TagTime time.Time
	// Flags are the framing flags (bad checksums accepted in lenient mode,
	// duplicate fragments, own ship).
	Flags keelson.Flags
	// Sentences is the number of sentences the message was joined from.
	Sentences int
	// Payload and Fill are the AIS payload (joined from all sentences, still
	// six-bit armored) and its fill bits.
	Payload []byte
	Fill    int
	// Raw holds the sentences when Config.KeepRaw is set.
	Raw [][]byte
}

// IsAIS reports whether m is an AIS message.
func (m *Message) IsAIS() bool { return m.AIS != nil }

// Decoder decodes lines of NMEA 0183 into events. It keeps the state of one
// input (incomplete multi-sentence messages, the last $PGHP header) and must
// be used by one goroutine at a time.
type Decoder struct {
	cfg     Config
	maxLine int
	ais     ais.Decoder
	re      *Reassembler
	nmea    nmea.SentenceParser
	sent    Sentence
	fields  AISFields
	frag    Fragment
	msg     Message
	raw1    [1][]byte
	pghp    time.Time
	// lineTime and recv are the receive-time prefix of the line being
	// scanned and its reception time.
	lineTime, recv time.Time
	// pghpDay is the date of the last $PGHP header, pghpMidnight its start.
	pghpDay      [3]int
	pghpMidnight int64
	// pghpPrefix[:pghpPrefixLen] holds the fields of the last $PGHP,1
	// header up to the minute's comma ("1,2010,6,11,11,46,"), pghpMinute
	// the UNIX time of that minute: a header of the same minute (they come
	// about every second) has only its second and millisecond read.
	pghpPrefix    [24]byte
	pghpPrefixLen int
	pghpMinute    int64
	interns       map[string]string
	talkers       [64]talkerEntry
	lost          uint64
	stats         counters
	// spare holds payload structs that Fill dropped from an event (nobody
	// else holds them: see Fill), for the next event that needs one.
	spare struct {
		pos *keelson.Position
		st  *keelson.Static
		obs *keelson.Observation
	}
}

type counters struct {
	lines, messages, errors, skipped uint64
	aisTypes                         [28]uint64
	nmeaTypes                        map[string]uint64
	skippedTypes                     map[string]uint64
	byError                          [16]uint64
}

// NewDecoder returns a Decoder for cfg. Fields out of range (see
// Validate, which callers should use on configs from users) take their
// defaults.
func NewDecoder(cfg Config) *Decoder {
	if cfg.MaxLineLength < 0 {
		cfg.MaxLineLength = 0
	}
	if cfg.MaxPending < 0 {
		cfg.MaxPending = 0
	}
	if cfg.MaxFragments < 0 || cfg.MaxFragments > 9 {
		cfg.MaxFragments = 0
	}
	d := &Decoder{cfg: cfg, maxLine: cfg.MaxLineLength}
	if d.maxLine == 0 {
		d.maxLine = 1024
	}
	d.re = NewReassembler(cfg.MaxPending, cfg.MaxFragments, cfg.MaxSpread, cfg.MaxAge, cfg.KeepRaw)
	d.nmea = nmea.SentenceParser{
		// The checksum was checked (or leniently accepted) by Frame.
		CheckCRC: func(nmea.BaseSentence, string) error { return nil },
	}
	d.interns = make(map[string]string)
	d.stats.nmeaTypes = make(map[string]uint64)
	d.stats.skippedTypes = make(map[string]uint64)
	return d
}

// Decode decodes one line (with or without its line end) received at recv
// and appends the events it completes to dst: none for a fragment of a
// multi-sentence message or a skipped sentence, usually one, several when a
// line holds several sentences. On bad input it returns the events of the
// good sentences of the line and the first error (see the Err* sentinels);
// every error is also counted in Stats.
func (d *Decoder) Decode(dst []keelson.Event, line []byte, recv time.Time) ([]keelson.Event, error) {
	err := d.Scan(line, recv, func(m *Message) {
		dst = append(dst, keelson.Event{})
		d.Fill(&dst[len(dst)-1], m, recv)
	})
	return dst, err
}

// Fill overwrites e with the event of m, received at recv. It reuses e's
// storage: the AIS JSON buffer and, for AIS messages, the Position, Static
// and Observation structs that e points to are written through (and
// dropped when the message has no such payload: the Decoder keeps what e
// drops and hands it to the next event that lacks one). Pass a zero Event,
// or one you own whose payloads nobody else holds; a loop that fills one
// Event over and over does not allocate, whatever the mix of messages.
func (d *Decoder) Fill(e *keelson.Event, m *Message, recv time.Time) {
	pos, st, obs := e.Position, e.Static, e.Observation
	// Every field of e, one by one (a composite literal would be built
	// aside and copied): keep in step with keelson.Event
	// (TestFillEveryField).
	e.V = keelson.SchemaVersion
	e.ID = keelson.EventID{}
	e.Kind = ""
	e.Received = recv
	e.TagTime = m.TagTime
	e.Source = keelson.Source{
		Collector: d.cfg.Collector,
		Input:     d.cfg.Input,
		Station:   m.Station,
		Talker:    m.Talker,
		Channel:   m.Channel,
	}
	e.MMSI, e.Vessel, e.AISType, e.Flags = 0, "", 0, 0
	e.Position, e.Static, e.Observation, e.Telemetry = nil, nil, nil, nil
	e.AIS = e.AIS[:0]
	e.Raw = nil
	if m.AIS != nil {
		if cap(e.AIS) == 0 {
			e.AIS = make([]byte, 0, 384) // one allocation instead of a growing series
		}
		// Payload structs that e lacks come from the spares, and those that
		// the message drops become spares: a loop that fills one Event with
		// alternating kinds of message does not allocate.
		if pos == nil {
			pos, d.spare.pos = d.spare.pos, nil
		}
		if st == nil {
			st, d.spare.st = d.spare.st, nil
		}
		if obs == nil {
			obs, d.spare.obs = d.spare.obs, nil
		}
		e.Position, e.Static, e.Observation = pos, st, obs
		ais.FillPayload(e, m.AIS)
		if !d.cfg.OmitPositionAIS || e.Kind != keelson.KindPosition {
			e.AIS = m.AIS.AppendJSON(e.AIS)
		}
		if e.Position == nil {
			d.spare.pos = pos
		}
		if e.Static == nil {
			d.spare.st = st
		}
		if e.Observation == nil {
			d.spare.obs = obs
		}
	} else {
		fillNMEA(e, m.NMEA)
	}
	e.Flags |= m.Flags
	if m.Flags&keelson.FlagOwnShip != 0 {
		e.Vessel = d.cfg.Vessel
		if m.AIS == nil {
			e.MMSI = d.cfg.OwnMMSI
		}
	}
	if d.cfg.KeepRaw {
		e.Raw = make([]string, len(m.Raw))
		for i, r := range m.Raw {
			e.Raw[i] = string(r)
		}
	}
}

// Scan decodes one line like Decode, but calls fn with each completed
// message instead of making events: the zero-allocation path for hot loops
// (the message is valid only during the call).
func (d *Decoder) Scan(line []byte, recv time.Time, fn func(*Message)) error {
	d.stats.lines++
	if len(line) > d.maxLine {
		return d.fail(ErrLineTooLong)
	}
	// Trim the line end and skip blank and comment lines.
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	if len(line) == 0 || line[0] == '#' {
		return nil
	}
	// The line's times, for the sentences of the line (kept in d rather
	// than passed down: fewer arguments to move per sentence).
	d.lineTime, d.recv = time.Time{}, recv
	if line[0] >= '0' && line[0] <= '9' {
		d.lineTime, line = LeadingTime(line)
	}
	var first error
	found := false
	for len(line) > 0 {
		n, err := frame(&d.sent, line, d.cfg.Lenient)
		line = line[n:]
		if err == ErrNoSentence {
			if !found && first == nil {
				first = d.fail(err)
			}
			break
		}
		found = true
		if err == nil {
			err = d.sentence(&d.sent, fn)
		}
		if err != nil && err != ErrIncomplete {
			err = d.fail(err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// fail counts err and returns it.
func (d *Decoder) fail(err error) error {
	d.stats.errors++
	d.stats.byError[errorIndex(err)]++
	return err
}

func errorIndex(err error) int {
	if se, ok := err.(*SentenceError); ok {
		if _, ok := se.Err.(*aisError); ok { // the common error: no chain to walk
			return errorAISIndex
		}
	}
	for i, e := range errorNames {
		if errors.Is(err, e.err) {
			return i
		}
	}
	return len(errorNames)
}

// sentence handles one framed sentence.
func (d *Decoder) sentence(s *Sentence, fn func(*Message)) error {
	f := s.Formatter
	if s.Start == '!' && len(f) == 3 && f[0] == 'V' && f[1] == 'D' && (f[2] == 'M' || f[2] == 'O') {
		return d.vdm(s, fn)
	}
	if s.Start == '$' && string(f) == "PGHP" {
		return d.gatehouse(s)
	}
	if s.Start == '$' {
		return d.ownShip(s, fn)
	}
	d.skip(f)
	return nil
}

func (d *Decoder) skip(formatter []byte) {
	d.stats.skipped++
	if len(d.stats.skippedTypes) < 256 {
		d.stats.skippedTypes[d.intern(formatter)]++
	}
}

// intern returns b as a string, without allocating for strings seen before
// (talkers, channels, stations, formatters: a small set per input).
func (d *Decoder) intern(b []byte) string {
	if s, ok := d.interns[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.interns) < 4096 {
		d.interns[s] = s
	}
	return s
}

var channels = [256]string{'A': "A", 'B': "B", '1': "1", '2': "2", 'C': "C", 'D': "D", 'X': "X", 'Y': "Y"}

// vdm handles an AIS sentence.
func (d *Decoder) vdm(s *Sentence, fn func(*Message)) error {
	a := &d.fields
	if err := ParseAIS(a, s.Fields); err != nil {
		return err
	}
	tagTime := s.Tag.Time
	if tagTime.IsZero() {
		tagTime = d.lineTime
	}
	if tagTime.IsZero() && !d.pghp.IsZero() {
		tagTime = d.pghp
		d.pghp = time.Time{}
	}
	flags := s.Flags
	if s.Formatter[2] == 'O' {
		flags |= keelson.FlagOwnShip
	}
	m := &d.msg
	payload, fill := a.Payload, a.Fill
	m.Sentences = 1
	m.Raw = nil
	if a.Total > 1 || (s.Tag.GroupTotal > 1) {
		fr := &d.frag
		*fr = Fragment{
			Talker:  [2]byte{s.Talker[0], s.Talker[1]},
			Channel: a.Channel,
			Seq:     a.Seq,
			Group:   s.Tag.GroupID,
			Total:   a.Total,
			Num:     a.Num,
			Payload: a.Payload,
			Fill:    a.Fill,
			Recv:    d.recv,
			Raw:     s.Raw,
			Meta:    FragmentMeta{TagTime: tagTime, Flags: flags},
		}
		if len(s.Tag.Station) > 0 {
			fr.Meta.Station = d.intern(s.Tag.Station)
		}
		as, err := d.re.Add(fr)
		if lost := d.re.stats.Lost(); lost != d.lost {
			n := lost - d.lost
			d.lost = lost
			d.stats.errors += n
			d.stats.byError[errorIndex(ErrFragmentLost)] += n
		}
		if err != nil {
			return err
		}
		payload, fill = as.Payload, as.Fill
		tagTime, flags = as.Meta.TagTime, as.Meta.Flags
		m.Station = as.Meta.Station
		m.Sentences = a.Total
		m.Raw = as.Raw
	} else {
		m.Station = ""
		if len(s.Tag.Station) > 0 {
			m.Station = d.intern(s.Tag.Station)
		}
		if d.cfg.KeepRaw {
			d.raw1[0] = s.Raw
			m.Raw = d.raw1[:]
		}
	}
	msg, err := d.ais.Decode(payload, fill)
	if err != nil {
		se := &SentenceError{Formatter: "VDM", Err: &aisError{err}}
		if s.Formatter[2] == 'O' {
			se.Formatter = "VDO"
		}
		if len(payload) > 0 {
			if c := payload[0] - '0'; c < 72 {
				if c > 40 {
					c -= 8
				}
				se.AISType = int(c)
			}
		}
		return se
	}
	m.AIS, m.NMEA = msg, nil
	m.Payload, m.Fill = payload, fill
	m.Formatter = "VDM"
	if s.Formatter[2] == 'O' {
		m.Formatter = "VDO"
	}
	m.Talker = d.talker(s.Talker)
	m.Channel = channels[a.Channel]
	if m.Channel == "" && a.Channel != 0 {
		m.Channel = d.intern([]byte{a.Channel})
	}
	m.TagTime = tagTime
	m.Flags = flags
	d.stats.messages++
	d.stats.aisTypes[msg.Type()]++
	fn(m)
	return nil
}

// talker interns a two-byte talker id through a direct-mapped cache in
// front of intern (a map lookup costs more than the rest of a sentence).
func (d *Decoder) talker(b []byte) string {
	if len(b) != 2 {
		return d.intern(b)
	}
	k := &d.talkers[(int(b[0])*31+int(b[1]))&(len(d.talkers)-1)]
	if k.set && k.b == [2]byte{b[0], b[1]} {
		return k.s
	}
	s := d.intern(b)
	*k = talkerEntry{set: true, b: [2]byte{b[0], b[1]}, s: s}
	return s
}

type talkerEntry struct {
	set bool
	b   [2]byte
	s   string
}

// gatehouse reads a Gatehouse $PGHP,1 header: the reception time of the
// next AIS sentence, "$PGHP,1,yyyy,M,d,h,m,s,ms,...".
func (d *Decoder) gatehouse(s *Sentence) error {
	f := s.Fields
	if n := d.pghpPrefixLen; n > 0 && len(f) > n && string(f[:n]) == string(d.pghpPrefix[:n]) {
		sec, k, ok1 := pghpField(f, n)
		ms, _, ok2 := pghpField(f, k)
		if !ok1 || !ok2 {
			return &SentenceError{Formatter: "PGHP", Err: ErrMalformed}
		}
		if sec > 60 || ms > 999 {
			return &SentenceError{Formatter: "PGHP", Err: ErrMalformed}
		}
		d.pghp = time.Unix(d.pghpMinute+int64(sec), int64(ms)*1e6).UTC()
		return nil
	}
	var v [8]int
	k, prefix := 0, 0
	for i := range v {
		x, next, ok := pghpField(f, k)
		if !ok {
			return &SentenceError{Formatter: "PGHP", Err: ErrMalformed}
		}
		v[i], k = x, next
		if i == 5 {
			prefix = k
		}
	}
	if v[0] != 1 {
		d.skip(s.Formatter)
		return nil
	}
	if v[2] < 1 || v[2] > 12 || v[3] < 1 || v[3] > 31 || v[4] > 23 || v[5] > 59 || v[6] > 60 || v[7] > 999 {
		return &SentenceError{Formatter: "PGHP", Err: ErrMalformed}
	}
	// The date changes once a day: keep its midnight.
	if day := [3]int{v[1], v[2], v[3]}; day != d.pghpDay {
		d.pghpDay = day
		d.pghpMidnight = time.Date(v[1], time.Month(v[2]), v[3], 0, 0, 0, 0, time.UTC).Unix()
	}
	d.pghpMinute = d.pghpMidnight + int64(v[4]*3600+v[5]*60)
	d.pghpPrefixLen = 0
	if prefix <= len(d.pghpPrefix) && f[prefix-1] == ',' {
		d.pghpPrefixLen = copy(d.pghpPrefix[:], f[:prefix])
	}
	d.pghp = time.Unix(d.pghpMinute+int64(v[6]), int64(v[7])*1e6).UTC()
	return nil
}

// pghpField parses the decimal of 1-18 digits at f[k:] up to the next comma
// or the end, and returns it and the index after its comma.
func pghpField(f []byte, k int) (x, next int, ok bool) {
	d := k
	for ; k < len(f) && f[k] != ','; k++ {
		c := f[k] - '0'
		if c > 9 {
			return 0, k, false
		}
		x = x*10 + int(c)
	}
	if d = k - d; d == 0 || d > 18 {
		return 0, k, false
	}
	if k < len(f) {
		k++ // the comma
	}
	return x, k, true
}

// Flush drops every incomplete multi-sentence message (at the end of an
// input), counts them as ErrFragmentLost and returns how many there were.
func (d *Decoder) Flush() int {
	n := d.re.Flush()
	d.lost = d.re.stats.Lost()
	d.stats.errors += uint64(n)
	d.stats.byError[errorIndex(ErrFragmentLost)] += uint64(n)
	return n
}

// Stats are a Decoder's counters.
type Stats struct {
	Lines    uint64 `json:"lines"`    // lines given to Decode/Scan
	Messages uint64 `json:"messages"` // messages decoded = events made
	Errors   uint64 `json:"errors"`   // errors, each counted once under ByError
	Skipped  uint64 `json:"skipped"`  // valid sentences of types not decoded (GSV, XTE, ...)
	// ByType counts messages by AIS message type ("1".."27") or NMEA
	// sentence formatter ("RMC", "DPT", ...).
	ByType map[string]uint64 `json:"by_type"`
	// ByError counts errors by ErrorName ("checksum", "fragment_lost", ...).
	ByError map[string]uint64 `json:"by_error"`
	// BySkipped counts skipped sentences by formatter.
	BySkipped map[string]uint64 `json:"by_skipped"`
	// Fragments are the reassembler's counters.
	Fragments ReassemblerStats `json:"-"`
}

// Stats returns a snapshot of the counters.
func (d *Decoder) Stats() Stats {
	s := Stats{
		Lines:     d.stats.lines,
		Messages:  d.stats.messages,
		Errors:    d.stats.errors,
		Skipped:   d.stats.skipped,
		ByType:    map[string]uint64{},
		ByError:   map[string]uint64{},
		BySkipped: map[string]uint64{},
		Fragments: d.re.Stats(),
	}
	for t, n := range d.stats.aisTypes {
		if n > 0 {
			s.ByType[strconv.Itoa(t)] = n
		}
	}
	for t, n := range d.stats.nmeaTypes {
		s.ByType[t] = n
	}
	for t, n := range d.stats.skippedTypes {
		s.BySkipped[t] = n
	}
	for i, n := range d.stats.byError {
		if n > 0 {
			name := "other"
			if i < len(errorNames) {
				name = errorNames[i].name
			}
			s.ByError[name] += n
		}
	}
	return s
}

// ErrorNames lists the keys of Stats.ByError.
func ErrorNames() []string {
	var names []string
	for _, e := range errorNames {
		names = append(names, e.name)
	}
	return slices.Clip(append(names, "other"))
}
