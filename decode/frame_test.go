package decode

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/keelson/keelson"
)

func TestFrame(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		lenient   bool
		want      string // Sentence.Raw
		talker    string
		formatter string
		fields    string
		trailer   string
		flags     keelson.Flags
		n         int // bytes consumed; -1: whole input
		wantErr   error
	}{
		{name: "ais", raw: "!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B", // dma_stream_example.txt
			want: "!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B", talker: "AI", formatter: "VDM",
			fields: "1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0", n: -1},
		{name: "crlf", raw: "$GPHDT,,T*1B\r\n", want: "$GPHDT,,T*1B", talker: "GP", formatter: "HDT", fields: ",T", n: 12}, // hemi.log
		{name: "lowercase checksum", raw: "!AIVDM,1,1,,B,?3oL?R0p<6I0D00,2*12", want: "!AIVDM,1,1,,B,?3oL?R0p<6I0D00,2*12", talker: "AI", formatter: "VDM", fields: "1,1,,B,?3oL?R0p<6I0D00,2", n: -1},
		{name: "proprietary", raw: "$PGHP,1,2010,6,11,11,46,11,390,231,45,992190934,1,2B*5B", // dma_stream_example.txt
			want: "$PGHP,1,2010,6,11,11,46,11,390,231,45,992190934,1,2B*5B", formatter: "PGHP",
			fields: "1,2010,6,11,11,46,11,390,231,45,992190934,1,2B", n: -1},
		{name: "uscg trailer", raw: "!AIVDM,1,1,,A,15B4FT5000JRP>PE6E68Nbkl0PS5,0*70,b003669794,1272412827", // libais_test.aivdm
			want: "!AIVDM,1,1,,A,15B4FT5000JRP>PE6E68Nbkl0PS5,0*70", talker: "AI", formatter: "VDM",
			fields: "1,1,,A,15B4FT5000JRP>PE6E68Nbkl0PS5,0", trailer: "b003669794,1272412827", n: -1},
		{name: "garbage before", raw: "xx#!!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B",
			want: "", n: 4, wantErr: ErrNoChecksum},
		{name: "garbage before 2", raw: "garbage !AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B",
			want: "!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B", talker: "AI", formatter: "VDM", fields: "1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0", n: -1},
		{name: "bad checksum", raw: "!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2C", n: -1, wantErr: ErrChecksum},
		{name: "bad checksum lenient", raw: "!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2C", lenient: true,
			want: "!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2C", talker: "AI", formatter: "VDM", fields: "1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0",
			flags: keelson.FlagChecksumBad, n: -1},
		{name: "no checksum", raw: "$GPHDT,,T", n: -1, wantErr: ErrNoChecksum},
		{name: "truncated by next sentence", raw: "!AIVDM,1,1,,B,402=481u!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B", n: 22, wantErr: ErrNoChecksum},
		{name: "nothing", raw: "hello world", n: -1, wantErr: ErrNoSentence},
		{name: "empty", raw: "", n: 0, wantErr: ErrNoSentence},
		{name: "bad address", raw: "$G*47", n: -1, wantErr: ErrMalformed},
		{name: "lowercase address", raw: "$gpgga,*5A", n: -1, wantErr: ErrMalformed},
		{name: "tag block", raw: `\s:rORBCOMM104,q:u,c:1418172113,T:2014-12-10 00.41.53*55\!AIVDM,1,1,,B,13F?Vv700<DJuLEtvep` + "`" + `iToV0<00,0*78`, // libais_tagblock.nmea
			want: "!AIVDM,1,1,,B,13F?Vv700<DJuLEtvep`iToV0<00,0*78", talker: "AI", formatter: "VDM", fields: "1,1,,B,13F?Vv700<DJuLEtvep`iToV0<00,0", n: -1},
		{name: "tag block bad checksum", raw: `\s:rORBCOMM104,q:u,c:1418172113,T:2014-12-10 00.41.53*56\!AIVDM,1,1,,B,13F?Vv700<DJuLEtvep` + "`" + `iToV0<00,0*78`,
			n: -1, wantErr: ErrTagBlock},
		{name: "tag block bad checksum lenient", raw: `\s:rORBCOMM104,q:u,c:1418172113,T:2014-12-10 00.41.53*56\!AIVDM,1,1,,B,13F?Vv700<DJuLEtvep` + "`" + `iToV0<00,0*78`,
			lenient: true, want: "!AIVDM,1,1,,B,13F?Vv700<DJuLEtvep`iToV0<00,0*78", talker: "AI", formatter: "VDM",
			fields: "1,1,,B,13F?Vv700<DJuLEtvep`iToV0<00,0", flags: keelson.FlagTagChecksumBad, n: -1},
		{name: "literal backslash-r-n garbage", raw: `\r\n!AIVDM,2,2,2,B,000000000000000,2*25`, // dma_ais250.txt
			want: "!AIVDM,2,2,2,B,000000000000000,2*25", talker: "AI", formatter: "VDM", fields: "2,2,2,B,000000000000000,2", n: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Sentence
			n, err := Frame(&s, []byte(tt.raw), tt.lenient)
			if tt.n < 0 {
				tt.n = len(tt.raw)
			}
			if n != tt.n {
				t.Errorf("consumed %d, want %d", n, tt.n)
			}
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if string(s.Raw) != tt.want || string(s.Talker) != tt.talker || string(s.Formatter) != tt.formatter ||
				string(s.Fields) != tt.fields || string(s.Trailer) != tt.trailer || s.Flags != tt.flags {
				t.Errorf("got raw %q talker %q formatter %q fields %q trailer %q flags %v", s.Raw, s.Talker, s.Formatter, s.Fields, s.Trailer, s.Flags)
			}
		})
	}
}

func TestChecksumError(t *testing.T) {
	var s Sentence
	_, err := Frame(&s, []byte("!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2C"), false)
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.Got != 0x2C || ce.Want != 0x2B || ce.TagBlock {
		t.Fatalf("err %v (%#v)", err, ce)
	}
	if got := err.Error(); got != "decode: sentence checksum mismatch: got 2C, want 2B" {
		t.Errorf("message %q", got)
	}
	if ErrorName(err) != "checksum" {
		t.Errorf("name %q", ErrorName(err))
	}
	_, err = Frame(&s, []byte(`\c:1*00\!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B`), false)
	if !errors.As(err, &ce) || !ce.TagBlock || !errors.Is(err, ErrTagBlock) || !errors.Is(err, ErrChecksum) || ErrorName(err) != "tag_block" {
		t.Fatalf("tag block err %v", err)
	}
}

func TestParseTagBlock(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    TagBlock
		wantErr error
	}{
		{name: "orbcomm group", raw: "g:1-2-1604,s:rORBCOMM008,c:1418169601,T:2014-12-10 00.00.01*37", // libais_tagblock.nmea
			want: TagBlock{Present: true, Station: []byte("rORBCOMM008"), Time: time.Unix(1418169601, 0).UTC(), GroupNum: 1, GroupTotal: 2, GroupID: 1604}},
		{name: "milliseconds", raw: "c:1418169601123*03",
			want: TagBlock{Present: true, Time: time.UnixMilli(1418169601123).UTC()}},
		{name: "all", raw: "s:r1,c:1,n:42,r:7,d:DEST,t:hello world*7F",
			want: TagBlock{Present: true, Station: []byte("r1"), Time: time.Unix(1, 0).UTC(), Line: 42, Relative: 7, Dest: []byte("DEST"), Text: []byte("hello world")}},
		{name: "bad time", raw: "c:14x*2A", wantErr: ErrTagBlock},
		{name: "bad group", raw: "g:3-2-1*45", wantErr: ErrTagBlock},
		{name: "no colon", raw: "cx*1B", wantErr: ErrTagBlock},
		{name: "no checksum", raw: "c:1", wantErr: ErrTagBlock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Fix up the checksums of the hand-made cases.
			raw := []byte(tt.raw)
			if tt.wantErr == nil {
				raw = withTagChecksum(raw)
			}
			var tb TagBlock
			var flags keelson.Flags
			err := ParseTagBlock(&tb, raw, false, &flags)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !tb.Time.Equal(tt.want.Time) || string(tb.Station) != string(tt.want.Station) || tb.GroupNum != tt.want.GroupNum ||
				tb.GroupTotal != tt.want.GroupTotal || tb.GroupID != tt.want.GroupID || tb.Line != tt.want.Line ||
				tb.Relative != tt.want.Relative || string(tb.Dest) != string(tt.want.Dest) || string(tb.Text) != string(tt.want.Text) || !tb.Present {
				t.Errorf("got %+v\nwant %+v", tb, tt.want)
			}
		})
	}
}

// withTagChecksum replaces the "*hh" of a tag block with the right one.
func withTagChecksum(b []byte) []byte {
	var cs byte
	i := 0
	for i < len(b) && b[i] != '*' {
		cs ^= b[i]
		i++
	}
	const hex = "0123456789ABCDEF"
	return append(b[:i:i], '*', hex[cs>>4], hex[cs&15])
}

func TestLeadingTime(t *testing.T) {
	tests := []struct {
		line string
		want time.Time
		rest string
	}{
		{"1550303566167726840 !AIVDM,x", time.Unix(0, 1550303566167726840).UTC(), "!AIVDM,x"}, // goais_aistest.nmea
		{"1550303566167 !A", time.UnixMilli(1550303566167).UTC(), "!A"},
		{"1550303566\t!A", time.Unix(1550303566, 0).UTC(), "!A"},
		{"1550303566167726 !A", time.UnixMicro(1550303566167726).UTC(), "!A"},
		{"12345 !A", time.Time{}, "12345 !A"},
		{"1550303566!A", time.Time{}, "1550303566!A"},
		{"99999999999999999999 !A", time.Time{}, "99999999999999999999 !A"},
		{"9999999999999999999 !A", time.Time{}, "9999999999999999999 !A"}, // overflows int64
	}
	for _, tt := range tests {
		got, rest := LeadingTime([]byte(tt.line))
		if !got.Equal(tt.want) || string(rest) != tt.rest {
			t.Errorf("%q: got %v %q, want %v %q", tt.line, got, rest, tt.want, tt.rest)
		}
	}
}

func TestParseAIS(t *testing.T) {
	tests := []struct {
		fields  string
		want    AISFields
		wantErr error
	}{
		{"1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0", AISFields{Total: 1, Num: 1, Seq: -1, Channel: 'B', Payload: []byte("402=481uaUcf;OQ55JS9ITi025Jp")}, nil},
		{"2,2,3,A,wwt,2", AISFields{Total: 2, Num: 2, Seq: 3, Channel: 'A', Payload: []byte("wwt"), Fill: 2}, nil},
		{"2,1,1,,53cMa3@0000,0", AISFields{Total: 2, Num: 1, Seq: 1, Payload: []byte("53cMa3@0000")}, nil}, // no channel: dma_stream_example.txt
		{"1,1,,AB,15N,0", AISFields{Total: 1, Num: 1, Seq: -1, Channel: 'A', Payload: []byte("15N")}, nil},
		{"1,1,,B,,0", AISFields{Total: 1, Num: 1, Seq: -1, Channel: 'B', Payload: []byte{}}, nil}, // empty payload: pyais sample
		{"0,1,,B,15N,0", AISFields{}, ErrFragment},
		{"1,2,,B,15N,0", AISFields{}, nil}, // number above count: checked by the reassembler
		{"1,1,,B,15N,6", AISFields{}, ErrMalformed},
		{"1,1,,B,15N", AISFields{}, ErrMalformed},
		{"1,1,,B,15N,0,extra", AISFields{}, ErrMalformed},
		{"11,1,,B,15N,0", AISFields{}, ErrMalformed},
		{"", AISFields{}, ErrMalformed},
		{"1,1,x,B,15N,0", AISFields{}, ErrMalformed},
	}
	for _, tt := range tests {
		var f AISFields
		err := ParseAIS(&f, []byte(tt.fields))
		if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
			t.Errorf("%q: err %v, want %v", tt.fields, err, tt.wantErr)
			continue
		}
		if err == nil && tt.want.Total != 0 && (f.Total != tt.want.Total || f.Num != tt.want.Num || f.Seq != tt.want.Seq ||
			f.Channel != tt.want.Channel || string(f.Payload) != string(tt.want.Payload) || f.Fill != tt.want.Fill) {
			t.Errorf("%q: got %+v, want %+v", tt.fields, f, tt.want)
		}
	}
}

// TestStopMask: the lowest byte the word-at-a-time test flags is exactly
// the first byte below '+' or a backslash (every byte value at every
// position, with every byte value at any other position), and it flags
// none when there is none.
func TestStopMask(t *testing.T) {
	flagged := func(c byte) bool { return c < '+' || c == '\\' }
	for c1 := 0; c1 < 256; c1++ {
		for c2 := 0; c2 < 256; c2++ {
			for p1 := 0; p1 < 8; p1++ {
				for p2 := 0; p2 < 8; p2++ {
					w := []byte("AIVDM,1,")
					w[p1], w[p2] = byte(c1), byte(c2)
					first := -1
					for i, c := range w {
						if flagged(c) {
							first = i
							break
						}
					}
					m := stopMask(binary.LittleEndian.Uint64(w))
					got := -1
					if m != 0 {
						got = bits.TrailingZeros64(m) / 8
					}
					if got != first {
						t.Fatalf("%q: lowest flagged byte %d, want %d", w, got, first)
					}
				}
			}
		}
	}
	for c := 0; c < 256; c++ {
		if stop[c] && !flagged(byte(c)) {
			t.Fatalf("stop byte %#x not flagged", c)
		}
	}
}

// TestLeadingTimeOnePass: LeadingTime (one pass) against the two-pass
// reference it replaced, on random digit runs of 0-21 digits (19-digit
// ones beyond int64 included) and separators.
func TestLeadingTimeOnePass(t *testing.T) {
	ref := func(line []byte) (time.Time, []byte) {
		k := 0
		for k < len(line) && k < 20 && line[k] >= '0' && line[k] <= '9' {
			k++
		}
		if k == len(line) || (line[k] != ' ' && line[k] != '\t') {
			return time.Time{}, line
		}
		x, ok := atoi64(line[:k])
		if !ok && k == 19 {
			x, ok = 0, true
			for _, c := range line[:k] {
				x = x*10 + int64(c-'0')
			}
			if x < 0 {
				ok = false
			}
		}
		if !ok {
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
	r := rand.New(rand.NewPCG(4, 2))
	for range 200000 {
		n := r.IntN(22)
		line := make([]byte, 0, n+8)
		for range n {
			line = append(line, byte('0'+r.IntN(10)))
		}
		if n == 19 && r.IntN(2) == 0 {
			line[0] = '9' // beyond int64
		}
		line = append(line, " \tx!"[r.IntN(4)], '!')
		gt, grest := LeadingTime(line)
		wt, wrest := ref(line)
		if !gt.Equal(wt) || string(grest) != string(wrest) {
			t.Fatalf("%q: %v %q, want %v %q", line, gt, grest, wt, wrest)
		}
	}
}
