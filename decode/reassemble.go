package decode

import (
	"bytes"
	"time"

	"github.com/keelson/keelson"
)

// Fragment is one sentence of a multi-sentence AIS message, as handed to a
// Reassembler. Payload is copied; the caller may reuse it after Add.
type Fragment struct {
	Talker  [2]byte
	Channel byte
	Seq     int // sequential message id, -1 when empty
	Group   int // tag block group id (g:), 0 when none
	Total   int // fragment count
	Num     int // fragment number, 1-based
	Payload []byte
	Fill    int
	Recv    time.Time // receive time; drives stale eviction (zero: never stale)
	Meta    FragmentMeta
	Raw     []byte // the raw sentence, kept only when the Reassembler keeps raw sentences
}

// FragmentMeta is what a completed message keeps of its first fragment.
type FragmentMeta struct {
	Station string
	TagTime time.Time
	Flags   keelson.Flags
}

// Assembled is a completed multi-sentence message. Its slices are owned by
// the Reassembler and valid until the next call to Add.
type Assembled struct {
	Payload []byte
	Fill    int
	Meta    FragmentMeta // of fragment 1, with the flags of all fragments
	Recv    time.Time    // of fragment 1
	Raw     [][]byte     // the sentences in order, when kept
}

// ReassemblerStats counts what a Reassembler dropped.
type ReassemblerStats struct {
	Completed  uint64 // messages completed
	Duplicates uint64 // fragments received twice (dropped)
	Stale      uint64 // incomplete messages evicted after MaxAge
	Overflow   uint64 // incomplete messages evicted for room (MaxPending)
	Replaced   uint64 // incomplete messages replaced by a conflicting fragment
	Flushed    uint64 // incomplete messages dropped by Flush
}

// Lost returns the number of incomplete messages dropped for any reason.
func (s ReassemblerStats) Lost() uint64 { return s.Stale + s.Overflow + s.Replaced + s.Flushed }

type fragKey struct {
	talker  [2]byte
	channel byte
	seq     int8
	group   int32
}

type pendingMsg struct {
	key   fragKey
	total int
	have  uint16 // bit n set: fragment n received
	fill  int
	dup   bool
	recv  time.Time
	order uint64
	meta  FragmentMeta
	parts [maxFragments][]byte
	raw   [maxFragments][]byte
}

const maxFragments = 9

// Reassembler joins the fragments of multi-sentence AIS messages. It is keyed
// by talker, channel, sequential message id and tag block group; it accepts
// fragments in any order, drops duplicates, and holds at most MaxPending
// incomplete messages (evicting the oldest) of at most MaxFragments
// fragments each, evicting those older than MaxAge. After warm-up it does
// not allocate. A Reassembler is owned by one goroutine.
type Reassembler struct {
	maxPending int
	maxFrags   int
	maxAge     time.Duration
	maxSpread  int
	keepRaw    bool
	pending    []pendingMsg // storage; live and free hold indices into it
	live       []int32      // the incomplete messages, unordered
	free       []int32      // unused slots (a stack)
	order      uint64
	out        []byte
	raw        [][]byte
	assembled  Assembled
	stats      ReassemblerStats
}

// NewReassembler returns a Reassembler holding at most maxPending incomplete
// messages (0: 64) of at most maxFragments fragments (0 or above 9: 9). An
// incomplete message is dropped as stale when more than maxSpread
// fragments (of any message; 0: 16; negative: never) have been added
// since its first one, or when its first fragment is older than maxAge (by
// the fragments' receive times; 0: 1 minute; negative: never). With
// keepRaw the raw sentences are kept for Assembled.Raw.
//
// The spread bound keeps a stray fragment (its partners lost) from being
// joined, much later, to a new message that reuses its sequence id: real
// receivers send the fragments of a message back to back.
func NewReassembler(maxPending, maxFragments, maxSpread int, maxAge time.Duration, keepRaw bool) *Reassembler {
	if maxPending <= 0 {
		maxPending = 64
	}
	if maxFragments <= 0 || maxFragments > 9 {
		maxFragments = 9
	}
	if maxSpread == 0 {
		maxSpread = 16
	}
	if maxAge == 0 {
		maxAge = time.Minute
	}
	r := &Reassembler{
		maxPending: maxPending,
		maxFrags:   maxFragments,
		maxAge:     maxAge,
		maxSpread:  maxSpread,
		keepRaw:    keepRaw,
		pending:    make([]pendingMsg, maxPending),
		live:       make([]int32, 0, maxPending),
		free:       make([]int32, maxPending),
	}
	for i := range r.free {
		r.free[i] = int32(maxPending - 1 - i)
	}
	return r
}

// Stats returns the counters.
func (r *Reassembler) Stats() ReassemblerStats { return r.stats }

// Pending returns the number of incomplete messages held.
func (r *Reassembler) Pending() int { return len(r.live) }

var (
	errFragmentCount     = &fragmentError{"fragment count above the maximum"}
	errDuplicateFragment = ErrDuplicateFragment
)

// Add adds a fragment. It returns the completed message when f was its last
// missing fragment, ErrIncomplete while fragments are missing,
// ErrDuplicateFragment when f was already received, and an error wrapping
// ErrFragment when f cannot be part of any message.
func (r *Reassembler) Add(f *Fragment) (*Assembled, error) {
	if f.Total < 1 || f.Num < 1 || f.Num > f.Total {
		return nil, errFragmentNumber
	}
	if f.Total > r.maxFrags {
		return nil, errFragmentCount
	}
	k := fragKey{talker: f.Talker, channel: f.Channel, seq: int8(f.Seq), group: int32(f.Group)}
	r.order++
	// Only the pending messages are scanned (usually none or one or two):
	// find f's, evict the stale, note the oldest.
	var p *pendingMsg
	oldest := -1
	for i := 0; i < len(r.live); {
		q := &r.pending[r.live[i]]
		if r.stale(q, f) {
			r.stats.Stale++
			r.release(i)
			continue
		}
		if q.key == k {
			p = q
			i++
			continue
		}
		if oldest < 0 || q.order < r.pending[r.live[oldest]].order {
			oldest = i
		}
		i++
	}
	if p != nil {
		bit := uint16(1) << f.Num
		switch {
		case p.total != f.Total:
			// A new message reuses the key: the old one is lost.
			r.stats.Replaced++
			p.reset(k, f, r.order)
		case p.have&bit != 0:
			if bytes.Equal(p.parts[f.Num-1], f.Payload) {
				p.dup = true
				r.stats.Duplicates++
				return nil, errDuplicateFragment
			}
			r.stats.Replaced++
			p.reset(k, f, r.order)
		}
	} else {
		if len(r.live) == r.maxPending {
			r.stats.Overflow++
			r.release(oldest)
		}
		idx := r.free[len(r.free)-1]
		r.free = r.free[:len(r.free)-1]
		r.live = append(r.live, idx)
		p = &r.pending[idx]
		p.reset(k, f, r.order)
	}
	p.have |= 1 << f.Num
	p.parts[f.Num-1] = append(p.parts[f.Num-1][:0], f.Payload...)
	if r.keepRaw {
		p.raw[f.Num-1] = append(p.raw[f.Num-1][:0], f.Raw...)
	}
	if f.Num == 1 {
		flags := p.meta.Flags
		p.meta = f.Meta
		p.meta.Flags |= flags
		p.recv = f.Recv
	} else {
		p.meta.Flags |= f.Meta.Flags
	}
	if f.Num == f.Total {
		p.fill = f.Fill
	}
	want := uint16(1<<(p.total+1)) - 2
	if p.have != want {
		return nil, ErrIncomplete
	}
	for i, idx := range r.live {
		if &r.pending[idx] == p {
			r.release(i)
			break
		}
	}
	r.stats.Completed++
	r.out = r.out[:0]
	for i := 0; i < p.total; i++ {
		r.out = append(r.out, p.parts[i]...)
	}
	a := &r.assembled
	*a = Assembled{Payload: r.out, Fill: p.fill, Meta: p.meta, Recv: p.recv}
	if p.dup {
		a.Meta.Flags |= keelson.FlagFragmentGap
	}
	if r.keepRaw {
		r.raw = r.raw[:0]
		for i := 0; i < p.total; i++ {
			r.raw = append(r.raw, p.raw[i])
		}
		a.Raw = r.raw
	}
	return a, nil
}

func (p *pendingMsg) reset(k fragKey, f *Fragment, order uint64) {
	p.key = k
	p.total = f.Total
	p.have = 0
	p.dup = false
	p.fill = 0
	p.recv = f.Recv
	p.order = order
	p.meta = FragmentMeta{}
}

// stale reports whether the pending message q is too old for f to join:
// too many fragments since its first one, or too much time.
func (r *Reassembler) stale(q *pendingMsg, f *Fragment) bool {
	if r.maxSpread > 0 && r.order-q.order > uint64(r.maxSpread) {
		return true
	}
	return r.maxAge > 0 && !f.Recv.IsZero() && !q.recv.IsZero() && f.Recv.Sub(q.recv) > r.maxAge
}

// release frees the pending message live[i].
func (r *Reassembler) release(i int) {
	r.free = append(r.free, r.live[i])
	r.live[i] = r.live[len(r.live)-1]
	r.live = r.live[:len(r.live)-1]
}

// Flush drops every incomplete message and returns how many there were.
func (r *Reassembler) Flush() int {
	n := len(r.live)
	for len(r.live) > 0 {
		r.release(len(r.live) - 1)
	}
	r.stats.Flushed += uint64(n)
	return n
}
