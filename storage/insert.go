package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/keelson/keelson"
)

// Batch accumulates decoded events as columns, one block per table, ready
// for InsertEvents. It is not safe for concurrent use; Reset reuses its
// memory.
type Batch struct {
	events, positions, statics, observations, telemetry, messages *block
	n                                                             int
	// intern holds one copy of each short repeated string (collector,
	// station, class, kind, receiver, quantity, unit ...).
	intern map[string]string
	rcvs   map[string][]string // one shared, never modified {receiver} per receiver

	// column handles
	ev struct {
		collector, kind *colStr
		boot            *colI64
		seq             *colU64
		received        *colTime
	}
	pos struct {
		mmsi                                       *colU32
		vessel, class                              *colStr
		ts                                         *colTime
		lat, lon                                   *colI32
		aisType, nav, acc, raim, second, fix, sats *colU8
		sog, cog, heading                          *colU16 // hundredths, 65535 n/a
		rot, alt, hdop                             *colF32
		flags                                      *colU16
		rx                                         *colRx
		receivers                                  *colStrs
	}
	st struct {
		mmsi, imo, mother                                   *colU32
		aisType, shipType, toPort, toStar, epfd, virt, offp *colU8
		part, callsign, name, eta, dest, vendor             *colStr
		content                                             *colU64
		toBow, toStern                                      *colU16
		draught                                             *colF32
		lat, lon                                            *colI32
		first, last                                         *colTime
		seen                                                *colU64
		receivers                                           *colStrs
	}
	obs struct {
		mmsi               *colU32
		ts, received       *colTime
		dac                *colU16
		fi                 *colU8
		lat, lon           *colI32
		f                  [26]*colF32
		u                  [5]*colU8
		collector, station *colStr
	}
	tel struct {
		vessel, quantity, sensor, unit, sentence, collector *colStr
		mmsi                                                *colU32
		ts                                                  *colTime
		value                                               *colF64
	}
	msg struct {
		mmsi               *colU32
		aisType            *colU8
		received           *colTime
		collector, station *colStr
		boot               *colI64
		seq                *colU64
		flags              *colU16
		ais                *colStr
		raw                *colStrs
	}
}

func cU8(n string) *colU8     { return &colU8{colBase: colBase{n, "UInt8"}} }
func cU16(n string) *colU16   { return &colU16{colBase: colBase{n, "UInt16"}} }
func cU32(n string) *colU32   { return &colU32{colBase: colBase{n, "UInt32"}} }
func cU64(n string) *colU64   { return &colU64{colBase: colBase{n, "UInt64"}} }
func cI32(n string) *colI32   { return &colI32{colBase: colBase{n, "Int32"}} }
func cI64(n string) *colI64   { return &colI64{colBase: colBase{n, "Int64"}} }
func cF32(n string) *colF32   { return &colF32{colBase: colBase{n, "Float32"}} }
func cF64(n string) *colF64   { return &colF64{colBase: colBase{n, "Float64"}} }
func cStr(n string) *colStr   { return &colStr{colBase: colBase{n, "String"}} }
func cStrs(n string) *colStrs { return &colStrs{colBase: colBase{n, "Array(String)"}} }
func cTime(n string) *colTime {
	return &colTime{colI64{colBase: colBase{n, "DateTime64(3, 'UTC')"}}}
}

// observation float columns, in keelson.Observation order.
var obsFloatCols = [26]string{"wind_speed", "wind_gust", "wind_direction", "gust_direction", "air_temp",
	"humidity", "dew_point", "pressure", "visibility", "water_level", "current_speed", "current_direction",
	"current2_speed", "current2_direction", "current2_depth", "current3_speed", "current3_direction",
	"current3_depth", "wave_height", "wave_period", "wave_direction", "swell_height", "swell_period",
	"swell_direction", "water_temp", "salinity"}

var obsU8Cols = [5]string{"pressure_trend", "water_level_trend", "sea_state", "precipitation", "ice"}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	b := &Batch{}
	e := &b.ev
	e.collector, e.boot, e.seq, e.kind, e.received = cStr("collector"), cI64("boot"), cU64("seq"), cStr("kind"), cTime("received")
	b.events = &block{table: "events", cols: []column{e.collector, e.boot, e.seq, e.kind, e.received}}

	p := &b.pos
	p.mmsi, p.vessel, p.ts, p.lat, p.lon = cU32("mmsi"), cStr("vessel"), cTime("ts"), cI32("lat_e7"), cI32("lon_e7")
	p.class, p.aisType = cStr("class"), cU8("ais_type")
	p.sog, p.cog, p.heading, p.rot = cU16("sog_c"), cU16("cog_c"), cU16("heading_c"), cF32("rot")
	p.nav, p.acc, p.raim, p.second, p.flags = cU8("nav_status"), cU8("accuracy"), cU8("raim"), cU8("second_c"), cU16("flags")
	p.alt, p.fix, p.sats, p.hdop = cF32("altitude"), cU8("fix_quality"), cU8("satellites"), cF32("hdop")
	p.rx = &colRx{colBase: colBase{"rx", "Tuple(Int32, String)"}}
	p.receivers = cStrs("receivers")
	p.receivers.typ = "SimpleAggregateFunction(groupUniqArrayArray, Array(String))"
	b.positions = &block{table: "positions", cols: []column{p.mmsi, p.vessel, p.ts, p.lat, p.lon, p.class, p.aisType,
		p.sog, p.cog, p.heading, p.rot, p.nav, p.acc, p.raim, p.second, p.flags, p.alt, p.fix, p.sats, p.hdop, p.rx, p.receivers}}

	s := &b.st
	s.mmsi, s.aisType, s.part, s.content, s.imo = cU32("mmsi"), cU8("ais_type"), cStr("part"), cU64("content"), cU32("imo")
	s.callsign, s.name, s.shipType = cStr("callsign"), cStr("name"), cU8("ship_type")
	s.toBow, s.toStern, s.toPort, s.toStar = cU16("to_bow"), cU16("to_stern"), cU8("to_port"), cU8("to_starboard")
	s.epfd, s.eta, s.draught, s.dest, s.vendor = cU8("epfd"), cStr("eta"), cF32("draught"), cStr("destination"), cStr("vendor_id")
	s.mother, s.virt, s.offp, s.lat, s.lon = cU32("mothership_mmsi"), cU8("virtual"), cU8("off_position"), cI32("lat_e7"), cI32("lon_e7")
	s.first, s.last, s.seen, s.receivers = cTime("first_seen"), cTime("last_seen"), cU64("seen"), cStrs("receivers")
	b.statics = &block{table: "statics", cols: []column{s.mmsi, s.aisType, s.part, s.content, s.imo, s.callsign, s.name,
		s.shipType, s.toBow, s.toStern, s.toPort, s.toStar, s.epfd, s.eta, s.draught, s.dest, s.vendor, s.mother,
		s.virt, s.offp, s.lat, s.lon, s.first, s.last, s.seen, s.receivers}}

	o := &b.obs
	o.mmsi, o.ts, o.received, o.dac, o.fi, o.lat, o.lon = cU32("mmsi"), cTime("ts"), cTime("received"), cU16("dac"), cU8("fi"), cI32("lat_e7"), cI32("lon_e7")
	o.collector, o.station = cStr("collector"), cStr("station")
	ocols := []column{o.mmsi, o.ts, o.received, o.dac, o.fi, o.lat, o.lon, o.collector, o.station}
	for i, n := range obsFloatCols {
		if n != "" {
			o.f[i] = cF32(n)
			ocols = append(ocols, o.f[i])
		}
	}
	for i, n := range obsU8Cols {
		o.u[i] = cU8(n)
		ocols = append(ocols, o.u[i])
	}
	b.observations = &block{table: "observations", cols: ocols}

	t := &b.tel
	t.vessel, t.mmsi, t.quantity, t.sensor, t.ts = cStr("vessel"), cU32("mmsi"), cStr("quantity"), cStr("sensor"), cTime("ts")
	t.value, t.unit, t.sentence, t.collector = cF64("value"), cStr("unit"), cStr("sentence"), cStr("collector")
	b.telemetry = &block{table: "telemetry", cols: []column{t.vessel, t.mmsi, t.quantity, t.sensor, t.ts, t.value, t.unit, t.sentence, t.collector}}

	m := &b.msg
	m.mmsi, m.aisType, m.received, m.collector, m.boot, m.seq = cU32("mmsi"), cU8("ais_type"), cTime("received"), cStr("collector"), cI64("boot"), cU64("seq")
	m.station, m.flags, m.ais, m.raw = cStr("station"), cU16("flags"), cStr("ais"), cStrs("raw")
	b.messages = &block{table: "messages", cols: []column{m.mmsi, m.aisType, m.received, m.collector, m.boot, m.seq, m.station, m.flags, m.ais, m.raw}}
	return b
}

// Len returns the number of events added.
func (b *Batch) Len() int { return b.n }

// Rows returns the number of rows per table.
func (b *Batch) Rows() map[string]int {
	m := map[string]int{}
	for _, bl := range b.blocks() {
		m[bl.table] = bl.rows()
	}
	return m
}

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() {
	for _, bl := range b.blocks() {
		bl.reset()
	}
	b.n = 0
}

func (b *Batch) blocks() []*block {
	return []*block{b.events, b.positions, b.statics, b.observations, b.telemetry, b.messages}
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// e7 converts degrees to Int32 1e-7 degrees (NaN and out of range: 0 and
// the caller flags it).
func e7(deg float64) (int32, bool) {
	if math.IsNaN(deg) || deg < -214 || deg > 214 {
		return 0, false
	}
	return int32(math.Round(deg * 1e7)), true
}

func f32(f keelson.Float) float32 { return float32(f) }

func b2u(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

// receiver names who heard an event: the collector, and the tag block
// station when there is one.
func receiver(e *keelson.Event) string {
	if e.Source.Station == "" {
		return e.Source.Collector
	}
	if e.Source.Collector == "" {
		return e.Source.Station
	}
	return e.Source.Collector + "/" + e.Source.Station
}

// broadcastTime is the time a position was sent, as one value that every
// receiver of the broadcast computes alike: for AIS, the reception time moved
// to the sender's UTC second (the latest such second at most 55 s before, or
// up to 4 s after, reception); without a usable second, the reception time
// truncated to the second. Own-ship fixes keep the reception time.
func broadcastTime(e *keelson.Event, p *keelson.Position) int64 {
	r := ms(e.Received)
	if e.Flags&keelson.FlagOwnShip != 0 || e.AISType == 0 {
		return r
	}
	secMs := r - ((r%1000)+1000)%1000
	if p.Second >= 60 {
		return secMs
	}
	rs := int((secMs/1000)%60+60) % 60
	diff := ((rs-int(p.Second))%60 + 60) % 60
	if diff <= 55 {
		return secMs - int64(diff)*1000
	}
	return secMs + int64(60-diff)*1000
}

// in returns an owned copy of a repeated string, without allocating when
// it was seen before.
func (b *Batch) in(s string) string {
	if v, ok := b.intern[s]; ok {
		return v
	}
	if len(b.intern) > 100000 {
		clear(b.intern)
	}
	v := strings.Clone(s)
	b.intern[v] = v
	return v
}

func (b *Batch) receivers(rcv string) []string {
	r, ok := b.rcvs[rcv]
	if !ok {
		if len(b.rcvs) > 100000 {
			clear(b.rcvs)
		}
		r = []string{rcv}
		b.rcvs[rcv] = r
	}
	return r
}

// Add appends one event to the batch. It copies what it keeps: e and the
// memory it points to (a decoder's arena, say) may be reused afterwards.
func (b *Batch) Add(e *keelson.Event) {
	if b.intern == nil {
		b.intern = map[string]string{}
		b.rcvs = map[string][]string{}
	}
	b.n++
	rxTime := ms(e.Received)
	ev := &b.ev
	ev.collector.v = append(ev.collector.v, b.in(e.ID.Collector))
	ev.boot.v = append(ev.boot.v, e.ID.Boot)
	ev.seq.v = append(ev.seq.v, e.ID.Seq)
	ev.kind.v = append(ev.kind.v, b.in(string(e.Kind)))
	ev.received.v = append(ev.received.v, rxTime)
	rcv := b.in(receiver(e))

	switch {
	case e.Kind == keelson.KindPosition && e.Position != nil:
		p, c := e.Position, &b.pos
		flags := e.Flags
		lat, ok1 := e7(p.Point.Lat())
		lon, ok2 := e7(p.Point.Lon())
		if !ok1 || !ok2 {
			flags |= keelson.FlagPositionInvalid
		}
		c.mmsi.v = append(c.mmsi.v, uint32(e.MMSI))
		c.vessel.v = append(c.vessel.v, b.in(e.Vessel))
		ts := broadcastTime(e, p)
		c.ts.v = append(c.ts.v, ts)
		c.lat.v = append(c.lat.v, lat)
		c.lon.v = append(c.lon.v, lon)
		c.class.v = append(c.class.v, b.in(string(p.Class)))
		c.aisType.v = append(c.aisType.v, e.AISType)
		c.sog.v = append(c.sog.v, hundredths(p.SOG))
		c.cog.v = append(c.cog.v, hundredths(p.COG))
		c.heading.v = append(c.heading.v, hundredths(p.Heading))
		c.rot.v = append(c.rot.v, f32(p.ROT))
		c.nav.v = append(c.nav.v, p.NavStatus)
		c.acc.v = append(c.acc.v, b2u(p.Accuracy))
		c.raim.v = append(c.raim.v, b2u(p.RAIM))
		// The AIS second is stored only when it is not ts's own second.
		sc := p.Second + 1
		if int64(p.Second) == ((ts/1000)%60+60)%60 {
			sc = 0
		}
		c.second.v = append(c.second.v, sc)
		c.flags.v = append(c.flags.v, uint16(flags))
		c.alt.v = append(c.alt.v, f32(p.Altitude))
		c.fix.v = append(c.fix.v, p.FixQuality)
		c.sats.v = append(c.sats.v, p.Satellites)
		c.hdop.v = append(c.hdop.v, f32(p.HDOP))
		c.rx.t = append(c.rx.t, int32(max(min(rxTime-ts, math.MaxInt32), math.MinInt32)))
		c.rx.s = append(c.rx.s, rcv)
		c.receivers.v = append(c.receivers.v, b.receivers(rcv))
		// Types 19 and 21 carry identity beside the position.
		if e.Static != nil {
			b.addStatic(e, e.Static, rxTime, rcv)
		}

	case e.Kind == keelson.KindStatic && e.Static != nil:
		b.addStatic(e, e.Static, rxTime, rcv)

	case e.Kind == keelson.KindObservation && e.Observation != nil:
		o, c := e.Observation, &b.obs
		lat, _ := e7(o.Point.Lat())
		lon, _ := e7(o.Point.Lon())
		ts := ms(o.Time)
		if ts == 0 {
			ts = rxTime - ((rxTime%60000)+60000)%60000
		}
		c.mmsi.v = append(c.mmsi.v, uint32(e.MMSI))
		c.ts.v = append(c.ts.v, ts)
		c.received.v = append(c.received.v, rxTime)
		c.dac.v = append(c.dac.v, o.DAC)
		c.fi.v = append(c.fi.v, o.FI)
		c.lat.v = append(c.lat.v, lat)
		c.lon.v = append(c.lon.v, lon)
		c.collector.v = append(c.collector.v, b.in(e.Source.Collector))
		c.station.v = append(c.station.v, b.in(e.Source.Station))
		fs := [26]keelson.Float{o.WindSpeed, o.WindGust, o.WindDirection, o.GustDirection, o.AirTemp,
			o.Humidity, o.DewPoint, o.Pressure, o.Visibility, o.WaterLevel, o.CurrentSpeed, o.CurrentDirection,
			o.Current2Speed, o.Current2Direction, o.Current2Depth, o.Current3Speed, o.Current3Direction,
			o.Current3Depth, o.WaveHeight, o.WavePeriod, o.WaveDirection, o.SwellHeight, o.SwellPeriod,
			o.SwellDirection, o.WaterTemp, o.Salinity}
		for i, f := range fs {
			c.f[i].v = append(c.f[i].v, f32(f))
		}
		us := [5]uint8{o.PressureTrend, o.WaterLevelTrend, o.SeaState, o.Precipitation, o.Ice}
		for i, u := range us {
			c.u[i].v = append(c.u[i].v, u)
		}

	case e.Kind == keelson.KindTelemetry && e.Telemetry != nil:
		c := &b.tel
		vessel := b.in(e.Vessel)
		if vessel == "" && e.MMSI != 0 {
			vessel = e.MMSI.String()
		}
		for _, r := range e.Telemetry.Readings {
			c.vessel.v = append(c.vessel.v, vessel)
			c.mmsi.v = append(c.mmsi.v, uint32(e.MMSI))
			c.quantity.v = append(c.quantity.v, b.in(r.Quantity))
			c.sensor.v = append(c.sensor.v, b.in(r.Sensor))
			c.ts.v = append(c.ts.v, rxTime)
			c.value.v = append(c.value.v, float64(r.Value))
			c.unit.v = append(c.unit.v, b.in(r.Unit))
			c.sentence.v = append(c.sentence.v, b.in(e.Telemetry.Sentence))
			c.collector.v = append(c.collector.v, b.in(e.Source.Collector))
		}

	default: // KindAIS, or a kind this version does not know: kept whole
		c := &b.msg
		c.mmsi.v = append(c.mmsi.v, uint32(e.MMSI))
		c.aisType.v = append(c.aisType.v, e.AISType)
		c.received.v = append(c.received.v, rxTime)
		c.collector.v = append(c.collector.v, b.in(e.ID.Collector))
		c.boot.v = append(c.boot.v, e.ID.Boot)
		c.seq.v = append(c.seq.v, e.ID.Seq)
		c.station.v = append(c.station.v, b.in(e.Source.Station))
		c.flags.v = append(c.flags.v, uint16(e.Flags))
		c.ais.v = append(c.ais.v, string(e.AIS))
		c.raw.v = append(c.raw.v, cloneStrings(e.Raw))
	}
}

// staticHash identifies one version of a vessel's static data.
func staticHash(e *keelson.Event, s *keelson.Static, lat, lon int32) uint64 {
	var buf [64]byte
	h := xxhash.New()
	for _, str := range []string{s.Part, s.CallSign, s.Name, s.ETA, s.Destination, s.VendorID} {
		h.WriteString(str)
		h.Write([]byte{0})
	}
	b := buf[:0]
	b = append(b, e.AISType, s.ShipType, s.ToPort, s.ToStarboard, s.EPFD, b2u(s.Virtual), b2u(s.OffPosition))
	b = binary.LittleEndian.AppendUint32(b, s.IMO)
	b = binary.LittleEndian.AppendUint16(b, s.ToBow)
	b = binary.LittleEndian.AppendUint16(b, s.ToStern)
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f32(s.Draught)))
	b = binary.LittleEndian.AppendUint32(b, uint32(s.MothershipMMSI))
	b = binary.LittleEndian.AppendUint32(b, uint32(lat))
	b = binary.LittleEndian.AppendUint32(b, uint32(lon))
	h.Write(b)
	return h.Sum64()
}

// InsertEvents writes the batch, one INSERT per non-empty table, the
// tables concurrently (each INSERT is one engine connection; on two cores the
// events ledger lands while the positions and their materialized view do).
// token identifies the batch (the sink uses the Kafka offset ranges):
// re-sending a batch with the same token and the same rows adds nothing, and
// the tables collapse any duplicate that still gets through (same event id,
// or the same broadcast heard by several receivers). On error some tables
// may have landed; retrying with the same token completes the batch without
// duplicating them.
func (db *DB) InsertEvents(ctx context.Context, b *Batch, token string) error {
	if db.opts.ReadOnly {
		return fmt.Errorf("storage: InsertEvents on a read-only database: %w", ErrQuery)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, bl := range b.blocks() {
		if bl.rows() == 0 {
			continue
		}
		// optimize_on_insert=0: the block is written as sent, not first
		// collapsed as its table's merges would (6-16% of the whole
		// sink's CPU). Duplicates inside one batch are then collapsed by
		// the merges and FINAL/argMax reads, exactly like duplicates
		// across batches, which the tables must handle anyway.
		s := Settings{"deduplicate_blocks_in_dependent_materialized_views": 1, "optimize_on_insert": 0}
		if token != "" {
			s["insert_deduplication_token"] = token + "/" + bl.table
		}
		if bl.table == "positions" {
			// Daily partitions (schema 4): a batch of an archive may
			// span more than the default 100 days; refusing it would
			// stop the sink on it for ever.
			s["max_partitions_per_insert_block"] = 0
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := db.eng.insert(ctx, bl.table, bl, s); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("storage: insert %d rows into %s: %w", bl.rows(), bl.table, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// colRx is the rx Tuple(DateTime64(3, 'UTC'), String) column.
// rx is (milliseconds from ts to the reception, receiver): its min is the
// first reception.
type colRx struct {
	colBase
	t []int32
	s []string
}

func (c *colRx) appendNative(d []byte) []byte {
	for _, x := range c.t {
		d = binary.LittleEndian.AppendUint32(d, uint32(x))
	}
	for _, x := range c.s {
		d = appendStr(d, x)
	}
	return d
}

func (c *colRx) values() any {
	v := make([][]any, len(c.t))
	for i := range c.t {
		v[i] = []any{c.t[i], c.s[i]}
	}
	return v
}
func (c *colRx) len() int { return len(c.t) }
func (c *colRx) reset()   { c.t = c.t[:0]; clear(c.s); c.s = c.s[:0] }

func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.Clone(v)
	}
	return out
}

// hundredths stores a quantity in hundredths in a UInt16 (speed in knots,
// angles in degrees); 65535 is "not available".
func hundredths(f keelson.Float) uint16 {
	v := math.Round(float64(f) * 100)
	if math.IsNaN(v) || v < 0 || v > 65534 {
		return 65535
	}
	return uint16(v)
}

// addStatic appends one identity/voyage row (types 5, 19, 21, 24).
func (b *Batch) addStatic(e *keelson.Event, s *keelson.Static, rxTime int64, rcv string) {
	c := &b.st
	lat, _ := e7(s.Point.Lat())
	lon, _ := e7(s.Point.Lon())
	c.mmsi.v = append(c.mmsi.v, uint32(e.MMSI))
	c.aisType.v = append(c.aisType.v, e.AISType)
	c.part.v = append(c.part.v, b.in(s.Part))
	c.content.v = append(c.content.v, staticHash(e, s, lat, lon))
	c.imo.v = append(c.imo.v, s.IMO)
	c.callsign.v = append(c.callsign.v, strings.Clone(s.CallSign))
	c.name.v = append(c.name.v, strings.Clone(s.Name))
	c.shipType.v = append(c.shipType.v, s.ShipType)
	c.toBow.v = append(c.toBow.v, s.ToBow)
	c.toStern.v = append(c.toStern.v, s.ToStern)
	c.toPort.v = append(c.toPort.v, s.ToPort)
	c.toStar.v = append(c.toStar.v, s.ToStarboard)
	c.epfd.v = append(c.epfd.v, s.EPFD)
	c.eta.v = append(c.eta.v, strings.Clone(s.ETA))
	c.draught.v = append(c.draught.v, f32(s.Draught))
	c.dest.v = append(c.dest.v, strings.Clone(s.Destination))
	c.vendor.v = append(c.vendor.v, strings.Clone(s.VendorID))
	c.mother.v = append(c.mother.v, uint32(s.MothershipMMSI))
	c.virt.v = append(c.virt.v, b2u(s.Virtual))
	c.offp.v = append(c.offp.v, b2u(s.OffPosition))
	c.lat.v = append(c.lat.v, lat)
	c.lon.v = append(c.lon.v, lon)
	c.first.v = append(c.first.v, rxTime)
	c.last.v = append(c.last.v, rxTime)
	c.seen.v = append(c.seen.v, 1)
	c.receivers.v = append(c.receivers.v, b.receivers(rcv))
}
