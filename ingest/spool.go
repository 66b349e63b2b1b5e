package ingest

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Spool errors.
var (
	// ErrSpoolConfig is wrapped by SpoolConfig.Validate errors.
	ErrSpoolConfig = errors.New("ingest: invalid spool config")
	// ErrSpoolClosed is returned by calls on a closed spool.
	ErrSpoolClosed = errors.New("ingest: spool closed")
	// ErrSpoolFull is returned by Append when a batch does not fit even
	// after dropping every older segment (disk full).
	ErrSpoolFull = errors.New("ingest: spool full")
	// ErrCorrupt describes a record that failed its checksum or length
	// check; Open cuts the segment there (counted, logged), never fails.
	ErrCorrupt = errors.New("ingest: corrupt spool record")
)

// FsyncPolicy says when the spool forces appended records to disk.
type FsyncPolicy string

// The fsync policies.
const (
	// FsyncBatch fsyncs after every appended batch (the default): an
	// acknowledged append survives power loss.
	FsyncBatch FsyncPolicy = "batch"
	// FsyncInterval fsyncs at most every SpoolConfig.FsyncInterval: a
	// power loss may lose that much; a crash of the process loses nothing.
	FsyncInterval FsyncPolicy = "interval"
	// FsyncNever leaves flushing to the operating system (benchmarks).
	FsyncNever FsyncPolicy = "never"
)

// SpoolConfig configures a Spool. Zero values are the documented defaults.
type SpoolConfig struct {
	// Dir is the spool directory, created if missing. Required.
	Dir string
	// SegmentBytes is the size at which a segment file is closed and a new
	// one started. Zero: 16 MiB (at most MaxBytes/4).
	SegmentBytes int64
	// MaxBytes caps the spool's size on disk. When an append would exceed
	// it, the oldest segments are deleted, unsent events included, and
	// counted as dropped. Zero: 1 GiB.
	MaxBytes int64
	// Fsync is the fsync policy. Zero: FsyncBatch.
	Fsync FsyncPolicy
	// FsyncInterval is the interval of FsyncInterval. Zero: 1s.
	FsyncInterval time.Duration
	// Logger receives recovery and drop warnings. Nil: silent.
	Logger *slog.Logger
}

func (c *SpoolConfig) defaults() {
	if c.MaxBytes == 0 {
		c.MaxBytes = 1 << 30
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = 16 << 20
	}
	if c.SegmentBytes > c.MaxBytes/4 {
		c.SegmentBytes = c.MaxBytes / 4
	}
	if c.Fsync == "" {
		c.Fsync = FsyncBatch
	}
	if c.FsyncInterval == 0 {
		c.FsyncInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks c.
func (c SpoolConfig) Validate() error {
	switch {
	case c.Dir == "":
		return fmt.Errorf("%w: -spool: directory required", ErrSpoolConfig)
	case c.MaxBytes < 0 || (c.MaxBytes > 0 && c.MaxBytes < 64<<10):
		return fmt.Errorf("%w: -spool-max-bytes: %d is below 64 KiB", ErrSpoolConfig, c.MaxBytes)
	case c.SegmentBytes < 0:
		return fmt.Errorf("%w: segment size %d is negative", ErrSpoolConfig, c.SegmentBytes)
	case c.FsyncInterval < 0:
		return fmt.Errorf("%w: -spool-fsync-interval: %v is negative", ErrSpoolConfig, c.FsyncInterval)
	}
	switch c.Fsync {
	case "", FsyncBatch, FsyncInterval, FsyncNever:
	default:
		return fmt.Errorf("%w: -spool-fsync: %q is not batch, interval or never", ErrSpoolConfig, c.Fsync)
	}
	return nil
}

// Position is how far a file input has read: Offset is the byte offset
// after the last line whose events are spooled, in pass Pass (a looping
// replay starts a new pass at each end of file). Resume, at or before
// Offset, is where reading restarts after a crash, early enough to hold
// every fragment of a multi-sentence message still incomplete at Offset;
// lines between Resume and Offset are decoded again only to rebuild that
// state, their events are not emitted twice.
type Position struct {
	Pass   uint64 `json:"pass"`
	Offset int64  `json:"offset"`
	Resume int64  `json:"resume"`
}

func (p Position) after(q Position) bool {
	return p.Pass > q.Pass || (p.Pass == q.Pass && p.Offset > q.Offset)
}

// Message topics inside a spool record.
const (
	TopicIndexEvents byte = 0 // bus.TopicEvents
	TopicIndexRaw    byte = 1 // bus.TopicRaw
)

// Batch is a group of messages (and file positions) appended to the spool
// as one record: all of it survives a crash, or none of it.
type Batch struct {
	FirstSeq  uint64              // sequence of the first event
	Events    int                 // messages of topic TopicIndexEvents
	Positions map[string]Position // file input positions reached by this batch
	msgs      []byte
	n         int
	first     time.Time
}

// Add appends one message to the batch.
func (b *Batch) Add(topic byte, key, value []byte) {
	if b.n == 0 {
		b.first = time.Now()
	}
	b.msgs = append(b.msgs, topic)
	b.msgs = binary.AppendUvarint(b.msgs, uint64(len(key)))
	b.msgs = append(b.msgs, key...)
	b.msgs = binary.AppendUvarint(b.msgs, uint64(len(value)))
	b.msgs = append(b.msgs, value...)
	b.n++
	if topic == TopicIndexEvents {
		b.Events++
	}
}

// Len is the number of messages; Size their encoded size.
func (b *Batch) Len() int  { return b.n }
func (b *Batch) Size() int { return len(b.msgs) }

// Age is the time since the first message was added.
func (b *Batch) Age() time.Duration {
	if b.n == 0 {
		return 0
	}
	return time.Since(b.first)
}

// SetPosition records that a file input reached p.
func (b *Batch) SetPosition(file string, p Position) {
	if b.Positions == nil {
		b.Positions = map[string]Position{}
	}
	b.Positions[file] = p
}

// Empty reports whether the batch has neither messages nor positions.
func (b *Batch) Empty() bool { return b.n == 0 && len(b.Positions) == 0 }

// Reset empties b for reuse.
func (b *Batch) Reset() {
	b.msgs, b.n, b.Events, b.FirstSeq = b.msgs[:0], 0, 0, 0
	clear(b.Positions)
}

// Message is one spooled Kafka message.
type Message struct {
	Topic      byte
	Key, Value []byte
}

// Frame is one spooled record read back for sending.
type Frame struct {
	buf       []byte
	Seg       uint64
	Off, End  int64
	FirstSeq  uint64
	Events    int
	Positions map[string]Position
	Msgs      []Message
	released  bool
}

const (
	recordHeader  = 8 // u32 length, u32 CRC-32C of the payload
	recordVersion = 1
	maxRecord     = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type segment struct {
	id     uint64
	size   int64 // valid bytes
	events int   // events in the segment
	acked  int   // events acknowledged (or skipped at open)
	recs   int   // records in the segment
	ackRec int   // records acknowledged
	synced int64 // bytes known to be on disk (FsyncBatch: the reader's limit)
}

func segName(id uint64) string { return fmt.Sprintf("seg-%016d.spool", id) }

// SpoolStats are the spool's counters.
type SpoolStats struct {
	Bytes     int64  // size of the segments on disk
	Pending   int64  // events spooled and not yet acknowledged
	Records   int64  // records (batches, with raw sentences) not yet acknowledged
	Appended  uint64 // events appended since Open
	Acked     uint64 // events acknowledged since Open
	Dropped   uint64 // unsent events deleted by the size cap since Open
	Corrupt   uint64 // corrupt or torn records cut at Open
	Recovered int64  // events found unsent at Open
}

// Spool is the collector's store and forward buffer: an append-only log of
// checksummed records in segment files. One goroutine appends; one reads
// (Next) and acknowledges (Ack) in order. See docs/collector.md.
type Spool struct {
	cfg SpoolConfig
	log *slog.Logger

	mu       sync.Mutex
	notify   chan struct{} // wakes the reader
	syncWake chan struct{} // wakes the syncer
	syncDone chan struct{}
	frames   chan *Frame // recycled frames (buffer, messages, positions)
	closed   bool
	segs     []*segment // ordered; the last is active
	active   *os.File
	boot     int64
	nextSeq  uint64
	pos      map[string]Position // latest spooled position per file input
	lastSync time.Time
	dirty    bool
	stats    SpoolStats
	hdr      []byte

	// reader state (one reader goroutine)
	rseg   uint64
	roff   int64
	rfile  *os.File
	rfid   uint64
	cursor *os.File
	cgen   uint64
}

type spoolMeta struct {
	Version int   `json:"version"`
	Boot    int64 `json:"boot"`
}

type registry struct {
	NextSeq uint64              `json:"next_seq"`
	Files   map[string]Position `json:"files"`
}

// OpenSpool opens (or creates) the spool in cfg.Dir and recovers it: torn
// or corrupt records are cut, acknowledged segments deleted, and the
// sequence and file positions restored.
func OpenSpool(cfg SpoolConfig) (*Spool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("ingest: spool: %w", err)
	}
	s := &Spool{cfg: cfg, log: cfg.Logger, notify: make(chan struct{}, 1), syncWake: make(chan struct{}, 1),
		syncDone: make(chan struct{}), frames: make(chan *Frame, 16), pos: map[string]Position{}}
	if err := s.loadMeta(); err != nil {
		return nil, err
	}
	var reg registry
	if b, err := os.ReadFile(filepath.Join(cfg.Dir, "registry")); err == nil {
		if err := json.Unmarshal(b, &reg); err != nil {
			s.log.Warn("spool registry unreadable, positions restart from the records", "err", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("ingest: spool: %w", err)
	}
	s.nextSeq = reg.NextSeq
	for k, v := range reg.Files {
		s.pos[k] = v
	}
	if err := s.openCursor(); err != nil {
		return nil, err
	}
	ids, err := s.listSegments()
	if err != nil {
		return nil, err
	}
	cseg, coff := s.readCursor()
	for _, id := range ids {
		seg, err := s.recoverSegment(id, cseg, coff)
		if err != nil {
			return nil, err
		}
		if id < cseg || seg.size == 0 || id == cseg && coff >= seg.size {
			// fully acknowledged (or empty): no longer needed
			os.Remove(filepath.Join(cfg.Dir, segName(id)))
			continue
		}
		s.segs = append(s.segs, seg)
		s.stats.Bytes += seg.size
		s.stats.Pending += int64(seg.events - seg.acked)
		s.stats.Records += int64(seg.recs - seg.ackRec)
	}
	s.stats.Recovered = s.stats.Pending
	next := uint64(1)
	if len(ids) > 0 {
		next = ids[len(ids)-1] + 1
	}
	if len(s.segs) > 0 {
		s.rseg = s.segs[0].id
		if s.rseg == cseg {
			s.roff = coff
		}
	} else {
		s.rseg = next
	}
	if err := s.newSegment(next); err != nil {
		return nil, err
	}
	if err := s.saveRegistry(); err != nil {
		return nil, err
	}
	if s.cfg.Fsync != FsyncNever {
		go s.syncer()
	} else {
		close(s.syncDone)
	}
	s.log.Info("spool opened", "dir", cfg.Dir, "boot", s.boot, "next_seq", s.nextSeq,
		"pending_events", s.stats.Pending, "segments", len(s.segs), "corrupt_cut", s.stats.Corrupt)
	return s, nil
}

func (s *Spool) loadMeta() error {
	p := filepath.Join(s.cfg.Dir, "meta")
	b, err := os.ReadFile(p)
	if err == nil {
		var m spoolMeta
		if err := json.Unmarshal(b, &m); err == nil && m.Boot > 0 {
			s.boot = m.Boot
			clean := filepath.Join(s.cfg.Dir, "clean")
			_, err := os.Stat(clean)
			os.Remove(clean)
			if s.cfg.Fsync == FsyncBatch || err == nil {
				return nil
			}
			// Without per-batch fsync, records already sent may be lost
			// by a power failure, and their sequences would be handed
			// out again: after an unclean stop, start a new boot epoch
			// so that no id is ever reused.
			s.boot = max(time.Now().UnixMilli(), m.Boot+1)
			s.log.Warn("spool: unclean stop with fsync policy "+string(s.cfg.Fsync)+": new boot epoch", "old", m.Boot, "new", s.boot)
			b, _ = json.Marshal(spoolMeta{Version: 1, Boot: s.boot})
			return s.writeAtomic("meta", b)
		}
		s.log.Warn("spool meta unreadable, starting a new boot epoch", "file", p)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("ingest: spool: %w", err)
	}
	s.boot = time.Now().UnixMilli()
	b, _ = json.Marshal(spoolMeta{Version: 1, Boot: s.boot})
	return s.writeAtomic("meta", b)
}

// writeAtomic replaces dir/name with b durably.
func (s *Spool) writeAtomic(name string, b []byte) error {
	tmp := filepath.Join(s.cfg.Dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("ingest: spool: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.cfg.Dir, name))
	}
	if err != nil {
		return fmt.Errorf("ingest: spool: %w", err)
	}
	return s.syncDir()
}

func (s *Spool) syncDir() error {
	d, err := os.Open(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("ingest: spool: %w", err)
	}
	defer d.Close()
	d.Sync() // best effort: some filesystems refuse directory fsync
	return nil
}

func (s *Spool) listSegments() ([]uint64, error) {
	ents, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("ingest: spool: %w", err)
	}
	var ids []uint64
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, "seg-") || !strings.HasSuffix(n, ".spool") {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(n, "seg-"), ".spool"), 10, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}

// recoverSegment scans a segment, cutting it at the first bad record, and
// restores sequence and positions from its records.
func (s *Spool) recoverSegment(id, cseg uint64, coff int64) (*segment, error) {
	path := filepath.Join(s.cfg.Dir, segName(id))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("ingest: spool: %w", err)
	}
	defer f.Close()
	seg := &segment{id: id}
	var fr Frame
	var buf []byte
	var off int64
	for {
		var err error
		buf, err = readRecord(f, off, buf)
		if err == io.EOF {
			break
		}
		if err == nil {
			err = parseFrame(&fr, buf, false)
		}
		if err != nil {
			st, _ := f.Stat()
			s.stats.Corrupt++
			s.log.Warn("spool: cutting torn or corrupt record", "segment", segName(id), "offset", off,
				"size", st.Size(), "err", err)
			if terr := f.Truncate(off); terr != nil {
				return nil, fmt.Errorf("ingest: spool: cut %s: %w", path, terr)
			}
			f.Sync()
			break
		}
		end := off + recordHeader + int64(len(buf))
		seg.events += fr.Events
		seg.recs++
		if id < cseg || (id == cseg && end <= coff) {
			seg.acked += fr.Events
			seg.ackRec++
		}
		if last := fr.FirstSeq + uint64(fr.Events); fr.Events > 0 && last > s.nextSeq {
			s.nextSeq = last
		}
		for k, p := range fr.Positions {
			if old, ok := s.pos[k]; !ok || p.after(old) || p.Pass == old.Pass && p.Offset == old.Offset {
				s.pos[k] = p
			}
		}
		off = end
	}
	seg.size, seg.synced = off, off
	return seg, nil
}

// readRecord reads the record at off into buf. io.EOF: clean end.
func readRecord(f *os.File, off int64, buf []byte) ([]byte, error) {
	var h [recordHeader]byte
	n, err := f.ReadAt(h[:], off)
	if n == 0 && err == io.EOF {
		return buf, io.EOF
	}
	if n < recordHeader {
		return buf, fmt.Errorf("%w: torn header (%d bytes)", ErrCorrupt, n)
	}
	l := binary.LittleEndian.Uint32(h[0:])
	sum := binary.LittleEndian.Uint32(h[4:])
	if l == 0 || l > maxRecord {
		return buf, fmt.Errorf("%w: length %d", ErrCorrupt, l)
	}
	if cap(buf) < int(l) {
		// headroom, so that a recycled buffer fits the next records too
		buf = make([]byte, l, int(l)+int(l)/4)
	}
	buf = buf[:l]
	if n, _ := f.ReadAt(buf, off+recordHeader); n < int(l) {
		return buf, fmt.Errorf("%w: torn record (%d of %d bytes)", ErrCorrupt, n, l)
	}
	if crc32.Checksum(buf, castagnoli) != sum {
		return buf, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return buf, nil
}

// parseFrame decodes a record payload; with msgs it also slices the
// messages (into p).
func parseFrame(fr *Frame, p []byte, msgs bool) error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrCorrupt, what) }
	if len(p) < 1 || p[0] != recordVersion {
		return bad("unknown record version")
	}
	p = p[1:]
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, false
		}
		p = p[n:]
		return v, true
	}
	var ok bool
	if fr.FirstSeq, ok = uv(); !ok {
		return bad("sequence")
	}
	npos, ok := uv()
	if !ok || npos > 1<<16 {
		return bad("positions")
	}
	if fr.Positions == nil {
		fr.Positions = map[string]Position{}
	}
	clear(fr.Positions)
	for range npos {
		l, ok := uv()
		if !ok || l > uint64(len(p)) {
			return bad("position name")
		}
		name := string(p[:l])
		p = p[l:]
		pass, ok1 := uv()
		off, ok2 := uv()
		res, ok3 := uv()
		if !ok1 || !ok2 || !ok3 {
			return bad("position")
		}
		fr.Positions[name] = Position{Pass: pass, Offset: int64(off), Resume: int64(res)}
	}
	n, ok := uv()
	if !ok || n > uint64(len(p)) {
		return bad("message count")
	}
	fr.Msgs = fr.Msgs[:0]
	fr.Events = 0
	for range n {
		if len(p) < 1 {
			return bad("message")
		}
		topic := p[0]
		p = p[1:]
		kl, ok := uv()
		if !ok || kl > uint64(len(p)) {
			return bad("key")
		}
		key := p[:kl]
		p = p[kl:]
		vl, ok := uv()
		if !ok || vl > uint64(len(p)) {
			return bad("value")
		}
		val := p[:vl]
		p = p[vl:]
		if topic == TopicIndexEvents {
			fr.Events++
		}
		if msgs {
			fr.Msgs = append(fr.Msgs, Message{Topic: topic, Key: key, Value: val})
		}
	}
	if len(p) != 0 {
		return bad("trailing bytes")
	}
	return nil
}

func (s *Spool) newSegment(id uint64) error {
	f, err := os.OpenFile(filepath.Join(s.cfg.Dir, segName(id)), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("ingest: spool: %w", err)
	}
	if s.active != nil {
		if s.cfg.Fsync != FsyncNever {
			s.active.Sync()
		}
		s.active.Close()
		if n := len(s.segs); n > 0 {
			s.segs[n-1].synced = s.segs[n-1].size
		}
	}
	s.active = f
	s.segs = append(s.segs, &segment{id: id})
	return s.syncDir()
}

// Boot is the spool's boot epoch (Unix ms of its creation), part of every
// event id.
func (s *Spool) Boot() int64 { return s.boot }

// NextSeq is the sequence the next appended event gets. Sequences are never
// reused within a boot epoch, even after a crash.
func (s *Spool) NextSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextSeq
}

// Position returns the latest spooled position of a file input.
func (s *Spool) Position(file string) (Position, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pos[file]
	return p, ok
}

// Stats returns the counters.
func (s *Spool) Stats() SpoolStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Append writes b as one record (fsynced per the policy) and wakes the
// reader. The batch's events must carry sequences FirstSeq ..
// FirstSeq+Events-1 (see NextSeq). When the size cap is reached, the oldest
// segments are dropped first.
func (s *Spool) Append(b *Batch) error {
	if b.Empty() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSpoolClosed
	}
	if b.Events > 0 && b.FirstSeq < s.nextSeq {
		return fmt.Errorf("ingest: spool: batch sequence %d reuses a spooled sequence (next %d)", b.FirstSeq, s.nextSeq)
	}
	// header: version, first seq, positions, message count
	h := s.hdr[:0]
	h = append(h, 0, 0, 0, 0, 0, 0, 0, 0, recordVersion)
	h = binary.AppendUvarint(h, b.FirstSeq)
	h = binary.AppendUvarint(h, uint64(len(b.Positions)))
	names := make([]string, 0, len(b.Positions))
	for k := range b.Positions {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p := b.Positions[k]
		h = binary.AppendUvarint(h, uint64(len(k)))
		h = append(h, k...)
		h = binary.AppendUvarint(h, p.Pass)
		h = binary.AppendUvarint(h, uint64(p.Offset))
		h = binary.AppendUvarint(h, uint64(p.Resume))
	}
	h = binary.AppendUvarint(h, uint64(b.n))
	plen := len(h) - recordHeader + len(b.msgs)
	if plen > maxRecord {
		return fmt.Errorf("ingest: spool: batch of %d bytes exceeds %d", plen, maxRecord)
	}
	sum := crc32.Update(crc32.Checksum(h[recordHeader:], castagnoli), castagnoli, b.msgs)
	binary.LittleEndian.PutUint32(h[0:], uint32(plen))
	binary.LittleEndian.PutUint32(h[4:], sum)
	s.hdr = h[:0]
	size := int64(len(h) + len(b.msgs))

	act := s.segs[len(s.segs)-1]
	if act.size > 0 && act.size+size > s.cfg.SegmentBytes {
		if err := s.newSegment(act.id + 1); err != nil {
			return err
		}
		act = s.segs[len(s.segs)-1]
	}
	for s.stats.Bytes+size > s.cfg.MaxBytes && len(s.segs) > 1 {
		s.dropOldest("size cap")
	}
	for {
		// header and messages in two writes: no copy of the batch
		n, err := s.active.WriteAt(h, act.size)
		if err == nil {
			var m int
			m, err = s.active.WriteAt(b.msgs, act.size+int64(n))
			n += m
		}
		if err == nil {
			break
		}
		s.active.Truncate(act.size) // undo a partial write
		if errors.Is(err, syscall.ENOSPC) && len(s.segs) > 1 {
			s.dropOldest("disk full")
			continue
		}
		_ = n
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("%w: %v", ErrSpoolFull, err)
		}
		return fmt.Errorf("ingest: spool: %w", err)
	}
	act.size += size
	if s.cfg.Fsync != FsyncBatch {
		act.synced = act.size // the reader need not wait for the disk
	}
	s.dirty = true
	act.events += b.Events
	act.recs++
	s.stats.Records++
	s.stats.Bytes += size
	s.stats.Pending += int64(b.Events)
	s.stats.Appended += uint64(b.Events)
	if b.Events > 0 {
		s.nextSeq = b.FirstSeq + uint64(b.Events)
	}
	for k, p := range b.Positions {
		s.pos[k] = p
	}
	if s.cfg.Fsync == FsyncBatch {
		// group commit: the syncer fsyncs, then wakes the reader
		select {
		case s.syncWake <- struct{}{}:
		default:
		}
	} else {
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
	return nil
}

// syncer fsyncs appended records in the background: with FsyncBatch as
// soon as a batch is written (group commit: batches written during an
// fsync share the next one), and the reader only sends what is on disk;
// with FsyncInterval every interval.
func (s *Spool) syncer() {
	defer close(s.syncDone)
	var tick <-chan time.Time
	if s.cfg.Fsync == FsyncInterval {
		t := time.NewTicker(s.cfg.FsyncInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case _, ok := <-s.syncWake:
			if !ok {
				return
			}
		case <-tick:
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		act := s.segs[len(s.segs)-1]
		f, target := s.active, act.size
		s.dirty = false
		s.mu.Unlock()
		err := f.Sync()
		s.mu.Lock()
		if err == nil && act.synced < target {
			act.synced = target
		} else if err != nil && !s.closed && f == s.active {
			s.log.Error("spool fsync failed", "err", err)
		}
		s.lastSync = time.Now()
		s.mu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
}

// Sync forces appended records to disk (for the interval policy's ticker).
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.dirty {
		return nil
	}
	s.lastSync, s.dirty = time.Now(), false
	act := s.segs[len(s.segs)-1]
	err := s.active.Sync()
	if err == nil {
		act.synced = act.size
	}
	return err
}

// dropOldest deletes the oldest segment (never the active one). Called with
// s.mu held.
func (s *Spool) dropOldest(why string) {
	seg := s.segs[0]
	lost := seg.events - seg.acked
	s.saveRegistryLocked()
	os.Remove(filepath.Join(s.cfg.Dir, segName(seg.id)))
	s.segs = s.segs[1:]
	s.stats.Bytes -= seg.size
	s.stats.Pending -= int64(lost)
	s.stats.Records -= int64(seg.recs - seg.ackRec)
	s.stats.Dropped += uint64(lost)
	if s.rseg <= seg.id {
		s.rseg, s.roff = s.segs[0].id, 0
	}
	s.log.Warn("spool: dropped oldest segment", "reason", why, "segment", segName(seg.id), "events_lost", lost)
}

func (s *Spool) saveRegistry() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saveRegistryLocked()
}

// saveRegistryLocked persists the sequence and positions, which must be
// durable before the segments that hold them in records are deleted.
func (s *Spool) saveRegistryLocked() error {
	if s.active != nil && s.cfg.Fsync != FsyncNever {
		if s.active.Sync() == nil {
			act := s.segs[len(s.segs)-1]
			act.synced = act.size
		}
		s.lastSync, s.dirty = time.Now(), false
	}
	b, _ := json.Marshal(registry{NextSeq: s.nextSeq, Files: s.pos})
	return s.writeAtomic("registry", b)
}

// The cursor file holds the acknowledged position (segment, offset) in two
// checksummed slots written alternately, so a torn write leaves the other.
const cursorSlot = 32

func (s *Spool) openCursor() error {
	f, err := os.OpenFile(filepath.Join(s.cfg.Dir, "cursor"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("ingest: spool: %w", err)
	}
	s.cursor = f
	return nil
}

func (s *Spool) readCursor() (uint64, int64) {
	var best struct {
		gen, seg uint64
		off      int64
	}
	for i := range 2 {
		var b [cursorSlot]byte
		if n, _ := s.cursor.ReadAt(b[:], int64(i*cursorSlot)); n < 28 {
			continue
		}
		if crc32.Checksum(b[:24], castagnoli) != binary.LittleEndian.Uint32(b[24:]) {
			continue
		}
		gen := binary.LittleEndian.Uint64(b[0:])
		if gen > best.gen {
			best.gen, best.seg, best.off = gen, binary.LittleEndian.Uint64(b[8:]), int64(binary.LittleEndian.Uint64(b[16:]))
		}
	}
	s.cgen = best.gen
	return best.seg, best.off
}

func (s *Spool) writeCursor(seg uint64, off int64) error {
	s.cgen++
	var b [cursorSlot]byte
	binary.LittleEndian.PutUint64(b[0:], s.cgen)
	binary.LittleEndian.PutUint64(b[8:], seg)
	binary.LittleEndian.PutUint64(b[16:], uint64(off))
	binary.LittleEndian.PutUint32(b[24:], crc32.Checksum(b[:24], castagnoli))
	_, err := s.cursor.WriteAt(b[:], int64(s.cgen%2)*cursorSlot)
	return err
}

// Next returns the next unsent record, waiting for one until ctx is done
// (with a done ctx it still returns a record that is ready).
func (s *Spool) Next(ctx context.Context) (*Frame, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			if s.rfile != nil {
				s.rfile.Close()
				s.rfile = nil
			}
			return nil, ErrSpoolClosed
		}
		var seg *segment
		for _, g := range s.segs {
			if g.id >= s.rseg {
				seg = g
				break
			}
		}
		if seg != nil && seg.id != s.rseg {
			s.rseg, s.roff = seg.id, 0
		}
		if seg != nil && s.roff < seg.synced {
			id, off := s.rseg, s.roff
			s.mu.Unlock()
			fr, err := s.readFrame(id, off)
			s.mu.Lock()
			if err != nil {
				moved := s.rseg != id || s.roff != off
				s.mu.Unlock()
				if moved { // the segment was dropped by the size cap meanwhile
					continue
				}
				return nil, err
			}
			if s.rseg == id && s.roff == off { // not dropped meanwhile
				s.roff = fr.End
				s.mu.Unlock()
				return fr, nil
			}
			s.mu.Unlock()
			continue
		}
		if seg != nil && seg != s.segs[len(s.segs)-1] && s.roff >= seg.size {
			s.rseg, s.roff = seg.id+1, 0 // finished a closed segment
			s.mu.Unlock()
			continue
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.notify:
		}
	}
}

func (s *Spool) readFrame(id uint64, off int64) (*Frame, error) {
	if s.rfile == nil || s.rfid != id {
		if s.rfile != nil {
			s.rfile.Close()
		}
		f, err := os.Open(filepath.Join(s.cfg.Dir, segName(id)))
		if err != nil {
			s.rfile = nil
			return nil, fmt.Errorf("ingest: spool: %w", err)
		}
		s.rfile, s.rfid = f, id
	}
	// each frame has its own buffer (the sender keeps several in flight),
	// recycled by Release with its message slice and positions map
	var fr *Frame
	select {
	case fr = <-s.frames:
	default:
		fr = &Frame{}
	}
	fr.released = false
	buf, err := readRecord(s.rfile, off, fr.buf[:0])
	fr.buf = buf
	if err == nil {
		err = parseFrame(fr, buf, true)
	}
	if err != nil {
		return nil, fmt.Errorf("ingest: spool: read %s@%d: %w", segName(id), off, err)
	}
	fr.Seg, fr.Off, fr.End = id, off, off+recordHeader+int64(len(buf))
	return fr, nil
}

// Ack records that the frame's messages were acknowledged by Kafka;
// segments wholly acknowledged are deleted. Frames must be acknowledged in
// the order Next returned them.
func (s *Spool) Ack(fr *Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSpoolClosed
	}
	var seg *segment
	for _, g := range s.segs {
		if g.id == fr.Seg {
			seg = g
		}
	}
	if seg == nil {
		return nil // dropped by the size cap while in flight
	}
	seg.acked += fr.Events
	seg.ackRec++
	s.stats.Records--
	s.stats.Pending -= int64(fr.Events)
	s.stats.Acked += uint64(fr.Events)
	if err := s.writeCursor(fr.Seg, fr.End); err != nil {
		return fmt.Errorf("ingest: spool: cursor: %w", err)
	}
	// delete closed segments that are wholly acknowledged
	for len(s.segs) > 1 && (s.segs[0].id < fr.Seg || s.segs[0].id == fr.Seg && fr.End >= s.segs[0].size) {
		g := s.segs[0]
		if err := s.saveRegistryLocked(); err != nil {
			return err
		}
		os.Remove(filepath.Join(s.cfg.Dir, segName(g.id)))
		s.segs = s.segs[1:]
		s.stats.Bytes -= g.size
	}
	return nil
}

// Pending is the number of spooled events not yet acknowledged.
func (s *Spool) Pending() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Pending
}

// Release hands a frame back for reuse once neither it nor its messages
// are referenced any more (after Ack and the Kafka write returned): Next
// reads a later record into it.
func (s *Spool) Release(fr *Frame) {
	if fr == nil || fr.released {
		return
	}
	fr.released = true
	clear(fr.Msgs) // drop the references into the buffer
	fr.Msgs = fr.Msgs[:0]
	select {
	case s.frames <- fr:
	default:
	}
}

// Drained reports whether every appended record is acknowledged (or
// dropped).
func (s *Spool) Drained() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Records == 0
}

// Close syncs and closes the spool, persisting the registry.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	err := s.saveRegistryLocked()
	s.closed = true
	if s.cfg.Fsync != FsyncNever {
		close(s.syncWake)
	}
	if s.active != nil {
		if e := s.active.Close(); err == nil {
			err = e
		}
	}
	if s.cursor != nil {
		s.cursor.Sync()
		s.cursor.Close()
	}
	if err == nil {
		// a clean stop: everything appended is on disk
		if f, cerr := os.Create(filepath.Join(s.cfg.Dir, "clean")); cerr == nil {
			f.Close()
		}
	}
	s.mu.Unlock()
	<-s.syncDone
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return err
}
