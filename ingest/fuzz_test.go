package ingest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzSpoolOpen writes arbitrary bytes as a spool segment (after a valid
// record) and opens the spool: it must never panic or fail, must keep the
// valid record, and whatever it keeps must read back.
func FuzzSpoolOpen(f *testing.F) {
	var b Batch
	b.FirstSeq = 7
	b.Add(TopicIndexEvents, []byte("219000001"), []byte(`{"v":1}`))
	b.SetPosition("f", Position{Offset: 99, Resume: 50})
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0})
	f.Add([]byte{5, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5})
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		s, err := OpenSpool(SpoolConfig{Dir: dir, Fsync: FsyncNever})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Append(&b); err != nil {
			t.Fatal(err)
		}
		s.Close()
		segs, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
		fh, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		fh.Write(tail)
		fh.Close()
		s2, err := OpenSpool(SpoolConfig{Dir: dir, Fsync: FsyncNever})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer s2.Close()
		if s2.NextSeq() < 8 {
			t.Fatalf("next seq %d reuses a spooled sequence", s2.NextSeq())
		}
		for s2.Stats().Records > 0 {
			fr, err := s2.Next(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			s2.Ack(fr)
		}
	})
}

// FuzzParseFrame checks the record parser on arbitrary payloads, and that
// a payload Append writes parses back to what was added.
func FuzzParseFrame(f *testing.F) {
	f.Add([]byte{recordVersion, 1, 0, 0}, "k", "v")
	f.Add([]byte{recordVersion, 0x80}, "", "")
	f.Fuzz(func(t *testing.T, payload []byte, key, value string) {
		var fr Frame
		_ = parseFrame(&fr, payload, true) // must not panic
		if err := parseFrame(&fr, payload, false); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		// round trip through a real spool record
		dir := t.TempDir()
		s, err := OpenSpool(SpoolConfig{Dir: dir, Fsync: FsyncNever})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var b Batch
		b.FirstSeq = 1
		b.Add(TopicIndexEvents, []byte(key), []byte(value))
		b.Add(TopicIndexRaw, []byte(value), []byte(key))
		b.SetPosition(key, Position{Pass: 1, Offset: int64(len(value)), Resume: 0})
		if err := s.Append(&b); err != nil {
			t.Fatal(err)
		}
		got, err := s.Next(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Msgs) != 2 || string(got.Msgs[0].Key) != key || string(got.Msgs[0].Value) != value ||
			string(got.Msgs[1].Value) != key || got.Positions[key].Offset != int64(len(value)) || got.Events != 1 {
			t.Fatalf("round trip: %+v", got)
		}
	})
}

// FuzzParseInput: any string gives a spec or an ErrInput error, never a
// panic.
func FuzzParseInput(f *testing.F) {
	for _, s := range []string{"udp://:10110", "ais=tcp://h:1", "serial:///dev/ttyUSB0?baud=4800",
		"file://x?speed=2&loop=true&shift=now&rate=10", "-", "tcp-listen://:1", "x=", "=y", "::", "file://%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := ParseInput(s)
		if err != nil {
			if !errors.Is(err, ErrInput) {
				t.Fatalf("%q: error %v does not wrap ErrInput", s, err)
			}
			return
		}
		if spec.Name == "" {
			t.Fatalf("%q: spec without a name", s)
		}
	})
}

// FuzzLineTimer: the replay time parser never panics on any line.
func FuzzLineTimer(f *testing.F) {
	for _, s := range []string{
		"1550303566167726840 !AIVDM,1,1,,B,10bb7q@P0lPGHlVMhbl0Qgw>2>`<,0*7F",
		`\g:1-2-1604,s:rORBCOMM008,c:1418169601,T:2014-12-10 00.00.01*37\!AIVDM,2,1,6,A,53@o0E0,0*63`,
		"$PGHP,1,2010,6,11,11,46,11,390,231,45,992190934,1,2B*5B",
		"$PGHP,1,2010,99,99,99,99,99,9999,,,,*00", `\c:99999999999999999999\`, "99999999999999999999999 x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var lt lineTimer
		lt.time([]byte(s))
		lt.time([]byte(s))
	})
}

// FuzzLineReader: lines come out bounded, and nothing but line ends is
// lost when no line is too long.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("a\r\nb\n\nc"))
	f.Add(bytes.Repeat([]byte("x"), 70000))
	f.Fuzz(func(t *testing.T, in []byte) {
		lr := newLineReader(bytes.NewReader(in))
		var out [][]byte
		for {
			l, err := lr.next()
			if len(l) > maxLine && len(l) > 64<<10 {
				t.Fatalf("line of %d bytes", len(l))
			}
			if len(l) > 0 {
				out = append(out, bytes.Clone(l))
			}
			if err != nil {
				break
			}
		}
		if lr.off != int64(len(in)) {
			t.Fatalf("consumed %d of %d bytes", lr.off, len(in))
		}
		if len(in) < 60000 {
			want := bytes.FieldsFunc(in, func(r rune) bool { return r == '\n' })
			var w [][]byte
			for _, l := range want {
				if l = bytes.TrimRight(l, "\r"); len(l) > 0 {
					w = append(w, l)
				}
			}
			if len(w) != len(out) {
				t.Fatalf("%d lines, want %d", len(out), len(w))
			}
		}
	})
}
