package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.bug.st/serial"
)

// ErrInput is wrapped by errors about an input's configuration.
var ErrInput = errors.New("ingest: invalid input")

// InputKind is the type of an input.
type InputKind string

// The input kinds.
const (
	KindSerial    InputKind = "serial"
	KindTCP       InputKind = "tcp"
	KindTCPListen InputKind = "tcp-listen"
	KindUDP       InputKind = "udp"
	KindFile      InputKind = "file"
	KindStdin     InputKind = "stdin"
)

// InputSpec is a parsed input.
type InputSpec struct {
	Name  string
	Kind  InputKind
	Addr  string  // host:port (tcp, tcp-listen, udp), device (serial) or path (file)
	Baud  int     // serial
	Speed float64 // file: replay speed factor; 0 as fast as possible
	Rate  float64 // file: lines per second, for captures without times; 0 off
	Loop  bool    // file: start again at the end
	Shift bool    // file: re-stamp times so the replay looks live
}

// Finite reports whether the input ends by itself (file without loop, stdin).
func (s InputSpec) Finite() bool { return s.Kind == KindStdin || s.Kind == KindFile && !s.Loop }

// ParseInput parses an input given as NAME=URL or URL:
//
//	serial:///dev/ttyUSB0?baud=38400   serial port (baud 4800, 38400, 115200; default 38400)
//	tcp://host:port                    TCP client (reconnects with backoff)
//	tcp-listen://:port                 TCP server (instruments connect to us)
//	udp://:port                        UDP listener
//	file://path?speed=1&loop=false&shift=now   file replay (rate=N: N lines/s instead of the capture's times)
//	stdin: or -                        standard input
//
// Errors wrap ErrInput.
func ParseInput(s string) (InputSpec, error) {
	name, raw := "", s
	if i := strings.Index(s, "="); i > 0 && !strings.Contains(s[:i], ":") && !strings.Contains(s[:i], "/") {
		name, raw = s[:i], s[i+1:]
	}
	if raw == "-" || raw == "stdin" || raw == "stdin:" || raw == "stdin://" {
		if name == "" {
			name = "stdin"
		}
		return InputSpec{Name: name, Kind: KindStdin}, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return InputSpec{}, fmt.Errorf("%w: %q is not a URL like udp://:10110 (see docs/collector.md)", ErrInput, s)
	}
	q := u.Query()
	spec := InputSpec{Name: name, Kind: InputKind(strings.ToLower(u.Scheme))}
	switch spec.Kind {
	case KindTCP, KindTCPListen, KindUDP:
		spec.Addr = u.Host
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
			return spec, fmt.Errorf("%w: %s: %q is not host:port", ErrInput, s, u.Host)
		}
		if spec.Kind == KindTCP && q.Get("listen") == "true" {
			spec.Kind = KindTCPListen
		}
		if spec.Kind == KindTCP && strings.HasPrefix(u.Host, ":") {
			return spec, fmt.Errorf("%w: %s: a TCP client needs a host (use tcp-listen:// to listen)", ErrInput, s)
		}
	case KindSerial:
		spec.Addr = u.Host + u.Path
		if spec.Addr == "" {
			spec.Addr = u.Opaque
		}
		if spec.Addr == "" {
			return spec, fmt.Errorf("%w: %s: serial device missing", ErrInput, s)
		}
		spec.Baud = 38400
		if b := q.Get("baud"); b != "" {
			spec.Baud, err = strconv.Atoi(b)
			if err != nil || spec.Baud <= 0 {
				return spec, fmt.Errorf("%w: %s: bad baud rate %q", ErrInput, s, b)
			}
		}
	case KindFile:
		spec.Addr = u.Host + u.Path
		if spec.Addr == "" {
			spec.Addr = u.Opaque
		}
		if spec.Addr == "" {
			return spec, fmt.Errorf("%w: %s: file path missing", ErrInput, s)
		}
		spec.Speed = 1
		if v := q.Get("speed"); v != "" {
			spec.Speed, err = strconv.ParseFloat(v, 64)
			if err != nil || spec.Speed < 0 {
				return spec, fmt.Errorf("%w: %s: bad speed %q", ErrInput, s, v)
			}
		}
		if v := q.Get("rate"); v != "" {
			spec.Rate, err = strconv.ParseFloat(v, 64)
			if err != nil || spec.Rate < 0 {
				return spec, fmt.Errorf("%w: %s: bad rate %q", ErrInput, s, v)
			}
		}
		if v := q.Get("loop"); v != "" {
			if spec.Loop, err = strconv.ParseBool(v); err != nil {
				return spec, fmt.Errorf("%w: %s: bad loop %q", ErrInput, s, v)
			}
		}
		switch q.Get("shift") {
		case "", "none":
		case "now":
			spec.Shift = true
		default:
			return spec, fmt.Errorf("%w: %s: shift must be now", ErrInput, s)
		}
	default:
		return spec, fmt.Errorf("%w: %s: unknown scheme %q (serial, tcp, tcp-listen, udp, file, stdin)", ErrInput, s, u.Scheme)
	}
	if n := q.Get("name"); n != "" && name == "" {
		spec.Name = n
	}
	if spec.Name == "" {
		spec.Name = string(spec.Kind) + ":" + spec.Addr
	}
	return spec, nil
}

// Line is one line read by an input.
type Line struct {
	Input int       // index of the input
	Data  []byte    // the line without its end of line
	Recv  time.Time // reception time (file replays: the line's own time when it has one)
	Orig  time.Time // file replays: the line's original time, zero when unknown
	Pos   Position  // file replays: position after this line
	Skip  bool      // re-read after a restart only to rebuild decoder state
	EOF   bool      // the input ended (no data)
}

// sink is where an input puts lines: in chunks, to keep the hand-over to
// the decoding goroutine cheap at hundreds of thousands of lines a second.
// A sink is used by one goroutine (a TCP server gives each connection a
// copy).
type sink struct {
	idx  int
	live chan<- []Line // bounded queue of live inputs (never blocks them)
	bulk chan<- *chunk // file and stdin inputs (blocks them)
	// free returns bulk chunks once decoded, for reuse
	free <-chan *chunk
	// blocking is set for file and stdin inputs
	blocking bool
	pend     []Line
	arena    []byte
	spare    *chunk
	onDrop   func(n int)
	onRead   func(n int)
}

const chunkLines = 256

// chunk is a bulk hand-over: lines whose Data point into arena (no other
// chunk's lines do), so that both are reused once decoded.
type chunk struct {
	lines []Line
	arena []byte
}

// add copies a line into the pending chunk.
func (s *sink) add(l Line, data []byte) {
	if s.pend == nil && s.blocking && s.spare == nil {
		select {
		case s.spare = <-s.free:
			s.pend, s.arena = s.spare.lines[:0], s.spare.arena[:0]
		default:
		}
	}
	if cap(s.arena)-len(s.arena) < len(data) {
		s.arena = make([]byte, 0, max(32<<10, len(data)))
	}
	start := len(s.arena)
	s.arena = append(s.arena, data...)
	l.Data = s.arena[start:len(s.arena):len(s.arena)]
	l.Input = s.idx
	if s.pend == nil {
		n := 8
		if s.blocking {
			n = chunkLines
		}
		s.pend = make([]Line, 0, n)
	}
	s.pend = append(s.pend, l)
}

// offer queues the pending chunk without blocking (live inputs never
// block the instruments); it counts the lines dropped when the queue is
// full.
func (s *sink) offer() {
	if len(s.pend) == 0 {
		return
	}
	s.onRead(len(s.pend))
	select {
	case s.live <- s.pend:
	default:
		s.onDrop(len(s.pend))
	}
	s.pend = nil
}

// send queues the pending chunk, waiting for room (file and stdin).
func (s *sink) send(ctx context.Context) error {
	if len(s.pend) == 0 {
		return nil
	}
	n := len(s.pend)
	if s.pend[n-1].EOF {
		n--
	}
	s.onRead(n)
	ch := s.spare
	if ch == nil {
		ch = &chunk{}
	}
	ch.lines, ch.arena = s.pend, s.arena
	select {
	case s.bulk <- ch:
		// the chunk owns its arena now: the next one starts another
		s.pend, s.arena, s.spare = nil, nil, nil
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// end queues the end of a finite input.
func (s *sink) end(ctx context.Context, pos Position) error {
	s.pend = append(s.pend, Line{Input: s.idx, EOF: true, Pos: pos})
	return s.send(ctx)
}

const maxLine = 4096

// lineReader splits a stream into lines (\n, \r\n or \r), bounding their
// length: a longer line is cut and its rest discarded.
type lineReader struct {
	r       *bufio.Reader
	off     int64 // bytes consumed
	discard bool
}

func newLineReader(r io.Reader) *lineReader { return &lineReader{r: bufio.NewReaderSize(r, 64<<10)} }

// next returns the next line (owned by the reader until the next call).
func (lr *lineReader) next() ([]byte, error) {
	for {
		b, err := lr.r.ReadSlice('\n')
		lr.off += int64(len(b))
		if err == bufio.ErrBufferFull {
			if !lr.discard {
				lr.discard = true
				return trimEOL(b[:min(len(b), maxLine)]), nil
			}
			continue
		}
		if lr.discard {
			lr.discard = false
			if err != nil {
				return nil, err
			}
			continue
		}
		if len(b) == 0 && err != nil {
			return nil, err
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		return trimEOL(b), nil
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// splitLines calls fn for each non-empty line of a datagram or read.
func splitLines(b []byte, fn func([]byte)) {
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		var l []byte
		if i < 0 {
			l, b = b, nil
		} else {
			l, b = b[:i], b[i+1:]
		}
		if len(l) > 0 {
			fn(l)
		}
	}
}

// backoff is an exponential reconnect delay.
type backoff struct{ d, max time.Duration }

func (b *backoff) wait(ctx context.Context) error {
	if b.d == 0 {
		b.d = 100 * time.Millisecond
	}
	if b.max == 0 {
		b.max = 30 * time.Second
	}
	t := time.NewTimer(b.d)
	defer t.Stop()
	b.d = min(b.d*2, b.max)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (b *backoff) reset() { b.d = 0 }

// runner is one running input.
type runner struct {
	spec InputSpec
	out  *sink
	log  *slog.Logger
	in   io.Reader // stdin
	// file replay start
	start Position
	// connected reports the connection state of socket and serial inputs
	connected func(bool)
}

func (r *runner) run(ctx context.Context) error {
	switch r.spec.Kind {
	case KindUDP:
		return r.runUDP(ctx)
	case KindTCP:
		return r.runTCPClient(ctx)
	case KindTCPListen:
		return r.runTCPServer(ctx)
	case KindSerial:
		return r.runSerial(ctx)
	case KindFile:
		return r.runFile(ctx)
	case KindStdin:
		return r.runStdin(ctx)
	}
	return fmt.Errorf("%w: unknown kind %q", ErrInput, r.spec.Kind)
}

// liveLines reads lines from a stream until it fails, offering each.
func (r *runner) liveLines(ctx context.Context, rd io.Reader) error {
	lr := newLineReader(rd)
	for {
		b, err := lr.next()
		if len(b) > 0 {
			r.out.add(Line{Recv: time.Now().UTC()}, b)
		}
		if err != nil || lr.r.Buffered() == 0 || len(r.out.pend) >= chunkLines {
			r.out.offer()
		}
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func (r *runner) runUDP(ctx context.Context) error {
	pc, err := net.ListenPacket("udp", r.spec.Addr)
	if err != nil {
		return fmt.Errorf("ingest: input %s: %w", r.spec.Name, err)
	}
	r.log.Info("listening", "udp", pc.LocalAddr().String())
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	defer pc.Close()
	if cr, ok := pc.(*net.UDPConn); ok {
		cr.SetReadBuffer(4 << 20)
	}
	buf := make([]byte, 64<<10)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("ingest: input %s: %w", r.spec.Name, err)
		}
		now := time.Now().UTC()
		splitLines(buf[:n], func(l []byte) {
			r.out.add(Line{Recv: now}, l)
		})
		r.out.offer()
	}
}

func (r *runner) runTCPClient(ctx context.Context) error {
	var bo backoff
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "tcp", r.spec.Addr)
		if err != nil {
			r.log.Warn("connect failed, retrying", "addr", r.spec.Addr, "err", err)
			r.connected(false)
			if bo.wait(ctx) != nil {
				break
			}
			continue
		}
		bo.reset()
		r.connected(true)
		r.log.Info("connected", "addr", r.spec.Addr)
		stop := context.AfterFunc(ctx, func() { c.Close() })
		err = r.liveLines(ctx, c)
		stop()
		c.Close()
		r.connected(false)
		if ctx.Err() != nil {
			break
		}
		r.log.Warn("connection lost, reconnecting", "addr", r.spec.Addr, "err", err)
		if bo.wait(ctx) != nil {
			break
		}
	}
	return nil
}

func (r *runner) runTCPServer(ctx context.Context) error {
	ln, err := net.Listen("tcp", r.spec.Addr)
	if err != nil {
		return fmt.Errorf("ingest: input %s: %w", r.spec.Name, err)
	}
	r.log.Info("listening", "tcp", ln.Addr().String())
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var conns atomic.Int64
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("ingest: input %s: %w", r.spec.Name, err)
		}
		r.connected(conns.Add(1) > 0)
		go func() {
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			defer c.Close()
			r.log.Info("instrument connected", "remote", c.RemoteAddr().String())
			// each connection fills its own chunks
			cr, out := *r, *r.out
			out.pend, out.arena = nil, nil
			cr.out = &out
			err := cr.liveLines(ctx, c)
			r.connected(conns.Add(-1) > 0)
			if ctx.Err() == nil {
				r.log.Info("instrument disconnected", "remote", c.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

func (r *runner) runSerial(ctx context.Context) error {
	var bo backoff
	bo.max = 5 * time.Second
	for ctx.Err() == nil {
		p, err := serial.Open(r.spec.Addr, &serial.Mode{BaudRate: r.spec.Baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
		if err != nil {
			r.log.Warn("serial open failed, retrying", "device", r.spec.Addr, "err", err)
			r.connected(false)
			if bo.wait(ctx) != nil {
				break
			}
			continue
		}
		bo.reset()
		r.connected(true)
		r.log.Info("serial port open", "device", r.spec.Addr, "baud", r.spec.Baud)
		// A read timeout lets the loop notice ctx; an unplugged device
		// fails the read and we reopen.
		p.SetReadTimeout(500 * time.Millisecond)
		err = r.liveLines(ctx, &serialReader{ctx: ctx, p: p})
		p.Close()
		r.connected(false)
		if ctx.Err() != nil {
			break
		}
		r.log.Warn("serial port lost, reopening", "device", r.spec.Addr, "err", err)
		if bo.wait(ctx) != nil {
			break
		}
	}
	return nil
}

// serialReader turns go.bug.st/serial's (0, nil) read timeouts into
// retries, stopping on ctx, and a hang-up into io.EOF.
type serialReader struct {
	ctx   context.Context
	p     serial.Port
	zeros int
}

func (s *serialReader) Read(b []byte) (int, error) {
	for {
		if err := s.ctx.Err(); err != nil {
			return 0, err
		}
		n, err := s.p.Read(b)
		if n > 0 || err != nil {
			s.zeros = 0
			return n, err
		}
		// A timeout returns (0, nil). Check the device still exists: an
		// unplugged USB adapter (or a closed pty) does not always error.
		s.zeros++
		if s.zeros%4 == 0 {
			if _, err := s.p.GetModemStatusBits(); err != nil {
				return 0, fmt.Errorf("ingest: serial: %w", err)
			}
		}
	}
}

func (r *runner) runStdin(ctx context.Context) error {
	lr := newLineReader(r.in)
	for {
		b, err := lr.next()
		if len(b) > 0 {
			r.out.add(Line{Recv: time.Now().UTC()}, b)
		}
		if err == io.EOF {
			return r.out.end(ctx, Position{})
		}
		if lr.r.Buffered() == 0 || len(r.out.pend) >= chunkLines {
			if r.out.send(ctx) != nil {
				return nil
			}
		}
		if err != nil {
			return fmt.Errorf("ingest: input %s: %w", r.spec.Name, err)
		}
	}
}

// resumeLines is how many lines before a position a restarted replay
// re-reads to rebuild incomplete multi-sentence messages.
const resumeLines = 16

func (r *runner) runFile(ctx context.Context) error {
	f, err := os.Open(r.spec.Addr)
	if err != nil {
		return fmt.Errorf("ingest: input %s: %w", r.spec.Name, err)
	}
	defer f.Close()
	pass, skipTo := r.start.Pass, r.start.Offset
	startAt := r.start.Resume
	if startAt > skipTo || startAt < 0 {
		startAt = skipTo
	}
	if st, err := f.Stat(); err == nil && skipTo > st.Size() {
		r.log.Warn("file shorter than its saved position, starting over", "file", r.spec.Addr, "position", skipTo)
		startAt, skipTo = 0, 0
	}
	if startAt > 0 || skipTo > 0 {
		r.log.Info("resuming replay", "file", r.spec.Addr, "pass", pass, "offset", skipTo, "reread_from", startAt)
	}
	var ring [resumeLines]int64
	var nlines int
	var pace pacer
	pace.speed = r.spec.Speed
	var rateStart time.Time
	var rateN float64
	for {
		if _, err := f.Seek(startAt, io.SeekStart); err != nil {
			return fmt.Errorf("ingest: input %s: %w", r.spec.Name, err)
		}
		lr := newLineReader(f)
		lr.off = startAt
		var lt lineTimer
		for {
			lineStart := lr.off
			b, err := lr.next()
			if len(b) > 0 && b[0] != '#' {
				ring[nlines%resumeLines] = lineStart
				nlines++
				resume := ring[0]
				if nlines >= resumeLines {
					resume = ring[nlines%resumeLines]
				}
				orig := lt.time(b)
				skip := lr.off <= skipTo
				l := Line{Orig: orig, Skip: skip,
					Pos: Position{Pass: pass, Offset: lr.off, Resume: min(resume, lineStart)}}
				var d time.Duration
				if !skip && r.spec.Rate > 0 {
					if rateStart.IsZero() {
						rateStart = time.Now()
					}
					rateN++
					d = time.Until(rateStart.Add(time.Duration(rateN / r.spec.Rate * float64(time.Second))))
				} else if !skip {
					d = pace.delay(orig)
				}
				if d > time.Millisecond {
					// hand over what we have before waiting
					if r.out.send(ctx) != nil || sleepCtx(ctx, d) != nil {
						return nil
					}
				}
				now := time.Now().UTC()
				switch {
				case orig.IsZero() || r.spec.Shift:
					l.Recv = now
				default:
					l.Recv = orig
				}
				r.out.add(l, b)
				if len(r.out.pend) >= chunkLines {
					if r.out.send(ctx) != nil {
						return nil
					}
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("ingest: input %s: %w", r.spec.Name, err)
			}
		}
		if !r.spec.Loop {
			return r.out.end(ctx, Position{Pass: pass, Offset: lr.off, Resume: lr.off})
		}
		pass++
		startAt, skipTo, nlines = 0, 0, 0
		pace.reset()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pacer sleeps so that lines are emitted at their original pace, scaled.
type pacer struct {
	speed     float64
	t0        time.Time // first line time
	w0        time.Time // wall clock at t0
	lastDelay time.Duration
}

func (p *pacer) reset() { p.t0 = time.Time{} }

// delay returns how long to wait before emitting a line of time t.
func (p *pacer) delay(t time.Time) time.Duration {
	if p.speed == 0 || t.IsZero() {
		return 0
	}
	if p.t0.IsZero() || t.Before(p.t0) {
		// first timed line, or time went backwards: re-anchor
		p.t0, p.w0 = t, time.Now()
		return 0
	}
	d := time.Until(p.w0.Add(time.Duration(float64(t.Sub(p.t0)) / p.speed)))
	if d > time.Minute {
		// a gap in the capture: do not sleep for hours
		p.t0, p.w0 = t, time.Now()
		return 0
	}
	return d
}

// lineTimer finds the original time of replayed lines: a receive-time
// prefix (Unix s, ms or ns before a space), a tag block "c:" (Unix s or
// ms), or the last Gatehouse $PGHP header, whichever the line carries.
type lineTimer struct{ pghp time.Time }

func (lt *lineTimer) time(b []byte) time.Time {
	if len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		i := 0
		var v int64
		for i < len(b) && b[i] >= '0' && b[i] <= '9' && i < 20 {
			v = v*10 + int64(b[i]-'0')
			i++
		}
		if i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == ',') {
			return unixAny(v)
		}
	}
	if len(b) > 0 && b[0] == '\\' {
		end := bytes.IndexByte(b[1:], '\\')
		if end > 0 {
			tb := b[1 : 1+end]
			if star := bytes.IndexByte(tb, '*'); star >= 0 {
				tb = tb[:star]
			}
			for len(tb) > 0 {
				f := tb
				if i := bytes.IndexByte(tb, ','); i >= 0 {
					f, tb = tb[:i], tb[i+1:]
				} else {
					tb = nil
				}
				if len(f) > 2 && f[0] == 'c' && f[1] == ':' {
					if v, err := strconv.ParseInt(string(f[2:]), 10, 64); err == nil {
						return unixAny(v)
					}
				}
			}
		}
	}
	if bytes.HasPrefix(b, []byte("$PGHP,1,")) {
		// $PGHP,1,year,month,day,hour,minute,second,millisecond,...
		var n [7]int
		rest := b[len("$PGHP,1,"):]
		ok := true
		for i := range n {
			j := 0
			for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' && j < 9 {
				n[i] = n[i]*10 + int(rest[j]-'0')
				j++
			}
			if j == 0 || j >= len(rest) || rest[j] != ',' {
				ok = false
				break
			}
			rest = rest[j+1:]
		}
		if ok {
			lt.pghp = time.Date(n[0], time.Month(n[1]), n[2], n[3], n[4], n[5], n[6]*int(time.Millisecond), time.UTC)
		}
		return lt.pghp
	}
	return lt.pghp
}

func unixAny(v int64) time.Time {
	switch {
	case v > 1e17:
		return time.Unix(0, v).UTC()
	case v > 1e14:
		return time.UnixMicro(v).UTC()
	case v > 1e11:
		return time.UnixMilli(v).UTC()
	case v > 0:
		return time.Unix(v, 0).UTC()
	}
	return time.Time{}
}
