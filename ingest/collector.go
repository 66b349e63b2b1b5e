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
	// Writer tunes the Kafka writer.
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
	if c.BatchEvents < 0 || c.QueueLines < 0 || c.BatchDelay < 0 || c.ShutdownTimeout < 0 {
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
	skipped bool
	read    prometheus.Counter
	decoded prometheus.Counter
	dropped prometheus.Counter
}

// Run runs until ctx is done (then flushes within ShutdownTimeout and
// returns nil), or until every input has ended (files without loop, stdin)
// and all their events are acknowledged by Kafka (returns nil). The spool
// is closed on return.
func (c *Collector) Run(ctx context.Context) error {
	defer c.spool.Close()
	lines := make(chan Line, c.cfg.QueueLines)
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
			}),
			read:    c.m.read.WithLabelValues(spec.Name),
			decoded: c.m.decoded.WithLabelValues(spec.Name),
			dropped: c.m.dropped.WithLabelValues(spec.Name),
		}
		states[i] = st
		connected := c.m.inputUp.WithLabelValues(spec.Name)
		r := &runner{
			spec: spec, log: c.log.With("input", spec.Name), in: c.cfg.Stdin,
			out: &sink{idx: i, ch: lines, onDrop: st.dropped.Inc, onRead: st.read.Inc},
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

	perr := c.pipeline(inCtx, lines, states, inputErr, allDone)
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

// pipeline decodes lines, numbers events and spools them in batches. It
// returns nil when ctx is done or every input ended.
func (c *Collector) pipeline(ctx context.Context, lines <-chan Line, states []*inputState, inputErr <-chan error, allDone chan struct{}) error {
	var (
		batch  Batch
		evs    []keelson.Event
		buf    []byte
		seq    = c.spool.NextSeq()
		tick   = time.NewTicker(c.cfg.BatchDelay / 2)
		ended  int
		finite int
	)
	if seq == 0 {
		seq = 1
	}
	defer tick.Stop()
	for _, st := range states {
		if st.spec.Finite() {
			finite++
		}
	}
	flush := func() error {
		if batch.Empty() {
			return nil
		}
		err := c.spool.Append(&batch)
		if err != nil {
			c.m.spoolErrors.Inc()
			c.log.Error("spool append failed: events lost", "events", batch.Events, "err", err)
			if !errors.Is(err, ErrSpoolFull) {
				return err
			}
		} else {
			c.m.spooled.Add(float64(batch.Events))
		}
		batch.Reset()
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return flush()
		case err := <-inputErr:
			flush()
			return err
		case <-tick.C:
			if batch.Age() >= c.cfg.BatchDelay || batch.Len() == 0 && !batch.Empty() {
				if err := flush(); err != nil {
					return err
				}
			}
		case l := <-lines:
			st := states[l.Input]
			if l.EOF {
				n := st.dec.Flush()
				if n > 0 {
					c.m.failed.WithLabelValues(st.spec.Name, "fragment_lost").Add(float64(n))
				}
				if st.spec.Kind == KindFile {
					batch.SetPosition(st.spec.Name, l.Pos)
				}
				if err := flush(); err != nil {
					return err
				}
				st.done = true
				ended++
				c.log.Info("input ended", "input", st.spec.Name)
				if ended == finite && finite == len(states) {
					close(allDone)
					return nil
				}
				continue
			}
			var err error
			evs, err = st.dec.Decode(evs[:0], l.Data, l.Recv)
			if err != nil {
				c.m.failed.WithLabelValues(st.spec.Name, decode.ErrorName(err)).Inc()
			}
			if l.Skip {
				// re-read after a restart: these events are already spooled
				continue
			}
			if batch.Len() == 0 {
				batch.FirstSeq = seq
			}
			for i := range evs {
				ev := &evs[i]
				ev.ID = keelson.EventID{Collector: c.cfg.Collector, Boot: c.boot, Seq: seq}
				seq++
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
				buf = ev.AppendJSON(buf[:0])
				batch.Add(TopicIndexEvents, ev.Key(), buf)
			}
			st.decoded.Add(float64(len(evs)))
			if c.cfg.Raw {
				key := []byte(st.spec.Name)
				if len(evs) > 0 {
					key = evs[0].Key()
				}
				buf = appendRaw(buf[:0], c.cfg.Collector, st.spec.Name, l.Recv, l.Data)
				batch.Add(TopicIndexRaw, key, buf)
			}
			if st.spec.Kind == KindFile {
				batch.SetPosition(st.spec.Name, l.Pos)
			}
			if batch.Events >= c.cfg.BatchEvents || batch.Size() >= 512<<10 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
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
// It returns errDrained once allDone is closed and nothing is pending.
func (c *Collector) send(ctx context.Context, allDone <-chan struct{}) error {
	w, err := c.cfg.Kafka.NewWriter("", c.cfg.Writer)
	if err != nil {
		return err
	}
	defer w.Close()
	topics := [...]string{TopicIndexEvents: bus.TopicEvents, TopicIndexRaw: bus.TopicRaw}
	var msgs []kafka.Message
	frames := make(chan *Frame)
	nextErr := make(chan error, 1)
	want := make(chan struct{})
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-want:
			}
			fr, err := c.spool.Next(ctx)
			if err != nil {
				nextErr <- err
				return
			}
			select {
			case frames <- fr:
			case <-ctx.Done():
				return
			}
		}
	}()
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
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		// ask for a frame; meanwhile watch for the end of finite inputs
		select {
		case want <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		var fr *Frame
	wait:
		for {
			select {
			case fr = <-frames:
				break wait
			case err := <-nextErr:
				return err
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
				if drained() {
					return errDrained
				}
			}
		}
		msgs = msgs[:0]
		for _, m := range fr.Msgs {
			t := bus.TopicEvents
			if int(m.Topic) < len(topics) {
				t = topics[m.Topic]
			}
			msgs = append(msgs, kafka.Message{Topic: t, Key: m.Key, Value: m.Value})
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
			// jittered backoff
			bo.d += time.Duration(rand.Int64N(int64(50 * time.Millisecond)))
			if bo.wait(ctx) != nil {
				return ctx.Err()
			}
		}
		if !linkUp {
			linkUp = true
			c.m.link.Set(1)
			c.log.Info("kafka link up again", "pending_events", c.spool.Pending())
		}
		if err := c.spool.Ack(fr); err != nil {
			return err
		}
		c.m.sent.Add(float64(fr.Events))
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
