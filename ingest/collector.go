package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/bus"
	"github.com/keelson/keelson/decode"
)

// ErrConfig is wrapped by Config.Validate errors.
var ErrConfig = errors.New("ingest: invalid config")

// Config configures a Collector. Zero values are the documented defaults.
type Config struct {
	// Collector is this collector's identity, part of every event id and
	// Source. Empty: the host name.
	Collector string
	// Vessel is the own ship's name or id, set on own-ship events (their
	// Kafka key). Empty: none.
	Vessel string
	// OwnMMSI is the own ship's MMSI. Zero: none.
	OwnMMSI keelson.MMSI
	// Inputs are the inputs, at least one.
	Inputs []InputSpec
	// Spool configures the disk spool (Spool.Dir required).
	Spool SpoolConfig
	// Kafka is the connection to the brokers.
	Kafka bus.Config
	// Raw also sends every line to bus.TopicRaw.
	Raw bool
	// OmitAIS leaves the complete AIS message (Event.AIS) out of position
	// events on the wire: their Position already carries what a track
	// needs, and the duplicate costs about 40% of the compressed bytes on
	// a thin link. Default false: events are sent whole.
	OmitAIS bool
	// Lenient accepts sentences with bad checksums (flagged).
	Lenient bool
	// BatchEvents is the most events per spool record (and Kafka write).
	// Zero: 2000.
	BatchEvents int
	// BatchDelay is the longest an event waits before its batch is
	// spooled. Zero: 50ms.
	BatchDelay time.Duration
	// QueueLines bounds the lines read but not yet decoded; live inputs
	// drop (and count) lines beyond it, never blocking. Zero: 20000.
	QueueLines int
	// ShutdownTimeout bounds the flush on shutdown. Zero: 5s.
	ShutdownTimeout time.Duration
	// SendEvents is the most events per Kafka write: spooled batches that
	// are ready together are sent together. Zero: 10000.
	SendEvents int
	// SendLinger is how long the sender waits for more spooled batches to
	// fill a write (bigger writes compress better on a thin link). Zero:
	// 200ms; negative: do not wait.
	SendLinger time.Duration
	// Writer tunes the Kafka writer (zero BatchSize: 2500).
	Writer bus.WriterOptions
	// Logger: nil is silent. Registry: nil registers nothing.
	Logger   *slog.Logger
	Registry prometheus.Registerer
	// Stdin is read by a stdin input. Nil: os.Stdin.
	Stdin io.Reader
}

// Validate checks c.
func (c *Config) Validate() error {
	if len(c.Inputs) == 0 {
		return fmt.Errorf("%w: -input: at least one input is required", ErrConfig)
	}
	seen := map[string]bool{}
	stdin := 0
	for _, in := range c.Inputs {
		if seen[in.Name] {
			return fmt.Errorf("%w: -input: two inputs named %q", ErrConfig, in.Name)
		}
		seen[in.Name] = true
		if in.Kind == KindStdin {
			stdin++
		}
	}
	if stdin > 1 {
		return fmt.Errorf("%w: -input: stdin given twice", ErrConfig)
	}
	if c.BatchEvents < 0 || c.QueueLines < 0 || c.BatchDelay < 0 || c.ShutdownTimeout < 0 || c.SendEvents < 0 {
		return fmt.Errorf("%w: negative batch, queue or timeout", ErrConfig)
	}
	if err := c.Spool.Validate(); err != nil {
		return err
	}
	return c.Kafka.Validate()
}

func (c *Config) defaults() {
	if c.Collector == "" {
		c.Collector, _ = os.Hostname()
		if c.Collector == "" {
			c.Collector = "collector"
		}
	}
	if c.BatchEvents == 0 {
		c.BatchEvents = 2000
	}
	if c.BatchDelay == 0 {
		c.BatchDelay = 50 * time.Millisecond
	}
	if c.QueueLines == 0 {
		c.QueueLines = 20000
	}
	if c.SendEvents == 0 {
		c.SendEvents = 10000
	}
	if c.SendLinger == 0 {
		c.SendLinger = 200 * time.Millisecond
	} else if c.SendLinger < 0 {
		c.SendLinger = 0
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Stdin == nil {
		c.Stdin = os.Stdin
	}
	if c.Spool.Logger == nil {
		c.Spool.Logger = c.Logger.With("component", "spool")
	}
}

// Collector reads the inputs, spools the events and forwards them.
type Collector struct {
	cfg   Config
	log   *slog.Logger
	spool *Spool
	m     *metrics
	boot  int64
}

// New opens the spool and returns a collector ready to Run.
func New(cfg Config) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	sp, err := OpenSpool(cfg.Spool)
	if err != nil {
		return nil, err
	}
	c := &Collector{cfg: cfg, log: cfg.Logger, spool: sp, boot: sp.Boot()}
	c.m = newMetrics(cfg.Registry, sp)
	return c, nil
}

// Spool returns the collector's spool.
func (c *Collector) Spool() *Spool { return c.spool }

type inputState struct {
	spec    InputSpec
	dec     *decode.Decoder
	done    bool
	read    prometheus.Counter
	decoded prometheus.Counter
	// ndecoded is decoded but not yet added to the counter
	ndecoded int
	dropped  prometheus.Counter
}

// Run runs until ctx is done (then flushes within ShutdownTimeout and
// returns nil), or until every input has ended (files without loop, stdin)
// and all their events are acknowledged by Kafka (returns nil). The spool
// is closed on return: Run is called once per Collector.
func (c *Collector) Run(ctx context.Context) error {
	defer c.spool.Close()
	live := make(chan []Line, c.cfg.QueueLines)
	bulk := make(chan *chunk, 4)
	free := make(chan *chunk, 8)
	inCtx, stopInputs := context.WithCancel(ctx)
	defer stopInputs()

	states := make([]*inputState, len(c.cfg.Inputs))
	var wg sync.WaitGroup
	inputErr := make(chan error, len(c.cfg.Inputs))
	for i, spec := range c.cfg.Inputs {
		st := &inputState{
			spec: spec,
			dec: decode.NewDecoder(decode.Config{
				Lenient: c.cfg.Lenient, OwnMMSI: c.cfg.OwnMMSI, Vessel: c.cfg.Vessel,
				Collector: c.cfg.Collector, Input: spec.Name,
				OmitPositionAIS: c.cfg.OmitAIS, // not even built
			}),
			read:    c.m.read.WithLabelValues(spec.Name),
			decoded: c.m.decoded.WithLabelValues(spec.Name),
			dropped: c.m.dropped.WithLabelValues(spec.Name),
		}
		states[i] = st
		connected := c.m.inputUp.WithLabelValues(spec.Name)
		r := &runner{
			spec: spec, log: c.log.With("input", spec.Name), in: c.cfg.Stdin,
			out: &sink{idx: i, live: live, bulk: bulk, free: free, blocking: spec.Finite() || spec.Kind == KindFile,
				onDrop: func(n int) { st.dropped.Add(float64(n)) }, onRead: func(n int) { st.read.Add(float64(n)) }},
			connected: func(up bool) {
				if up {
					connected.Set(1)
				} else {
					connected.Set(0)
				}
			},
		}
		if spec.Kind == KindFile {
			if p, ok := c.spool.Position(spec.Name); ok {
				r.start = p
			}
		}
		// A read from stdin cannot be interrupted: its goroutine is not
		// waited for (it ends with the process; its sends watch ctx).
		wait := spec.Kind != KindStdin
		if wait {
			wg.Add(1)
		}
		go func() {
			if wait {
				defer wg.Done()
			}
			if err := r.run(inCtx); err != nil {
				inputErr <- err
			}
		}()
	}

	sendCtx, stopSend := context.WithCancel(context.Background())
	defer stopSend()
	allDone := make(chan struct{}) // closed when every finite input is spooled
	sendErr := make(chan error, 1)
	go func() {
		err := c.send(sendCtx, allDone)
		if err != nil && !errors.Is(err, errDrained) && sendCtx.Err() == nil {
			stopInputs() // the sender failed for good (spool error): stop
		}
		sendErr <- err
	}()

	perr := c.pipeline(inCtx, live, bulk, free, states, inputErr, allDone)
	stopInputs()
	wg.Wait()
	if perr != nil {
		stopSend()
		<-sendErr
		return perr
	}
	if ctx.Err() == nil {
		// every input ended (or the sender failed): wait until the sender
		// has everything acknowledged, or until shutdown
		select {
		case err := <-sendErr:
			if errors.Is(err, errDrained) {
				c.log.Info("all inputs ended and every event acknowledged")
				return nil
			}
			return err
		case <-ctx.Done():
		}
	}
	// Shutdown: give the sender a bounded time to drain the spool.
	c.log.Info("shutting down: flushing", "pending_events", c.spool.Pending(), "timeout", c.cfg.ShutdownTimeout)
	t := time.AfterFunc(c.cfg.ShutdownTimeout, stopSend)
	defer t.Stop()
	select {
	case <-c.drained(sendCtx):
	case <-sendCtx.Done():
	}
	stopSend()
	<-sendErr
	c.log.Info("stopped", "unsent_events_kept", c.spool.Pending())
	return nil
}

// drained returns a channel closed once the spool is empty.
func (c *Collector) drained(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		for !c.spool.Drained() && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return ch
}

var errDrained = errors.New("ingest: drained")

// pipe is the state of the decoding goroutine.
type pipe struct {
	c      *Collector
	states []*inputState
	batch  Batch
	ev     keelson.Event // filled over and over (decode.Decoder.Fill)
	buf    []byte
	key    []byte
	// the line being decoded (for emit)
	st       *inputState
	l        *Line
	n        int    // events of the line
	firstKey []byte // key of the line's first event (raw topic)
	emitFn   func(*decode.Message)
	seq      uint64
	ended    int
	finite   int
	allDone  chan struct{}
}

// pipeline decodes lines, numbers events and spools them in batches. It
// returns nil when ctx is done or every input ended.
func (c *Collector) pipeline(ctx context.Context, live <-chan []Line, bulk <-chan *chunk, free chan<- *chunk, states []*inputState, inputErr <-chan error, allDone chan struct{}) error {
	p := &pipe{c: c, states: states, seq: max(c.spool.NextSeq(), 1), allDone: allDone}
	p.emitFn = p.emit // one closure, not one per line
	for _, st := range states {
		if st.spec.Finite() {
			p.finite++
		}
	}
	tick := time.NewTicker(c.cfg.BatchDelay / 2)
	defer tick.Stop()
	for {
		var ls []Line
		select {
		case <-ctx.Done():
			// shutdown: decode what live inputs already queued (file
			// lines not yet decoded are simply read again next time)
			for {
				select {
				case ls := <-live:
					for i := range ls {
						if _, err := p.line(&ls[i]); err != nil {
							return err
						}
					}
					continue
				default:
				}
				break
			}
			return p.flush()
		case err := <-inputErr:
			p.flush()
			return err
		case <-tick.C:
			if p.batch.Age() >= c.cfg.BatchDelay || p.batch.Len() == 0 && !p.batch.Empty() {
				if err := p.flush(); err != nil {
					return err
				}
			}
			continue
		case ls = <-live:
		case ch := <-bulk:
			for i := range ch.lines {
				done, err := p.line(&ch.lines[i])
				if err != nil || done {
					return err
				}
			}
			p.countDecoded()
			select {
			case free <- ch: // nothing refers to its lines any more
			default:
			}
			continue
		}
		for i := range ls {
			done, err := p.line(&ls[i])
			if err != nil || done {
				return err
			}
		}
		p.countDecoded()
	}
}

// countDecoded adds the events decoded since the last call to the
// inputs' counters (once per chunk of lines, not per line).
func (p *pipe) countDecoded() {
	for _, st := range p.states {
		if st.ndecoded > 0 {
			st.decoded.Add(float64(st.ndecoded))
			st.ndecoded = 0
		}
	}
}

// flush appends the batch to the spool.
func (p *pipe) flush() error {
	p.countDecoded()
	if p.batch.Empty() {
		return nil
	}
	c := p.c
	err := c.spool.Append(&p.batch)
	if err != nil {
		c.m.spoolErrors.Inc()
		c.log.Error("spool append failed: events lost", "events", p.batch.Events, "err", err)
		if !errors.Is(err, ErrSpoolFull) {
			return err
		}
	} else {
		c.m.spooled.Add(float64(p.batch.Events))
	}
	p.batch.Reset()
	return nil
}

// line decodes one line into the batch; done reports that every input
// ended.
func (p *pipe) line(l *Line) (done bool, err error) {
	c := p.c
	st := p.states[l.Input]
	if l.EOF {
		if n := st.dec.Flush(); n > 0 {
			c.m.failed.WithLabelValues(st.spec.Name, "fragment_lost").Add(float64(n))
		}
		if st.spec.Kind == KindFile {
			p.batch.SetPosition(st.spec.Name, l.Pos)
		}
		if err := p.flush(); err != nil {
			return false, err
		}
		st.done = true
		p.ended++
		c.log.Info("input ended", "input", st.spec.Name)
		if p.ended == p.finite && p.finite == len(p.states) {
			close(p.allDone)
			return true, nil
		}
		return false, nil
	}
	p.st, p.l, p.n = st, l, 0
	err = st.dec.Scan(l.Data, l.Recv, p.emitFn)
	if err != nil {
		c.m.failed.WithLabelValues(st.spec.Name, decode.ErrorName(err)).Inc()
	}
	if l.Skip {
		// re-read after a restart only to rebuild the decoder's state:
		// these events are already spooled
		return false, nil
	}
	st.ndecoded += p.n // counted per chunk (see countDecoded)
	if c.cfg.Raw {
		key := []byte(st.spec.Name)
		if p.n > 0 {
			key = p.firstKey
		}
		p.buf = appendRaw(p.buf[:0], c.cfg.Collector, st.spec.Name, l.Recv, l.Data)
		p.batch.Add(TopicIndexRaw, key, p.buf)
	}
	if st.spec.Kind == KindFile {
		p.batch.SetPosition(st.spec.Name, l.Pos)
	}
	if p.batch.Events >= c.cfg.BatchEvents || p.batch.Size() >= 512<<10 {
		return false, p.flush()
	}
	return false, nil
}

// emit numbers one decoded message of the line p.l and adds its event to
// the batch. It fills one reused Event (decode.Decoder.Fill reuses its
// payload structs and AIS buffer): no allocation per event.
func (p *pipe) emit(m *decode.Message) {
	c, st, l := p.c, p.st, p.l
	if l.Skip {
		return // already spooled: only the decoder's state matters
	}
	ev := &p.ev
	st.dec.Fill(ev, m, l.Recv)
	if p.batch.Events == 0 {
		p.batch.FirstSeq = p.seq
	}
	ev.ID = keelson.EventID{Collector: c.cfg.Collector, Boot: c.boot, Seq: p.seq}
	p.seq++
	p.n++
	if ev.Source.Collector == "" {
		ev.Source.Collector = c.cfg.Collector
	}
	if ev.Source.Input == "" {
		ev.Source.Input = st.spec.Name
	}
	if !l.Orig.IsZero() {
		if st.spec.Shift {
			if !ev.TagTime.IsZero() {
				ev.TagTime = ev.TagTime.Add(l.Recv.Sub(l.Orig))
			}
		} else {
			ev.Flags |= keelson.FlagTimeFromTag
		}
	}
	p.buf = ev.AppendJSON(p.buf[:0])
	p.key = appendKey(p.key[:0], ev)
	if p.n == 1 && c.cfg.Raw {
		p.firstKey = append(p.firstKey[:0], p.key...)
	}
	p.batch.Add(TopicIndexEvents, p.key, p.buf)
}

// appendKey appends ev.Key() to b without allocating.
func appendKey(b []byte, ev *keelson.Event) []byte {
	switch {
	case ev.MMSI != 0:
		return ev.MMSI.AppendText(b)
	case ev.Vessel != "":
		return append(b, ev.Vessel...)
	}
	return append(b, ev.Source.Collector...)
}

// appendRaw encodes a raw sentence message for bus.TopicRaw.
func appendRaw(b []byte, collector, input string, recv time.Time, line []byte) []byte {
	b = append(b, `{"collector":`...)
	b = strconv.AppendQuote(b, collector)
	b = append(b, `,"input":`...)
	b = strconv.AppendQuote(b, input)
	b = append(b, `,"received":"`...)
	b = recv.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","line":`...)
	b = strconv.AppendQuote(b, string(line))
	return append(b, '}')
}

// send forwards spooled records to Kafka in order, retrying with backoff
// while the broker is unreachable, and acknowledges them in the spool.
// Records ready together (a backlog, or those spooled within SendLinger)
// go in one write of up to SendEvents events: bigger batches compress far
// better, which matters on a thin link. It returns errDrained once allDone
// is closed and nothing is pending.
func (c *Collector) send(ctx context.Context, allDone <-chan struct{}) error {
	wo := c.cfg.Writer
	if wo.BatchSize == 0 {
		wo.BatchSize = 2500
	}
	w, err := c.cfg.Kafka.NewWriter("", wo)
	if err != nil {
		return err
	}
	defer w.Close()
	topics := [...]string{TopicIndexEvents: bus.TopicEvents, TopicIndexRaw: bus.TopicRaw}
	linkUp := true
	c.m.link.Set(1)
	finished := false
	drained := func() bool {
		if !finished {
			select {
			case <-allDone:
				finished = true
			default:
			}
		}
		return finished && c.spool.Drained()
	}
	var (
		msgs   = make([]kafka.Message, 0, c.cfg.SendEvents+c.cfg.BatchEvents)
		frames []*Frame
	)
	for {
		// the first record: wait for it, checking for the end of the inputs
		frames = frames[:0]
		for len(frames) == 0 {
			nctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			fr, err := c.spool.Next(nctx)
			cancel()
			switch {
			case err == nil:
				frames = append(frames, fr)
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, context.DeadlineExceeded):
				if drained() {
					return errDrained
				}
			default:
				return err
			}
		}
		// more records: those ready now, or spooled within the linger
		events := frames[0].Events
		lctx, cancel := context.WithTimeout(ctx, c.cfg.SendLinger)
		if !finished {
			// once every input has ended nothing more will come: stop
			// waiting (a backfill would otherwise end with a full linger)
			go func() {
				select {
				case <-allDone:
					cancel()
				case <-lctx.Done():
				}
			}()
		} else {
			cancel() // take what is ready, do not wait
		}
		for events < c.cfg.SendEvents {
			fr, err := c.spool.Next(lctx)
			if err != nil {
				break
			}
			frames = append(frames, fr)
			events += fr.Events
		}
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msgs = msgs[:0]
		for _, fr := range frames {
			for _, m := range fr.Msgs {
				t := bus.TopicEvents
				if int(m.Topic) < len(topics) {
					t = topics[m.Topic]
				}
				msgs = append(msgs, kafka.Message{Topic: t, Key: m.Key, Value: m.Value})
			}
		}
		bo := backoff{max: 10 * time.Second}
		pending := msgs
		for len(pending) > 0 {
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := w.WriteMessages(wctx, pending...)
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// retry only the messages that failed, so that none is written
			// twice into its partition
			var we kafka.WriteErrors
			if errors.As(err, &we) && len(we) == len(pending) {
				var failed []kafka.Message
				for i, e := range we {
					if e != nil {
						failed = append(failed, pending[i])
					}
				}
				pending = failed
			}
			err = bus.MapError(err)
			c.m.sendErrors.WithLabelValues(sendReason(err)).Inc()
			if linkUp {
				c.log.Warn("kafka write failed; spooling until the link returns", "err", err, "pending_events", c.spool.Pending())
				linkUp = false
				c.m.link.Set(0)
			}
			bo.d += time.Duration(rand.Int64N(int64(50 * time.Millisecond))) // jitter
			if bo.wait(ctx) != nil {
				return ctx.Err()
			}
		}
		if !linkUp {
			linkUp = true
			c.m.link.Set(1)
			c.log.Info("kafka link up again", "pending_events", c.spool.Pending())
		}
		for _, fr := range frames {
			if err := c.spool.Ack(fr); err != nil {
				return err
			}
			c.m.sent.Add(float64(fr.Events))
			c.spool.Release(fr)
		}
		clear(msgs)
		clear(frames)
		if drained() {
			return errDrained
		}
	}
}

func sendReason(err error) string {
	switch {
	case errors.Is(err, bus.ErrAuth):
		return "auth"
	case errors.Is(err, bus.ErrUnreachable):
		return "unreachable"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "other"
}
