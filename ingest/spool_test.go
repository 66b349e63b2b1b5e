package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func appendN(t *testing.T, s *Spool, n int, pos map[string]Position) uint64 {
	t.Helper()
	var b Batch
	b.FirstSeq = max(s.NextSeq(), 1)
	for i := range n {
		seq := b.FirstSeq + uint64(i)
		b.Add(TopicIndexEvents, []byte(fmt.Sprintf("k%d", seq%3)), []byte(fmt.Sprintf(`{"seq":%d}`, seq)))
	}
	for k, p := range pos {
		b.SetPosition(k, p)
	}
	if err := s.Append(&b); err != nil {
		t.Fatal(err)
	}
	return b.FirstSeq
}

func nextFrame(t *testing.T, s *Spool) *Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	fr, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return fr
}

func TestSpoolRoundTripAndRecovery(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(SpoolConfig{Dir: dir, SegmentBytes: 300})
	if err != nil {
		t.Fatal(err)
	}
	boot := s.Boot()
	appendN(t, s, 5, map[string]Position{"f": {Offset: 100, Resume: 40}})
	appendN(t, s, 5, map[string]Position{"f": {Offset: 200, Resume: 140}})
	appendN(t, s, 5, nil)
	fr := nextFrame(t, s)
	if fr.FirstSeq != 1 || len(fr.Msgs) != 5 || string(fr.Msgs[0].Value) != `{"seq":1}` {
		t.Fatalf("first frame: seq %d, %d msgs", fr.FirstSeq, len(fr.Msgs))
	}
	if err := s.Ack(fr); err != nil {
		t.Fatal(err)
	}
	if got := s.Pending(); got != 10 {
		t.Fatalf("pending = %d, want 10", got)
	}
	// crash: no Close
	s2, err := OpenSpool(SpoolConfig{Dir: dir, SegmentBytes: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.Boot() != boot {
		t.Errorf("boot changed: %d -> %d", boot, s2.Boot())
	}
	if s2.NextSeq() != 16 {
		t.Errorf("next seq = %d, want 16 (never reused)", s2.NextSeq())
	}
	if p, _ := s2.Position("f"); p.Offset != 200 || p.Resume != 140 {
		t.Errorf("position = %+v", p)
	}
	if got := s2.Pending(); got != 10 {
		t.Errorf("pending after recovery = %d, want 10", got)
	}
	fr = nextFrame(t, s2)
	if fr.FirstSeq != 6 {
		t.Errorf("resumed at seq %d, want 6 (acked frame not resent)", fr.FirstSeq)
	}
	s2.Ack(fr)
	fr = nextFrame(t, s2)
	s2.Ack(fr)
	if s2.Pending() != 0 {
		t.Errorf("pending = %d", s2.Pending())
	}
	ents, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
	if len(ents) != 1 {
		t.Errorf("acknowledged segments not deleted: %v", ents)
	}
}

// TestSpoolTornRecord cuts a record in half and appends garbage, as a power
// loss mid-write does: Open must cut it, count it, and keep what is before.
func TestSpoolTornRecord(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(path string, size int64) error
	}{
		{"truncated", func(p string, size int64) error { return os.Truncate(p, size-7) }},
		{"garbage tail", func(p string, size int64) error {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.Write([]byte{0xff, 0xff, 0, 0, 1, 2, 3})
			return err
		}},
		{"bit flip", func(p string, size int64) error {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte{'#'}, size-3)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := OpenSpool(SpoolConfig{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, s, 3, map[string]Position{"f": {Offset: 10}})
			appendN(t, s, 3, map[string]Position{"f": {Offset: 20}})
			segs, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
			path := segs[len(segs)-1]
			st, _ := os.Stat(path)
			if err := tc.damage(path, st.Size()); err != nil {
				t.Fatal(err)
			}
			s2, err := OpenSpool(SpoolConfig{Dir: dir})
			if err != nil {
				t.Fatalf("open after damage: %v", err)
			}
			defer s2.Close()
			st2 := s2.Stats()
			wantPending := int64(3)
			if tc.name == "garbage tail" {
				wantPending = 6
			}
			if st2.Corrupt != 1 || st2.Pending != wantPending {
				t.Errorf("corrupt=%d pending=%d, want 1 and %d", st2.Corrupt, st2.Pending, wantPending)
			}
			// the registry kept the newest durable position; a cut record's
			// position must not survive unless the registry had it
			p, _ := s2.Position("f")
			if wantPending == 3 && p.Offset != 10 {
				t.Errorf("position %+v, want the last intact record's (10)", p)
			}
			// still appendable and readable
			appendN(t, s2, 2, nil)
			var got int
			for got < int(wantPending)+2 {
				fr := nextFrame(t, s2)
				got += fr.Events
				s2.Ack(fr)
			}
		})
	}
}

// TestSpoolSizeCap fills a spool past its cap: the oldest segments are
// dropped and counted, the newest events kept, and the reader skips ahead.
func TestSpoolSizeCap(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(SpoolConfig{Dir: dir, MaxBytes: 64 << 10, SegmentBytes: 8 << 10, Fsync: FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const batches, per = 200, 20 // about 300 KB, far above the cap
	for range batches {
		appendN(t, s, per, nil)
	}
	st := s.Stats()
	if st.Bytes > 64<<10 {
		t.Errorf("spool %d bytes, above the cap", st.Bytes)
	}
	if st.Dropped == 0 || int64(st.Dropped)+st.Pending != batches*per {
		t.Errorf("dropped %d + pending %d != %d", st.Dropped, st.Pending, batches*per)
	}
	fr := nextFrame(t, s)
	if fr.FirstSeq <= 1 {
		t.Errorf("reader did not skip the dropped events: first seq %d", fr.FirstSeq)
	}
	if uint64(fr.FirstSeq) != st.Dropped+1 {
		t.Errorf("first kept seq %d, want %d (oldest dropped first)", fr.FirstSeq, st.Dropped+1)
	}
	var total int
	for {
		total += fr.Events
		s.Ack(fr)
		if s.Pending() == 0 {
			break
		}
		fr = nextFrame(t, s)
	}
	if int64(total) != st.Pending {
		t.Errorf("read %d events, want %d", total, st.Pending)
	}
}

func TestSpoolConfigValidate(t *testing.T) {
	for _, c := range []SpoolConfig{{}, {Dir: "x", Fsync: "sometimes"}, {Dir: "x", MaxBytes: 10}} {
		if err := c.Validate(); !errors.Is(err, ErrSpoolConfig) {
			t.Errorf("%+v: err = %v", c, err)
		}
	}
}

func BenchmarkSpoolAppend(b *testing.B) {
	s, err := OpenSpool(SpoolConfig{Dir: b.TempDir(), Fsync: FsyncBatch})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	val := []byte(`{"v":1,"id":"c/1/1","kind":"position","received":"2026-01-01T00:00:00Z","mmsi":219000001,"position":{"point":[10.1,55.2],"sog":10.2}}`)
	var batch Batch
	b.ReportAllocs()
	b.SetBytes(int64(len(val)) * 1000)
	for b.Loop() {
		batch.Reset()
		batch.FirstSeq = s.NextSeq() + 1
		for range 1000 {
			batch.Add(TopicIndexEvents, []byte("219000001"), val)
		}
		if err := s.Append(&batch); err != nil {
			b.Fatal(err)
		}
		fr, _ := s.Next(context.Background())
		s.Ack(fr)
	}
}

// TestSpoolNewEpochAfterUncleanStop: without per-batch fsync, an unclean
// stop starts a new boot epoch (sequences sent before a power loss could
// otherwise be reused); a clean stop keeps it, and so does any stop with
// per-batch fsync.
func TestSpoolNewEpochAfterUncleanStop(t *testing.T) {
	for _, tc := range []struct {
		fsync    FsyncPolicy
		clean    bool
		newEpoch bool
	}{
		{FsyncInterval, false, true},
		{FsyncNever, false, true},
		{FsyncInterval, true, false},
		{FsyncBatch, false, false},
	} {
		dir := t.TempDir()
		s, err := OpenSpool(SpoolConfig{Dir: dir, Fsync: tc.fsync})
		if err != nil {
			t.Fatal(err)
		}
		boot := s.Boot()
		appendN(t, s, 3, nil)
		if tc.clean {
			s.Close()
		}
		s2, err := OpenSpool(SpoolConfig{Dir: dir, Fsync: tc.fsync})
		if err != nil {
			t.Fatal(err)
		}
		if got := s2.Boot() != boot; got != tc.newEpoch {
			t.Errorf("%s clean=%v: new epoch = %v, want %v", tc.fsync, tc.clean, got, tc.newEpoch)
		}
		if s2.Boot() < boot || s2.NextSeq() != 4 {
			t.Errorf("%s: boot %d -> %d, next seq %d", tc.fsync, boot, s2.Boot(), s2.NextSeq())
		}
		s2.Close()
		s.Close()
	}
}
