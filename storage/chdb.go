//go:build !nochdb

package storage

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	chcolumn "github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// chdbEngine is the embedded engine: a pool of libchdb connections to one
// data directory. libchdb runs one statement at a time per connection, so
// the pool bounds concurrency; a streaming result holds its connection
// until Close.
type chdbEngine struct {
	l     *libchdb
	dir   string
	pool  chan *chConn
	all   []*chConn
	mu    sync.Mutex
	done  bool
	nbuf  sync.Pool
	rbuf  sync.Pool // *blockReader
	spool string    // directory of insert files
	seq   atomic.Uint64
	tzLoc *time.Location
}

// chdbOpen guards the process-wide engine: libchdb boots one engine per
// process, bound to one data directory.
var (
	chdbOpenMu  sync.Mutex
	chdbOpenDir string
)

// ErrEngineBusy is returned when a second embedded database is opened in
// one process (libchdb holds one engine per process).
var ErrEngineBusy = errors.New("storage: the embedded engine is already open in this process")

func openCHDB(ctx context.Context, dir string, opts Options) (*chdbEngine, error) {
	l, err := loadLibCHDB()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrURL, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("storage: data directory: %w", err)
	}
	chdbOpenMu.Lock()
	defer chdbOpenMu.Unlock()
	if chdbOpenDir != "" {
		return nil, fmt.Errorf("%w (%s)", ErrEngineBusy, chdbOpenDir)
	}
	e := &chdbEngine{l: l, dir: abs, pool: make(chan *chConn, opts.Conns), spool: filepath.Join(abs, "keelson-insert")}
	// Leftovers of a crashed process are not data (their batches were
	// never acknowledged, so the sink replays them).
	os.RemoveAll(e.spool)
	if err := os.MkdirAll(e.spool, 0o700); err != nil {
		return nil, fmt.Errorf("storage: data directory: %w", err)
	}
	for i := 0; i < opts.Conns; i++ {
		c, err := l.open(engineArgs(abs, opts))
		if err != nil {
			for _, c := range e.all {
				c.close()
			}
			return nil, fmt.Errorf("storage: opening embedded ClickHouse in %s (is another process using it?): %w", abs, err)
		}
		e.all = append(e.all, c)
		e.pool <- c
	}
	chdbOpenDir = abs
	if err := e.exec(ctx, "SELECT 1", nil, nil); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// engineArgs are the embedded engine's clickhouse-local arguments: the data
// directory and server settings.
func engineArgs(dir string, opts Options) []string {
	return []string{"clickhouse", "--path=" + dir,
		fmt.Sprintf("--uncompressed_cache_size=%d", max(opts.BlockCache, 0))}
}

func (e *chdbEngine) name() string { return "chdb" }

func (e *chdbEngine) close() error {
	e.mu.Lock()
	if e.done {
		e.mu.Unlock()
		return nil
	}
	e.done = true
	e.mu.Unlock()
	// Wait for every connection to come back, then close them all.
	for range e.all {
		<-e.pool
	}
	for _, c := range e.all {
		c.close()
	}
	chdbOpenMu.Lock()
	chdbOpenDir = ""
	chdbOpenMu.Unlock()
	return nil
}

func (e *chdbEngine) acquire(ctx context.Context) (*chConn, error) {
	e.mu.Lock()
	done := e.done
	e.mu.Unlock()
	if done {
		return nil, ErrClosed
	}
	select {
	case c := <-e.pool:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *chdbEngine) release(c *chConn) { e.pool <- c }

// statement builds the SQL text: the statement, its settings (plus a
// max_execution_time from the context's deadline).
func statement(ctx context.Context, sql string, settings Settings) (string, error) {
	if dl, ok := ctx.Deadline(); ok {
		s := make(Settings, len(settings)+1)
		for k, v := range settings {
			s[k] = v
		}
		if _, set := s["max_execution_time"]; !set {
			s["max_execution_time"] = math.Max(0.001, time.Until(dl).Seconds())
		}
		settings = s
	}
	clause, err := settingsClause(settings)
	if err != nil {
		return "", err
	}
	if clause == "" {
		return sql, nil
	}
	return strings.TrimRight(strings.TrimSpace(sql), ";") + clause, nil
}

// run executes one statement and discards its output.
func (e *chdbEngine) run(ctx context.Context, query []byte, params map[string]string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := e.acquire(ctx)
	if err != nil {
		return err
	}
	defer e.release(c)
	r := c.query(query, "Null", params)
	defer c.destroy(r)
	return c.resultErr(r)
}

func (e *chdbEngine) exec(ctx context.Context, sql string, params map[string]string, settings Settings) error {
	q, err := statement(ctx, sql, settings)
	if err != nil {
		return err
	}
	return e.run(ctx, []byte(q), params)
}

// insert writes the block in Native format to a file of the engine's
// spool directory and runs
//
//	INSERT INTO t (cols) SETTINGS ... SELECT * FROM file({path:String}, Native)
//
// Rows never travel as SQL text. Inline data after "FORMAT Native" is not
// binary-safe in libchdb 26.5 (a "\n\n" in the bytes cuts it short), and a
// multi-megabyte query parameter costs more than a page-cached file.
func (e *chdbEngine) insert(ctx context.Context, table string, b *block, settings Settings) error {
	q, err := statement(ctx, "INSERT INTO "+table+" "+b.names(), settings)
	if err != nil {
		return err
	}
	q += " SELECT * FROM file({path:String}, Native)"
	bufp, _ := e.nbuf.Get().(*[]byte)
	if bufp == nil {
		bufp = new([]byte)
	}
	raw := b.appendNative((*bufp)[:0])
	path := filepath.Join(e.spool, fmt.Sprintf("%d-%d.native", os.Getpid(), e.seq.Add(1)))
	err = os.WriteFile(path, raw, 0o600)
	*bufp = raw[:0]
	e.nbuf.Put(bufp)
	if err != nil {
		return fmt.Errorf("storage: insert spool: %w", err)
	}
	defer os.Remove(path)
	return e.run(ctx, []byte(q), map[string]string{"path": escapeTSV(path)})
}

func (e *chdbEngine) query(ctx context.Context, sql string, params map[string]string, settings Settings) (Rows, error) {
	return e.start(ctx, sql, params, settings, false)
}

// queryWhole runs a statement whose result is read whole in one call to
// libchdb rather than streamed: one round trip to the engine's query
// thread instead of three (start, one block, end), ~0.2 ms less per
// point read. The result is held in memory: for bounded results only.
func (e *chdbEngine) queryWhole(ctx context.Context, sql string, params map[string]string, settings Settings) (Rows, error) {
	return e.start(ctx, sql, params, settings, true)
}

func (e *chdbEngine) start(ctx context.Context, sql string, params map[string]string, settings Settings, whole bool) (Rows, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q, err := statement(ctx, sql, settings)
	if err != nil {
		return nil, err
	}
	c, err := e.acquire(ctx)
	if err != nil {
		return nil, err
	}
	if whole {
		return e.materialized(ctx, c, q, params)
	}
	s := c.stream(q, "Native", params)
	if err := c.resultErr(s); err != nil {
		c.destroy(s)
		if !strings.Contains(err.Error(), "Streaming query is not supported") {
			e.release(c)
			return nil, err
		}
		// Statements libchdb cannot stream (SHOW, DESCRIBE, DDL, ...) run
		// whole; their results are small.
		return e.materialized(ctx, c, q, params)
	}
	r := &chdbRows{e: e, c: c, s: s, ctx: ctx, br: e.blockReader()}
	// Read the first block now, so that errors and the column names are
	// known when Query returns.
	if !r.fill() && r.err != nil {
		err := r.err
		r.Close()
		return nil, err
	}
	return r, nil
}

// materialized runs q on the acquired c and returns its whole result.
func (e *chdbEngine) materialized(ctx context.Context, c *chConn, q string, params map[string]string) (Rows, error) {
	res := c.query([]byte(q), "Native", params)
	if err := c.resultErr(res); err != nil {
		c.destroy(res)
		e.release(c)
		return nil, err
	}
	r := &chdbRows{e: e, c: c, ctx: ctx, eof: true, br: e.blockReader()}
	r.setChunk(res)
	if !r.fill() && r.err != nil {
		err := r.err
		r.Close()
		return nil, err
	}
	return r, nil
}

// blockReader decodes the Native blocks of one chunk of result bytes after
// another. ch-go's proto.Reader reads through a bufio.Reader and, given one
// of its size, uses it as is: so the bytes not yet decoded are known (a
// chunk may hold several blocks), and neither is allocated per result.
type blockReader struct {
	src bytes.Reader
	buf *bufio.Reader
	rd  *chproto.Reader
}

// chReaderSize is ch-go's bufio size (proto.NewReader).
const chReaderSize = 128 << 10

func (e *chdbEngine) blockReader() *blockReader {
	if br, ok := e.rbuf.Get().(*blockReader); ok {
		return br
	}
	br := &blockReader{}
	br.buf = bufio.NewReaderSize(&br.src, chReaderSize)
	br.rd = chproto.NewReader(br.buf)
	return br
}

// reset makes the reader decode data (nil drops the previous chunk).
func (br *blockReader) reset(data []byte) {
	br.src.Reset(data)
	br.buf.Reset(&br.src)
}

// more tells whether the chunk has bytes left to decode.
func (br *blockReader) more() bool { return br.buf.Buffered() > 0 || br.src.Len() > 0 }

// chdbRows streams a Native-format result chunk by chunk. A chunk is
// decoded straight from the engine's memory, which is released once every
// block in it is decoded (the blocks' values are Go copies).
type chdbRows struct {
	e     *chdbEngine
	c     *chConn
	s     chResult // the stream; 0 for a result read whole
	cur   chResult // the result whose bytes br decodes
	br    *blockReader
	ctx   context.Context
	block *proto.Block
	names []string
	types []string
	row   int // 1-based index of the current row in block
	err   error
	eof   bool
	done  bool
}

// setChunk makes res the chunk being decoded.
func (r *chdbRows) setChunk(res chResult) {
	r.cur = res
	r.br.reset(r.c.bytes(res))
}

// dropChunk releases the chunk being decoded.
func (r *chdbRows) dropChunk() {
	if r.cur != 0 {
		r.br.reset(nil)
		r.c.destroy(r.cur)
		r.cur = 0
	}
}

// fill loads the next non-empty block; false at the end or on error.
func (r *chdbRows) fill() bool {
	for {
		if r.cur != 0 && r.br.more() {
			b := proto.NewBlock()
			if err := b.Decode(r.br.rd, 0); err != nil {
				r.err = fmt.Errorf("storage: decoding result: %w", err)
				return false
			}
			if r.names == nil {
				r.names = b.ColumnsNames()
				r.types = make([]string, len(b.Columns))
				for i, c := range b.Columns {
					r.types[i] = string(c.Type())
				}
			}
			if b.Rows() == 0 {
				continue
			}
			r.block, r.row = b, 0
			return true
		}
		r.dropChunk()
		if r.eof {
			return false
		}
		if err := r.ctx.Err(); err != nil {
			r.err = err
			return false
		}
		res := r.c.fetch(r.s)
		if err := r.c.resultErr(res); err != nil {
			r.c.destroy(res)
			r.err = err
			return false
		}
		if len(r.c.bytes(res)) == 0 {
			r.c.destroy(res)
			r.eof = true
			return false
		}
		r.setChunk(res)
	}
}

func (r *chdbRows) Next() bool {
	if r.done || r.err != nil {
		return false
	}
	if r.block != nil && r.row < r.block.Rows() {
		r.row++
		return true
	}
	if !r.fill() {
		r.Close()
		return false
	}
	r.row = 1
	return true
}

func (r *chdbRows) Scan(dest ...any) error {
	if r.block == nil || r.row == 0 {
		return fmt.Errorf("storage: Scan called without a row (call Next)")
	}
	if len(dest) != len(r.block.Columns) {
		return fmt.Errorf("storage: Scan: %d destinations for %d columns", len(dest), len(r.block.Columns))
	}
	for i, d := range dest {
		if err := r.block.Columns[i].ScanRow(d, r.row-1); err != nil {
			return fmt.Errorf("storage: Scan column %s: %w", r.names[i], err)
		}
	}
	return nil
}

func (r *chdbRows) Values() ([]any, error) {
	if r.block == nil || r.row == 0 {
		return nil, fmt.Errorf("storage: Values called without a row (call Next)")
	}
	return values(r.block.Columns, r.row-1, r.names)
}

func (r *chdbRows) Columns() []string     { return r.names }
func (r *chdbRows) ColumnTypes() []string { return r.types }
func (r *chdbRows) Err() error {
	if errors.Is(r.err, io.EOF) {
		return nil
	}
	return r.err
}

func (r *chdbRows) Close() error {
	if r.done {
		return nil
	}
	r.done = true
	r.dropChunk()
	if r.s != 0 {
		if !r.eof {
			r.c.cancel(r.s)
		}
		r.c.destroy(r.s)
	}
	r.e.release(r.c)
	r.e.rbuf.Put(r.br)
	r.br = nil
	r.block = nil
	return nil
}

// values scans one row into values of each column's scan type.
func values(cols []chcolumn.Interface, row int, names []string) ([]any, error) {
	out := make([]any, len(cols))
	for i, c := range cols {
		p := reflect.New(c.ScanType())
		if err := c.ScanRow(p.Interface(), row); err != nil {
			return nil, fmt.Errorf("storage: column %s: %w", names[i], err)
		}
		out[i] = p.Elem().Interface()
	}
	return out, nil
}
