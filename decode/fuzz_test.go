package decode

import (
	"bytes"
	"testing"
	"time"

	"github.com/keelson/keelson"
)

// Seeds shared by the fuzz targets (more are committed in testdata/fuzz).
var fuzzSeeds = []string{
	"!AIVDM,1,1,,B,402=481uaUcf;OQ55JS9ITi025Jp,0*2B",
	"1550303566167766932 !ABVDM,2,1,9,A,602=WITp2uLn01mVIj<04CH>NB0000PCEnUdK6UQKG=4HGIaI21:KnqQ,0*7E",
	`\g:1-2-1604,s:rORBCOMM008,c:1418169601,T:2014-12-10 00.00.01*37\!AIVDM,2,1,6,A,53@o0E000001Q0CG37U8u<Tp4q@D00000000000018330400000000000000,0*63`,
	"!AIVDM,1,1,,A,403Ovl@000Htt<tSF0l4Q@100`Pq,0*28,d-109,S2105,t050056.00,T56.13718694,r003669946,1325394060,1325394001",
	"$PGHP,1,2010,6,11,11,46,11,390,231,45,992190934,1,2B*5B",
	"$GPGGA,030719.000,3747.0873,S,17518.8938,E,1,08,1.1,59.9,M,23.7,M,,0000*7D",
	"$IIXDR,C,,C,AIRTEMP,A,-1.0,D,HEEL,A,2.9,D,TRIM,P,,B,BARO,A,-3.9,D,RUDDER*29",
	`!AIVDM,2,1,2,B,552H<Dl00001HDL62210ThuB08t5B1HDL622220j1083340Ht3h00000,0*4B\r\n!AIVDM,2,2,2,B,000000000000000,2*25`,
	"\\\\\\!$*\\c:1*31\\",
	"",
}

// FuzzFrame: framing a whole line never panics, always makes progress and
// yields sentences that are slices of the input.
func FuzzFrame(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, line []byte, lenient bool) {
		var s Sentence
		rest := line
		for len(rest) > 0 {
			n, err := Frame(&s, rest, lenient)
			if n <= 0 || n > len(rest) {
				t.Fatalf("consumed %d of %d", n, len(rest))
			}
			if err == nil {
				if len(s.Raw) < 2 || (s.Raw[0] != '!' && s.Raw[0] != '$') || !bytes.Contains(rest[:n], s.Raw) {
					t.Fatalf("raw %q from %q", s.Raw, rest[:n])
				}
				if !lenient && s.Flags != 0 {
					t.Fatalf("flags %v in strict mode", s.Flags)
				}
				var a AISFields
				if ParseAIS(&a, s.Fields) == nil && (a.Total < 1 || a.Num < 1 || a.Fill > 5) {
					t.Fatalf("AIS fields %+v", a)
				}
			}
			rest = rest[n:]
		}
	})
}

// FuzzTagBlock: the tag block parser never panics and checks its checksum.
func FuzzTagBlock(f *testing.F) {
	f.Add([]byte("g:1-2-1604,s:rORBCOMM008,c:1418169601,T:2014-12-10 00.00.01*37"))
	f.Add([]byte("s:r1,c:1418169601123,n:42,r:7,d:DEST,t:hello*00"))
	f.Add([]byte("*00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var tb TagBlock
		var flags keelson.Flags
		err := ParseTagBlock(&tb, b, false, &flags)
		if err == nil && tb.GroupTotal > 0 && (tb.GroupNum < 1 || tb.GroupNum > tb.GroupTotal) {
			t.Fatalf("group %+v", tb)
		}
		if flags != 0 {
			t.Fatalf("flags %v in strict mode", flags)
		}
		ParseTagBlock(&tb, b, true, &flags)
	})
}

// FuzzReassembler feeds a sequence of fragments (4 bytes each: key, count,
// number, payload length; payloads are made of the key byte) and checks
// that memory stays bounded and completed messages are whole.
func FuzzReassembler(f *testing.F) {
	f.Add([]byte{1, 2, 1, 5, 1, 2, 2, 3})
	f.Add([]byte{1, 3, 3, 5, 1, 3, 1, 5, 1, 3, 1, 5, 1, 3, 2, 1})
	f.Add([]byte{0, 9, 1, 60, 1, 9, 1, 60, 2, 9, 1, 60, 3, 9, 1, 60, 4, 9, 1, 60, 5, 9, 1, 60})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const maxPending = 4
		r := NewReassembler(maxPending, 0, 0, time.Second, false)
		for i := 0; i+4 <= len(ops); i += 4 {
			key, total, num, n := ops[i], int(ops[i+1]%11), int(ops[i+2]%11), int(ops[i+3]%80)
			fr := &Fragment{Talker: [2]byte{'A', 'I'}, Channel: 'A' + key%2, Seq: int(key % 4), Group: int(key / 64),
				Total: total, Num: num, Payload: bytes.Repeat([]byte{'0' + key%64}, n),
				Recv: time.Unix(int64(i/4), 0)}
			a, err := r.Add(fr)
			if err == nil && (len(a.Payload) < n || a.Fill != 0) {
				t.Fatalf("completed %q fill %d", a.Payload, a.Fill)
			}
			if p := r.Pending(); p > maxPending {
				t.Fatalf("%d pending", p)
			}
		}
		s := r.Stats()
		r.Flush()
		if r.Pending() != 0 || r.Stats().Lost() < s.Lost() {
			t.Fatalf("flush: %+v", r.Stats())
		}
	})
}

// FuzzDecoder: whole lines through the Decoder; counters stay consistent and
// every message is one event.
func FuzzDecoder(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s + "\n" + s + "\r\n"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(Config{MaxPending: 8, Lenient: len(data)%2 == 1})
		var evs []keelson.Event
		for _, line := range bytes.Split(data, []byte{'\n'}) {
			var err error
			evs, err = d.Decode(evs, line, recv0)
			if err != nil && ErrorName(err) == "other" {
				t.Fatalf("unnamed error %v", err)
			}
		}
		d.Flush()
		s := d.Stats()
		if s.Messages != uint64(len(evs)) {
			t.Fatalf("%d messages, %d events", s.Messages, len(evs))
		}
		var byType, byErr uint64
		for _, n := range s.ByType {
			byType += n
		}
		for _, n := range s.ByError {
			byErr += n
		}
		if byType != s.Messages || byErr != s.Errors {
			t.Fatalf("stats %+v", s)
		}
		for i := range evs {
			if b := evs[i].AppendJSON(nil); len(b) == 0 || b[0] != '{' {
				t.Fatalf("json %q", b)
			}
		}
	})
}
