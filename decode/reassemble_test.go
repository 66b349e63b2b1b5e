package decode

import (
	"errors"
	"testing"
	"time"

	"github.com/keelson/keelson"
)

// frag makes a fragment of a message on talker AI, channel A.
func frag(seq, total, num int, payload string, fill int, recv time.Time) *Fragment {
	return &Fragment{Talker: [2]byte{'A', 'I'}, Channel: 'A', Seq: seq, Total: total, Num: num,
		Payload: []byte(payload), Fill: fill, Recv: recv}
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestReassemblerOrders(t *testing.T) {
	parts := []string{"5aaa", "bbbb", "cc"}
	orders := [][]int{{1, 2, 3}, {3, 2, 1}, {2, 1, 3}, {1, 3, 2}, {3, 1, 2}, {2, 3, 1}}
	for _, order := range orders {
		r := NewReassembler(0, 0, 0, 0, false)
		var got *Assembled
		for i, n := range order {
			a, err := r.Add(frag(7, 3, n, parts[n-1], map[bool]int{true: 4}[n == 3], t0))
			if i < 2 {
				if !errors.Is(err, ErrIncomplete) || a != nil {
					t.Fatalf("order %v step %d: %v", order, i, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("order %v: %v", order, err)
			}
			got = a
		}
		if string(got.Payload) != "5aaabbbbcc" || got.Fill != 4 {
			t.Errorf("order %v: got %q fill %d", order, got.Payload, got.Fill)
		}
		if r.Pending() != 0 || r.Stats().Completed != 1 || r.Stats().Lost() != 0 {
			t.Errorf("order %v: pending %d stats %+v", order, r.Pending(), r.Stats())
		}
	}
}

func TestReassemblerDuplicate(t *testing.T) {
	r := NewReassembler(0, 0, 0, 0, false)
	if _, err := r.Add(frag(1, 2, 1, "5aaa", 0, t0)); !errors.Is(err, ErrIncomplete) {
		t.Fatal(err)
	}
	if _, err := r.Add(frag(1, 2, 1, "5aaa", 0, t0)); !errors.Is(err, ErrDuplicateFragment) {
		t.Fatalf("duplicate: %v", err)
	}
	a, err := r.Add(frag(1, 2, 2, "bb", 2, t0))
	if err != nil || string(a.Payload) != "5aaabb" || a.Meta.Flags&keelson.FlagFragmentGap == 0 {
		t.Fatalf("got %v %+v", err, a)
	}
	if s := r.Stats(); s.Duplicates != 1 || s.Completed != 1 {
		t.Errorf("stats %+v", s)
	}
	// A duplicate after completion starts a new message that never completes.
	if _, err := r.Add(frag(1, 2, 2, "bb", 2, t0)); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("late duplicate: %v", err)
	}
	if n := r.Flush(); n != 1 || r.Stats().Flushed != 1 {
		t.Errorf("flush %d %+v", n, r.Stats())
	}
}

func TestReassemblerMissingAndReuse(t *testing.T) {
	r := NewReassembler(0, 0, 0, 0, false)
	// Fragment 2 of message seq 3 is lost; the sender reuses seq 3.
	r.Add(frag(3, 2, 1, "5old", 0, t0))
	if _, err := r.Add(frag(3, 2, 1, "5new", 0, t0)); !errors.Is(err, ErrIncomplete) {
		t.Fatal(err)
	}
	a, err := r.Add(frag(3, 2, 2, "xx", 0, t0))
	if err != nil || string(a.Payload) != "5newxx" {
		t.Fatalf("got %v %+v", err, a)
	}
	if s := r.Stats(); s.Replaced != 1 {
		t.Errorf("stats %+v", s)
	}
	// A different count under the same key replaces too.
	r.Add(frag(4, 3, 1, "5a", 0, t0))
	r.Add(frag(4, 2, 1, "5b", 0, t0))
	if a, err := r.Add(frag(4, 2, 2, "c", 0, t0)); err != nil || string(a.Payload) != "5bc" {
		t.Fatalf("got %v %+v", err, a)
	}
	if s := r.Stats(); s.Replaced != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestReassemblerKeys(t *testing.T) {
	r := NewReassembler(0, 0, 0, 0, false)
	// Same sequence id on two channels and two talkers: four messages.
	var fs []*Fragment
	for _, talker := range []string{"AI", "AB"} {
		for _, ch := range []byte{'A', 'B'} {
			f := frag(5, 2, 1, "5"+talker+string(ch), 0, t0)
			f.Talker = [2]byte{talker[0], talker[1]}
			f.Channel = ch
			fs = append(fs, f)
		}
	}
	for _, f := range fs {
		if _, err := r.Add(f); !errors.Is(err, ErrIncomplete) {
			t.Fatal(err)
		}
	}
	for _, f := range fs {
		g := *f
		g.Num, g.Payload = 2, []byte("z")
		want := string(f.Payload) + "z"
		a, err := r.Add(&g)
		if err != nil || string(a.Payload) != want {
			t.Fatalf("got %v %+v, want %q", err, a, want)
		}
	}
	// Tag block groups keep apart what the sentence fields do not.
	g1, g2 := frag(1, 2, 1, "5g1", 0, t0), frag(1, 2, 1, "5g2", 0, t0)
	g1.Group, g2.Group = 1604, 1605
	r.Add(g1)
	r.Add(g2)
	g2b := *g2
	g2b.Num, g2b.Payload = 2, []byte("!")
	if a, err := r.Add(&g2b); err != nil || string(a.Payload) != "5g2!" {
		t.Fatalf("group: %v %+v", err, a)
	}
}

func TestReassemblerStale(t *testing.T) {
	r := NewReassembler(0, 0, 0, time.Minute, false)
	r.Add(frag(1, 2, 1, "5a", 0, t0))
	r.Add(frag(2, 2, 1, "5b", 0, t0.Add(50*time.Second)))
	// Two minutes later: seq 1 is stale and goes; seq 2 is stale too, and its
	// second fragment does not complete it.
	if _, err := r.Add(frag(1, 2, 2, "x", 0, t0.Add(2*time.Minute))); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("stale completion: %v", err)
	}
	if s := r.Stats(); s.Stale != 2 || r.Pending() != 1 {
		t.Errorf("stats %+v pending %d", s, r.Pending())
	}
	// Without receive times nothing is ever stale.
	r = NewReassembler(0, 0, 0, time.Minute, false)
	r.Add(frag(1, 2, 1, "5a", 0, time.Time{}))
	if a, err := r.Add(frag(1, 2, 2, "x", 0, time.Time{})); err != nil || string(a.Payload) != "5ax" {
		t.Fatalf("%v %+v", err, a)
	}
}

func TestReassemblerBounded(t *testing.T) {
	r := NewReassembler(4, 3, 0, -1, false)
	for seq := range 10 {
		r.Add(frag(seq, 2, 1, "5", 0, t0))
	}
	if r.Pending() != 4 || r.Stats().Overflow != 6 {
		t.Fatalf("pending %d stats %+v", r.Pending(), r.Stats())
	}
	// The newest survive.
	if a, err := r.Add(frag(9, 2, 2, "z", 0, t0)); err != nil || string(a.Payload) != "5z" {
		t.Fatalf("%v %+v", err, a)
	}
	if _, err := r.Add(frag(0, 2, 2, "z", 0, t0)); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("evicted one completed: %v", err)
	}
	for _, f := range []*Fragment{frag(1, 4, 1, "5", 0, t0), frag(1, 0, 1, "5", 0, t0), frag(1, 2, 3, "5", 0, t0), frag(1, 2, 0, "5", 0, t0)} {
		if _, err := r.Add(f); !errors.Is(err, ErrFragment) {
			t.Errorf("%d/%d: %v", f.Num, f.Total, err)
		}
	}
}

func TestReassemblerKeepsMeta(t *testing.T) {
	r := NewReassembler(0, 0, 0, 0, true)
	f2 := frag(1, 2, 2, "b", 0, t0.Add(time.Second))
	f2.Meta.Flags = keelson.FlagChecksumBad
	f2.Raw = []byte("!AIVDM,2,2,1,A,b,0*00")
	r.Add(f2)
	f1 := frag(1, 2, 1, "5a", 0, t0)
	f1.Meta = FragmentMeta{Station: "s1", TagTime: t0.Add(-time.Hour)}
	f1.Raw = []byte("!AIVDM,2,1,1,A,5a,0*00")
	a, err := r.Add(f1)
	if err != nil {
		t.Fatal(err)
	}
	if a.Meta.Station != "s1" || !a.Meta.TagTime.Equal(t0.Add(-time.Hour)) || a.Meta.Flags != keelson.FlagChecksumBad || !a.Recv.Equal(t0) {
		t.Errorf("meta %+v recv %v", a.Meta, a.Recv)
	}
	if len(a.Raw) != 2 || string(a.Raw[0]) != string(f1.Raw) || string(a.Raw[1]) != string(f2.Raw) {
		t.Errorf("raw %q", a.Raw)
	}
}

func TestReassemblerAllocs(t *testing.T) {
	r := NewReassembler(0, 0, 0, 0, false)
	f1, f2 := frag(1, 2, 1, "55NBXB02;n1ah<PoF218E<=>0<Dtp4p000000000000000", 0, t0), frag(1, 2, 2, "00000000000", 2, t0)
	r.Add(f1)
	r.Add(f2)
	n := testing.AllocsPerRun(1000, func() {
		r.Add(f1)
		if _, err := r.Add(f2); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per message", n)
	}
}

// TestReassemblerSpread: a stray fragment 2 (its fragment 1 lost) must not
// be joined to a much later fragment 1 that reuses the sequence id
// (goais_aistest.nmea lines 23 and 486).
func TestReassemblerSpread(t *testing.T) {
	r := NewReassembler(0, 0, 4, -1, false)
	r.Add(frag(3, 2, 2, "Q0C@00000000000", 2, t0))
	for seq := range 5 { // other traffic: five fragments
		r.Add(frag(seq+4, 2, 1, "5", 0, t0))
	}
	if _, err := r.Add(frag(3, 2, 1, "56Lo6842Bg", 0, t0)); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("joined a stray fragment: %v", err)
	}
	a, err := r.Add(frag(3, 2, 2, "8888880", 2, t0))
	if err != nil || string(a.Payload) != "56Lo6842Bg8888880" {
		t.Fatalf("%v %+v", err, a)
	}
	if s := r.Stats(); s.Stale == 0 {
		t.Errorf("stats %+v", s)
	}
	// Back-to-back fragments within the spread join as before.
	r.Add(frag(7, 3, 1, "5a", 0, t0))
	r.Add(frag(8, 2, 1, "5x", 0, t0))
	r.Add(frag(7, 3, 2, "b", 0, t0))
	if a, err := r.Add(frag(7, 3, 3, "c", 0, t0)); err != nil || string(a.Payload) != "5abc" {
		t.Fatalf("%v %+v", err, a)
	}
}
