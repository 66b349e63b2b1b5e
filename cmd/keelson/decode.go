package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/keelson/keelson"
	"github.com/keelson/keelson/decode"
)

// runDecode is `keelson decode`: NMEA 0183 / AIS lines in, one JSON object
// per decoded message out.
func runDecode(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("decode", "decode [-format json|gpsd|none] [-stats] [-lenient] [FILE...]", io.err)
	format := fs.String("format", "json", "output: json (Keelson events), gpsd (gpsdecode -j JSON, AIS only) or none (decode, write nothing)")
	stats := fs.Bool("stats", false, `after the input, write {"lines":N,"messages":N,"errors":N,"by_type":{..},"by_error":{..}} to stderr`)
	lenient := fs.Bool("lenient", false, "accept sentences with bad checksums, flagged, instead of dropping them")
	showErrors := fs.Bool("errors", false, "write each bad line and its error to stderr")
	raw := fs.Bool("raw", false, "keep the sentences of each event in its \"raw\" field (json format)")
	ownMMSI := fs.String("own-mmsi", "", "own ship's MMSI, set on own-ship events")
	vessel := fs.String("vessel", "", "own ship's name or id, set on own-ship events")
	maxLine := fs.Int("max-line", 1024, "longest line accepted, bytes")
	if err := fs.parse(args); err != nil {
		return err
	}
	cfg := decode.Config{Lenient: *lenient, KeepRaw: *raw, Vessel: *vessel, MaxLineLength: *maxLine}
	switch *format {
	case "json", "gpsd", "none":
	default:
		return fmt.Errorf("decode: -format %q: want json, gpsd or none", *format)
	}
	if *ownMMSI != "" {
		m, err := keelson.ParseMMSI(*ownMMSI)
		if err != nil {
			return fmt.Errorf("decode: -own-mmsi: %w", err)
		}
		cfg.OwnMMSI = m
	}
	if *maxLine < 1 {
		return fmt.Errorf("decode: -max-line %d: must be positive", *maxLine)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}
	w := bufio.NewWriterSize(io.out, 256<<10)
	dc := &decodeCmd{
		d:      decode.NewDecoder(cfg),
		format: *format,
		w:      w,
		buf:    make([]byte, 0, 128<<10),
	}
	if *showErrors {
		dc.errw = io.err
	}
	var err error
	for _, name := range files {
		if err = dc.file(ctx, name, io.in); err != nil {
			break
		}
	}
	dc.d.Flush()
	if ferr := dc.flush(); err == nil && ferr != nil {
		err = fmt.Errorf("decode: write: %w", ferr)
	}
	if ferr := w.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("decode: write: %w", ferr)
	}
	if *stats {
		b, _ := json.Marshal(dc.d.Stats())
		b = append(b, '\n')
		if _, werr := io.err.Write(b); err == nil && werr != nil {
			err = werr
		}
	}
	return err
}

type decodeCmd struct {
	d      *decode.Decoder
	format string
	w      *bufio.Writer
	errw   io.Writer
	buf    []byte
	ev     keelson.Event
	pos    *keelson.Position
	static *keelson.Static
	obs    *keelson.Observation
	recv   time.Time
	emit   func(*decode.Message)
}

func (c *decodeCmd) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.w.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

// message writes one decoded message.
func (c *decodeCmd) message(m *decode.Message) {
	switch c.format {
	case "json":
		// One event, filled over and over: keep its payload structs across
		// messages of other kinds, so that nothing is allocated.
		ev := &c.ev
		if ev.Position == nil {
			ev.Position = c.pos
		}
		if ev.Static == nil {
			ev.Static = c.static
		}
		if ev.Observation == nil {
			ev.Observation = c.obs
		}
		c.d.Fill(ev, m, c.recv)
		if ev.Position != nil {
			c.pos = ev.Position
		}
		if ev.Static != nil {
			c.static = ev.Static
		}
		if ev.Observation != nil {
			c.obs = ev.Observation
		}
		c.buf = ev.AppendJSON(c.buf)
	case "gpsd":
		if m.AIS == nil {
			return // gpsdecode -j writes AIS only; own-ship sentences are skipped
		}
		n := len(c.buf)
		c.buf = m.AIS.AppendGPSD(c.buf)
		if len(c.buf) == n {
			return // gpsd writes nothing for some messages (a type 24 part A waiting for its part B)
		}
	default:
		return
	}
	c.buf = append(c.buf, '\n')
}

// file decodes one input: a file name, or "-" for in.
func (c *decodeCmd) file(ctx context.Context, name string, in io.Reader) error {
	r := in
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		defer f.Close()
		r = f
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("decode: %s: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	if c.emit == nil {
		c.emit = c.message
	}
	c.recv = time.Now().UTC()
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// Longer than any line we accept: count it once (Decode fails it
			// with ErrLineTooLong) and skip to its end.
			c.report(line, c.d.Scan(line, c.recv, c.emit))
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("decode: %s: %w", name, err)
			}
			continue
		}
		if len(line) > 0 {
			c.report(line, c.d.Scan(line, c.recv, c.emit))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("decode: %s: %w", name, err)
		}
		if len(c.buf) >= 96<<10 {
			if err := c.flush(); err != nil {
				return fmt.Errorf("decode: write: %w", err)
			}
		}
		if n++; n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			c.recv = time.Now().UTC()
		}
	}
}

func (c *decodeCmd) report(line []byte, err error) {
	if err == nil || c.errw == nil {
		return
	}
	if len(line) > 200 {
		line = line[:200]
	}
	fmt.Fprintf(c.errw, "%v: %q\n", err, bytes.TrimRight(line, "\r\n"))
}
