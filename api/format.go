package api

import (
	"bufio"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/keelson/keelson/storage"
	"github.com/parquet-go/parquet-go"
)

// Every list is a table: a row type T and its columns. One column list
// drives all five formats, so they cannot drift apart.

type colKind uint8

const (
	kInt    colKind = iota // int64 (i)
	kFloat                 // float64, NaN = null (f)
	kString                // string (s)
	kTime                  // time, zero = null (t)
)

type column[T any] struct {
	name string
	kind colKind
	i    func(*T) int64
	f    func(*T) float64
	s    func(*T) string
	t    func(*T) time.Time
}

func intCol[T any](name string, f func(*T) int64) column[T] {
	return column[T]{name: name, kind: kInt, i: f}
}
func floatCol[T any](name string, f func(*T) float64) column[T] {
	return column[T]{name: name, kind: kFloat, f: f}
}
func strCol[T any](name string, f func(*T) string) column[T] {
	return column[T]{name: name, kind: kString, s: f}
}
func timeCol[T any](name string, f func(*T) time.Time) column[T] {
	return column[T]{name: name, kind: kTime, t: f}
}

type table[T any] struct {
	name  string // file name stem for downloads
	cols  []column[T]
	point func(*T) (lon, lat float64, ok bool) // GeoJSON geometry
}

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func (t *table[T]) appendJSON(b []byte, r *T, tc *timeCache) []byte {
	b = append(b, '{')
	for i := range t.cols {
		c := &t.cols[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, c.name...)
		b = append(b, '"', ':')
		switch c.kind {
		case kInt:
			b = strconv.AppendInt(b, c.i(r), 10)
		case kFloat:
			b = appendFloat(b, c.f(r), "null")
		case kString:
			b = appendJSONString(b, c.s(r))
		case kTime:
			if v := c.t(r); v.IsZero() {
				b = append(b, "null"...)
			} else {
				b = append(b, '"')
				b = tc.append(b, v)
				b = append(b, '"')
			}
		}
	}
	return append(b, '}')
}

func (t *table[T]) appendCSVHeader(b []byte) []byte {
	for i := range t.cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, t.cols[i].name...)
	}
	return append(b, '\n')
}

func (t *table[T]) appendCSV(b []byte, r *T, tc *timeCache) []byte {
	for i := range t.cols {
		c := &t.cols[i]
		if i > 0 {
			b = append(b, ',')
		}
		switch c.kind {
		case kInt:
			b = strconv.AppendInt(b, c.i(r), 10)
		case kFloat:
			b = appendFloat(b, c.f(r), "")
		case kString:
			b = appendCSVString(b, c.s(r))
		case kTime:
			if v := c.t(r); !v.IsZero() {
				b = tc.append(b, v)
			}
		}
	}
	return append(b, '\n')
}

func (t *table[T]) appendFeature(b []byte, r *T, tc *timeCache) []byte {
	b = append(b, `{"type":"Feature","geometry":`...)
	if lon, lat, ok := t.point(r); ok {
		b = append(b, `{"type":"Point","coordinates":[`...)
		b = appendFloat(b, lon, "null")
		b = append(b, ',')
		b = appendFloat(b, lat, "null")
		b = append(b, "]}"...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"properties":`...)
	b = t.appendJSON(b, r, tc)
	return append(b, '}')
}

func appendFloat(b []byte, v float64, null string) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, null...)
	}
	// Stored values have at most 7 decimals (positions in 1e-7 degrees,
	// Float32 quantities rounded to 1e-6): print those as fixed point,
	// which is several times faster than the shortest-float search and
	// parses back to the same float64.
	if a := math.Abs(v); a < 1e9 {
		s := v * 1e7
		if r := math.Round(s); math.Abs(s-r) < 1e-6*math.Max(1, a) && r/1e7 == v {
			n := int64(r)
			if n < 0 {
				b = append(b, '-')
				n = -n
			}
			b = strconv.AppendInt(b, n/1e7, 10)
			if f := n % 1e7; f != 0 {
				var d [8]byte
				d[0] = '.'
				for i := 7; i >= 1; i-- {
					d[i] = byte('0' + f%10)
					f /= 10
				}
				end := 8
				for d[end-1] == '0' {
					end--
				}
				b = append(b, d[:end]...)
			}
			return b
		}
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// timeCache formats times, reusing the text of the last second seen (rows
// of an export come in time order, many within one second).
type timeCache struct {
	sec int64
	txt [19]byte // 2006-01-02T15:04:05
}

func (c *timeCache) append(b []byte, t time.Time) []byte {
	if c == nil {
		return t.UTC().AppendFormat(b, timeLayout)
	}
	t = t.UTC()
	sec := t.Unix()
	if sec != c.sec || c.txt[0] == 0 {
		c.sec = sec
		t.AppendFormat(c.txt[:0], "2006-01-02T15:04:05")
	}
	if t.Year() < 1000 || t.Year() > 9999 {
		return t.AppendFormat(b, timeLayout)
	}
	b = append(b, c.txt[:]...)
	ms := t.Nanosecond() / 1e6
	return append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, replacing invalid UTF-8.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&15])
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

// validUTF8 returns s with each byte that is not part of valid UTF-8
// replaced by U+FFFD, as appendJSONString writes it, so that every format
// carries the same text (stored strings are whatever a sender broadcast).
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, s[i:i+n]...)
		}
		i += n
	}
	return string(out)
}

// appendCSVString appends s as an RFC 4180 field (valid UTF-8, see validUTF8).
func appendCSVString(b []byte, s string) []byte {
	s = validUTF8(s)
	quote := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ',' || c == '"' || c == '\n' || c == '\r' {
			quote = true
			break
		}
	}
	if len(s) > 0 && (s[0] == ' ' || s[len(s)-1] == ' ') {
		quote = true
	}
	if !quote {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// contentType returns the Content-Type of a format.
func contentType(f Format) string {
	switch f {
	case FormatGeoJSON:
		return "application/geo+json"
	case FormatCSV:
		return "text/csv; charset=utf-8"
	case FormatNDJSON:
		return "application/x-ndjson"
	case FormatParquet:
		return "application/vnd.apache.parquet"
	}
	return "application/json"
}

// respWriter buffers a response until bufSize bytes are ready, so that an
// error found before the first flush still gets a proper error status.
type respWriter struct {
	w         http.ResponseWriter
	bw        *bufio.Writer
	committed bool
	header    func(h http.Header)
}

const bufSize = 64 << 10

// bufPool keeps the 64 KiB buffers of finished responses: allocating one
// per request was 73% of the bytes a small request allocated (nearest 10:
// 87 KB per request), and the garbage collections it caused were the tail.
var bufPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufSize) }}

func newRespWriter(w http.ResponseWriter, header func(http.Header)) *respWriter {
	rw := &respWriter{w: w, header: header}
	rw.bw = bufPool.Get().(*bufio.Writer)
	rw.bw.Reset(rawWriter{rw})
	return rw
}

// release gives the buffer back; rw must not be written after it.
func (rw *respWriter) release() {
	rw.bw.Reset(nil)
	bufPool.Put(rw.bw)
	rw.bw = nil
}

type rawWriter struct{ rw *respWriter }

func (r rawWriter) Write(p []byte) (int, error) {
	r.rw.commit()
	return r.rw.w.Write(p)
}

func (rw *respWriter) commit() {
	if rw.committed {
		return
	}
	rw.committed = true
	rw.header(rw.w.Header())
	rw.w.WriteHeader(http.StatusOK)
}

func (rw *respWriter) Write(p []byte) (int, error) { return rw.bw.Write(p) }

// flush sends everything buffered.
func (rw *respWriter) flush() error {
	if err := rw.bw.Flush(); err != nil {
		return err
	}
	rw.commit()
	if f, ok := rw.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// encoder writes the rows of one table in one format.
type encoder[T any] struct {
	t   *table[T]
	f   Format
	w   *respWriter
	buf []byte
	n   int

	tc timeCache

	pqPos  *positionParquet // positions: the typed writer
	pq     *parquet.Writer
	pqRows []parquet.Row
	pqIdx  []int // column index in the parquet schema of each table column
}

// rowBufPool keeps the encoders' row buffers (rows are written out in
// 32 KiB pieces), so a page does not grow one from nothing each time.
var rowBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 40<<10); return &b }}

// release gives the row buffer back; e must not be used after it.
func (e *encoder[T]) release() {
	if cap(e.buf) <= 1<<20 {
		b := e.buf[:0]
		rowBufPool.Put(&b)
	}
	e.buf = nil
}

func newEncoder[T any](t *table[T], f Format, w *respWriter) *encoder[T] {
	e := &encoder[T]{t: t, f: f, w: w, buf: (*rowBufPool.Get().(*[]byte))[:0]}
	switch f {
	case FormatJSON:
		e.buf = append(e.buf, `{"data":[`...)
	case FormatGeoJSON:
		e.buf = append(e.buf, `{"type":"FeatureCollection","features":[`...)
	case FormatCSV:
		e.buf = t.appendCSVHeader(e.buf)
	case FormatParquet:
		e.initParquet()
	}
	return e
}

// row writes one row.
func (e *encoder[T]) row(r *T) error {
	e.n++
	switch e.f {
	case FormatJSON, FormatGeoJSON:
		if e.n > 1 {
			e.buf = append(e.buf, ',')
		}
		if e.f == FormatJSON {
			e.buf = e.t.appendJSON(e.buf, r, &e.tc)
		} else {
			e.buf = e.t.appendFeature(e.buf, r, &e.tc)
		}
	case FormatNDJSON:
		e.buf = e.t.appendJSON(e.buf, r, &e.tc)
		e.buf = append(e.buf, '\n')
	case FormatCSV:
		e.buf = e.t.appendCSV(e.buf, r, &e.tc)
	case FormatParquet:
		return e.parquetRow(r)
	}
	if len(e.buf) >= 32<<10 {
		_, err := e.w.Write(e.buf)
		e.buf = e.buf[:0]
		return err
	}
	return nil
}

// finish ends the document; next is the cursor of the next page, if any.
func (e *encoder[T]) finish(next string, extra func([]byte) []byte) error {
	switch e.f {
	case FormatJSON, FormatGeoJSON:
		e.buf = append(e.buf, ']')
		if next != "" {
			e.buf = append(e.buf, `,"next_cursor":`...)
			e.buf = appendJSONString(e.buf, next)
		}
		if extra != nil {
			e.buf = extra(e.buf)
		}
		e.buf = append(e.buf, '}', '\n')
	case FormatParquet:
		if e.pqPos != nil {
			if err := e.pqPos.close(); err != nil {
				return err
			}
			break
		}
		if err := e.flushParquet(); err != nil {
			return err
		}
		if err := e.pq.Close(); err != nil {
			return err
		}
	}
	if _, err := e.w.Write(e.buf); err != nil {
		return err
	}
	e.buf = e.buf[:0]
	if next != "" {
		e.w.w.Header().Set(http.TrailerPrefix+"X-Next-Cursor", next)
	}
	return e.w.flush()
}

func (e *encoder[T]) initParquet() {
	if any(e.t) == any(positionTable) {
		e.pqPos = newPositionParquet(e.w)
		return
	}
	g := parquet.Group{}
	for _, c := range e.t.cols {
		var n parquet.Node
		switch c.kind {
		case kInt:
			n = parquet.Int(64)
		case kFloat:
			n = parquet.Optional(parquet.Leaf(parquet.DoubleType))
		case kString:
			n = parquet.String()
		case kTime:
			n = parquet.Optional(parquet.Timestamp(parquet.Millisecond))
		}
		g[c.name] = parquet.Compressed(n, &parquet.Snappy)
	}
	schema := parquet.NewSchema(e.t.name, g)
	e.pqIdx = make([]int, len(e.t.cols))
	for i, c := range e.t.cols {
		for j, f := range schema.Fields() {
			if f.Name() == c.name {
				e.pqIdx[i] = j
			}
		}
	}
	e.pq = parquet.NewWriter(e.w, schema, parquet.MaxRowsPerRowGroup(128<<10), parquet.CreatedBy("keelson", "1", ""))
	e.pqRows = make([]parquet.Row, 0, 1024)
}

func (e *encoder[T]) parquetRow(r *T) error {
	if e.pqPos != nil {
		return e.pqPos.add(any(r).(*storage.PositionRow))
	}
	i := len(e.pqRows)
	if i < cap(e.pqRows) {
		e.pqRows = e.pqRows[:i+1]
	} else {
		e.pqRows = append(e.pqRows, nil)
	}
	row := e.pqRows[i][:0]
	if cap(row) < len(e.t.cols) {
		row = make(parquet.Row, 0, len(e.t.cols))
	}
	row = row[:len(e.t.cols)]
	for k := range e.t.cols {
		c := &e.t.cols[k]
		j := e.pqIdx[k]
		var v parquet.Value
		switch c.kind {
		case kInt:
			v = parquet.Int64Value(c.i(r)).Level(0, 0, j)
		case kFloat:
			if f := c.f(r); math.IsNaN(f) || math.IsInf(f, 0) {
				v = parquet.NullValue().Level(0, 0, j)
			} else {
				v = parquet.DoubleValue(f).Level(0, 1, j)
			}
		case kString:
			v = parquet.ByteArrayValue([]byte(validUTF8(c.s(r)))).Level(0, 0, j)
		case kTime:
			if t := c.t(r); t.IsZero() {
				v = parquet.NullValue().Level(0, 0, j)
			} else {
				v = parquet.Int64Value(t.UnixMilli()).Level(0, 1, j)
			}
		}
		row[j] = v
	}
	e.pqRows[i] = row
	if len(e.pqRows) == cap(e.pqRows) {
		return e.flushParquet()
	}
	return nil
}

func (e *encoder[T]) flushParquet() error {
	if len(e.pqRows) == 0 {
		return nil
	}
	_, err := e.pq.WriteRows(e.pqRows)
	e.pqRows = e.pqRows[:0]
	return err
}

var _ io.Writer = (*respWriter)(nil)
