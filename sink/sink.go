// Package sink lands Keelson events from Kafka in ClickHouse, effectively
// once: a kafka-go consumer group reads keelson.events, the sink batches the
// messages (by count or time), inserts the batch through package storage
// with an insert_deduplication_token naming the batch's offset ranges, and
// only then commits the offsets. A batch that fails to insert is retried
// with backoff, unchanged and under the same token, for as long as it takes;
// nothing is ever committed ahead of ClickHouse. A crash between insert and
// commit replays the batch; the tables collapse the duplicates (see
// docs/storage.md). Messages that cannot be decoded go to keelson.dlq with
// the reason in the keelson-error header and never stop a partition.
package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/keelson/keelson"
	"github.com/keelson/keelson/bus"
	"github.com/keelson/keelson/storage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// Errors.
var (
	// ErrConfig is wrapped by Validate errors.
	ErrConfig = errors.New("sink: invalid configuration")
	// ErrPoison is wrapped by the reason of every dead letter.
	ErrPoison = errors.New("sink: undecodable message")
)

// Config configures a Sink. The zero value (plus Bus) consumes keelson.events
// in group keelson-sink, in batches of 200,000 events or 1 s.
type Config struct {
	// Bus is the Kafka connection.
	Bus bus.Config
	// Topics to consume. Empty: [bus.TopicEvents].
	Topics []string
	// Group is the consumer group. Empty: "keelson-sink".
	Group string
	// BatchSize is the most events per insert. Zero: 200000 (fewer,
	// bigger parts: per event, a 200k-event insert and the merges after it
	// cost the embedded engine ~25% less CPU than 50k-event ones; at low
	// rates BatchTime ends a batch first).
	BatchSize int
	// BatchTime is the longest a batch waits for more events. Zero: 1s.
	BatchTime time.Duration
	// Drain makes Run stop, returning nil, once it has committed every
	// message below the high-water marks seen when it started.
	Drain bool
	// SessionTimeout is the consumer group session timeout: how long the
	// group waits for a member that stopped heartbeating (a crashed sink)
	// before giving its partitions to another. Zero: 10s.
	SessionTimeout time.Duration
	// DLQTopic receives dead letters. Empty: bus.TopicDLQ.
	DLQTopic string
	// RetryMin and RetryMax bound the backoff between retries of a failed
	// insert or commit. Zero: 100ms and 10s.
	RetryMin, RetryMax time.Duration
	// OnBatch, when set, is called after each batch is landed and
	// committed, with its message count (tests, progress).
	OnBatch func(messages int)
	// Logger receives the sink's logs. Nil: discarded.
	Logger *slog.Logger
	// Registry receives the sink's metrics. Nil: not registered.
	Registry prometheus.Registerer
}

func (c *Config) defaults() {
	if len(c.Topics) == 0 {
		c.Topics = []string{bus.TopicEvents}
	}
	if c.Group == "" {
		c.Group = "keelson-sink"
	}
	if c.BatchSize == 0 {
		c.BatchSize = 200_000
	}
	if c.BatchTime == 0 {
		c.BatchTime = time.Second
	}
	if c.DLQTopic == "" {
		c.DLQTopic = bus.TopicDLQ
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.RetryMin == 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks the configuration (after applying defaults).
func (c *Config) Validate() error {
	c.defaults()
	switch {
	case c.BatchSize < 1 || c.BatchSize > 10_000_000:
		return fmt.Errorf("%w: BatchSize %d: must be 1..10000000", ErrConfig, c.BatchSize)
	case c.BatchTime < time.Millisecond:
		return fmt.Errorf("%w: BatchTime %v: must be at least 1ms", ErrConfig, c.BatchTime)
	case c.SessionTimeout < time.Second:
		return fmt.Errorf("%w: SessionTimeout %v: must be at least 1s", ErrConfig, c.SessionTimeout)
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return fmt.Errorf("%w: RetryMin %v / RetryMax %v", ErrConfig, c.RetryMin, c.RetryMax)
	}
	for _, t := range c.Topics {
		if t == "" || t == c.DLQTopic {
			return fmt.Errorf("%w: Topics: %q cannot be consumed", ErrConfig, t)
		}
	}
	return c.Bus.Validate()
}

// Sink is a running consumer; create with New, then Run.
type Sink struct {
	cfg Config
	db  *storage.DB
	log *slog.Logger
	m   *metrics

	reader *kafka.Reader
	dlq    *kafka.Writer
}

// New returns a sink writing to db.
func New(cfg Config, db *storage.DB) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	return &Sink{cfg: cfg, db: db, log: cfg.Logger.With("component", "sink"), m: m}, nil
}

// pending is one batch: the events (as storage columns), the dead letters,
// and per partition the offset range and the last message (for the commit).
type pending struct {
	batch   *storage.Batch
	dead    []kafka.Message
	reasons []string
	ranges  map[tp]*rng
	count   int
	started time.Time
}

type tp struct {
	topic     string
	partition int
}

type rng struct {
	first, last int64
	msg         kafka.Message
}

func (p *pending) reset() {
	p.batch.Reset()
	p.dead, p.reasons = p.dead[:0], p.reasons[:0]
	clear(p.ranges)
	p.count = 0
}

// token names the batch by its offset ranges.
func (p *pending) token() string {
	keys := make([]string, 0, len(p.ranges))
	for k, r := range p.ranges {
		keys = append(keys, k.topic+":"+strconv.Itoa(k.partition)+":"+strconv.FormatInt(r.first, 10)+"-"+strconv.FormatInt(r.last, 10))
	}
	sort.Strings(keys)
	s := strings.Join(keys, ",")
	if len(s) <= 200 {
		return s
	}
	return "h" + strconv.FormatUint(xxhash.Sum64String(s), 16)
}

// Run consumes until ctx is done (returning ctx's error after the batch in
// hand is either landed or abandoned uncommitted) or, with Drain, until the
// start's high-water marks are committed (returning nil).
func (s *Sink) Run(ctx context.Context) error {
	var hwm map[tp]int64
	pos := map[tp]int64{}
	if s.cfg.Drain {
		var err error
		hwm, pos, err = s.drainTargets(ctx)
		if err != nil {
			return err
		}
		if drained(hwm, pos) {
			s.log.Info("drain: nothing to consume")
			return nil
		}
	}
	rc := s.cfg.Bus.ReaderConfig(s.cfg.Group, s.cfg.Topics...)
	rc.Logger = nil
	rc.ErrorLogger = newKafkaErrorLog(s.log, s.m.retries.WithLabelValues("fetch_timeout"))
	rc.MaxWait = max(rc.MaxWait, readerMaxWait)
	rc.QueueCapacity = 10000
	rc.SessionTimeout = s.cfg.SessionTimeout
	rc.HeartbeatInterval = max(s.cfg.SessionTimeout/10, 100*time.Millisecond)
	rc.JoinGroupBackoff = 500 * time.Millisecond
	s.reader = kafka.NewReader(rc)
	defer s.reader.Close()
	w, err := s.cfg.Bus.NewWriter(s.cfg.DLQTopic)
	if err != nil {
		return err
	}
	s.dlq = w
	defer s.dlq.Close()

	// Two batches alternate: one fills (fetch + decode, this goroutine)
	// while the other lands (DLQ, insert, commit, the flusher goroutine).
	// Batches land and commit in order; a full batch waits for the flusher.
	free := make(chan *pending, 2)
	for range 2 {
		free <- &pending{batch: storage.NewBatch(), ranges: map[tp]*rng{}}
	}
	full := make(chan *pending)
	flushErr := make(chan error, 1)
	fctx, stopFlusher := context.WithCancel(ctx)
	defer stopFlusher()
	go func() {
		defer close(flushErr)
		for p := range full {
			if err := s.flush(fctx, p); err != nil {
				flushErr <- err
				stopFlusher()
				for range full { // unblock the filler until it sees the error
				}
				return
			}
			free <- p
		}
	}()
	// finish hands over the batch in hand, if any, then waits for every
	// batch to land.
	finish := func(p *pending) error {
		if p != nil && p.count > 0 {
			select {
			case full <- p:
			case err := <-flushErr:
				close(full)
				return err
			}
		}
		close(full)
		return <-flushErr
	}
	var p *pending
	select {
	case p = <-free:
	case <-ctx.Done():
		return finish(nil)
	}
	handOver := func() error {
		select {
		case full <- p:
		case err := <-flushErr:
			close(full)
			return err
		}
		select {
		case p = <-free:
			return nil
		case err := <-flushErr:
			close(full)
			return err
		}
	}
	var ev keelson.Event
	lags := map[tp]prometheus.Gauge{} // the lag gauge of each partition seen
	// One deadline context per batch: until BatchSize events or BatchTime
	// after the first.
	var dl struct {
		ctx    context.Context
		cancel context.CancelFunc
	}
	dl.ctx, dl.cancel = fctx, func() {}
	defer func() { dl.cancel() }()
	for {
		if p.count == 0 && dl.ctx != fctx {
			dl.cancel()
			dl.ctx, dl.cancel = fctx, func() {}
		}
		msg, err := s.reader.FetchMessage(dl.ctx)
		if err != nil {
			if fctx.Err() != nil {
				// ctx ended, or the flusher failed: what is in hand is
				// not committed and will be read again.
				if e := finish(nil); e != nil && ctx.Err() == nil {
					return e
				}
				return ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				if err := handOver(); err != nil {
					return err
				}
				continue
			}
			s.log.Warn("fetch failed", "err", bus.MapError(err))
			s.m.retries.WithLabelValues("fetch").Inc()
			if err := sleep(fctx, s.cfg.RetryMin); err != nil {
				continue
			}
			continue
		}
		if p.count == 0 {
			p.started = time.Now()
			dl.ctx, dl.cancel = context.WithDeadline(fctx, p.started.Add(s.cfg.BatchTime))
		}
		p.count++
		s.m.consumed.Inc()
		k := tp{msg.Topic, msg.Partition}
		if r := p.ranges[k]; r == nil {
			p.ranges[k] = &rng{first: msg.Offset, last: msg.Offset, msg: msg}
		} else {
			r.last, r.msg = msg.Offset, msg
		}
		g := lags[k]
		if g == nil {
			g = s.m.lag.WithLabelValues(msg.Topic, strconv.Itoa(msg.Partition))
			lags[k] = g
		}
		g.Set(float64(msg.HighWaterMark - msg.Offset - 1))
		if reason := decodeMessage(&ev, msg.Value); reason != nil {
			p.dead = append(p.dead, msg)
			p.reasons = append(p.reasons, reason.Error())
		} else {
			p.batch.Add(&ev)
		}
		if hwm != nil {
			pos[k] = msg.Offset + 1
			if drained(hwm, pos) {
				// Everything below the start's high-water marks is in
				// hand: land it all and stop.
				return finish(p)
			}
		}
		if p.count >= s.cfg.BatchSize {
			if err := handOver(); err != nil {
				return err
			}
		}
	}
}

// Position and Static decode with json v2 and the same "absent is not
// available" defaults as their UnmarshalJSON methods, which go through
// encoding/json (a sixth of the sink's time).
type (
	plainPosition keelson.Position
	plainStatic   keelson.Static
)

var unmarshalOpts = jsonv2.WithUnmarshalers(jsonv2.JoinUnmarshalers(
	jsonv2.UnmarshalFunc(func(b []byte, p *keelson.Position) error {
		v := plainPosition{Altitude: keelson.NA, HDOP: keelson.NA, SOG: keelson.NA, COG: keelson.NA, Heading: keelson.NA, ROT: keelson.NA}
		if err := jsonv2.Unmarshal(b, &v); err != nil {
			return err
		}
		*p = keelson.Position(v)
		return nil
	}),
	jsonv2.UnmarshalFunc(func(b []byte, s *keelson.Static) error {
		v := plainStatic{Draught: keelson.NA}
		if err := jsonv2.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = keelson.Static(v)
		return nil
	}),
))

// decodeMessage parses one message into ev (reset first).
func decodeMessage(ev *keelson.Event, b []byte) error {
	*ev = keelson.Event{}
	if !fastDecode(ev, b) {
		*ev = keelson.Event{}
		if err := jsonv2.Unmarshal(b, ev, unmarshalOpts); err != nil {
			return fmt.Errorf("%w: %v", ErrPoison, err)
		}
	}
	if ev.ID.IsZero() {
		return fmt.Errorf("%w: event has no id", ErrPoison)
	}
	if ev.V > keelson.SchemaVersion {
		return fmt.Errorf("%w: event schema version %d is newer than this sink's %d", ErrPoison, ev.V, keelson.SchemaVersion)
	}
	switch {
	case ev.Kind == keelson.KindPosition && ev.Position == nil,
		ev.Kind == keelson.KindStatic && ev.Static == nil,
		ev.Kind == keelson.KindObservation && ev.Observation == nil,
		ev.Kind == keelson.KindTelemetry && ev.Telemetry == nil:
		return fmt.Errorf("%w: %s event without its payload", ErrPoison, ev.Kind)
	}
	return nil
}

// flush lands the batch: dead letters to the DLQ, rows to ClickHouse, then
// the offsets. Each step is retried with backoff until it succeeds or ctx
// ends; on ctx's end nothing further is committed.
func (s *Sink) flush(ctx context.Context, p *pending) error {
	if p.count == 0 {
		return nil
	}
	start := time.Now()
	token := p.token()
	if len(p.dead) > 0 {
		msgs := make([]kafka.Message, len(p.dead))
		for i, m := range p.dead {
			msgs[i] = kafka.Message{Key: m.Key, Value: m.Value, Headers: append(m.Headers[:len(m.Headers):len(m.Headers)],
				kafka.Header{Key: bus.HeaderError, Value: []byte(p.reasons[i])},
				kafka.Header{Key: "keelson-source", Value: []byte(m.Topic + "/" + strconv.Itoa(m.Partition) + "/" + strconv.FormatInt(m.Offset, 10))})}
		}
		if err := s.retry(ctx, "dlq", func() error { return s.dlq.WriteMessages(ctx, msgs...) }); err != nil {
			return err
		}
		for i := range p.dead {
			s.log.Warn("dead letter", "topic", p.dead[i].Topic, "partition", p.dead[i].Partition, "offset", p.dead[i].Offset, "reason", p.reasons[i])
		}
		s.m.dead.Add(float64(len(p.dead)))
	}
	if p.batch.Len() > 0 {
		if err := s.retry(ctx, "insert", func() error { return s.db.InsertEvents(ctx, p.batch, token) }); err != nil {
			return err
		}
		s.m.inserted.Add(float64(p.batch.Len()))
		for t, n := range p.batch.Rows() {
			if n > 0 {
				s.m.rows.WithLabelValues(t).Add(float64(n))
			}
		}
	}
	msgs := make([]kafka.Message, 0, len(p.ranges))
	for _, r := range p.ranges {
		msgs = append(msgs, r.msg)
	}
	tries := 0
	err := s.retry(ctx, "commit", func() error {
		tries++
		err := s.reader.CommitMessages(ctx, msgs...)
		if err != nil && tries >= 10 {
			// The rows are in; a consumer that re-reads them lands
			// duplicates that the tables collapse. Go on.
			s.log.Error("commit failed; the batch will be replayed", "token", token, "err", err)
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	d := time.Since(start)
	s.m.batchSeconds.Observe(d.Seconds())
	s.m.batches.Inc()
	s.log.Debug("batch landed", "events", p.batch.Len(), "dead", len(p.dead), "token", token, "took", d)
	if s.cfg.OnBatch != nil {
		s.cfg.OnBatch(p.count)
	}
	p.reset()
	return nil
}

// retry runs f until it succeeds, with exponential backoff, or ctx ends.
func (s *Sink) retry(ctx context.Context, op string, f func() error) error {
	wait := s.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.m.retries.WithLabelValues(op).Inc()
		s.log.Warn("retrying", "op", op, "attempt", attempt, "in", wait, "err", err)
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(wait*2, s.cfg.RetryMax)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func drained(hwm, pos map[tp]int64) bool {
	for k, h := range hwm {
		if pos[k] < h {
			return false
		}
	}
	return true
}

// drainTargets returns the high-water mark of every partition of the topics
// and the group's position in each (committed offset, else the first).
func (s *Sink) drainTargets(ctx context.Context) (hwm, pos map[tp]int64, err error) {
	cl, err := s.cfg.Bus.Client()
	if err != nil {
		return nil, nil, err
	}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: s.cfg.Topics})
	if err != nil {
		return nil, nil, bus.MapError(fmt.Errorf("sink: drain: metadata: %w", err))
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	ofr := &kafka.OffsetFetchRequest{GroupID: s.cfg.Group, Topics: map[string][]int{}}
	for _, t := range md.Topics {
		if t.Error != nil {
			if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
				continue // nothing to drain
			}
			return nil, nil, fmt.Errorf("sink: drain: topic %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			req.Topics[t.Name] = append(req.Topics[t.Name], kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
			ofr.Topics[t.Name] = append(ofr.Topics[t.Name], p.ID)
		}
	}
	hwm, pos = map[tp]int64{}, map[tp]int64{}
	if len(req.Topics) == 0 {
		return hwm, pos, nil
	}
	lo, err := cl.ListOffsets(ctx, req)
	if err != nil {
		return nil, nil, bus.MapError(fmt.Errorf("sink: drain: list offsets: %w", err))
	}
	for t, ps := range lo.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, nil, fmt.Errorf("sink: drain: %s/%d: %w", t, p.Partition, p.Error)
			}
			k := tp{t, p.Partition}
			hwm[k] = p.LastOffset
			pos[k] = p.FirstOffset
		}
	}
	of, err := cl.OffsetFetch(ctx, ofr)
	if err != nil {
		return nil, nil, bus.MapError(fmt.Errorf("sink: drain: offset fetch: %w", err))
	}
	for t, ps := range of.Topics {
		for _, p := range ps {
			if p.CommittedOffset >= 0 && p.Error == nil {
				pos[tp{t, p.Partition}] = max(pos[tp{t, p.Partition}], p.CommittedOffset)
			}
		}
	}
	s.log.Info("drain: targets", "partitions", len(hwm))
	return hwm, pos, nil
}
